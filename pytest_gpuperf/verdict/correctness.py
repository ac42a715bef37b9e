"""Dtype-aware tolerances and the array comparison that says what differs and where.

This module never imports pytest, and imports numpy only inside functions.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import DTypeLike, NDArray

__all__ = ["MismatchError", "Tolerance", "assert_matches", "default_tolerance"]

MAX_SHOWN = 5
_LOW_PRECISION_NAMES = ("bfloat16", "float8")


class MismatchError(AssertionError):
    """An actual result differs from the expected one; the message is the report."""


@final
@dataclass(frozen=True)
class Tolerance:
    """Relative and absolute tolerance, checked as ``|a - e| <= atol + rtol * |e|``."""

    rtol: float
    atol: float


EXACT = Tolerance(rtol=0.0, atol=0.0)
_HALF = Tolerance(rtol=1e-3, atol=1e-5)
_SINGLE = Tolerance(rtol=1e-5, atol=1e-6)
_DOUBLE = Tolerance(rtol=1e-7, atol=1e-9)


def default_tolerance(dtype: DTypeLike) -> Tolerance:
    """Return the default tolerance for ``dtype``; integers, bools and non-numbers are exact."""
    import numpy as np

    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"default_tolerance needs a NumPy dtype, got {dtype!r} ({exc}); "
            "pass e.g. numpy.float32 or 'float64'"
        ) from None
    if _is_low_precision(dt):
        return _HALF
    if dt.kind not in "fc":
        return EXACT
    # A complex number is as precise as its float half.
    bits = dt.itemsize * 8 // (2 if dt.kind == "c" else 1)
    return _HALF if bits <= 16 else _SINGLE if bits <= 32 else _DOUBLE


def assert_matches(
    actual: object,
    expected: object,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    check_dtype: bool = True,
    label: str = "result",
) -> None:
    """Raise ``MismatchError`` with a readable report unless ``actual`` matches ``expected``."""
    import numpy as np

    a, e = _to_array(actual, "actual", label), _to_array(expected, "expected", label)
    if a.shape != e.shape:
        raise MismatchError(f"{label}: shape mismatch: actual {a.shape} vs expected {e.shape}")
    strict = isinstance(actual, (np.ndarray, np.generic)) and isinstance(
        expected, (np.ndarray, np.generic)
    )  # Python scalars are "weak": they take whatever dtype they meet.
    if check_dtype and strict and a.dtype != e.dtype:
        raise MismatchError(
            f"{label}: dtype mismatch: actual {a.dtype} vs expected {e.dtype}; cast the result "
            f"with .astype({str(e.dtype)!r}) or pass check_dtype=False"
        )
    tol, source = _resolve_tolerance(e.dtype, rtol, atol)
    numeric = _as_numeric(a, e)
    sections: list[str] = []
    if numeric is None:
        bad = _unequal_elements(a, e)
        kinds = str(e.dtype) if a.dtype == e.dtype else f"{a.dtype} vs {e.dtype}"
        rule = f"under exact equality for {kinds}"
    elif tol == EXACT and e.dtype.kind in "biu":
        bad = _unequal_exact(a, e, *numeric)
        rule = f"under exact comparison for {e.dtype}"
    else:
        bad, sections = _inexact_mismatches(*numeric, tol)
        rule = f"beyond rtol={tol.rtol:g}, atol={tol.atol:g} {source}"
    if bad.any():
        raise MismatchError(_report(label, a, e, bad, rule, sections, numeric))


def _is_low_precision(dt: np.dtype[Any]) -> bool:
    """Tell whether ``dt`` is an ml_dtypes-style 16- or 8-bit float (kind ``V``)."""
    return dt.kind == "V" and dt.name.startswith(_LOW_PRECISION_NAMES)


def _to_array(value: object, which: str, label: str) -> NDArray[Any]:
    """Convert ``value`` with ``numpy.asarray``, falling back to an object array."""
    import numpy as np

    for dtype in (None, object):
        try:
            return np.asarray(value, dtype=dtype)
        except Exception:
            continue
    raise MismatchError(
        f"{label}: could not convert {which} value of type {type(value).__name__} to a NumPy "
        "array; copy device arrays to the host first (e.g. .get() or .copy_to_host())"
    )


def _resolve_tolerance(
    dtype: np.dtype[Any], rtol: float | None, atol: float | None
) -> tuple[Tolerance, str]:
    """Merge caller overrides with the dtype defaults; say where the numbers came from."""
    default = default_tolerance(dtype)
    tol = Tolerance(
        rtol=default.rtol if rtol is None else _checked("rtol", rtol, dtype),
        atol=default.atol if atol is None else _checked("atol", atol, dtype),
    )
    if rtol is None and atol is None:
        return tol, f"({dtype} defaults)"
    if rtol is not None and atol is not None:
        return tol, "(given)"
    given, defaulted = ("rtol", "atol") if rtol is not None else ("atol", "rtol")
    return tol, f"({given} given, {defaulted} {dtype} default)"


def _checked(name: str, value: object, dtype: np.dtype[Any]) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if 0 <= number < math.inf:
            return number
    raise ValueError(
        f"assert_matches {name} must be a finite number >= 0, got {value!r}; "
        f"pass e.g. {name}=1e-6, or leave it out to use the {dtype} default"
    )


def _as_numeric(a: NDArray[Any], e: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]] | None:
    """Cast both to float64 (or complex128) for the comparison; None if either is not numeric."""
    import numpy as np

    if not all(dt.kind in "biufc" or _is_low_precision(dt) for dt in (a.dtype, e.dtype)):
        return None
    target = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
    try:
        return a.astype(target), e.astype(target)
    except Exception:
        return None


def _unequal_exact(
    a: NDArray[Any], e: NDArray[Any], af: NDArray[Any], ef: NDArray[Any]
) -> NDArray[Any]:
    """Mask of elements that differ, compared in the original dtypes so int64 stays exact."""
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            return np.asarray(np.not_equal(a, e), dtype=bool)
    except Exception:
        return np.asarray(af != ef, dtype=bool)


def _inexact_mismatches(
    af: NDArray[Any], ef: NDArray[Any], tol: Tolerance
) -> tuple[NDArray[Any], list[str]]:
    """Mask of elements outside the tolerance, plus report lines for NaN and Inf mismatches."""
    import numpy as np

    with np.errstate(all="ignore"):
        a_nan, e_nan = np.isnan(af), np.isnan(ef)
        finite = np.isfinite(af) & np.isfinite(ef)
        far = finite & ~(np.abs(af - ef) <= tol.atol + tol.rtol * np.abs(ef))
        nan_extra = a_nan & np.isfinite(ef)
        nan_missing = ~a_nan & e_nan
        inf_bad = (~finite & ~(a_nan | e_nan) & (af != ef)) | (a_nan & ~e_nan & np.isinf(ef))
    checks = (
        ("NaN where expected is finite", nan_extra),
        ("no NaN where expected is NaN", nan_missing),
        ("Inf mismatch (position or sign)", inf_bad),
    )
    sections = [f"{title} at {_where(mask)}" for title, mask in checks if mask.any()]
    return far | nan_extra | nan_missing | inf_bad, sections


def _unequal_elements(a: NDArray[Any], e: NDArray[Any]) -> NDArray[Any]:
    """Mask of elements that differ under ``==``, for objects, strings and mixed kinds."""
    import numpy as np

    bad = np.zeros(a.shape, dtype=bool)
    for index in np.ndindex(a.shape):
        bad[index] = not _same(a[index], e[index])
    return bad


def _same(x: Any, y: Any) -> bool:
    """Python equality that treats NaN-like pairs (NaN, NaT) as equal and never raises."""
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            return x is y or bool(x == y) or (bool(x != x) and bool(y != y))
    except Exception:
        try:
            return bool(np.array_equal(x, y))
        except Exception:
            return False


def _report(
    label: str,
    a: NDArray[Any],
    e: NDArray[Any],
    bad: NDArray[Any],
    rule: str,
    sections: list[str],
    numeric: tuple[NDArray[Any], NDArray[Any]] | None,
) -> str:
    """Build the multi-line failure message."""
    import numpy as np

    count = int(np.count_nonzero(bad))
    share = 100 * count / a.size
    pct = f"{share:.2f}" if share >= 0.01 else f"{share:.2g}"
    lines = [f"{label}: {count:,} of {a.size:,} elements differ ({pct}%) {rule}", *sections]
    if numeric is not None:
        lines += _error_lines(*numeric, a, e, bad)
    lines.append("first differing indices:")
    for flat in np.flatnonzero(bad)[:MAX_SHOWN]:
        index = _index(int(flat), a.shape)
        lines.append(f"  {index}: {_values(a, e, index)}")
    if count > MAX_SHOWN:
        lines.append(f"  ... and {count - MAX_SHOWN:,} more")
    return "\n".join(lines)


def _error_lines(
    af: NDArray[Any], ef: NDArray[Any], a: NDArray[Any], e: NDArray[Any], bad: NDArray[Any]
) -> list[str]:
    """Name the largest absolute and relative errors, if any finite element differs."""
    import numpy as np

    with np.errstate(all="ignore"):
        finite = np.isfinite(af) & np.isfinite(ef)
        if not (finite & bad).any():
            return []
        err = np.where(finite, np.abs(af - ef), -1.0)
        rel = np.nan_to_num(err / np.abs(ef), nan=0.0, posinf=np.inf, neginf=-1.0)
    at_abs = _index(int(np.argmax(err)), a.shape)
    at_rel = _index(int(np.argmax(rel)), a.shape)
    try:  # Python numbers keep int64 differences exact.
        abs_err = float(abs(a[at_abs].item() - e[at_abs].item()))
    except Exception:
        abs_err = float(err[at_abs])
    return [
        f"max abs error {abs_err:.4g} at {at_abs}: {_values(a, e, at_abs)}",
        f"max rel error {float(rel[at_rel]):.4g} at {at_rel}",
    ]


def _where(mask: NDArray[Any]) -> str:
    """List the first positions where ``mask`` is set, e.g. ``(0, 3), (1, 2) and 4 more``."""
    import numpy as np

    flat = np.flatnonzero(mask)
    shown = ", ".join(str(_index(int(i), mask.shape)) for i in flat[:MAX_SHOWN])
    return shown + (f" and {flat.size - MAX_SHOWN:,} more" if flat.size > MAX_SHOWN else "")


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Turn a flat position into an index tuple; ``()`` for 0-d arrays."""
    import numpy as np

    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _values(a: NDArray[Any], e: NDArray[Any], index: tuple[int, ...]) -> str:
    """Format the actual and expected elements at ``index``."""
    return f"actual {_fmt_value(a, index)}, expected {_fmt_value(e, index)}"


def _fmt_value(array: NDArray[Any], index: tuple[int, ...]) -> str:
    """Format one element: ``str`` for numbers and dates, ``repr`` for strings and objects."""
    try:
        value = array[index]
        if array.dtype.kind in "biufcmMV":
            return str(value)
        return repr(value.item() if array.dtype.kind in "SU" else value)
    except Exception:
        return "<unprintable>"
