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
- ``k < MIN_RUNS``: the between-run spread is unknown. The floor is
  ``center * (1 - tolerance)`` and the run is below it when its whole 95% interval
  is (the rule of a single baseline).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.stats import t_quantile

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.baseline import BaselineEntry
    from pytest_gpuperf.stats import RatioEstimate

#: Runs needed before the between-run spread is estimated and used.
MIN_RUNS = 3
#: Accepted runs kept per (machine, test, backend) unless ``gpuperf_history`` says otherwise.
DEFAULT_HISTORY = 10
#: Share of unchanged-code runs the gate may flag, unless ``gpuperf_false_alarm`` says otherwise.
DEFAULT_FALSE_ALARM = 0.01
#: History runs whose reference median lies this close to today's are "comparable".
REFERENCE_MATCH = 0.10
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

    def comparable(self, reference_median_s: float | None) -> History:
        """The runs whose reference took about as long as it does now.

        A reference that runs at one of two speeds, chosen per process, makes the
        speedup bimodal; comparing with runs in the same state keeps the band tight.
        With fewer than MIN_RUNS such runs, the whole history.
        """
        if not reference_median_s or len(self.runs) < MIN_RUNS:
            return self
        near = tuple(
            run
            for run in self.runs
            if abs(math.log(run.reference_median_s / reference_median_s))
            <= math.log1p(REFERENCE_MATCH)
        )
        return History(near) if len(near) >= MIN_RUNS else self


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
    floor = center * min(1 - tolerance, math.exp(-margin))
    ceiling = center * max(1 + tolerance, math.exp(margin))
    return Band(center, floor, ceiling, k, spread, False, math.exp(-margin) < 1 - tolerance)


def speed(seconds: RatioEstimate) -> RatioEstimate:
    """A time with its interval as a speed (1 / time), so that higher is better."""
    from pytest_gpuperf.stats import RatioEstimate

    return RatioEstimate(1 / seconds.value, 1 / seconds.high, 1 / seconds.low)


def describe_runs(runs: int) -> str:
    """``1 saved run`` / ``4 saved runs``."""
    return f"{runs} saved run{'s' if runs != 1 else ''}"
