"""What a verdict is: its kind, whether the test fails, and the words and bands behind it.

A plain module: no pytest, no numpy. The rules make these; the reports read them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, final

from pytest_gpuperf.verdict.history import geometric_mean

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.bands import Band
    from pytest_gpuperf.verdict.gate_input import GateInput
    from pytest_gpuperf.verdict.history import History


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
class GateResult:
    """The verdict, whether the test fails, and what to tell the user.

    ``reason`` is the one-line cause for the results table, ``message`` the full
    text a failing test reports, ``notes`` facts worth knowing either way.
    ``bands`` are the floors the verdict used (``speedup`` and/or ``time``), and
    ``attribution`` says who moved when the speedup fell below its floor.
    ``judged_on`` names the evidence that decided (``speedup``, ``CUDA-event time``,
    ``wall time``, or both joined by ``and``), and ``speedup`` the headline speedup
    when the verdict computed one of its own (a device row's, against the
    reference's pooled median), else None.
    """

    verdict: Verdict
    failed: bool = False
    message: str = ""
    notes: tuple[str, ...] = ()
    reason: str = ""
    bands: Mapping[str, Band] = field(default_factory=dict)
    attribution: str = ""
    #: Other processes used more of the CPUs than the contention limit allows.
    contended: bool = False
    judged_on: str = ""
    speedup: RatioEstimate | None = None
    #: The baseline that ``speedup`` is shown against, on the same pooled reference.
    speedup_baseline: float | None = None

    def shown_speedup(self, measured: RatioEstimate | None) -> RatioEstimate | None:
        """The speedup to report: this verdict's headline when it has one, else ``measured``."""
        return self.speedup if self.speedup is not None else measured

    @property
    def why(self) -> str:
        """One line for the table: the reason and the notes, else the message."""
        return "; ".join(part for part in (self.reason, *self.notes) if part) or self.message

    @property
    def detectable(self) -> float | None:
        """The smallest loss of speed the gate flags for this test (the larger of its bands)."""
        return max((b.detectable for b in self.bands.values()), default=None)

    @property
    def runs(self) -> int:
        """How many saved runs the verdict rests on (0 without a baseline)."""
        return max((b.runs for b in self.bands.values()), default=0)


def baseline_speedup(gate: GateResult | None, history: History | None) -> float | None:
    """The baseline speedup a result is shown against: the one its verdict used.

    That is the center of the speedup band (the geometric mean of the saved runs,
    or the speedup they predict at today's reference speed); for a device row, the
    saved speedups against the same pooled reference as its headline speedup;
    without either, the geometric mean of all saved runs.
    """
    if gate is not None and gate.speedup_baseline is not None:
        return gate.speedup_baseline
    if gate is not None and "speedup" in gate.bands:
        return gate.bands["speedup"].center
    if history is None:
        return None
    return geometric_mean([run.speedup for run in history.runs])


def inconclusive(gate: GateInput, reason: str, headline: str, **extra: object) -> GateResult:
    """An inconclusive verdict; a failure only under ``--gpuperf-fail-inconclusive``."""
    message = ""
    if gate.fail_inconclusive:
        message = f"{headline} ({reason}); --gpuperf-fail-inconclusive turns this into a failure"
    return GateResult(
        Verdict.INCONCLUSIVE,
        failed=gate.fail_inconclusive,
        reason=reason,
        message=message,
        **extra,  # type: ignore[arg-type]
    )


def regressed(message: str, reason: str, bands: Mapping[str, Band]) -> GateResult:
    """A failing REGRESSED verdict put on the kernel: ``message`` for the test, ``reason``
    for the table.
    """
    return GateResult(
        Verdict.REGRESSED,
        failed=True,
        message=message,
        reason=reason,
        bands=bands,
        attribution="kernel",
    )


def improved_or_ok(
    gate: GateInput, improved: bool, change: str, bands: Mapping[str, Band]
) -> GateResult:
    """IMPROVED when ``improved``, saying ``change`` and how to re-save; else OK."""
    if not improved:
        return GateResult(Verdict.OK, bands=bands)
    reason = (
        f"{change}; re-save with {gate.accept_command} so the baseline keeps guarding the new speed"
    )
    return GateResult(Verdict.IMPROVED, reason=reason, bands=bands)
