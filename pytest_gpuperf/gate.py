"""The verdict on one measured speedup: compare it with the floor and the baseline.

A plain module: no pytest, no numpy. The interval, not the point estimate,
decides, so noise alone does not fail a pull request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_gpuperf.baseline import BaselineEntry
    from pytest_gpuperf.stats import RatioEstimate

#: A reference median that moved by more than this factor since the baseline is named.
REFERENCE_MOVE = 1.25


class Verdict(str, enum.Enum):
    """What the summary table shows for one test and backend."""

    OK = "ok"
    REGRESSED = "REGRESSED"
    BELOW_FLOOR = "BELOW min_speedup"
    IMPROVED = "improved"
    NEW = "new"
    INCONCLUSIVE = "inconclusive"
    SIMULATED = "simulated"
    TIMED = "timed"


@final
@dataclass(frozen=True)
class GateInput:
    """Everything the verdict depends on, gathered by the runner."""

    test: str
    backend: str
    reference_name: str
    speedup: RatioEstimate | None
    baseline: BaselineEntry | None
    tolerance: float
    min_speedup: float | None = None
    simulated: bool = False
    foreign_cpu: float | None = None
    contention_limit: float = 0.15
    fail_inconclusive: bool = False
    throttled: bool = False
    reference_median_s: float | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    accept_command: str = "pytest --gpuperf --gpuperf-save"


@final
@dataclass(frozen=True)
class GateResult:
    """The verdict, whether the test fails, and what to tell the user.

    ``reason`` is the one-line cause for the results table, ``message`` the full
    text a failing test reports, ``notes`` facts worth knowing either way.
    """

    verdict: Verdict
    failed: bool = False
    message: str = ""
    notes: tuple[str, ...] = ()
    reason: str = ""

    @property
    def why(self) -> str:
        """One line for the table: the reason and the notes, else the message."""
        return "; ".join(part for part in (self.reason, *self.notes) if part) or self.message


def _percent(fraction: float) -> str:
    """``0.1`` as ``10%``, ``0.125`` as ``12.5%``."""
    return f"{fraction * 100:.4g}%"


def judge(gate: GateInput) -> GateResult:
    """Decide the verdict for one measurement."""
    if gate.simulated:
        return GateResult(Verdict.SIMULATED, reason="simulated device: timings are never gated")
    if gate.speedup is None:
        return GateResult(Verdict.TIMED)
    speed = gate.speedup
    where = f"{gate.test} on {gate.backend}"
    measured = f"{speed.value:.3g}x (95% CI {speed.low:.3g}-{speed.high:.3g})"
    interval = f"95% CI {speed.low:.3g}-{speed.high:.3g}"
    if gate.foreign_cpu is not None and gate.foreign_cpu > gate.contention_limit:
        reason = (
            f"contended: other processes used {gate.foreign_cpu:.0%} of the CPUs, above the "
            f"{gate.contention_limit:.0%} limit; re-run on a quiet machine"
        )
        if not gate.fail_inconclusive:
            return GateResult(Verdict.INCONCLUSIVE, reason=reason)
        return GateResult(
            Verdict.INCONCLUSIVE,
            failed=True,
            reason=reason,
            message=(
                f"{where}: speedup over {gate.reference_name} of {measured} is inconclusive "
                f"({reason}); --gpuperf-fail-inconclusive turns this into a failure"
            ),
        )
    if gate.throttled:
        reason = (
            "throttled: the GPU's SM clock stayed below 75% of its maximum; let it cool, "
            "check its power limit or lock its clocks, then re-run"
        )
        if not gate.fail_inconclusive:
            return GateResult(Verdict.INCONCLUSIVE, reason=reason)
        return GateResult(
            Verdict.INCONCLUSIVE,
            failed=True,
            reason=reason,
            message=(
                f"{where}: speedup over {gate.reference_name} of {measured} is inconclusive "
                f"({reason}); --gpuperf-fail-inconclusive turns this into a failure"
            ),
        )
    if gate.min_speedup is not None and speed.high < gate.min_speedup:
        return GateResult(
            Verdict.BELOW_FLOOR,
            failed=True,
            reason=f"{interval} is below min_speedup={gate.min_speedup:g}x",
            message=(
                f"{where}: speedup over {gate.reference_name} is {measured}, below "
                f"min_speedup={gate.min_speedup:g}x; make the kernel faster or lower "
                "gpuperf(min_speedup=...)"
            ),
        )
    if gate.baseline is None:
        return GateResult(Verdict.NEW, reason="no baseline entry; save one with --gpuperf-save")
    notes = _moved_reference_notes(gate, gate.baseline)
    base = gate.baseline.speedup
    floor = base * (1 - gate.tolerance)
    change = speed.value / base - 1
    if speed.high < floor:
        message = (
            f"{where}: speedup over {gate.reference_name} regressed: {measured} vs baseline "
            f"{base:.3g}x ({change:+.1%}); allowed tolerance {_percent(gate.tolerance)} "
            f"(floor {floor:.3g}x). If the new speed is intended, accept it with: "
            f"{gate.accept_command}"
        )
        if notes:
            message += "\n" + "\n".join(notes)
        reason = (
            f"{interval} is below the floor {floor:.3g}x "
            f"(baseline {base:.3g}x - {_percent(gate.tolerance)})"
        )
        return GateResult(
            Verdict.REGRESSED, failed=True, message=message, notes=notes, reason=reason
        )
    if speed.low > base * (1 + gate.tolerance):
        reason = (
            f"{change:+.1%} over baseline {base:.3g}x; re-save with "
            f"{gate.accept_command} so the baseline keeps guarding the new speed"
        )
        return GateResult(Verdict.IMPROVED, notes=notes, reason=reason)
    return GateResult(Verdict.OK, notes=notes)


def _moved_reference_notes(gate: GateInput, baseline: BaselineEntry) -> tuple[str, ...]:
    """Say when the reference itself moved, so a ratio change is not blamed on the kernel."""
    notes: list[str] = []
    now = gate.reference_median_s
    then = baseline.reference_median_s
    if now and then and not 1 / REFERENCE_MOVE <= now / then <= REFERENCE_MOVE:
        notes.append(
            f"the reference {gate.reference_name} itself moved: median {then * 1e3:.3g} ms "
            f"-> {now * 1e3:.3g} ms ({now / then - 1:+.0%}) since the baseline; the speedup "
            "change may come from the reference, not the kernel"
        )
    for library in sorted(set(baseline.versions) & set(gate.versions)):
        if baseline.versions[library] != gate.versions[library]:
            notes.append(
                f"{library} changed {baseline.versions[library]} -> "
                f"{gate.versions[library]} since the baseline"
            )
    return tuple(notes)
