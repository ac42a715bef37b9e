"""Unit tests for the saved history, Student's t, the median interval and admission."""

from __future__ import annotations

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
from pytest_gpuperf.verdict.history import History

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
