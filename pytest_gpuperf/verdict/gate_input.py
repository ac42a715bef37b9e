"""Everything one verdict depends on, gathered by the ``cuda_sync_timer`` fixture.

A plain module: no pytest, no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, final

from pytest_gpuperf.verdict.history import DEFAULT_FALSE_ALARM

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.history import History
    from pytest_gpuperf.verdict.spread_prior import SpreadPrior


@final
@dataclass(frozen=True)
class GateInput:
    """Everything the verdict depends on, gathered by the ``cuda_sync_timer`` fixture.

    ``kernel_time`` is the kernel's median with its 95% interval, in seconds, on the
    clock named by ``kernel_clock`` (``"wall"`` or ``"events"``): what the time rule
    judges. ``kernel_median_s`` is the wall median that goes with the speedup.
    ``priors`` are the between-run spreads pooled over this machine's tests of the
    same backend, by quantity (``speedup``, ``kernel``, ``reference``, ``device``).
    ``sm_mhz`` and ``memory_mhz`` are NVML's clocks during the measurement, when read.
    """

    test: str
    backend: str
    reference_name: str
    speedup: RatioEstimate | None
    history: History | None
    tolerance: float
    min_speedup: float | None = None
    simulated: bool = False
    foreign_cpu: float | None = None
    contention_limit: float = 0.15
    fail_inconclusive: bool = False
    throttled: bool = False
    reference_median_s: float | None = None
    kernel_median_s: float | None = None
    kernel_time: RatioEstimate | None = None
    kernel_clock: str = "wall"
    mode: str = "auto"
    false_alarm: float = DEFAULT_FALSE_ALARM
    versions: Mapping[str, str] = field(default_factory=dict)
    accept_command: str = "pytest --gpuperf --gpuperf-save"
    priors: Mapping[str, SpreadPrior] = field(default_factory=dict)
    sm_mhz: float | None = None
    memory_mhz: float | None = None

    @property
    def device_row(self) -> bool:
        """True when the kernel was timed on the device's own clock (CUDA events)."""
        return self.kernel_clock == "events"

    @property
    def where(self) -> str:
        """``test on backend``, as every message starts."""
        return f"{self.test} on {self.backend}"
