"""Unit tests for the default gate on device rows: the kernel's own CUDA-event time decides."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_gpuperf.measure.statistics import RatioEstimate
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.gate import GateInput, Verdict, baseline_speedup, judge, rules_for
from pytest_gpuperf.verdict.history import History
from pytest_gpuperf.verdict.spread_prior import SpreadPrior

#: The H200 figures: CuPy kernel ~650 us of device time, the NumPy reference ~1.5 ms.
DEVICE_S, WALL_S, REFERENCE_S = 650e-6, 660e-6, 1.5e-3
#: Device time moves ~1% between processes on a GPU runner; the host reference much more.
DEVICE_PRIORS = {
    "device": SpreadPrior(0.01**2, 40.0, 12),
    "speedup": SpreadPrior(0.25**2, 40.0, 12),
    "kernel": SpreadPrior(0.02**2, 40.0, 12),
    "reference": SpreadPrior(0.25**2, 40.0, 12),
}


def saved(
    device_s: float = DEVICE_S, reference_s: float = REFERENCE_S, **changes: Any
) -> BaselineEntry:
    """One saved run of the device row."""
    speedup = reference_s / WALL_S
    values: dict[str, Any] = dict(
        speedup=speedup, ci_low=speedup * 0.99, ci_high=speedup * 1.01, kernel_median_s=WALL_S,
        reference_median_s=reference_s, samples=20, dtypes=("float32",), shapes=((4096,),),
        versions={}, timestamp="2026-11-30T12:00:00+00:00", foreign_cpu=0.0,
        kernel_device_median_s=device_s, sm_mhz=1980.0, memory_mhz=3201.0,
    )  # fmt: skip
    values.update(changes)
    return BaselineEntry(**values)


#: Three saved runs whose reference ran at 1.2, 1.5 and 2.4 ms, as on the H200.
HISTORY = History(
    (
        saved(DEVICE_S * 0.99, 1.2e-3),
        saved(DEVICE_S, 1.5e-3),
        saved(DEVICE_S * 1.01, 2.4e-3),
    )
)


def device_row(kernel: float = 1.0, reference: float = 1.0, **changes: Any) -> GateInput:
    """This run of the device row: the kernel ``kernel`` x slower, the reference ``reference`` x."""
    device_s, wall_s, reference_s = DEVICE_S * kernel, WALL_S * kernel, REFERENCE_S * reference
    speedup = reference_s / wall_s
    base = GateInput(
        test="test_k.py::test_heavy[cupy]",
        backend="cupy",
        reference_name="heavy_numpy",
        speedup=RatioEstimate(speedup, speedup * 0.98, speedup * 1.02),
        history=HISTORY,
        tolerance=0.10,
        reference_median_s=reference_s,
        kernel_median_s=wall_s,
        kernel_time=RatioEstimate(device_s, device_s * 0.999, device_s * 1.001),
        kernel_clock="events",
        priors=DEVICE_PRIORS,
        sm_mhz=1980.0,
        memory_mhz=3201.0,
    )
    return replace(base, **changes)


def test_the_default_gate_judges_a_device_row_on_its_device_time() -> None:
    result = judge(device_row())
    assert rules_for(device_row()) == ("time",)
    assert result.verdict is Verdict.OK
    assert result.judged_on == "CUDA-event time"
    assert set(result.bands) == {"time"}
    assert result.bands["time"].source == "pooled"


@pytest.mark.parametrize("reference", [1 / 1.6, 1.6])
def test_a_reference_that_moved_alone_never_fails_a_device_row(reference: float) -> None:
    result = judge(device_row(reference=reference))
    assert result.verdict is Verdict.OK
    # The ratio rule, asked for explicitly, carries the reference's spread: on the H200
    # it could only see losses of 24% to 49%; the device time sees the tolerance.
    ratio = judge(device_row(reference=reference, mode="speedup"))
    assert result.detectable == pytest.approx(0.10)
    assert ratio.detectable is not None
    assert ratio.detectable > 0.4


@pytest.mark.parametrize("reference", [1.0, 1.2, 1 / 1.6])
def test_a_twenty_percent_slower_kernel_is_regressed_whatever_the_reference_did(
    reference: float,
) -> None:
    result = judge(device_row(kernel=1.2, reference=reference))
    assert result.verdict is Verdict.REGRESSED
    assert result.failed
    assert "the kernel's own CUDA-event median regressed: 0.78 ms" in result.message
    assert result.attribution == "kernel"


def test_the_speedup_gate_missed_the_same_slowdown_when_the_reference_slowed_too() -> None:
    # What the H200 showed: kernel +20% with the reference +20% in that process.
    assert judge(device_row(kernel=1.2, reference=1.2, mode="speedup")).verdict is Verdict.OK
    assert judge(device_row(kernel=1.2, reference=1.2)).verdict is Verdict.REGRESSED


def test_clocks_below_the_saved_ones_make_a_rise_inconclusive() -> None:
    result = judge(device_row(kernel=1.2, sm_mhz=1500.0))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert not result.failed
    assert result.attribution == "machine"
    assert result.why.startswith(
        "the GPU's SM clock ran at 1500 MHz, below the 1980 MHz of the saved runs; NVML shows "
        "the GPU, not the kernel, slowed down"
    )
    memory = judge(device_row(kernel=1.2, memory_mhz=2600.0))
    assert memory.verdict is Verdict.INCONCLUSIVE
    assert "memory clock ran at 2600 MHz" in memory.why
    # A clock within 2% of the saved ones, or no NVML reading, is no excuse.
    assert judge(device_row(kernel=1.2, sm_mhz=1960.0)).verdict is Verdict.REGRESSED
    assert judge(device_row(kernel=1.2, sm_mhz=None)).verdict is Verdict.REGRESSED
    assert judge(device_row(kernel=1.2, sm_mhz=1500.0, fail_inconclusive=True)).failed


def test_throttling_is_inconclusive_but_a_busy_cpu_is_not_an_excuse() -> None:
    assert judge(device_row(kernel=1.2, throttled=True)).verdict is Verdict.INCONCLUSIVE
    busy = judge(device_row(kernel=1.2, foreign_cpu=0.6))
    assert busy.verdict is Verdict.REGRESSED
    quiet = judge(device_row(foreign_cpu=0.6))
    assert quiet.verdict is Verdict.OK
    assert quiet.contended  # so it is not saved as a baseline
    assert any("the CUDA-event time that decides is the GPU's own" in n for n in quiet.notes)
    # A CPU row stays inconclusive on a busy machine.
    cpu = replace(device_row(kernel=1.2, foreign_cpu=0.6), kernel_clock="wall")
    assert judge(cpu).verdict is Verdict.INCONCLUSIVE


def test_the_headline_speedup_uses_the_pooled_reference_so_its_change_is_the_kernels() -> None:
    # The reference ran 1.6x slower in this process, the kernel is unchanged: the same-run
    # speedup jumped, the reported one did not.
    moved = device_row(reference=1.6)
    result = judge(moved)
    assert moved.speedup is not None
    assert result.speedup is not None
    assert moved.speedup.value / (REFERENCE_S / WALL_S) == pytest.approx(1.6)
    base = baseline_speedup(result, HISTORY)
    assert base is not None
    assert result.speedup.value / base == pytest.approx(1.0, abs=0.01)
    # A 20% slower kernel shows as about 1/1.2 of the baseline, the reference's move aside.
    slower = judge(device_row(kernel=1.2, reference=1.6))
    assert slower.speedup is not None
    assert slower.speedup_baseline is not None
    assert slower.speedup.value / slower.speedup_baseline == pytest.approx(1 / 1.2, abs=0.01)
    assert slower.shown_speedup(moved.speedup) is slower.speedup


def test_a_cpu_row_keeps_the_ratio_rule_and_its_own_speedup() -> None:
    cpu = replace(device_row(), kernel_clock="wall")
    assert rules_for(cpu) == ("speedup",)
    result = judge(cpu)
    assert result.judged_on == "speedup"
    assert result.speedup is None  # the measured speedup is the one shown


def test_saved_runs_without_event_times_judge_a_device_row_on_its_speedup() -> None:
    old = History(tuple(replace(run, kernel_device_median_s=None) for run in HISTORY.runs))
    gate = device_row(history=old)
    assert rules_for(gate) == ("speedup",)
    result = judge(gate)
    assert result.judged_on == "speedup"
    assert any("the saved runs have no CUDA-event times; re-save" in n for n in result.notes)


@pytest.mark.parametrize(("kernel", "verdict"), [(1.05, Verdict.OK), (1.2, Verdict.REGRESSED)])
def test_one_saved_run_with_nothing_pooled_still_catches_twenty_percent(
    kernel: float, verdict: Verdict
) -> None:
    # Cold start: the device time's assumed spread (2%) keeps the band near the tolerance.
    gate = device_row(kernel=kernel, history=History((saved(),)), priors={})
    result = judge(gate)
    assert result.verdict is verdict
    assert result.bands["time"].source == "assumed"
    assert result.detectable is not None
    assert result.detectable < 0.2


def test_gate_overrides_pick_the_evidence() -> None:
    assert rules_for(device_row(mode="speedup")) == ("speedup",)
    assert rules_for(device_row(mode="both")) == ("speedup", "time")
    assert judge(device_row(mode="both")).judged_on == "speedup and CUDA-event time"
    no_reference = device_row(speedup=None, reference_median_s=None)
    assert rules_for(no_reference) == ("time",)
    assert judge(no_reference).verdict is Verdict.OK
    assert judge(replace(no_reference, kernel_time=RatioEstimate(1e-3, 1e-3, 1e-3))).failed


@pytest.mark.parametrize(
    ("judged_on", "uses"),
    [
        ("CUDA-event time", "batch"),
        ("speedup", "wall"),
        ("wall time", "wall"),
        ("speedup and CUDA-event time", "wall and batch"),
        ("", "wall"),
    ],
)
def test_the_json_names_the_gpu_time_the_verdict_compared(judged_on: str, uses: str) -> None:
    from pytest_gpuperf.report.gpu_sections import gate_uses

    assert gate_uses(judged_on) == uses


def test_a_new_device_row_says_it_will_be_judged_on_its_event_time() -> None:
    result = judge(device_row(history=None))
    assert result.verdict is Verdict.NEW
    assert result.judged_on == "CUDA-event time"
    assert judge(replace(device_row(history=None), kernel_clock="wall")).judged_on == "speedup"
