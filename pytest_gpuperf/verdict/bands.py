"""The bands a new run must stay inside, computed once per verdict from the test's history.

A plain module: no pytest, no numpy. For a quantity where higher is better (the
speedup, or a kernel's speed ``1 / median``), with ``k`` saved runs:

- ``center`` is the geometric mean of the runs, and ``s²`` the variance of their
  logs, the spread between runs, on ``d = k - 1`` degrees of freedom. A new run of
  unchanged code lands at ``log(now / center) ~ N(0, s² (1 + 1/k) + w²)``, where
  ``w`` is the new run's own standard error.
- ``s²`` is moderated with the spread pooled over the machine's other tests
  (:mod:`pytest_gpuperf.verdict.spread_prior`): ``s̃² = (d0·s0² + d·s²) / (d0 + d)``
  on ``d0 + d`` degrees of freedom. With nothing pooled, a history of ``MIN_RUNS``
  or more uses its own ``s²`` on ``k - 1``, and a shorter one an assumed spread
  (:mod:`pytest_gpuperf.verdict.cold_start`).
- The floor is ``center * min(1 - tolerance, exp(-q * sqrt(s̃² (1 + 1/k) + w²)))``,
  ``q`` the one-sided ``1 - false_alarm`` quantile of Student's t on those degrees
  of freedom, and the run is below it when its estimate is.
- A reference whose speed varies between the saved runs (:func:`reference_band`):
  the same rule around the speedup a fit on the reference's speed predicts for
  today, with the fit's prediction interval.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.measure.statistics import RatioEstimate, t_quantile
from pytest_gpuperf.verdict.cold_start import prior_for
from pytest_gpuperf.verdict.history import MIN_RUNS, geometric_mean
from pytest_gpuperf.verdict.spread_prior import MAX_DF, log_variance

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pytest_gpuperf.verdict.gate_input import GateInput
    from pytest_gpuperf.verdict.history import History
    from pytest_gpuperf.verdict.spread_prior import SpreadPrior

#: The saved reference medians must vary this much (SD of their logs) to fit on them.
REFERENCE_VARIES = 0.05
#: z for a 95% two-sided interval: turns an interval's half-width into a standard error.
_Z95 = 1.959964


@final
@dataclass(frozen=True)
class Band:
    """How far a run may fall below (or rise above) the history before the gate speaks."""

    center: float
    floor: float
    ceiling: float
    runs: int
    #: Between-run standard deviation of the logs the band used; None when unknown.
    spread: float | None
    #: The interval decides rather than the point estimate (no spread known at all).
    uses_interval: bool
    #: The between-run spread pushed the floor below ``1 - tolerance``.
    widened: bool = False
    #: Where the spread came from: ``own`` runs, ``pooled`` with the machine's other
    #: tests, ``assumed`` (cold start), or ``""`` when there is none.
    source: str = "own"
    #: Degrees of freedom of the spread (None when there is none; inf for a flat prior).
    df: float | None = None

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


def _own_noise(now: RatioEstimate) -> float:
    """This run's own standard error, in logs, from its 95% interval."""
    return math.log(now.high / now.low) / (2 * _Z95) if now.low > 0 else 0.0


def _quantile(false_alarm: float, df: float) -> float:
    """Student's t at ``1 - false_alarm`` on ``df`` (rounded down, at most MAX_DF)."""
    return t_quantile(1 - false_alarm, max(1, math.floor(min(float(MAX_DF), df))))


def band(
    history: Sequence[float],
    now: RatioEstimate,
    *,
    tolerance: float,
    false_alarm: float,
    prior: SpreadPrior | None = None,
) -> Band:
    """The band for ``now`` (higher is better) against the values of the history.

    ``prior`` is the spread pooled over the machine's tests, or the assumed one of a
    short history (:func:`~pytest_gpuperf.verdict.cold_start.prior_for`); without
    one, a history under MIN_RUNS runs falls back to the interval rule.
    """
    center = geometric_mean(history)
    k = len(history)
    found = log_variance(history)
    own = found[0] if found is not None else None
    if prior is not None:
        variance, df = prior.moderated(own, k - 1)
        source = "pooled" if prior.tests else "assumed"
    elif own is not None and k >= MIN_RUNS:
        variance, df, source = own, float(k - 1), "own"
    else:
        return Band(
            center, center * (1 - tolerance), center * (1 + tolerance), k, None, True, source=""
        )
    noise = math.sqrt(variance * (1 + 1 / k) + _own_noise(now) ** 2)
    margin = _quantile(false_alarm, df) * noise
    return _spread_band(center, margin, tolerance, k, math.sqrt(variance), source, df)


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
    predicted = spread**2 * (1 + 1 / k + (x0 - x_mean) ** 2 / sxx)
    margin = _quantile(false_alarm, k - 2) * math.sqrt(predicted + _own_noise(now) ** 2)
    return _spread_band(expected, margin, tolerance, k, spread, "own", float(k - 2))


def _spread_band(
    center: float, margin: float, tolerance: float, k: int, spread: float, source: str, df: float
) -> Band:
    """The tolerance around ``center``, widened to ``exp(-+margin)`` where that is wider."""
    floor = center * min(1 - tolerance, math.exp(-margin))
    ceiling = center * max(1 + tolerance, math.exp(margin))
    widened = math.exp(-margin) < 1 - tolerance
    return Band(center, floor, ceiling, k, spread, False, widened, source, df)


def speed(seconds: RatioEstimate) -> RatioEstimate:
    """A time with its interval as a speed (1 / time), so that higher is better."""
    return RatioEstimate(1 / seconds.value, 1 / seconds.high, 1 / seconds.low)


def point_speed(seconds: float) -> RatioEstimate:
    """A single time (no interval) as a speed, for the bands of a side's median."""
    return RatioEstimate(1 / seconds, 1 / seconds, 1 / seconds)


@final
@dataclass(frozen=True)
class Bands:
    """Every band one verdict may need, computed once from the test's history.

    ``time`` is the kernel's own time on ``time_clock`` (``events`` when this run and
    every saved run have CUDA-event times, else ``wall``); ``kernel`` and
    ``reference`` are the wall medians of the two sides, for attribution. The
    ``*_then`` figures are the geometric means of the saved medians.
    """

    speedup: Band | None
    time: Band | None
    time_clock: str
    kernel: Band | None
    reference: Band | None
    kernel_then: float
    reference_then: float
    device_then: float | None


def bands_for(gate: GateInput, history: History) -> Bands:
    """Every band of ``gate`` against ``history``, each with its pooled or assumed prior."""
    runs = history.runs
    k = len(runs)
    limits = {"tolerance": gate.tolerance, "false_alarm": gate.false_alarm}

    def prior(quantity: str) -> SpreadPrior | None:
        return prior_for(quantity, k, gate.priors)

    speedup = None
    if gate.speedup is not None:
        speedup = reference_band(history, gate.speedup, gate.reference_median_s, **limits)
        if speedup is None:
            values = [r.speedup for r in runs]
            speedup = band(values, gate.speedup, prior=prior("speedup"), **limits)
    events = gate.kernel_clock == "events" and history.has_device_times
    time = None
    if gate.kernel_time is not None:
        then = [(r.kernel_device_median_s if events else None) or r.kernel_median_s for r in runs]
        quantity = "device" if events else "kernel"
        time = band([1 / t for t in then], speed(gate.kernel_time), prior=prior(quantity), **limits)
    return Bands(
        speedup=speedup,
        time=time,
        time_clock="events" if events else "wall",
        kernel=_median_band(gate.kernel_median_s, [r.kernel_median_s for r in runs], prior, gate),
        reference=_median_band(
            gate.reference_median_s, [r.reference_median_s for r in runs], prior, gate, "reference"
        ),
        kernel_then=geometric_mean([r.kernel_median_s for r in runs]),
        reference_then=geometric_mean([r.reference_median_s for r in runs]),
        device_then=(
            geometric_mean([r.kernel_device_median_s or 0.0 for r in runs])
            if history.has_device_times
            else None
        ),
    )


def _median_band(
    now_s: float | None,
    then_s: list[float],
    prior: Callable[[str], SpreadPrior | None],
    gate: GateInput,
    quantity: str = "kernel",
) -> Band | None:
    """The band of one side's wall median (a point: its own noise is left out)."""
    if not now_s:
        return None
    return band(
        [1 / t for t in then_s],
        point_speed(now_s),
        tolerance=gate.tolerance,
        false_alarm=gate.false_alarm,
        prior=prior(quantity),
    )
