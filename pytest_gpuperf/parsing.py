"""Pure parsers of option values, shared by the pytest options and the ``gpuperf`` command.

A plain module: no pytest, so the console script can validate its arguments alike.
"""

from __future__ import annotations

import math
import re

from pytest_gpuperf.text import short_repr


def parse_fraction(value: str | float, name: str, source: str, *, upper: float = 1.0) -> float:
    """Parse ``10%`` or ``0.1`` into 0.1; ValueError names ``name``, the value and ``source``."""
    text = str(value).strip()
    try:
        fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        fraction = float("nan")
    if not 0.0 <= fraction <= upper:
        raise ValueError(
            f"{name} must be a fraction between 0 and {upper:g} written as 10% or 0.1; "
            f"got {short_repr(value)} ({source})"
        )
    return fraction


#: The gate modes: what the verdict judges (kept here so the CLI needs no pytest).
GATE_MODES = ("speedup", "time", "both")


def parse_gate_mode(value: str, name: str, source: str) -> str:
    """Check a gate mode: ``speedup``, ``time`` or ``both``."""
    text = str(value).strip()
    if text not in GATE_MODES:
        raise ValueError(f"{name} must be one of {', '.join(GATE_MODES)}; got {value!r} ({source})")
    return text


def parse_history(value: str | int, name: str, source: str) -> int:
    """Parse how many accepted runs to keep per test: a whole number from 1 to 1000."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ValueError(
            f"{name} must be a whole number of runs from 1 to 1000, e.g. 10; got {value!r} "
            f"({source})"
        )
    return int(text)


def parse_false_alarm(value: str | float, name: str, source: str) -> float:
    """Parse the false-alarm rate: a fraction above 0 and at most 0.5, as 1% or 0.01."""
    rate = parse_fraction(value, name, source, upper=0.5)
    if rate <= 0:
        raise ValueError(
            f"{name} must be a fraction above 0 and at most 0.5 written as 1% or 0.01; "
            f"got {value!r} ({source})"
        )
    return rate


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_BYTES = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-z]*)\s*$")


def parse_bytes(value: object, name: str, source: str) -> int:
    """Parse ``512MiB``, ``1.5 GB`` or ``1048576`` into a whole number of bytes (> 0).

    ValueError names ``name``, the value (truncated when long) and ``source``.
    """
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        match = _BYTES.match(value)
        if match and match["unit"].lower() in _BYTE_UNITS:
            number = float(match["value"]) * _BYTE_UNITS[match["unit"].lower()]
    if number is None or not math.isfinite(number) or number < 1:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(
            f"{name} must be a positive number of bytes, as a number or with a unit "
            f"(B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MiB or 2e9; got {shown} ({source})"
        )
    return int(number)


def format_bytes(count: float | None) -> str:
    """``1.5 MiB``-style text for a byte count, ``-`` when unknown."""
    if count is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{int(count)} B"
