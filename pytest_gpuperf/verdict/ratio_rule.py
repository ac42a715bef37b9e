"""The ratio rule: a CPU row's speedup against its saved band, with the drop attributed.

A plain module: no pytest, no numpy. A speedup below its floor is REGRESSED only
when the kernel's own median rose by at least half of the drop; otherwise the
reference moved, and the verdict is ``inconclusive``
(:mod:`pytest_gpuperf.verdict.attribution`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pytest_gpuperf.verdict.attribution import kernel_explains, masked_by_the_reference, moves
from pytest_gpuperf.verdict.outcome import GateResult, improved_or_ok, inconclusive, regressed
from pytest_gpuperf.verdict.wording import estimate, percent, rests_on, widened

if TYPE_CHECKING:
    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.bands import Band, Bands
    from pytest_gpuperf.verdict.gate_input import GateInput


def judge_speedup(gate: GateInput, bands: Bands) -> GateResult:
    """The speedup against its history, with the drop attributed to the kernel or reference."""
    now = gate.speedup
    found = bands.speedup
    assert now is not None
    assert found is not None
    result_bands = {"speedup": found}
    base = found.center
    moved = now.value / base - 1
    measured = estimate(now)
    headline = f"speedup over {gate.reference_name}"
    if found.below(now):
        drop = math.log(base / now.value)
        sides = moves(gate, bands)
        if not kernel_explains(gate, bands, drop):
            reason = f"the reference moved: {sides}; the kernel's own time did not rise"
            return inconclusive(
                gate,
                reason,
                f"{gate.where}: {headline} fell to {measured} vs baseline {base:.3g}x "
                f"({moved:+.1%})",
                bands=result_bands,
                attribution="reference",
                notes=(f"if the reference's new speed is real, re-save: {gate.accept_command}",),
            )
        message = (
            f"{gate.where}: {headline} regressed: {measured} vs baseline {base:.3g}x "
            f"({moved:+.1%}); allowed tolerance {percent(gate.tolerance)} (floor "
            f"{found.floor:.3g}x{widened(found)}); the kernel's own time rose: {sides}. "
            f"{rests_on(found)}If the new speed is intended, accept it with: {gate.accept_command}"
        )
        reason = (
            f"{_interval_or_point(found, now)} is below the floor {found.floor:.3g}x "
            f"(baseline {base:.3g}x - {percent(found.detectable)})"
        )
        return regressed(message, reason, result_bands)
    masked = masked_by_the_reference(gate, bands)
    if masked:
        return inconclusive(
            gate,
            masked,
            f"{gate.where}: {headline} of {measured} held only because the reference slowed "
            "down too",
            bands=result_bands,
            attribution="reference",
        )
    change = f"{moved:+.1%} over baseline {base:.3g}x"
    return improved_or_ok(gate, found.above(now), change, result_bands)


def _interval_or_point(found: Band, now: RatioEstimate) -> str:
    """The run's interval when the interval decides, else its point estimate."""
    if found.uses_interval:
        return f"95% CI {now.low:.3g}-{now.high:.3g}"
    return f"{now.value:.3g}x"
