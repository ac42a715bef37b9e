"""A baseline history and the band a new run must stay inside.

A plain module: no pytest, no numpy. Each (machine, test, backend) keeps its last
few accepted runs. From them the gate learns how much an unchanged kernel moves
between processes on this machine, and sets its floor so that unchanged code
alarms at most at the stated false-alarm rate.

The rule, for a quantity where higher is better (the speedup, or a kernel's speed
``1 / median``), with ``k`` runs in the history:

- ``k >= MIN_RUNS``: ``center`` is the geometric mean of the runs, ``s`` the
  standard deviation of their logs (the between-run spread). A new run of
  unchanged code lands at ``log(now / center) ~ N(0, s^2 (1 + 1/k) + w^2)``, where
  ``w`` is the new run's own standard error. The floor is
  ``center * min(1 - tolerance, exp(-q * sqrt(s^2 (1 + 1/k) + w^2)))`` with ``q``
  the one-sided ``1 - false_alarm`` quantile of Student's t on ``k - 1`` degrees
  of freedom, and the run is below it when its estimate is.
- A reference whose speed varies between the saved runs (:func:`reference_band`):
  the same rule around the speedup a fit on the reference's speed predicts for
  today, with the fit's prediction interval.
- ``k < MIN_RUNS``: the between-run spread is unknown. The floor is
  ``center * (1 - tolerance)`` and the run is below it when its whole 95% interval
  is (the rule of a single baseline).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.measure.statistics import t_quantile

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.store.baseline_entry import BaselineEntry

#: Runs needed before the between-run spread is estimated and used.
MIN_RUNS = 3
#: Accepted runs kept per (machine, test, backend) unless ``gpuperf_history`` says otherwise.
DEFAULT_HISTORY = 10
#: Share of unchanged-code runs the gate may flag, unless ``gpuperf_false_alarm`` says otherwise.
DEFAULT_FALSE_ALARM = 0.01
#: The saved reference medians must vary this much (SD of their logs) to fit on them.
REFERENCE_VARIES = 0.05
#: z for a 95% two-sided interval: turns an interval's half-width into a standard error.
_Z95 = 1.959964


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean of positive numbers."""
    return math.exp(statistics.fmean(math.log(v) for v in values))


@final
@dataclass(frozen=True)
class History:
    """The accepted runs of one test and backend on one machine, oldest first."""

    runs: tuple[BaselineEntry, ...]

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a history holds at least one run")

    @property
    def latest(self) -> BaselineEntry:
        """The most recently accepted run."""
        return self.runs[-1]

    def appended(self, run: BaselineEntry, limit: int) -> History:
        """This history with ``run`` added, keeping the newest ``limit`` runs."""
        return History((*self.runs, run)[-limit:])


@final
@dataclass(frozen=True)
class Band:
    """How far a run may fall below (or rise above) the history before the gate speaks."""

    center: float
    floor: float
    ceiling: float
    runs: int
    #: Between-run standard deviation of the logs; None under MIN_RUNS runs.
    spread: float | None
    #: The interval decides (k < MIN_RUNS) rather than the point estimate.
    uses_interval: bool
    #: The between-run spread pushed the floor below ``1 - tolerance``.
    widened: bool = False

    @property
    def detectable(self) -> float:
        """The smallest loss (a fraction) the gate flags at its false-alarm rate."""
        return 1 - self.floor / self.center

    def below(self, now: RatioEstimate) -> bool:
        """True when ``now`` fell below the floor."""
        return (now.high if self.uses_interval else now.value) < self.floor

    def above(self, now: RatioEstimate) -> bool:
        """True when ``now`` rose above the ceiling (an improvement)."""
        return (now.low if self.uses_interval else now.value) > self.ceiling


def band(
    history: Sequence[float], now: RatioEstimate, *, tolerance: float, false_alarm: float
) -> Band:
    """The band for ``now`` (higher is better) against the values of the history."""
    center = geometric_mean(history)
    k = len(history)
    if k < MIN_RUNS:
        return Band(center, center * (1 - tolerance), center * (1 + tolerance), k, None, True)
    logs = [math.log(v) for v in history]
    spread = statistics.stdev(logs)
    own = math.log(now.high / now.low) / (2 * _Z95) if now.low > 0 else 0.0
    noise = math.sqrt(spread**2 * (1 + 1 / k) + own**2)
    margin = t_quantile(1 - false_alarm, k - 1) * noise
    return _spread_band(center, margin, tolerance, k, spread)


def reference_band(
    history: History,
    now: RatioEstimate,
    reference_median_s: float | None,
    *,
    tolerance: float,
    false_alarm: float,
) -> Band | None:
    """The band for a speedup that depends on the reference's speed, or None.

    When the saved reference medians vary (the SD of their logs is at least
    REFERENCE_VARIES) and today's lies within their range, fit
    ``log(speedup) = a + b * log(reference median)`` over the saved runs and expect
    today's speedup at today's reference median: a reference that runs at another
    speed from process to process then moves the expected speedup with it. The
    margin is the fit's prediction interval (Student's t on ``k - 2`` degrees of
    freedom), plus this run's own noise; otherwise as :func:`band`.
    """
    runs = history.runs
    k = len(runs)
    if not reference_median_s or k < MIN_RUNS + 1:
        return None
    x = [math.log(run.reference_median_s) for run in runs]
    y = [math.log(run.speedup) for run in runs]
    x0 = math.log(reference_median_s)
    if statistics.stdev(x) < REFERENCE_VARIES or not (
        min(x) - REFERENCE_VARIES <= x0 <= max(x) + REFERENCE_VARIES
    ):
        return None
    x_mean, y_mean = statistics.fmean(x), statistics.fmean(y)
    sxx = sum((xi - x_mean) ** 2 for xi in x)
    slope = sum((xi - x_mean) * (yi - y_mean) for xi, yi in zip(x, y, strict=True)) / sxx
    residuals = [yi - y_mean - slope * (xi - x_mean) for xi, yi in zip(x, y, strict=True)]
    spread = math.sqrt(sum(r * r for r in residuals) / (k - 2))
    expected = math.exp(y_mean + slope * (x0 - x_mean))
    own = math.log(now.high / now.low) / (2 * _Z95) if now.low > 0 else 0.0
    predicted = spread**2 * (1 + 1 / k + (x0 - x_mean) ** 2 / sxx)
    margin = t_quantile(1 - false_alarm, k - 2) * math.sqrt(predicted + own**2)
    return _spread_band(expected, margin, tolerance, k, spread)


def _spread_band(center: float, margin: float, tolerance: float, k: int, spread: float) -> Band:
    """The tolerance around ``center``, widened to ``exp(-+margin)`` where that is wider."""
    floor = center * min(1 - tolerance, math.exp(-margin))
    ceiling = center * max(1 + tolerance, math.exp(margin))
    return Band(center, floor, ceiling, k, spread, False, math.exp(-margin) < 1 - tolerance)


def speed(seconds: RatioEstimate) -> RatioEstimate:
    """A time with its interval as a speed (1 / time), so that higher is better."""
    from pytest_gpuperf.measure.statistics import RatioEstimate

    return RatioEstimate(1 / seconds.value, 1 / seconds.high, 1 / seconds.low)


def describe_runs(runs: int) -> str:
    """``1 saved run`` / ``4 saved runs``."""
    return f"{runs} saved run{'s' if runs != 1 else ''}"
