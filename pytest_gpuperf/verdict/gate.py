"""The verdict on one measurement: the floor, the baseline history, and who moved.

A plain module: no pytest, no numpy. It is the one home of the rule that turns a
measurement and its history into a verdict: the plugin, ``gpuperf compare`` and
the benchmarks all call :func:`judge`.

- ``gate="speedup"`` (the default) judges the speedup against its history
  (:mod:`pytest_gpuperf.verdict.history`). A speedup below the floor is blamed on the
  kernel only when the kernel's own median rose by at least half of the drop;
  otherwise the reference moved, and the verdict is ``inconclusive``.
- ``gate="time"`` judges the kernel's own median (its CUDA-event median where the
  backend has events) against the medians in its history.
- ``gate="both"`` fails when either does.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, final

from pytest_gpuperf.measure.statistics import RatioEstimate
from pytest_gpuperf.verdict.history import (
    DEFAULT_FALSE_ALARM,
    Band,
    band,
    describe_runs,
    geometric_mean,
    reference_band,
    speed,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

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
class GateInput:
    """Everything the verdict depends on, gathered by the ``cuda_sync_timer`` fixture.

    ``kernel_time`` is the kernel's median with its 95% interval, in seconds, on the
    clock named by ``kernel_clock`` (``"wall"`` or ``"events"``): what ``gate="time"``
    judges. ``kernel_median_s`` is the wall median that goes with the speedup.
    """

    test: str
    backend: str
    reference_name: str
    speedup: RatioEstimate | None
    history: History | None
    tolerance: float
    min_speedup: float | None = None
    simulated: bool = False
    foreign_cpu: float | None = None
    contention_limit: float = 0.15
    fail_inconclusive: bool = False
    throttled: bool = False
    reference_median_s: float | None = None
    kernel_median_s: float | None = None
    kernel_time: RatioEstimate | None = None
    kernel_clock: str = "wall"
    mode: str = "speedup"
    false_alarm: float = DEFAULT_FALSE_ALARM
    versions: Mapping[str, str] = field(default_factory=dict)
    accept_command: str = "pytest --gpuperf --gpuperf-save"


@final
@dataclass(frozen=True)
class GateResult:
    """The verdict, whether the test fails, and what to tell the user.

    ``reason`` is the one-line cause for the results table, ``message`` the full
    text a failing test reports, ``notes`` facts worth knowing either way.
    ``bands`` are the floors the verdict used (``speedup`` and/or ``time``), and
    ``attribution`` says who moved when the speedup fell below its floor.
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
    or the speedup they predict at today's reference speed); without a band, the
    geometric mean of all saved runs.
    """
    if gate is not None and "speedup" in gate.bands:
        return gate.bands["speedup"].center
    if history is None:
        return None
    return geometric_mean([run.speedup for run in history.runs])


def _percent(fraction: float) -> str:
    """``0.1`` as ``10%``, ``0.125`` as ``12.5%``."""
    return f"{fraction * 100:.4g}%"


def _estimate(speedup: RatioEstimate) -> str:
    """``2.5x (95% CI 2.4-2.6)``."""
    return f"{speedup.value:.3g}x (95% CI {speedup.low:.3g}-{speedup.high:.3g})"


def _change(ratio: float) -> str:
    """``1.25`` as ``+25%``; a change that rounds to nothing as ``+0%``, never ``-0%``."""
    change = ratio - 1
    return f"{0.0 if abs(change) < 0.005 else change:+.0%}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def judge(gate: GateInput) -> GateResult:
    """Decide the verdict for one measurement."""
    if gate.simulated:
        return GateResult(Verdict.SIMULATED, reason="simulated device: timings are never gated")
    times = gate.mode in ("time", "both") and gate.kernel_time is not None
    if gate.speedup is None and not times:
        return GateResult(Verdict.TIMED)
    where = f"{gate.test} on {gate.backend}"
    contended = gate.foreign_cpu is not None and gate.foreign_cpu > gate.contention_limit
    if contended or gate.throttled:
        reason = (
            f"contended: other processes used {gate.foreign_cpu:.0%} of the CPUs, above the "
            f"{gate.contention_limit:.0%} limit; re-run on a quiet machine"
            if contended
            else "throttled: the GPU's SM clock stayed below 75% of its maximum; let it cool, "
            "check its power limit or lock its clocks, then re-run"
        )
        what = (
            f"speedup over {gate.reference_name} of {_estimate(gate.speedup)}"
            if gate.speedup is not None
            else "the measurement"
        )
        return _inconclusive(gate, reason, f"{where}: {what} is inconclusive", contended=contended)
    speed_up = gate.speedup
    if gate.min_speedup is not None and speed_up is not None and speed_up.high < gate.min_speedup:
        measured = _estimate(speed_up)
        return GateResult(
            Verdict.BELOW_FLOOR,
            failed=True,
            reason=f"95% CI {speed_up.low:.3g}-{speed_up.high:.3g} is below "
            f"min_speedup={gate.min_speedup:g}x",
            message=(
                f"{where}: speedup over {gate.reference_name} is {measured}, below "
                f"min_speedup={gate.min_speedup:g}x; make the kernel faster or lower "
                "gpuperf(min_speedup=...)"
            ),
        )
    if gate.history is None:
        return GateResult(Verdict.NEW, reason="no baseline entry; save one with --gpuperf-save")
    parts: list[GateResult] = []
    if gate.mode in ("speedup", "both") and speed_up is not None:
        parts.append(_judge_speedup(gate, gate.history, speed_up))
    if times:
        parts.append(_judge_time(gate, gate.history))
    notes = _version_notes(gate, gate.history)
    if all(p.verdict in (Verdict.OK, Verdict.IMPROVED) for p in parts):
        notes = (*_reference_note(gate, gate.history), *notes)
    return _combine(gate, parts, notes)


def _inconclusive(gate: GateInput, reason: str, headline: str, **extra: object) -> GateResult:
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


def _widened(found: Band) -> str:
    """``, widened to -25% by the between-run spread of 10 saved runs`` when it was."""
    if not found.widened:
        return ""
    return (
        f", widened to -{_percent(found.detectable)} by the between-run spread of "
        f"{describe_runs(found.runs)}"
    )


def _rests_on(found: Band) -> str:
    """The sentence for a history too short to know the spread between runs."""
    if found.spread is not None:
        return ""
    return (
        f"The verdict rests on {describe_runs(found.runs)}: save 3 or more so that the gate "
        "learns the between-run spread. "
    )


def _judge_speedup(gate: GateInput, history: History, now: RatioEstimate) -> GateResult:
    """The speedup against its history, with the drop attributed to the kernel or reference."""
    limits = {"tolerance": gate.tolerance, "false_alarm": gate.false_alarm}
    found = reference_band(history, now, gate.reference_median_s, **limits) or band(
        [r.speedup for r in history.runs], now, **limits
    )
    bands = {"speedup": found}
    base = found.center
    change = now.value / base - 1
    measured = _estimate(now)
    if found.below(now):
        kernel_then = geometric_mean([r.kernel_median_s for r in history.runs])
        reference_then = geometric_mean([r.reference_median_s for r in history.runs])
        drop = math.log(base / now.value)
        moved = _moves(gate, kernel_then, reference_then)
        kernel_rise = math.log(gate.kernel_median_s / kernel_then) if gate.kernel_median_s else drop
        if kernel_rise < drop / 2:
            reason = f"the reference moved: {moved}; the kernel's own time did not rise"
            return _inconclusive(
                gate,
                reason,
                f"{gate.test} on {gate.backend}: speedup over {gate.reference_name} fell to "
                f"{measured} vs baseline {base:.3g}x ({change:+.1%})",
                bands=bands,
                attribution="reference",
                notes=(f"if the reference's new speed is real, re-save: {gate.accept_command}",),
            )
        message = (
            f"{gate.test} on {gate.backend}: speedup over {gate.reference_name} regressed: "
            f"{measured} vs baseline {base:.3g}x ({change:+.1%}); allowed tolerance "
            f"{_percent(gate.tolerance)} (floor {found.floor:.3g}x{_widened(found)}); the "
            f"kernel's own time rose: {moved}. {_rests_on(found)}If the new speed is intended, "
            f"accept it with: {gate.accept_command}"
        )
        reason = (
            f"{_interval_or_point(found, now)} is below the floor {found.floor:.3g}x "
            f"(baseline {base:.3g}x - {_percent(found.detectable)})"
        )
        return GateResult(
            Verdict.REGRESSED,
            failed=True,
            message=message,
            reason=reason,
            bands=bands,
            attribution="kernel",
        )
    masked = _masked_by_the_reference(gate, history)
    if masked:
        return _inconclusive(
            gate,
            masked,
            f"{gate.test} on {gate.backend}: speedup over {gate.reference_name} of {measured} "
            "held only because the reference slowed down too",
            bands=bands,
            attribution="reference",
        )
    if found.above(now):
        reason = (
            f"{change:+.1%} over baseline {base:.3g}x; re-save with "
            f"{gate.accept_command} so the baseline keeps guarding the new speed"
        )
        return GateResult(Verdict.IMPROVED, reason=reason, bands=bands)
    return GateResult(Verdict.OK, bands=bands)


def _masked_by_the_reference(gate: GateInput, history: History) -> str:
    """Say so when the speedup held only because the reference slowed down with the kernel.

    Both medians beyond their own saved bands, in the same direction: the ratio can't
    tell machine drift from a kernel regression, so the verdict is not ``ok``.
    """
    kernel_now, reference_now = gate.kernel_median_s, gate.reference_median_s
    if not kernel_now or not reference_now:
        return ""

    def slower(then: list[float], now_s: float) -> bool:
        now = speed(RatioEstimate(now_s, now_s, now_s))
        limits = band(
            [1 / t for t in then], now, tolerance=gate.tolerance, false_alarm=gate.false_alarm
        )
        return limits.below(now)

    kernel_then = [r.kernel_median_s for r in history.runs]
    reference_then = [r.reference_median_s for r in history.runs]
    if not (slower(kernel_then, kernel_now) and slower(reference_then, reference_now)):
        return ""
    moved = _moves(gate, geometric_mean(kernel_then), geometric_mean(reference_then))
    return (
        f"the kernel and the reference both slowed down: {moved}; the speedup can't tell "
        "machine drift from a kernel regression; gpuperf(gate='both') on a steady runner can"
    )


def _judge_time(gate: GateInput, history: History) -> GateResult:
    """The kernel's own median against the medians in its history (lower is better)."""
    assert gate.kernel_time is not None
    events = gate.kernel_clock == "events" and all(r.kernel_device_median_s for r in history.runs)
    clock = "CUDA-event" if events else "wall"
    then = [
        (r.kernel_device_median_s if events else r.kernel_median_s) or r.kernel_median_s
        for r in history.runs
    ]
    now = gate.kernel_time
    found = band(
        [1 / t for t in then], speed(now), tolerance=gate.tolerance, false_alarm=gate.false_alarm
    )
    bands = {"time": found}
    base_s = 1 / found.center
    change = now.value / base_s - 1
    if found.below(speed(now)):
        ceiling_s = 1 / found.floor
        message = (
            f"{gate.test} on {gate.backend}: the kernel's own {clock} median regressed: "
            f"{_ms(now.value)} (95% CI {_ms(now.low)}-{_ms(now.high)}) vs baseline "
            f"{_ms(base_s)} ({change:+.1%}); allowed speed loss {_percent(gate.tolerance)} "
            f"(ceiling {_ms(ceiling_s)}{_widened(found)}). {_rests_on(found)}If the new speed "
            f"is intended, accept it with: {gate.accept_command}"
        )
        reason = f"{clock} median {_ms(now.value)} is above the ceiling {_ms(ceiling_s)}"
        return GateResult(
            Verdict.REGRESSED, failed=True, message=message, reason=reason, bands=bands
        )
    if found.above(speed(now)):
        reason = (
            f"{clock} median {change:+.1%} vs baseline {_ms(base_s)}; re-save with "
            f"{gate.accept_command} so the baseline keeps guarding the new speed"
        )
        return GateResult(Verdict.IMPROVED, reason=reason, bands=bands)
    return GateResult(Verdict.OK, bands=bands)


def _combine(gate: GateInput, parts: list[GateResult], notes: tuple[str, ...]) -> GateResult:
    """One verdict from the speedup and time verdicts: the worst one decides."""
    rank = [Verdict.REGRESSED, Verdict.INCONCLUSIVE, Verdict.IMPROVED, Verdict.OK]
    worst = min(parts, key=lambda p: rank.index(p.verdict))
    bands = {name: b for part in parts for name, b in part.bands.items()}
    message = "\n".join(p.message for p in parts if p.failed)
    if message and notes:
        message += "\n" + "\n".join(notes)
    return GateResult(
        worst.verdict,
        failed=any(p.failed for p in parts),
        message=message,
        notes=(*(n for p in parts for n in p.notes), *notes),
        reason="; ".join(p.reason for p in parts if p.verdict is worst.verdict and p.reason),
        bands=bands,
        attribution=worst.attribution,
    )


def _interval_or_point(found: Band, now: RatioEstimate) -> str:
    if found.uses_interval:
        return f"95% CI {now.low:.3g}-{now.high:.3g}"
    return f"{now.value:.3g}x"


def _moves(gate: GateInput, kernel_then: float, reference_then: float) -> str:
    """``kernel median 1 ms -> 1.2 ms (+20%), reference ...``: both sides, then and now."""
    parts = []
    for name, then, now in (
        ("kernel", kernel_then, gate.kernel_median_s),
        (f"reference {gate.reference_name}", reference_then, gate.reference_median_s),
    ):
        if now:
            parts.append(f"{name} median {_ms(then)} -> {_ms(now)} ({_change(now / then)})")
    return ", ".join(parts) or "no medians to compare"


#: A reference median that moved by more than this factor since the baseline is named.
REFERENCE_MOVE = 1.25


def _reference_note(gate: GateInput, history: History) -> tuple[str, ...]:
    """Name a reference that moved a lot since the latest saved run, even when the verdict holds."""
    now, then = gate.reference_median_s, history.latest.reference_median_s
    if not now or 1 / REFERENCE_MOVE <= now / then <= REFERENCE_MOVE:
        return ()
    return (
        f"the reference {gate.reference_name} itself moved: median {_ms(then)} -> {_ms(now)} "
        f"({_change(now / then)}) since the baseline",
    )


def _version_notes(gate: GateInput, history: History) -> tuple[str, ...]:
    """Library versions that changed since the latest saved run."""
    then = history.latest.versions
    return tuple(
        f"{library} changed {then[library]} -> {gate.versions[library]} since the baseline"
        for library in sorted(set(then) & set(gate.versions))
        if then[library] != gate.versions[library]
    )
