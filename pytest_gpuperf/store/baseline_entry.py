"""One accepted run as the baseline file stores it: its fields, their checks, its JSON form.

A plain module: no pytest. An entry is validated when it is made, so a bad value can
neither be saved nor read back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast, final

from pytest_gpuperf.text import short_repr

_INVALID = "invalid BaselineEntry: "
_POSITIVE = ("speedup", "ci_low", "ci_high", "kernel_median_s", "reference_median_s")
_NUMBERS = (*_POSITIVE, "foreign_cpu")
#: Fields added with schema 2; an entry may leave them out (they read as None).
_OPTIONAL_POSITIVE = (
    "kernel_iqr_s",
    "reference_iqr_s",
    "kernel_device_median_s",
    "sm_mhz",
    "memory_mhz",
)
_OPTIONAL = (*_OPTIONAL_POSITIVE, "commit")
#: NVML's clocks, added with the device-time gate: written only where they were read.
_LEFT_OUT_WHEN_NONE = ("sm_mhz", "memory_mhz")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_list_of(value: object, ok: Callable[[object], bool]) -> bool:
    return isinstance(value, list) and all(ok(item) for item in value)


_FIELD_TYPES: dict[str, tuple[Callable[[object], bool], str]] = {
    **{name: (_is_number, "a number") for name in _NUMBERS},
    "samples": (_is_int, "an integer"),
    "dtypes": (lambda v: _is_list_of(v, lambda d: isinstance(d, str)), "a list of strings"),
    "shapes": (lambda v: _is_list_of(v, lambda s: _is_list_of(s, _is_int)), "a list of int lists"),
    "versions": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object of strings",
    ),
    "timestamp": (lambda v: isinstance(v, str), "an ISO 8601 string"),
}
#: Peak memory of one call (bytes), added with the memory report; null where not measured.
_OPTIONAL_COUNTS = ("device_peak_bytes", "host_peak_bytes")
_OPTIONAL_TYPES: dict[str, tuple[Callable[[object], bool], str]] = {
    **{
        name: (lambda v: v is None or (_is_int(v) and cast("int", v) >= 0), "null or a count >= 0")
        for name in _OPTIONAL_COUNTS
    },
    **{
        name: (lambda v: v is None or _is_number(v), "null or a number")
        for name in _OPTIONAL_POSITIVE
    },
    "commit": (lambda v: v is None or isinstance(v, str), "null or a string"),
}


@final
@dataclass(frozen=True)
class BaselineEntry:
    """One accepted run: a backend's speedup over the reference for one test, and its times.

    The spreads are interquartile ranges of the per-call times; the device median is
    the CUDA-event median where the backend has one; the commit is git's, when known;
    the peaks are the memory one call used at its highest (device and host); the
    clocks are NVML's SM clock (median over the samples) and memory clock, in MHz,
    where NVML was read.
    """

    speedup: float
    ci_low: float
    ci_high: float
    kernel_median_s: float
    reference_median_s: float
    samples: int
    dtypes: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    versions: dict[str, str] = field(hash=False)
    timestamp: str
    foreign_cpu: float
    kernel_iqr_s: float | None = None
    reference_iqr_s: float | None = None
    kernel_device_median_s: float | None = None
    commit: str | None = None
    device_peak_bytes: int | None = None
    host_peak_bytes: int | None = None
    sm_mhz: float | None = None
    memory_mhz: float | None = None

    def __post_init__(self) -> None:
        # Copy the containers so a caller's later mutation can't reach the frozen entry.
        object.__setattr__(self, "dtypes", tuple(self.dtypes))
        object.__setattr__(self, "shapes", tuple(tuple(s) for s in self.shapes))
        object.__setattr__(self, "versions", dict(self.versions))
        problem = _entry_problem(self)
        if problem is not None:
            raise ValueError(f"{_INVALID}{problem}")

    def to_dict(self) -> dict[str, object]:
        """Return the entry as plain JSON data."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["dtypes"] = list(self.dtypes)
        data["shapes"] = [list(s) for s in self.shapes]
        data["versions"] = dict(sorted(self.versions.items()))
        for name in _LEFT_OUT_WHEN_NONE:  # so that a file without a GPU reads as before
            if data[name] is None:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: object, *, where: str) -> BaselineEntry:
        """Build an entry from JSON data; ValueError names `where`, the field and the bad value."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: an entry must be a JSON object, got {short_repr(data)}")
        missing = sorted(_FIELD_TYPES.keys() - data.keys())
        unknown = sorted(k for k in data if k not in _FIELD_TYPES and k not in _OPTIONAL_TYPES)
        if missing or unknown:
            raise ValueError(
                f"{where}: missing fields {missing}, unknown fields {short_repr(unknown)}"
            )
        for name, (ok, what) in {**_FIELD_TYPES, **_OPTIONAL_TYPES}.items():
            if not ok(data.get(name)):
                raise ValueError(
                    f"{where}: {name!r} must be {what}, got {short_repr(data.get(name))}"
                )
        values: dict[str, Any] = {**data, **{n: float(data[n]) for n in _NUMBERS}}
        values.update({n: float(data[n]) for n in _OPTIONAL_POSITIVE if data.get(n) is not None})
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{where}: {str(exc).removeprefix(_INVALID)}") from None


def _entry_problem(e: BaselineEntry) -> str | None:
    """Return what is wrong with an entry's values, or None when it is valid."""
    for name in _POSITIVE:
        value = getattr(e, name)
        if not (math.isfinite(value) and value > 0):
            return f"{name!r} must be a finite number > 0, got {value!r}"
    if not e.ci_low <= e.speedup <= e.ci_high:
        return (
            "the interval must hold the speedup (ci_low <= speedup <= ci_high), got "
            f"ci_low={e.ci_low!r}, speedup={e.speedup!r}, ci_high={e.ci_high!r}"
        )
    for name in _OPTIONAL_POSITIVE:
        value = getattr(e, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            return f"{name!r} must be null or a finite number >= 0, got {value!r}"
    if not 0.0 <= e.foreign_cpu <= 1.0:
        return f"'foreign_cpu' must be a share between 0 and 1, got {e.foreign_cpu!r}"
    if e.samples < 1:
        return f"'samples' must be >= 1, got {e.samples!r}"
    if any(d < 0 for s in e.shapes for d in s):
        return f"'shapes' must hold non-negative sizes, got {e.shapes!r}"
    try:
        datetime.fromisoformat(e.timestamp.replace("Z", "+00:00"))
    except ValueError:
        return f"'timestamp' must be ISO 8601, got {e.timestamp!r}"
    return None
