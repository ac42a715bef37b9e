"""The verdict on one measurement: which evidence decides, and the rules that read it.

A plain module: no pytest, no numpy. It is the one home of the decision: the
plugin, ``gpuperf compare`` and the benchmarks all call :func:`judge`.

- ``gate="auto"`` (the default): a *device row*, whose kernel was timed with CUDA
  events, is judged on that device time alone (:mod:`.device_time_rule`): the host
  CPU, and so the NumPy reference, can't move it. A CPU row is judged on its
  speedup over the reference, with the drop attributed (:mod:`.ratio_rule`).
- ``gate="speedup"`` judges every row on its speedup, ``gate="time"`` every row on
  the kernel's own median (events where there are, else wall), ``gate="both"``
  fails when either does.

The bands every rule reads are computed once (:func:`.bands.bands_for`), with the
between-run spread pooled over the machine's tests (:mod:`.spread_prior`) and an
assumed one for a history too short to show its own (:mod:`.cold_start`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pytest_gpuperf.measure.statistics import RatioEstimate
from pytest_gpuperf.verdict.attribution import reference_note
from pytest_gpuperf.verdict.bands import bands_for
from pytest_gpuperf.verdict.device_time_rule import clock_name, judge_time
from pytest_gpuperf.verdict.gate_input import GateInput
from pytest_gpuperf.verdict.history import geometric_mean
from pytest_gpuperf.verdict.outcome import GateResult, Verdict, baseline_speedup, inconclusive
from pytest_gpuperf.verdict.ratio_rule import judge_speedup
from pytest_gpuperf.verdict.wording import estimate

if TYPE_CHECKING:
    from pytest_gpuperf.verdict.bands import Bands
    from pytest_gpuperf.verdict.history import History

__all__ = ["GateInput", "GateResult", "Verdict", "baseline_speedup", "judge", "rules_for"]


def rules_for(gate: GateInput) -> tuple[str, ...]:
    """The rules that judge ``gate``: ``speedup``, ``time``, or both.

    Under ``auto`` a device row whose saved runs lack CUDA-event times is judged on
    its speedup, as it was saved.
    """
    has_speedup, has_time = gate.speedup is not None, gate.kernel_time is not None
    if gate.mode == "auto":
        history = gate.history
        on_events = history is None or history.has_device_times
        if gate.device_row and has_time and (on_events or not has_speedup):
            return ("time",)
        return ("speedup",) if has_speedup else ()
    wanted = {"speedup": ("speedup",), "time": ("time",)}.get(gate.mode, ("speedup", "time"))
    present = {"speedup": has_speedup, "time": has_time}
    return tuple(rule for rule in wanted if present[rule])


def judge(gate: GateInput) -> GateResult:
    """Decide the verdict for one measurement."""
    if gate.simulated:
        return GateResult(Verdict.SIMULATED, reason="simulated device: timings are never gated")
    rules = rules_for(gate)
    if not rules:
        return GateResult(Verdict.TIMED)
    device_only = rules == ("time",) and gate.device_row
    contended = gate.foreign_cpu is not None and gate.foreign_cpu > gate.contention_limit
    pooled = _headline(gate)
    headline, headline_base = pooled if pooled is not None else (None, None)
    if gate.throttled or (contended and not device_only):
        return _machine_inconclusive(gate, contended, headline)
    speed_up = headline or gate.speedup
    if gate.min_speedup is not None and speed_up is not None and speed_up.high < gate.min_speedup:
        return _below_min_speedup(gate, speed_up)
    if gate.history is None:
        return GateResult(
            Verdict.NEW,
            reason="no baseline entry; save one with --gpuperf-save",
            judged_on=_judged_on(gate, rules, None),
        )
    history = gate.history
    bands = bands_for(gate, history)
    parts = []
    if "speedup" in rules:
        parts.append(judge_speedup(gate, bands))
    if "time" in rules:
        parts.append(judge_time(gate, bands, history))
    notes = _version_notes(gate, history)
    if all(p.verdict in (Verdict.OK, Verdict.IMPROVED) for p in parts):
        notes = (*reference_note(gate, history), *notes)
    if gate.mode == "auto" and gate.device_row and rules == ("speedup",):
        notes = (
            *notes,
            "judged on the speedup: the saved runs have no CUDA-event times; re-save on this "
            "machine so that the kernel's own device time decides",
        )
    if contended and device_only:
        notes = (
            *notes,
            f"other processes used {gate.foreign_cpu:.0%} of the CPUs; the CUDA-event time "
            "that decides is the GPU's own",
        )
    result = _combine(parts, notes)
    return dataclasses.replace(
        result,
        judged_on=_judged_on(gate, rules, bands),
        speedup=headline,
        speedup_baseline=headline_base,
        contended=contended,  # judged on the GPU's own time, but never saved
    )


def _judged_on(gate: GateInput, rules: tuple[str, ...], bands: Bands | None) -> str:
    """``speedup``, ``CUDA-event time`` or ``wall time``, joined with ``and`` for both.

    Without bands (no saved run yet), the clock this run's time was taken on.
    """
    words = []
    for rule in rules:
        if rule == "speedup":
            words.append("speedup")
        elif bands is not None:
            words.append(f"{clock_name(bands)} time")
        else:
            words.append("CUDA-event time" if gate.device_row else "wall time")
    return " and ".join(words)


def _headline(gate: GateInput) -> tuple[RatioEstimate, float] | None:
    """A device row's speedup and baseline, both against the reference's pooled median.

    The reference runs on the host CPU and moves between processes; the kernel's
    device time does not. Each speedup, today's and every saved one, is rescaled
    to the geometric mean of the saved reference medians and today's: the change
    between them is then the kernel's change. None for a CPU row or without a history.
    """
    now, reference_now, history = gate.speedup, gate.reference_median_s, gate.history
    if not gate.device_row or now is None or not reference_now or history is None:
        return None
    pooled = geometric_mean([*(r.reference_median_s for r in history.runs), reference_now])
    factor = pooled / reference_now
    baseline = pooled * geometric_mean([r.speedup / r.reference_median_s for r in history.runs])
    return RatioEstimate(now.value * factor, now.low * factor, now.high * factor), baseline


def _machine_inconclusive(
    gate: GateInput, contended: bool, headline: RatioEstimate | None
) -> GateResult:
    """Inconclusive because the machine was busy (CPU) or the GPU throttled."""
    reason = (
        f"contended: other processes used {gate.foreign_cpu:.0%} of the CPUs, above the "
        f"{gate.contention_limit:.0%} limit; re-run on a quiet machine"
        if contended and not gate.throttled
        else "throttled: the GPU's SM clock stayed below 75% of its maximum; let it cool, "
        "check its power limit or lock its clocks, then re-run"
    )
    speed_up = headline or gate.speedup
    what = (
        f"speedup over {gate.reference_name} of {estimate(speed_up)}"
        if speed_up is not None
        else "the measurement"
    )
    return dataclasses.replace(
        inconclusive(gate, reason, f"{gate.where}: {what} is inconclusive", contended=contended),
        speedup=headline,
    )


def _below_min_speedup(gate: GateInput, speed_up: RatioEstimate) -> GateResult:
    """The absolute floor of ``min_speedup``, judged on the speedup's whole interval."""
    return GateResult(
        Verdict.BELOW_FLOOR,
        failed=True,
        reason=f"95% CI {speed_up.low:.3g}-{speed_up.high:.3g} is below "
        f"min_speedup={gate.min_speedup:g}x",
        message=(
            f"{gate.where}: speedup over {gate.reference_name} is {estimate(speed_up)}, below "
            f"min_speedup={gate.min_speedup:g}x; make the kernel faster or lower "
            "gpuperf(min_speedup=...)"
        ),
        speedup=speed_up if speed_up is not gate.speedup else None,
    )


def _combine(parts: list[GateResult], notes: tuple[str, ...]) -> GateResult:
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


def _version_notes(gate: GateInput, history: History) -> tuple[str, ...]:
    """Library versions that changed since the latest saved run."""
    then = history.latest.versions
    return tuple(
        f"{library} changed {then[library]} -> {gate.versions[library]} since the baseline"
        for library in sorted(set(then) & set(gate.versions))
        if then[library] != gate.versions[library]
    )
