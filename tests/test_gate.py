"""Unit tests for the verdict on one measured speedup."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_gpuperf.baseline import BaselineEntry
from pytest_gpuperf.gate import GateInput, GateResult, Verdict, judge
from pytest_gpuperf.stats import RatioEstimate

ACCEPT = "pytest --gpuperf --gpuperf-save 'test_k.py::test_add[numba]'"


def entry(speedup: float = 5.0, **changes: Any) -> BaselineEntry:
    """A stored baseline: 5x, reference median 5 ms, numba 0.60."""
    values: dict[str, Any] = dict(
        speedup=speedup,
        ci_low=speedup * 0.98,
        ci_high=speedup * 1.02,
        kernel_median_s=1e-3,
        reference_median_s=5e-3,
        samples=20,
        dtypes=("float32",),
        shapes=((1000,),),
        versions={"numba": "0.60.0", "numpy": "2.0.0"},
        timestamp="2024-05-01T12:00:00+00:00",
        foreign_cpu=0.0,
    )
    values.update(changes)
    return BaselineEntry(**values)


def gate(
    value: float, low: float | None = None, high: float | None = None, **changes: Any
) -> GateInput:
    """A measured speedup against the 5x baseline with 10% tolerance."""
    speedup = RatioEstimate(value, value if low is None else low, value if high is None else high)
    base = GateInput(
        test="test_k.py::test_add[numba]",
        backend="numba",
        reference_name="add_ref",
        speedup=speedup,
        baseline=entry(),
        tolerance=0.10,
        reference_median_s=5e-3,
        versions={"numba": "0.60.0", "numpy": "2.0.0"},
        accept_command=ACCEPT,
    )
    return replace(base, **changes)


def test_within_tolerance_is_ok() -> None:
    result = judge(gate(4.7, 4.6, 4.8))
    assert result == GateResult(Verdict.OK)
    assert not result.failed
    assert result.why == ""


def test_regression_is_decided_by_the_interval_not_the_point() -> None:
    # The point (4.0) is below the 4.5x floor, but the interval reaches above it: noise.
    assert judge(gate(4.0, 3.2, 4.6)).verdict is Verdict.OK
    assert judge(gate(4.0, 3.2, 4.4)).verdict is Verdict.REGRESSED


def test_regression_message_names_everything_needed() -> None:
    result = judge(gate(2.5, 2.4, 2.6))
    assert result.verdict is Verdict.REGRESSED
    assert result.failed
    message = result.message
    for part in (
        "test_k.py::test_add[numba] on numba",
        "add_ref",
        "2.5x (95% CI 2.4-2.6)",
        "baseline 5x",
        "-50.0%",
        "allowed tolerance 10%",
        "floor 4.5x",
        ACCEPT,
    ):
        assert part in message, part
    assert result.why == "95% CI 2.4-2.6 is below the floor 4.5x (baseline 5x - 10%)"
    assert "\n" not in result.why


@pytest.mark.parametrize(("tolerance", "verdict"), [(0.1, Verdict.REGRESSED), (0.3, Verdict.OK)])
def test_tolerance_moves_the_floor(tolerance: float, verdict: Verdict) -> None:
    assert judge(gate(4.0, 3.9, 4.1, tolerance=tolerance)).verdict is verdict


def test_fractional_tolerance_is_shown_exactly() -> None:
    assert "allowed tolerance 12.5%" in judge(gate(2.0, tolerance=0.125)).message


def test_min_speedup_floor_fails_without_a_baseline() -> None:
    result = judge(gate(5.0, 4.8, 5.2, baseline=None, min_speedup=10.0))
    assert result.verdict is Verdict.BELOW_FLOOR
    assert result.failed
    assert "5x (95% CI 4.8-5.2), below min_speedup=10x" in result.message
    assert "test_k.py::test_add[numba] on numba" in result.message
    assert "gpuperf(min_speedup=...)" in result.message


def test_min_speedup_is_judged_on_the_interval_too() -> None:
    assert judge(gate(9.0, 8.0, 10.5, baseline=None, min_speedup=10.0)).verdict is Verdict.NEW


def test_min_speedup_is_checked_before_the_baseline() -> None:
    assert judge(gate(5.0, min_speedup=6.0)).verdict is Verdict.BELOW_FLOOR
    assert judge(gate(5.0, min_speedup=4.0)).verdict is Verdict.OK


def test_no_baseline_entry_is_new() -> None:
    result = judge(gate(5.0, baseline=None))
    assert result.verdict is Verdict.NEW
    assert not result.failed
    assert result.why == "no baseline entry; save one with --gpuperf-save"


def test_improvement_passes_with_the_re_save_hint() -> None:
    result = judge(gate(8.0, 7.5, 8.5))
    assert result.verdict is Verdict.IMPROVED
    assert not result.failed
    assert result.why.startswith("+60.0% over baseline 5x; ")
    assert f"re-save with {ACCEPT}" in result.why


def test_improvement_needs_the_whole_interval_above_tolerance() -> None:
    assert judge(gate(8.0, 5.4, 8.5)).verdict is Verdict.OK


@pytest.mark.parametrize(
    ("fail_inconclusive", "failed"), [(False, False), (True, True)], ids=["warn", "fail"]
)
def test_contended_is_inconclusive(fail_inconclusive: bool, failed: bool) -> None:
    # Even a clear regression is not blamed on the kernel while the machine was busy.
    result = judge(gate(2.0, foreign_cpu=0.4, fail_inconclusive=fail_inconclusive))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.failed is failed
    reason = (
        "contended: other processes used 40% of the CPUs, above the 15% limit; "
        "re-run on a quiet machine"
    )
    assert result.why == reason
    if failed:
        assert reason in result.message
        assert "test_k.py::test_add[numba] on numba" in result.message
        assert "--gpuperf-fail-inconclusive" in result.message


@pytest.mark.parametrize(
    ("fail_inconclusive", "failed"), [(False, False), (True, True)], ids=["warn", "fail"]
)
def test_throttled_is_inconclusive_never_regressed(fail_inconclusive: bool, failed: bool) -> None:
    # A clear regression and a missed floor, but the GPU stayed throttled: not the kernel's fault.
    result = judge(gate(2.0, throttled=True, min_speedup=3.0, fail_inconclusive=fail_inconclusive))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.failed is failed
    assert result.why.startswith("throttled: the GPU's SM clock stayed below 75% of its maximum")
    if failed:
        assert "test_k.py::test_add[numba] on numba" in result.message
        assert "--gpuperf-fail-inconclusive" in result.message


def test_not_throttled_is_judged_as_usual() -> None:
    assert judge(gate(2.0, throttled=False)).verdict is Verdict.REGRESSED


def test_contention_at_the_limit_is_not_inconclusive() -> None:
    assert judge(gate(5.0, foreign_cpu=0.15)).verdict is Verdict.OK
    assert judge(gate(5.0, foreign_cpu=0.3, contention_limit=0.5)).verdict is Verdict.OK


@pytest.mark.parametrize("speedup", [0.01, 5.0, None])
def test_simulated_is_never_gated(speedup: float | None) -> None:
    value = None if speedup is None else RatioEstimate(speedup, speedup, speedup)
    result = judge(gate(1.0, simulated=True, speedup=value, min_speedup=100.0, foreign_cpu=0.9))
    assert result.verdict is Verdict.SIMULATED
    assert not result.failed
    assert "never gated" in result.why


def test_no_speedup_is_timed() -> None:
    result = judge(gate(1.0, speedup=None))
    assert result == GateResult(Verdict.TIMED)


def test_moved_reference_is_named() -> None:
    result = judge(gate(4.7, reference_median_s=10e-3))
    assert result.verdict is Verdict.OK
    assert "the reference add_ref itself moved: median 5 ms -> 10 ms (+100%)" in result.why


def test_small_reference_drift_is_not_named() -> None:
    assert judge(gate(4.7, reference_median_s=5.5e-3)).notes == ()


def test_library_version_change_is_named_in_the_failure() -> None:
    versions = {"numba": "0.61.0", "numpy": "2.0.0", "cupy": "13.0"}
    result = judge(gate(2.0, versions=versions, reference_median_s=2e-3))
    assert result.verdict is Verdict.REGRESSED
    assert result.notes == (
        "the reference add_ref itself moved: median 5 ms -> 2 ms (-60%) since the baseline; "
        "the speedup change may come from the reference, not the kernel",
        "numba changed 0.60.0 -> 0.61.0 since the baseline",
    )
    assert result.message.splitlines()[1:] == list(result.notes)
