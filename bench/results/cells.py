"""Markdown tables and the formatting of their cells."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None; None when there are none."""
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def fmt(value: float | None, spec: str = ".3g", unit: str = "") -> str:
    """``value`` in ``spec`` with ``unit``, or ``-`` when it is missing or NaN."""
    return "-" if value is None or math.isnan(value) else f"{value:{spec}}{unit}"


def ms(value: float | None) -> str:
    """Seconds shown as milliseconds."""
    return fmt(None if value is None else value * 1e3, ".3f", " ms")


def pct(value: float | None) -> str:
    """A fraction shown as a percentage."""
    return fmt(None if value is None else value * 100, ".1f", "%")


def verdict(ok: bool | None) -> str:
    """The result cell of a target: PASS, MISS or n/a."""
    return "n/a" if ok is None else "PASS" if ok else "**MISS**"
