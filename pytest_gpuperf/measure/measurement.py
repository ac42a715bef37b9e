"""What ``cuda_sync_timer`` returns: the samples of one kernel and their statistics."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from pytest_gpuperf.machine.nvml import Clocks
    from pytest_gpuperf.measure.memory import MemoryPeaks
    from pytest_gpuperf.measure.statistics import RatioEstimate, Summary
    from pytest_gpuperf.measure.timer import Samples


@final
@dataclass(frozen=True, eq=False)
class Measurement:
    """One kernel's timing on one backend; times are in seconds.

    ``timed`` is False under a plain ``pytest`` run: the kernel ran once and was
    checked, and nothing was timed. ``clocks`` holds the GPU's NVML readings
    (None without NVML or off a GPU), ``memory`` the peaks of one extra, untimed call.
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
    clocks: Clocks | None = None
    memory: MemoryPeaks | None = None

    @functools.cached_property
    def stats(self) -> Summary | None:
        """Statistics of the kernel's per-call wall times (None when untimed)."""
        return self.kernel.summary() if self.kernel else None

    @property
    def device_stats(self) -> Summary | None:
        """Statistics of the kernel's device (CUDA event) times, when available."""
        return self.kernel.device_summary() if self.kernel else None

    @property
    def device_median(self) -> float | None:
        """Median batch GPU time per call: CUDA events around queued launches (None off a GPU).

        The kernels' own time back to back; where a gate judges device time, it is this one.
        """
        stats = self.device_stats
        return stats.median if stats else None

    @property
    def isolated_stats(self) -> Summary | None:
        """Statistics of the isolated GPU times: CUDA events around one call on an idle GPU."""
        return self.kernel.isolated_summary() if self.kernel else None

    @property
    def isolated_median(self) -> float | None:
        """Median isolated GPU time per call, as ``cupyx.profiler.benchmark`` reports it."""
        stats = self.isolated_stats
        return stats.median if stats else None

    @property
    def launch_overhead(self) -> float | None:
        """Wall median minus GPU median per call: dispatch, launch and sync wake-up."""
        wall, device = self.median, self.device_median
        return None if wall is None or device is None else wall - device

    @property
    def throttled(self) -> bool:
        """True when the GPU stayed throttled during the measurement (see ``clocks``)."""
        return bool(self.clocks and self.clocks.throttled)

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
    def kernel_clock(self) -> str:
        """``events`` when the kernel's device times come from CUDA events, else ``wall``."""
        return "events" if self.kernel is not None and self.kernel.device_ns else "wall"

    @functools.cached_property
    def kernel_time(self) -> RatioEstimate | None:
        """The kernel's median per-call time on ``kernel_clock``, with a ~95% interval."""
        from pytest_gpuperf.measure.statistics import median_interval

        if self.kernel is None:
            return None
        ns = self.kernel.device_ns or self.kernel.wall_ns
        return median_interval([t * 1e-9 for t in ns])

    @property
    def reference_median(self) -> float | None:
        """Median per-call time of the reference, measured interleaved."""
        return self.reference.summary().median if self.reference else None
