"""Pure parsers of option values, shared by the pytest options and the ``gpuperf`` command.

A plain module: no pytest, so the console script can validate its arguments alike.
"""

from __future__ import annotations

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
