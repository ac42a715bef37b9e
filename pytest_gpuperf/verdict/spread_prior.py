"""The between-run spread pooled over the tests of one machine and backend (empirical Bayes).

A plain module: no pytest, no numpy. Three saved runs give each test a spread on
two degrees of freedom, and Student's t on 2 df is 6.96 at a 1% false-alarm rate:
a floor far below the tolerance. But a machine runs many tests, and their spreads
say how much runs move on it. This module estimates that from all of them, the
way Smyth's limma moderates gene-wise variances (Smyth 2004, "Linear models and
empirical Bayes methods for assessing differential expression", section 6.2):

- each test ``g`` has a sample variance ``s_g²`` of the logs of its saved runs,
  on ``d_g = k_g - 1`` degrees of freedom;
- the prior is a scaled inverse chi-square: ``s0²`` on ``d0`` degrees of
  freedom, estimated by matching the mean and the variance of ``log s_g²``
  (the digamma/trigamma moments of the log of a chi-square);
- a test's moderated variance is ``s̃² = (d0·s0² + d·s²) / (d0 + d)``, and its
  margin uses Student's t on ``d0 + d`` degrees of freedom.

When the tests' spreads vary no more than sampling alone would make them,
``d0`` is infinite and every test gets ``s0²``; when they vary a lot, ``d0`` is
small and each test keeps mostly its own spread.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.measure.statistics import digamma, trigamma, trigamma_inverse

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from pytest_gpuperf.store.baseline_entry import BaselineEntry
    from pytest_gpuperf.verdict.history import History

#: Tests with a spread (2 or more saved runs) needed before a prior is estimated: with
#: fewer, the spread of the spreads, and so d0, is too uncertain to lean on.
MIN_TESTS = 5
#: The degrees of freedom used for an infinite ``d0`` (Student's t is then the normal's).
MAX_DF = 200
#: A spread is never taken as smaller than this (SD of logs): identical runs are rounding.
MIN_SPREAD = 1e-4


@final
@dataclass(frozen=True)
class SpreadPrior:
    """The pooled between-run spread: ``s0²`` on ``d0`` degrees of freedom, from ``tests``."""

    variance: float
    df: float
    tests: int

    @property
    def spread(self) -> float:
        """``s0``: the prior's standard deviation of the logs."""
        return math.sqrt(self.variance)

    def moderated(self, variance: float | None, df: int) -> tuple[float, float]:
        """``(s̃², d0 + d)``: a test's variance on ``df`` degrees of freedom, shrunk toward s0².

        ``variance`` is None (or ``df`` is 0) for a test with one saved run: it gets the
        prior itself.
        """
        own = variance if variance is not None and df > 0 else 0.0
        df = df if variance is not None else 0
        if math.isinf(self.df):
            return self.variance, math.inf
        moderated = (self.df * self.variance + df * max(own, MIN_SPREAD**2)) / (self.df + df)
        return moderated, self.df + df


def estimate_prior(spreads: Sequence[tuple[float, int]]) -> SpreadPrior | None:
    """The prior from each test's ``(variance, df)``, or None with fewer than MIN_TESTS."""
    usable = [(max(v, MIN_SPREAD**2), d) for v, d in spreads if d >= 1 and math.isfinite(v)]
    if len(usable) < MIN_TESTS:
        return None
    centred = [math.log(v) - digamma(d / 2) + math.log(d / 2) for v, d in usable]
    mean = statistics.fmean(centred)
    excess = statistics.variance(centred) - statistics.fmean(trigamma(d / 2) for _, d in usable)
    if excess <= 0:
        return SpreadPrior(math.exp(mean), math.inf, len(usable))
    df = 2 * trigamma_inverse(excess)
    return SpreadPrior(math.exp(mean + digamma(df / 2) - math.log(df / 2)), df, len(usable))


def log_variance(values: Sequence[float]) -> tuple[float, int] | None:
    """The sample variance of ``log(values)`` and its degrees of freedom; None for one value."""
    if len(values) < 2:
        return None
    return statistics.variance([math.log(v) for v in values]), len(values) - 1


#: What each prior is pooled from: one number of every saved run.
QUANTITIES = ("speedup", "kernel", "reference", "device")


def run_value(run: BaselineEntry, quantity: str) -> float | None:
    """The number of ``run`` that a ``quantity``'s spread is measured on (None: not saved)."""
    if quantity == "speedup":
        return run.speedup
    if quantity == "kernel":
        return run.kernel_median_s
    if quantity == "reference":
        return run.reference_median_s
    if quantity == "device":
        return run.kernel_device_median_s or None
    raise ValueError(f"unknown quantity {quantity!r}; known: {', '.join(QUANTITIES)}")


def pooled_priors(histories: Iterable[History]) -> Mapping[str, SpreadPrior]:
    """One prior per quantity, from the histories of one machine and backend."""
    spreads: dict[str, list[tuple[float, int]]] = {q: [] for q in QUANTITIES}
    for history in histories:
        for quantity in QUANTITIES:
            values = [run_value(run, quantity) for run in history.runs]
            if all(v is not None for v in values):
                found = log_variance([v for v in values if v is not None])
                if found is not None:
                    spreads[quantity].append(found)
    priors = {q: estimate_prior(s) for q, s in spreads.items()}
    return {q: p for q, p in priors.items() if p is not None}
