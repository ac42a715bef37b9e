"""How the verdicts write numbers: percentages, speedups with their interval, times, changes.

A plain module: no pytest, no numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_gpuperf.verdict.history import MIN_RUNS, describe_runs

if TYPE_CHECKING:
    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.bands import Band


def percent(fraction: float) -> str:
    """``0.1`` as ``10%``, ``0.125`` as ``12.5%``."""
    return f"{fraction * 100:.4g}%"


def estimate(speedup: RatioEstimate) -> str:
    """``2.5x (95% CI 2.4-2.6)``."""
    return f"{speedup.value:.3g}x (95% CI {speedup.low:.3g}-{speedup.high:.3g})"


def change(ratio: float) -> str:
    """``1.25`` as ``+25%``; a change that rounds to nothing as ``+0%``, never ``-0%``."""
    moved = ratio - 1
    return f"{0.0 if abs(moved) < 0.005 else moved:+.0%}"


def ms(seconds: float) -> str:
    """Seconds as milliseconds with 3 significant digits: ``0.000303`` as ``0.303 ms``."""
    return f"{seconds * 1e3:.3g} ms"


def widened(found: Band) -> str:
    """``, widened to -25% by the between-run spread of 10 saved runs`` when it was."""
    if not found.widened:
        return ""
    pooled = " (pooled over this machine's tests)" if found.source == "pooled" else ""
    assumed = " (assumed)" if found.source == "assumed" else ""
    return (
        f", widened to -{percent(found.detectable)} by the between-run spread{pooled}{assumed} "
        f"of {describe_runs(found.runs)}"
    )


def rests_on(found: Band) -> str:
    """The sentence for a verdict whose spread is not the test's own (cold start), else ``""``."""
    if found.source == "assumed":
        return (
            f"The verdict rests on {describe_runs(found.runs)} and an assumed between-run "
            f"spread of {found.spread:.1%}: save 3 or more runs (--gpuperf-save-runs=3) so that "
            "the gate learns this machine's. "
        )
    if found.source == "pooled" and found.runs < MIN_RUNS:
        return (
            f"The verdict rests on {describe_runs(found.runs)}, with the between-run spread "
            f"({found.spread:.1%}) pooled over this machine's tests. "
        )
    return ""
