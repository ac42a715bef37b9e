"""Unit tests for the bands a run must stay inside: own, pooled and assumed spreads."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_history import entry

from pytest_gpuperf.measure.statistics import RatioEstimate, t_quantile
from pytest_gpuperf.verdict.bands import band, reference_band, speed
from pytest_gpuperf.verdict.history import MIN_RUNS, History, geometric_mean


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
