"""Unit tests for the history band, Student's t and the median interval."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_gpuperf.measure.statistics import (
    RatioEstimate,
    median_interval,
    t_quantile,
    t_upper_tail,
)
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.admission import refusal
from pytest_gpuperf.verdict.history import (
    MIN_RUNS,
    History,
    band,
    geometric_mean,
    reference_band,
    speed,
)

#: Student's t quantiles from published tables (df, p, t).
T_TABLE = [
    (1, 0.975, 12.706),
    (2, 0.99, 6.965),
    (4, 0.99, 3.747),
    (9, 0.99, 2.821),
    (9, 0.95, 1.833),
    (29, 0.975, 2.045),
    (120, 0.995, 2.617),
]


@pytest.mark.parametrize(("df", "p", "expected"), T_TABLE)
def test_t_quantile_matches_the_tables(df: int, p: float, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-3)


@given(st.integers(1, 200), st.floats(0.001, 0.999))
def test_t_quantile_inverts_the_tail(df: int, p: float) -> None:
    assert 1 - t_upper_tail(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (0.5, 0)])
def test_t_quantile_rejects_bad_arguments(p: float, df: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        t_quantile(p, df)


def test_median_interval_holds_the_median_and_narrows_with_n() -> None:
    small = median_interval([float(v) for v in range(1, 11)])
    large = median_interval([float(v % 10 + 1) for v in range(1000)])
    assert small.low <= small.value <= small.high
    assert (small.low, small.value, small.high) == (2.0, 5.5, 9.0)
    assert large.high - large.low < small.high - small.low
    assert median_interval([3.0]) == RatioEstimate(3.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="at least one"):
        median_interval([])


def entry(speedup: float, reference_s: float = 5e-3, **changes: Any) -> BaselineEntry:
    values: dict[str, Any] = dict(
        speedup=speedup, ci_low=speedup, ci_high=speedup, kernel_median_s=reference_s / speedup,
        reference_median_s=reference_s, samples=10, dtypes=(), shapes=(), versions={},
        timestamp="2024-05-01T12:00:00+00:00", foreign_cpu=0.0,
    )  # fmt: skip
    values.update(changes)
    return BaselineEntry(**values)


def test_history_needs_a_run_and_appends_within_its_limit() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        History(())
    grown = History((entry(1.0),)).appended(entry(2.0), 2).appended(entry(3.0), 2)
    assert [r.speedup for r in grown.runs] == [2.0, 3.0]
    assert grown.latest.speedup == 3.0


def test_reference_band_fits_the_speedup_on_the_reference_speed() -> None:
    # Reference at 5 or 7.5 ms with a little noise; the kernel at 1 ms: speedup = reference.
    refs = (5.0, 7.5, 5.1, 7.4, 4.9, 7.6, 5.05, 7.45)
    runs = History(tuple(entry(r * (1 + 0.01 * (-1) ** i), r * 1e-3) for i, r in enumerate(refs)))
    now = RatioEstimate(6.0, 6.0, 6.0)
    found = reference_band(runs, now, 6e-3, tolerance=0.1, false_alarm=0.01)
    assert found is not None
    assert found.center == pytest.approx(6.0, rel=0.02)  # interpolated at today's 6 ms
    assert found.runs == 8
    assert found.spread is not None
    assert found.spread < 0.02
    # Not used: too few runs, a reference that never varied, or one outside the seen range.
    assert (
        reference_band(History(runs.runs[:3]), now, 6e-3, tolerance=0.1, false_alarm=0.01) is None
    )
    steady = History(tuple(entry(5.0 + 0.01 * i, 5e-3) for i in range(6)))
    assert reference_band(steady, now, 5e-3, tolerance=0.1, false_alarm=0.01) is None
    assert reference_band(runs, now, 20e-3, tolerance=0.1, false_alarm=0.01) is None
    assert reference_band(runs, now, None, tolerance=0.1, false_alarm=0.01) is None


def test_band_with_a_short_history_is_the_tolerance_on_the_interval() -> None:
    found = band([5.0], RatioEstimate(4.0, 3.9, 4.1), tolerance=0.1, false_alarm=0.01)
    assert found.uses_interval
    assert found.spread is None
    assert (found.floor, found.ceiling) == (pytest.approx(4.5), pytest.approx(5.5))
    assert found.below(RatioEstimate(4.0, 3.9, 4.4))
    assert not found.below(RatioEstimate(4.0, 3.9, 4.6))


def test_band_formula_with_a_history() -> None:
    history = [4.0, 5.0, 6.0, 5.5, 4.5]
    now = RatioEstimate(5.0, 5.0, 5.0)
    found = band(history, now, tolerance=0.1, false_alarm=0.01)
    logs = [math.log(v) for v in history]
    mean = sum(logs) / 5
    s = math.sqrt(sum((x - mean) ** 2 for x in logs) / 4)
    margin = t_quantile(0.99, 4) * math.sqrt(s * s * (1 + 1 / 5))
    assert found.center == pytest.approx(geometric_mean(history))
    assert found.floor == pytest.approx(found.center * math.exp(-margin))
    assert found.widened
    assert found.detectable == pytest.approx(1 - math.exp(-margin))
    assert found.runs == 5 >= MIN_RUNS


@given(
    st.lists(st.floats(0.5, 50.0), min_size=3, max_size=20),
    st.floats(0.001, 0.5),
    st.floats(0.0, 0.5),
)
def test_band_floor_never_above_the_tolerance(
    history: list[float], false_alarm: float, tolerance: float
) -> None:
    found = band(
        history, RatioEstimate(1.0, 1.0, 1.0), tolerance=tolerance, false_alarm=false_alarm
    )
    assert found.floor <= found.center * (1 - tolerance) * (1 + 1e-9)
    assert found.ceiling >= found.center * (1 + tolerance) * (1 - 1e-9)


def test_speed_inverts_a_time_and_its_interval() -> None:
    assert speed(RatioEstimate(2.0, 1.0, 4.0)) == RatioEstimate(0.5, 0.25, 1.0)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"simulated": True}, "simulated device"),
        ({"verdict": "simulated"}, "simulated device"),
        ({"passed": False, "verdict": "REGRESSED"}, "the test did not pass (verdict REGRESSED)"),
        (
            {"contended": True, "foreign_cpu": 0.4},
            "contended (other processes used 40% of the CPUs)",
        ),
        ({"has_speedup": False}, "no speedup (no reference to compare with)"),
        ({"has_medians": False}, "no kernel or reference median"),
        ({"verdict": "inconclusive"}, None),  # the reference moved: re-saving accepts it
        ({}, None),
    ],
)
def test_one_rule_decides_what_may_become_a_baseline(
    changes: dict[str, Any], reason: str | None
) -> None:
    values: dict[str, Any] = dict(
        simulated=False, passed=True, verdict="ok", contended=False, foreign_cpu=0.0,
        has_speedup=True, has_medians=True,
    )  # fmt: skip
    values.update(changes)
    assert refusal(**values) == reason
