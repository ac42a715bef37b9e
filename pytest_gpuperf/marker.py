"""The ``gpuperf`` marker: its help line and the validation of its arguments."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast, final

from pytest_gpuperf.parsing import GATE_MODES, parse_bytes, parse_duration, parse_fraction
from pytest_gpuperf.text import short_repr

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

MARKER_HELP = (
    "gpuperf(reference=None, output=None, rtol=None, atol=None, check_dtype=True, "
    "compare=None, min_speedup=None, tolerance=None, max_time=None, flush_l2=None, "
    "bytes=None, flops=None, sweep=None, gate=None, backends=None, max_memory=None): check "
    "the kernel timed by cuda_sync_timer against reference(*host_inputs) and, under "
    "--gpuperf, gate it (by default a GPU kernel on its CUDA-event time, a CPU kernel on "
    "its speedup; gate='speedup', 'time' or 'both' choose); backends=('numpy', 'numba') "
    "runs the test on those backends only"
)


class MarkerError(Exception):
    """A bad ``gpuperf`` marker argument; the message names the keyword."""


@final
@dataclass(frozen=True)
class MarkerSpec:
    """The validated arguments of one test's ``gpuperf`` marker."""

    reference: Callable[..., Any] | None = None
    output: int | None = None
    rtol: float | None = None
    atol: float | None = None
    check_dtype: bool = True
    compare: Callable[[Any, Any], object] | None = None
    min_speedup: float | None = None
    tolerance: float | None = None
    max_time: float | None = None
    flush_l2: bool | None = None
    bytes: float | Callable[..., float] | None = None
    flops: float | Callable[..., float] | None = None
    sweep: str | None = None
    gate: str | None = None
    backends: tuple[str, ...] | None = None
    max_memory: int | None = None


_KEYWORDS = tuple(MarkerSpec.__dataclass_fields__)


def _callable_or_none(key: str, value: object) -> object:
    if value is not None and not callable(value):
        raise MarkerError(f"gpuperf({key}=...) must be a callable; got {short_repr(value)}")
    return value


def _non_negative(key: str, value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise MarkerError(f"gpuperf({key}=...) must be a number >= 0; got {short_repr(value)}")
    return float(value)


def _finite(key: str, value: object) -> object:
    checked = _non_negative(key, value)
    if isinstance(checked, float) and math.isinf(checked):
        raise MarkerError(f"gpuperf({key}=...) must be a finite number >= 0; got {value!r}")
    return checked


def _positive(key: str, value: object) -> object:
    checked = _non_negative(key, value)
    if checked == 0 or (isinstance(checked, float) and math.isinf(checked)):
        raise MarkerError(
            f"gpuperf({key}=...) must be a finite number > 0; got {short_repr(value)}"
        )
    return checked


def _amount(key: str, value: object) -> object:
    return value if callable(value) else _finite(key, value)


def _tolerance(key: str, value: object) -> object:
    if value is None:
        return None
    try:
        return parse_fraction(value, f"gpuperf({key}=...)", "from marker")  # type: ignore[arg-type]
    except ValueError as exc:
        raise MarkerError(str(exc)) from None


def _duration(key: str, value: object) -> object:
    if value is None:
        return None
    try:
        return parse_duration(value, f"gpuperf({key}=...)", "from marker")  # type: ignore[arg-type]
    except ValueError as exc:
        raise MarkerError(str(exc)) from None


def _byte_count(key: str, value: object) -> object:
    if value is None:
        return None
    try:
        return parse_bytes(value, f"gpuperf({key}=...)", "from marker")
    except ValueError as exc:
        raise MarkerError(str(exc)) from None


def _output(key: str, value: object) -> object:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise MarkerError(
            f"gpuperf({key}=...) must be the index of the output argument, e.g. output=-1; "
            f"got {short_repr(value)}"
        )
    return value


def _bool(key: str, value: object) -> object:
    if value is not None and not isinstance(value, bool):
        raise MarkerError(f"gpuperf({key}=...) must be True or False; got {short_repr(value)}")
    return value


def _name(key: str, value: object) -> object:
    if value is not None and (not isinstance(value, str) or not value.isidentifier()):
        raise MarkerError(
            f"gpuperf({key}=...) must name the size parameter, e.g. sweep='n'; "
            f"got {short_repr(value)}"
        )
    return value


def _gate(key: str, value: object) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or value not in GATE_MODES:
        raise MarkerError(
            f"gpuperf({key}=...) must be one of {', '.join(map(repr, GATE_MODES))}; got {value!r}"
        )
    return value


def _names(key: str, value: object) -> object:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value)
    if not ok or not value:
        raise MarkerError(
            f"gpuperf({key}=...) must be a list of backend names, e.g. "
            f"backends=('numpy', 'numba'); got {short_repr(value)}"
        )
    names = tuple(cast("list[str]", value))
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise MarkerError(f"gpuperf({key}=...) names {twice!r} twice; got {short_repr(value)}")
    return names


_VALIDATORS: dict[str, Callable[[str, object], object]] = {
    "reference": _callable_or_none,
    "output": _output,
    "rtol": _finite,
    "atol": _finite,
    "check_dtype": _bool,
    "compare": _callable_or_none,
    "min_speedup": _positive,
    "tolerance": _tolerance,
    "max_time": _duration,
    "flush_l2": _bool,
    "bytes": _amount,
    "flops": _amount,
    "sweep": _name,
    "gate": _gate,
    "backends": _names,
    "max_memory": _byte_count,
}


def parse_marker(mark: pytest.Mark | None) -> MarkerSpec | None:
    """Validate a ``gpuperf`` mark; ``None`` when the test has none."""
    if mark is None:
        return None
    if mark.args:
        raise MarkerError(
            f"gpuperf takes keyword arguments only, e.g. gpuperf(reference=fn); "
            f"got positional {short_repr(mark.args)}"
        )
    unknown = sorted(set(mark.kwargs) - set(_KEYWORDS))
    if unknown:
        raise MarkerError(
            f"gpuperf got unknown keyword {unknown[0]!r}; known keywords: {', '.join(_KEYWORDS)}"
        )
    values = {key: _VALIDATORS[key](key, value) for key, value in mark.kwargs.items()}
    if values.get("check_dtype") is None:
        values.pop("check_dtype", None)
    return MarkerSpec(**values)  # type: ignore[arg-type]


def declared_backends(mark: pytest.Mark | None) -> tuple[str, ...] | None:
    """The marker's valid ``backends=``, or None (absent or invalid: setup reports it)."""
    if mark is None or "backends" not in mark.kwargs:
        return None
    try:
        return cast("tuple[str, ...] | None", _names("backends", mark.kwargs["backends"]))
    except MarkerError:
        return None


def resolve_amount(
    value: float | Callable[..., float] | None, host_args: tuple[Any, ...], key: str
) -> float | None:
    """The work of one call from ``bytes=``/``flops=``: a number, or a callable of the inputs.

    A callable that raises or returns anything but a finite number >= 0 is a
    MarkerError that names the keyword.
    """
    if value is None:
        return None
    if not callable(value):
        return float(value)
    try:
        amount = value(*host_args)
    except Exception as exc:
        raise MarkerError(
            f"gpuperf({key}=...) raised {type(exc).__name__}: {exc}; it is called with the "
            "host inputs and must return the work of one call as a number"
        ) from None
    if (
        isinstance(amount, bool)
        or not isinstance(amount, numbers.Real)
        or not math.isfinite(amount)
        or amount < 0
    ):
        raise MarkerError(
            f"gpuperf({key}=...) returned {short_repr(amount)}; it must return a finite "
            "number >= 0 (the work of one call)"
        )
    return float(amount)
