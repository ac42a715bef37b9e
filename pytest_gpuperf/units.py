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
