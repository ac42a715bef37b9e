"""Summary statistics of timing samples and the confidence interval of a speedup.

A plain module: no pytest, and numpy is imported only inside the bootstrap.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Two-sided 95% quantiles of Student's t for small degrees of freedom (index = df).
_T95 = (
    float("inf"), 12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
)  # fmt: skip


@final
@dataclass(frozen=True)
class Summary:
    """Order statistics and moments of one side's per-call times (seconds)."""

    n: int
    min: float
    max: float
    mean: float
    median: float
    stddev: float
    q1: float
    q3: float

    @property
    def iqr(self) -> float:
        """Interquartile range."""
        return self.q3 - self.q1

    @property
    def stdrel(self) -> float:
        """Relative standard deviation (nvbench's noise measure)."""
        return self.stddev / self.mean if self.mean > 0 else math.inf


def summarize(values: Sequence[float]) -> Summary:
    """Summarize a non-empty sequence of per-call times."""
    if not values:
        raise ValueError("summarize needs at least one sample")
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        stddev = statistics.stdev(ordered)
    else:
        q1 = q3 = ordered[0]
        stddev = 0.0
    return Summary(
        n=len(ordered),
        min=ordered[0],
        max=ordered[-1],
        mean=statistics.fmean(ordered),
        median=statistics.median(ordered),
        stddev=stddev,
        q1=q1,
        q3=q3,
    )


def t_quantile_95(df: int) -> float:
    """Two-sided 95% Student-t quantile; the normal 1.96 beyond the table."""
    return _T95[df] if df < len(_T95) else 1.96


def log_ratio_halfwidth(ratios: Sequence[float]) -> float:
    """Relative half-width of the 95% t-interval of the geometric mean of ``ratios``.

    Cheap enough to evaluate after every round, so the sampler uses it to stop.
    """
    if len(ratios) < 2:
        return math.inf
    logs = [math.log(r) for r in ratios]
    half = t_quantile_95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.expm1(half)


@final
@dataclass(frozen=True)
class RatioEstimate:
    """A speedup with its 95% confidence interval."""

    value: float
    low: float
    high: float

    @property
    def relative_halfwidth(self) -> float:
        """Half the interval's width relative to the estimate."""
        return (self.high - self.low) / (2 * self.value)


def ratio_interval(
    ratios: Sequence[float], *, resamples: int = 2000, trim: float = 0.1, seed: int = 0
) -> RatioEstimate:
    """Estimate a speedup from paired ratios, with a bootstrap 95% interval.

    The estimate is the trimmed geometric mean of the ratios: log-ratios make
    2x faster and 2x slower symmetric, trimming keeps one disturbed pair from
    moving the verdict. The bootstrap resamples pairs, so drift that hits both
    sides of a pair cancels. The interval always holds the estimate.
    Deterministic for a given ``seed``.
    """
    if not ratios:
        raise ValueError("ratio_interval needs at least one ratio")
    if any(not (r > 0 and math.isfinite(r)) for r in ratios):
        raise ValueError(f"ratios must be positive and finite; got {list(ratios)!r}")
    import numpy as np

    logs = np.log(np.asarray(ratios, dtype=np.float64))
    point = math.exp(_trimmed_mean(np.sort(logs)[None, :], trim)[0])
    if logs.size < 3:
        return RatioEstimate(point, math.exp(float(logs.min())), math.exp(float(logs.max())))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, logs.size, size=(resamples, logs.size))
    means = _trimmed_mean(np.sort(logs[picks], axis=1), trim)
    low, high = (math.exp(float(q)) for q in np.quantile(means, [0.025, 0.975]))
    # A percentile interval can miss a trimmed point on skewed data; never report that.
    return RatioEstimate(point, min(low, point), max(high, point))


def _trimmed_mean(sorted_rows: object, trim: float) -> list[float]:
    """Mean of each sorted row after cutting ``trim`` of the values at each end."""
    import numpy as np

    rows = np.asarray(sorted_rows)
    cut = int(rows.shape[1] * trim)
    kept = rows[:, cut : rows.shape[1] - cut] if rows.shape[1] - 2 * cut > 0 else rows
    return [float(v) for v in kept.mean(axis=1)]


def t_upper_tail(t: float, df: int) -> float:
    """P(T > t) for Student's t with an integer ``df`` >= 1 (the closed form, A&S 26.7.3-4)."""
    if df < 1:
        raise ValueError(f"df must be >= 1; got {df!r}")
    theta = math.atan(abs(t) / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2:  # odd: 2/pi * (theta + sin*cos*(1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= (2 * k) / (2 * k + 1) * cos2
            total += term
        central = 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    else:  # even: sin * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
        term = total = 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * cos2
            total += term
        central = math.sin(theta) * total
    upper = (1 - central) / 2
    return upper if t >= 0 else 1 - upper


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with integer ``df`` (bisection on the exact tail).

    Cached: a run asks for the same few quantiles for every test it judges.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be between 0 and 1; got {p!r}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_upper_tail(high, df) > 1 - p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_upper_tail(mid, df) > 1 - p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * high:
            break
    return (low + high) / 2


def median_interval(values: Sequence[float]) -> RatioEstimate:
    """The median of ``values`` with a distribution-free ~95% interval (order statistics).

    The interval runs between the order statistics ``n/2 -+ 1.96 sqrt(n)/2``, clamped
    to the sample; with very few values it is the whole range.
    """
    if not values:
        raise ValueError("median_interval needs at least one value")
    ordered = sorted(values)
    n = len(ordered)
    half = 1.96 * math.sqrt(n) / 2
    low = ordered[max(0, math.floor(n / 2 - half))]
    high = ordered[min(n - 1, math.ceil(n / 2 + half) - 1)]
    median = statistics.median(ordered)
    return RatioEstimate(median, min(low, median), max(high, median))


def digamma(x: float) -> float:
    """The digamma function ψ(x) for x > 0 (recurrence up to 10, then the asymptotic series)."""
    if not x > 0:
        raise ValueError(f"digamma needs x > 0; got {x!r}")
    shift = 0.0
    while x < 10:
        shift -= 1 / x
        x += 1
    inv2 = 1 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return shift + math.log(x) - 0.5 / x - series


def trigamma(x: float) -> float:
    """The trigamma function ψ'(x) for x > 0 (recurrence up to 10, then the asymptotic series)."""
    if not x > 0:
        raise ValueError(f"trigamma needs x > 0; got {x!r}")
    shift = 0.0
    while x < 10:
        shift += 1 / (x * x)
        x += 1
    inv, inv2 = 1 / x, 1 / (x * x)
    series = inv2 * inv * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))
    return shift + inv + 0.5 * inv2 + series


def tetragamma(x: float) -> float:
    """The tetragamma function ψ''(x) for x > 0 (recurrence, then the asymptotic series)."""
    if not x > 0:
        raise ValueError(f"tetragamma needs x > 0; got {x!r}")
    shift = 0.0
    while x < 10:
        shift -= 2 / x**3
        x += 1
    inv2 = 1 / (x * x)
    series = inv2 * inv2 * (0.5 - inv2 * (1 / 6 - inv2 * (1 / 6 - inv2 * 0.3)))
    return shift - inv2 - inv2 / x - series


def trigamma_inverse(value: float) -> float:
    """The ``y`` with ``trigamma(y) == value``, by Smyth's Newton iteration (limma's).

    Starting from ``y = 0.5 + 1/value``, every step stays on the convex side, so
    the iteration converges monotonically.
    """
    if not value > 0:
        raise ValueError(f"trigamma_inverse needs a value > 0; got {value!r}")
    if value > 1e7:
        return 1 / math.sqrt(value)
    if value < 1e-6:
        return 1 / value
    y = 0.5 + 1 / value
    for _ in range(50):
        tri = trigamma(y)
        step = tri * (1 - tri / value) / tetragamma(y)
        y += step
        if -step / y < 1e-8:
            break
    return y
