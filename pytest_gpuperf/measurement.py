"""What ``cuda_sync_timer`` returns: the samples of one kernel and their statistics."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from pytest_gpuperf.stats import RatioEstimate, Summary
    from pytest_gpuperf.timing import Samples


@final
@dataclass(frozen=True, eq=False)
class Measurement:
    """One kernel's timing on one backend; times are in seconds.

    ``timed`` is False under a plain ``pytest`` run: the kernel ran once and was
    checked, and nothing was timed.
    """

    result: Any
    timed: bool
    simulated: bool = False
    first_call_s: float | None = None
    kernel: Samples | None = None
    reference: Samples | None = None
    ratios: tuple[float, ...] = ()
    speedup: RatioEstimate | None = None
    cache: str = "hot"
    foreign_cpu: float | None = None
    #: The other pytest-xdist workers' share of the CPUs while measuring (None without xdist).
    sibling_cpu: float | None = None
    budget_note: str | None = None
    attempts: int = 1

    @functools.cached_property
    def stats(self) -> Summary | None:
        """Statistics of the kernel's per-call wall times (None when untimed)."""
        return self.kernel.summary() if self.kernel else None

    @property
    def device_stats(self) -> Summary | None:
        """Statistics of the kernel's device (CUDA event) times, when available."""
        return self.kernel.device_summary() if self.kernel else None

    @property
    def samples(self) -> tuple[float, ...]:
        """Raw per-call kernel wall times."""
        return tuple(ns * 1e-9 for ns in self.kernel.wall_ns) if self.kernel else ()

    @property
    def n(self) -> int:
        """Number of samples."""
        return len(self.kernel.wall_ns) if self.kernel else 0

    @property
    def min(self) -> float | None:
        """Fastest per-call time."""
        return self.stats.min if self.stats else None

    @property
    def median(self) -> float | None:
        """Median per-call time."""
        return self.stats.median if self.stats else None

    @property
    def mean(self) -> float | None:
        """Mean per-call time."""
        return self.stats.mean if self.stats else None

    @property
    def stdev(self) -> float | None:
        """Standard deviation of the per-call times."""
        return self.stats.stddev if self.stats else None

    @property
    def iqr(self) -> float | None:
        """Interquartile range of the per-call times."""
        return self.stats.iqr if self.stats else None

    @property
    def reference_median(self) -> float | None:
        """Median per-call time of the reference, measured interleaved."""
        return self.reference.summary().median if self.reference else None
