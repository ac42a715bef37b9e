"""Unit tests for the between-run spread pooled over a machine's tests (limma's moderated t)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_gpuperf.measure.statistics import digamma, tetragamma, trigamma, trigamma_inverse
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.history import History
from pytest_gpuperf.verdict.spread_prior import (
    MIN_TESTS,
    SpreadPrior,
    estimate_prior,
    log_variance,
    pooled_priors,
)

EULER = 0.5772156649015329
APERY = 1.2020569031595942


@pytest.mark.parametrize(
    ("function", "x", "expected"),
    [
        (digamma, 1.0, -EULER),
        (digamma, 0.5, -EULER - 2 * math.log(2)),
        (digamma, 10.0, 2.251752589066721),
        (trigamma, 1.0, math.pi**2 / 6),
        (trigamma, 0.5, math.pi**2 / 2),
        (trigamma, 10.0, 0.10516633568168575),
        (tetragamma, 1.0, -2 * APERY),
        (tetragamma, 0.5, -14 * APERY),
    ],
)
def test_polygamma_functions_match_known_values(function: Any, x: float, expected: float) -> None:
    assert function(x) == pytest.approx(expected, rel=1e-10)


@given(st.floats(0.01, 1e4))
def test_trigamma_inverse_inverts_trigamma(y: float) -> None:
    assert trigamma_inverse(trigamma(y)) == pytest.approx(y, rel=1e-6)


@pytest.mark.parametrize("function", [digamma, trigamma, tetragamma, trigamma_inverse])
def test_polygamma_functions_reject_non_positive_arguments(function: Any) -> None:
    with pytest.raises(ValueError, match="> 0"):
        function(0.0)


def _sample_variances(
    rng: random.Random, spreads: list[float], runs: int
) -> list[tuple[float, int]]:
    """Each test's sample variance of ``runs`` normal logs with its true spread."""
    found = []
    for spread in spreads:
        logs = [rng.gauss(0.0, spread) for _ in range(runs)]
        mean = sum(logs) / runs
        found.append((sum((v - mean) ** 2 for v in logs) / (runs - 1), runs - 1))
    return found


def test_one_common_spread_is_recovered_with_many_degrees_of_freedom() -> None:
    # 60 tests, each with 3 saved runs (2 df), all truly moving 3% between runs.
    prior = estimate_prior(_sample_variances(random.Random(1), [0.03] * 60, 3))
    assert prior is not None
    assert prior.spread == pytest.approx(0.03, rel=0.2)
    assert prior.df > 20
    assert prior.tests == 60


def test_spreads_that_differ_between_tests_give_few_prior_degrees_of_freedom() -> None:
    rng = random.Random(2)
    spreads = [rng.choice([0.005, 0.02, 0.1, 0.3]) for _ in range(60)]
    prior = estimate_prior(_sample_variances(rng, spreads, 5))
    assert prior is not None
    assert prior.df < 5


def test_too_few_tests_give_no_prior() -> None:
    spreads = _sample_variances(random.Random(3), [0.03] * (MIN_TESTS - 1), 3)
    assert estimate_prior(spreads) is None
    assert estimate_prior([(0.001, 0)] * 10) is None  # one run each: no spread at all


def test_the_moderated_variance_is_limmas_weighted_mean() -> None:
    prior = SpreadPrior(0.02**2, 6.0, 30)
    variance, df = prior.moderated(0.05**2, 2)
    assert variance == pytest.approx((6 * 0.02**2 + 2 * 0.05**2) / 8)
    assert df == 8.0
    assert prior.moderated(None, 0) == (pytest.approx(0.02**2), 6.0)  # one run: the prior
    flat = SpreadPrior(0.02**2, math.inf, 30)
    assert flat.moderated(0.5, 2) == (pytest.approx(0.02**2), math.inf)


def _entry(speedup: float, kernel_s: float, device_s: float | None = None) -> BaselineEntry:
    return BaselineEntry(
        speedup=speedup, ci_low=speedup, ci_high=speedup, kernel_median_s=kernel_s,
        reference_median_s=speedup * kernel_s, samples=10, dtypes=(), shapes=(), versions={},
        timestamp="2026-11-30T12:00:00+00:00", foreign_cpu=0.0, kernel_device_median_s=device_s,
    )  # fmt: skip


def test_priors_are_pooled_per_quantity_from_histories() -> None:
    rng = random.Random(4)
    histories = []
    for _ in range(12):
        runs = tuple(
            _entry(
                speedup=5 * math.exp(rng.gauss(0, 0.2)),
                kernel_s=1e-3 * math.exp(rng.gauss(0, 0.02)),
                device_s=0.9e-3 * math.exp(rng.gauss(0, 0.01)),
            )
            for _ in range(3)
        )
        histories.append(History(runs))
    priors = pooled_priors(histories)
    assert set(priors) == {"speedup", "kernel", "reference", "device"}
    assert priors["device"].spread < priors["kernel"].spread < priors["speedup"].spread
    # Histories without event times pool nothing for the device.
    plain = [History(tuple(_entry(5.0 + i, 1e-3) for i in range(3))) for _ in range(5)]
    assert "device" not in pooled_priors(plain)
    assert log_variance([2.0]) is None
