"""What the session keeps of one measured test: its measurement, verdict and facts.

A plain module: no pytest, no numpy. The reports read these records, never the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_gpuperf.measure.measurement import Measurement
    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.gate import GateResult
    from pytest_gpuperf.verdict.history import History


@final
@dataclass(frozen=True)
class Throughput:
    """What one kernel call moved and computed per second; ``None`` where not declared."""

    gb_per_s: float | None
    gflop_per_s: float | None
    peak_gb_per_s: float | None = None
    peak_source: str | None = None

    @property
    def percent_of_peak(self) -> float | None:
        """GB/s as a percentage of the peak bandwidth, when both are known."""
        if self.gb_per_s is None or not self.peak_gb_per_s:
            return None
        return 100.0 * self.gb_per_s / self.peak_gb_per_s

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``extra_info.gpuperf.throughput``."""
        return {
            "gb_per_s": self.gb_per_s,
            "gflop_per_s": self.gflop_per_s,
            "peak_gb_per_s": self.peak_gb_per_s,
            "peak_source": self.peak_source,
            "percent_of_peak": self.percent_of_peak,
        }


@final
@dataclass(frozen=True)
class Attempt:
    """A measurement that a re-measurement superseded, with the verdict it got."""

    measurement: Measurement
    gate: GateResult


@final
@dataclass(frozen=True)
class KernelRecord:
    """One measured test on one backend, as the session reports and saves it.

    Never changed once made: what is learned later (the test passed, the throughput)
    goes into a copy made with :func:`dataclasses.replace`.
    """

    nodeid: str
    test_key: str
    backend: str
    kernel_name: str
    reference_name: str | None
    measurement: Measurement
    gate: GateResult | None
    dtypes: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    bytes_per_call: float | None = None
    flops_per_call: float | None = None
    sweep: str | None = None
    passed: bool = False
    throughput: Throughput | None = None
    #: The backend's ``device`` text (the GPU, or the dask scheduler), for the machine info.
    device: str = ""
    #: The saved runs the verdict was judged against (None: no baseline on this machine).
    history: History | None = None
    #: The first measurement, when a suspected regression was measured again.
    first_attempt: Attempt | None = None
    #: The GPU libraries' performance warnings of its kernel calls, each distinct one once.
    performance_warnings: tuple[str, ...] = ()

    @property
    def speedup(self) -> RatioEstimate | None:
        """The speedup to report: a device row's against the pooled reference, else measured."""
        measured = self.measurement.speedup
        return self.gate.shown_speedup(measured) if self.gate is not None else measured


@final
@dataclass(frozen=True)
class RunResults:
    """What the reports read of one run: its records, its notes and the machine it ran on."""

    records: tuple[KernelRecord, ...]
    notes: tuple[str, ...] = ()
    #: The baseline file's key for this machine ("" when no facts were read).
    fingerprint: str = ""
    machine_info: Mapping[str, object] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
