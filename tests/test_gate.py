"""Unit tests for the verdict on one measured speedup."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pytest_gpuperf.measure.statistics import RatioEstimate
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.gate import GateInput, GateResult, Verdict, baseline_speedup, judge
from pytest_gpuperf.verdict.history import History
from pytest_gpuperf.verdict.spread_prior import SpreadPrior

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


#: A machine whose tests move 0.5% between runs: its floors sit at the tolerance.
STEADY = SpreadPrior(0.005**2, float("inf"), 20)
STEADY_MACHINE = dict.fromkeys(("speedup", "kernel", "reference", "device"), STEADY)


def gate(
    value: float, low: float | None = None, high: float | None = None, **changes: Any
) -> GateInput:
    """A measured speedup against the 5x baseline with 10% tolerance, on a steady machine."""
    speedup = RatioEstimate(value, value if low is None else low, value if high is None else high)
    base = GateInput(
        test="test_k.py::test_add[numba]",
        backend="numba",
        reference_name="add_ref",
        speedup=speedup,
        history=History((entry(),)),
        tolerance=0.10,
        reference_median_s=5e-3,
        versions={"numba": "0.60.0", "numpy": "2.0.0"},
        accept_command=ACCEPT,
        priors=STEADY_MACHINE,
        mode="speedup",
    )
    return replace(base, **changes)


def test_within_tolerance_is_ok() -> None:
    result = judge(gate(4.7, 4.6, 4.8))
    assert result.verdict is Verdict.OK
    assert not result.failed
    assert result.why == ""
    assert result.runs == 1
    assert result.detectable == pytest.approx(0.10)


def test_regression_is_decided_by_the_point_with_the_runs_own_noise() -> None:
    # A tight run 12% down is below the 4.5x floor; a wide one is not: its noise widens it.
    assert judge(gate(4.4, 4.35, 4.45)).verdict is Verdict.REGRESSED
    assert judge(gate(4.4, 3.2, 5.6)).verdict is Verdict.OK


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
    assert result.why == "2.5x is below the floor 4.5x (baseline 5x - 10%)"
    assert "\n" not in result.why


@pytest.mark.parametrize(("tolerance", "verdict"), [(0.1, Verdict.REGRESSED), (0.3, Verdict.OK)])
def test_tolerance_moves_the_floor(tolerance: float, verdict: Verdict) -> None:
    assert judge(gate(4.0, 3.9, 4.1, tolerance=tolerance)).verdict is verdict


def test_fractional_tolerance_is_shown_exactly() -> None:
    assert "allowed tolerance 12.5%" in judge(gate(2.0, tolerance=0.125)).message


def test_min_speedup_floor_fails_without_a_baseline() -> None:
    result = judge(gate(5.0, 4.8, 5.2, history=None, min_speedup=10.0))
    assert result.verdict is Verdict.BELOW_FLOOR
    assert result.failed
    assert "5x (95% CI 4.8-5.2), below min_speedup=10x" in result.message
    assert "test_k.py::test_add[numba] on numba" in result.message
    assert "gpuperf(min_speedup=...)" in result.message


def test_min_speedup_is_judged_on_the_interval_too() -> None:
    assert judge(gate(9.0, 8.0, 10.5, history=None, min_speedup=10.0)).verdict is Verdict.NEW


def test_min_speedup_is_checked_before_the_baseline() -> None:
    assert judge(gate(5.0, min_speedup=6.0)).verdict is Verdict.BELOW_FLOOR
    assert judge(gate(5.0, min_speedup=4.0)).verdict is Verdict.OK


def test_no_baseline_entry_is_new() -> None:
    result = judge(gate(5.0, history=None))
    assert result.verdict is Verdict.NEW
    assert not result.failed
    assert result.why == "no baseline entry; save one with --gpuperf-save"


def test_improvement_passes_with_the_re_save_hint() -> None:
    result = judge(gate(8.0, 7.5, 8.5))
    assert result.verdict is Verdict.IMPROVED
    assert not result.failed
    assert result.why.startswith("+60.0% over baseline 5x; ")
    assert f"re-save with {ACCEPT}" in result.why


def test_a_noisy_run_needs_more_to_count_as_an_improvement() -> None:
    assert judge(gate(8.0, 7.8, 8.2)).verdict is Verdict.IMPROVED
    assert judge(gate(8.0, 4.0, 12.0)).verdict is Verdict.OK


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


def test_moved_reference_is_named_on_a_passing_verdict() -> None:
    result = judge(gate(4.7, reference_median_s=10e-3))
    assert result.verdict is Verdict.OK
    assert "the reference add_ref itself moved: median 5 ms -> 10 ms (+100%)" in result.why


def test_small_reference_drift_is_not_named() -> None:
    assert judge(gate(4.7, reference_median_s=5.5e-3)).notes == ()


def test_library_version_change_is_named_in_the_failure() -> None:
    versions = {"numba": "0.61.0", "numpy": "2.0.0", "cupy": "13.0"}
    result = judge(gate(2.0, versions=versions, kernel_median_s=2.5e-3))
    assert result.verdict is Verdict.REGRESSED
    assert result.notes == ("numba changed 0.60.0 -> 0.61.0 since the baseline",)
    assert result.message.splitlines()[1:] == list(result.notes)


# -- attribution: the kernel or the reference --------------------------------------------


def test_drop_from_a_faster_reference_is_inconclusive_not_regressed() -> None:
    # The matmul: the kernel stayed at 1 ms, the reference went from 5 ms to 3.2 ms.
    result = judge(gate(3.2, 3.1, 3.3, kernel_median_s=1.0e-3, reference_median_s=3.2e-3))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert not result.failed
    assert result.attribution == "reference"
    assert result.why.startswith(
        "the reference moved: kernel median 1 ms -> 1 ms (+0%), reference add_ref median "
        "5 ms -> 3.2 ms (-36%); the kernel's own time did not rise"
    )
    assert f"re-save: {ACCEPT}" in result.why


def test_reference_moved_fails_only_with_fail_inconclusive() -> None:
    moved = {"kernel_median_s": 1.0e-3, "reference_median_s": 3.2e-3}
    result = judge(gate(3.2, 3.1, 3.3, fail_inconclusive=True, **moved))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.failed
    assert "--gpuperf-fail-inconclusive" in result.message
    assert "speedup over add_ref fell to 3.2x (95% CI 3.1-3.3) vs baseline 5x" in result.message


def test_drop_from_a_slower_kernel_is_regressed_and_names_both_medians() -> None:
    result = judge(gate(4.0, 3.9, 4.1, kernel_median_s=1.25e-3, reference_median_s=5e-3))
    assert result.verdict is Verdict.REGRESSED
    assert result.attribution == "kernel"
    assert "the kernel's own time rose: kernel median 1 ms -> 1.25 ms (+25%)" in result.message


@pytest.mark.parametrize(
    ("kernel_ms", "reference_ms", "verdict"),
    [
        (1.12, 4.5, Verdict.REGRESSED),  # kernel +12%, reference -10%: kernel part > half
        (1.05, 4.0, Verdict.INCONCLUSIVE),  # kernel +5%, reference -20%: kernel part < half
    ],
)
def test_the_larger_share_of_the_drop_decides(
    kernel_ms: float, reference_ms: float, verdict: Verdict
) -> None:
    value = 5.0 * (reference_ms / 5) / (kernel_ms / 1)
    medians = {"kernel_median_s": kernel_ms * 1e-3, "reference_median_s": reference_ms * 1e-3}
    assert judge(gate(value, value, value, **medians)).verdict is verdict


# -- history: the floor learns the between-run spread -------------------------------------


def history(*speedups: float, kernel_s: float | None = None) -> History:
    """Saved runs with these speedups.

    By default the reference stays at 5 ms and the kernel moves (5 ms / speedup); with
    ``kernel_s`` the kernel stays there and the reference moves (speedup x kernel_s).
    """
    return History(
        tuple(
            entry(
                s,
                ci_low=s,
                ci_high=s,
                kernel_median_s=5e-3 / s if kernel_s is None else kernel_s,
                reference_median_s=5e-3 if kernel_s is None else s * kernel_s,
            )
            for s in speedups
        )
    )


QUIET = (5.0, 5.05, 4.95, 5.02, 4.98)
NOISY = (5.0, 6.0, 4.2, 5.5, 4.5)


def test_quiet_history_keeps_the_tolerance_as_the_floor() -> None:
    result = judge(gate(4.4, 4.35, 4.45, history=history(*QUIET)))
    assert result.verdict is Verdict.REGRESSED
    band = result.bands["speedup"]
    assert band.runs == 5
    assert band.spread is not None
    assert not band.widened
    assert band.floor == pytest.approx(band.center * 0.9)
    assert result.detectable == pytest.approx(0.10)


def test_noisy_history_widens_the_floor_and_says_so() -> None:
    # A 12% drop alarms against a quiet history but not against a noisy one (nothing pooled).
    assert judge(gate(4.4, 4.35, 4.45, history=history(*QUIET), priors={})).failed
    result = judge(gate(4.4, 4.35, 4.45, history=history(*NOISY), priors={}))
    assert result.verdict is Verdict.OK
    band = result.bands["speedup"]
    assert band.widened
    assert result.detectable is not None
    assert result.detectable > 0.3
    regressed = judge(gate(2.0, 1.9, 2.1, history=history(*NOISY), priors={}))
    assert regressed.failed
    assert "widened to -" in regressed.message
    assert "by the between-run spread of 5 saved runs" in regressed.message


def test_a_noisy_run_widens_its_own_floor() -> None:
    # With 3+ runs the point decides, with this run's own noise added to the spread.
    tight = gate(4.4, 4.35, 4.45, history=history(*QUIET))
    assert judge(tight).verdict is Verdict.REGRESSED
    assert judge(replace(tight, speedup=RatioEstimate(4.4, 3.0, 5.5))).verdict is Verdict.OK


def test_short_history_with_nothing_pooled_assumes_a_wide_spread_and_says_so() -> None:
    # One run and no other test on the machine: a band wide enough for the moves
    # between processes (10% assumed for a CPU row), not the tolerance alone.
    assert judge(gate(4.0, 3.9, 4.1, history=history(5.0), priors={})).verdict is Verdict.OK
    result = judge(gate(2.0, 1.95, 2.05, history=history(5.0), priors={}))
    assert result.verdict is Verdict.REGRESSED
    assert (
        "The verdict rests on 1 saved run and an assumed between-run spread of 10.0%: save 3 "
        "or more runs (--gpuperf-save-runs=3)"
    ) in result.message
    found = result.bands["speedup"]
    assert (found.source, found.spread, found.df) == ("assumed", pytest.approx(0.1), 4)
    assert 0.35 < found.detectable < 0.45
    # A second run adds its own degree of freedom to the assumed four.
    two = judge(gate(2.0, 1.95, 2.05, history=history(5.0, 5.1), priors={})).bands["speedup"]
    assert (two.source, two.df) == ("assumed", 5)


def test_short_history_uses_the_spread_pooled_over_the_machine() -> None:
    result = judge(gate(4.0, 3.9, 4.1, history=history(5.0, 5.1)))
    assert result.verdict is Verdict.REGRESSED
    assert "with the between-run spread (0.5%) pooled over this machine's tests" in result.message
    assert result.bands["speedup"].source == "pooled"
    assert result.detectable == pytest.approx(0.10)


def test_false_alarm_rate_sets_the_width() -> None:
    loose = judge(gate(4.4, 4.4, 4.4, history=history(*NOISY), false_alarm=0.01, priors={}))
    tight = judge(gate(4.4, 4.4, 4.4, history=history(*NOISY), false_alarm=0.3, priors={}))
    assert loose.detectable is not None
    assert tight.detectable is not None
    assert tight.detectable < loose.detectable


def test_history_center_is_the_geometric_mean() -> None:
    result = judge(gate(5.0, history=history(4.0, 5.0, 6.25)))
    assert baseline_speedup(result, None) == pytest.approx(5.0)
    assert baseline_speedup(None, history(4.0, 5.0, 6.25)) == pytest.approx(5.0)


def test_bimodal_reference_expects_the_speedup_of_todays_reference_speed() -> None:
    # The reference runs at 5 ms or 7.5 ms, chosen per process; the kernel stays at 1 ms.
    runs = history(5.0, 7.5, 5.05, 7.4, 4.95, 7.55, kernel_s=1e-3)
    for reference_ms, value in ((5.0, 5.0), (7.5, 7.5)):
        steady = {"kernel_median_s": 1e-3, "reference_median_s": reference_ms * 1e-3}
        result = judge(gate(value, value * 0.99, value * 1.01, history=runs, priors={}, **steady))
        assert result.verdict is Verdict.OK
        assert result.bands["speedup"].center == pytest.approx(value, rel=0.02)
        assert result.bands["speedup"].runs == 6
        assert result.detectable == pytest.approx(0.10)  # the fit explains the spread
    # A 20% slower kernel in either state is caught.
    for reference_ms in (5.0, 7.5):
        value = reference_ms / 1.25
        slower = {"kernel_median_s": 1.25e-3, "reference_median_s": reference_ms * 1e-3}
        result = judge(gate(value, value * 0.99, value * 1.01, history=runs, priors={}, **slower))
        assert result.verdict is Verdict.REGRESSED
    # A reference speed the history never saw is not extrapolated: the plain band, whose
    # spread covers both states, judges it.
    unseen = {"kernel_median_s": 1e-3, "reference_median_s": 12e-3}
    result = judge(gate(12.0, 11.9, 12.1, history=runs, priors={}, **unseen))
    assert result.bands["speedup"].detectable > 0.3


# -- gate modes -------------------------------------------------------------------------


def timed(ms: float, **changes: Any) -> GateInput:
    """A kernel median of ``ms`` (tight interval) judged on its own time."""
    time = RatioEstimate(ms * 1e-3, ms * 0.99e-3, ms * 1.01e-3)
    changes.setdefault("mode", "time")
    return gate(5.0, kernel_time=time, kernel_median_s=ms * 1e-3, **changes)


def test_time_mode_flags_a_slower_kernel_even_when_the_speedup_held() -> None:
    result = judge(timed(1.3))
    assert result.verdict is Verdict.REGRESSED
    assert "the kernel's own wall median regressed: 1.3 ms" in result.message
    assert "vs baseline 1 ms (+30.0%); allowed speed loss 10% (ceiling 1.11 ms)" in result.message
    assert "The verdict rests on 1 saved run, with the between-run spread (0.5%)" in result.message
    assert set(result.bands) == {"time"}


def test_time_mode_ignores_a_moved_reference() -> None:
    result = judge(timed(1.0, speedup=RatioEstimate(3.0, 2.9, 3.1), reference_median_s=3e-3))
    assert result.verdict is Verdict.OK


def test_time_mode_judges_without_a_reference() -> None:
    assert judge(timed(1.3, speedup=None)).verdict is Verdict.REGRESSED
    assert judge(timed(1.0, speedup=None)).verdict is Verdict.OK


def test_time_mode_uses_event_times_when_every_run_has_them() -> None:
    runs = History((entry(kernel_device_median_s=0.5e-3),))
    result = judge(timed(0.6, history=runs, kernel_clock="events"))
    assert result.verdict is Verdict.REGRESSED
    assert "CUDA-event median" in result.message
    # Without event times in the history, the wall medians are compared instead.
    assert judge(timed(1.0, kernel_clock="events")).verdict is Verdict.OK


def test_both_mode_fails_when_either_fails() -> None:
    speed_ok_time_bad = timed(1.3, mode="both")
    assert judge(speed_ok_time_bad).verdict is Verdict.REGRESSED
    both_ok = judge(timed(1.0, mode="both"))
    assert both_ok.verdict is Verdict.OK
    assert set(both_ok.bands) == {"speedup", "time"}
    # The kernel rose 9.5% (inside the time tolerance), the reference fell 5%: the speedup
    # lost 13%, most of it to the kernel.
    value = 5.0 * 0.95 / 1.095
    speed_bad = timed(
        1.095, mode="both", speedup=RatioEstimate(value, value, value), reference_median_s=4.75e-3
    )
    assert judge(replace(speed_bad, mode="time")).verdict is Verdict.OK
    assert judge(speed_bad).verdict is Verdict.REGRESSED


def test_a_speedup_held_only_by_a_slower_reference_is_inconclusive() -> None:
    # The campaign's miss: the kernel got 20% slower, and in the same process the
    # reference ran 30% slower, so the ratio hardly moved.
    runs = history(*QUIET)  # kernel 1 ms, reference = speedup x 1 ms
    masked = {"kernel_median_s": 1.2e-3, "reference_median_s": 6.5e-3}
    value = 6.5 / 1.2
    result = judge(gate(value, value, value, history=runs, **masked))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert not result.failed
    assert result.why.startswith(
        "the kernel and the reference both slowed down: kernel median 1 ms -> 1.2 ms (+20%), "
        "reference add_ref median 5 ms -> 6.5 ms (+30%); the speedup can't tell machine drift "
        "from a kernel regression"
    )
    assert judge(
        replace(gate(value, value, value, history=runs, **masked), fail_inconclusive=True)
    ).failed
    # A kernel inside its own band, or a reference inside its own, keeps the plain verdict.
    steady = {"kernel_median_s": 1.05e-3, "reference_median_s": 5.3e-3}
    value = 5.3 / 1.05
    assert judge(gate(value, value, value, history=runs, **steady)).verdict is Verdict.OK
