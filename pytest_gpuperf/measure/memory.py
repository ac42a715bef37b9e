"""Peak memory of one kernel call: device (per backend) and host (tracemalloc), and its gates.

A plain module: no pytest. Each device probe imports its library inside
functions, so importing this module costs nothing. A peak is the most memory
the call had allocated at any point *above what was in use when it started*:
inputs made beforehand do not count, the output and temporaries do.
"""

from __future__ import annotations

import importlib
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, final

from pytest_gpuperf.text import format_bytes

if TYPE_CHECKING:
    from collections.abc import Callable

#: Growth below this many bytes is never a memory regression (tracemalloc's own noise).
MEMORY_SLACK_BYTES = 64 * 2**10

HOST_SOURCE = "tracemalloc (Python and NumPy allocations)"
CUPY_SOURCE = "cupy memory pool: peak bytes in use from the pool (MemoryHook)"
TORCH_SOURCE = "torch.cuda.max_memory_allocated (caching allocator)"
NUMBA_CUDA_SOURCE = (
    "numba-cuda: growth of the device's used memory across the call (cuMemGetInfo, frees "
    "deferred), an upper bound of the peak; device-wide, so other processes count"
)
SIMULATOR_SOURCE = "simulated: the CUDA simulator's device arrays are host memory (tracemalloc)"
NO_PROBE_SOURCE = "not measured: the backend has no memory_probe()"
HOST_BACKEND_SOURCE = "host backend: no device memory"


class DeviceMemoryProbe(Protocol):
    """Brackets one call and reports the device bytes it had allocated at its peak."""

    #: Where the number comes from, for the reports.
    source: str

    def start(self) -> None:
        """Begin watching allocations."""

    def stop(self) -> int | None:
        """Stop watching; the peak bytes above the start, or None when unknown."""


@final
@dataclass(frozen=True)
class MemoryPeaks:
    """Peak memory of one kernel call, in bytes; ``None`` where it was not measured."""

    device_peak_bytes: int | None
    host_peak_bytes: int | None
    device_source: str
    simulated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``extra_info.gpuperf.memory``."""
        return {
            "device_peak_bytes": self.device_peak_bytes,
            "host_peak_bytes": self.host_peak_bytes,
            "device_source": self.device_source,
            "host_source": HOST_SOURCE,
            "simulated": self.simulated,
        }

    def capped(self, is_gpu: bool) -> tuple[str, int] | None:
        """The kind (``device`` or ``host``) and peak that ``max_memory`` limits, if measured.

        A GPU backend's cap applies to its device peak; simulated device memory is
        never gated; a CPU backend's cap applies to the host peak.
        """
        if is_gpu:
            if self.simulated or self.device_peak_bytes is None:
                return None
            return "device", self.device_peak_bytes
        if self.host_peak_bytes is None:
            return None
        return "host", self.host_peak_bytes


def host_peak(call: Callable[[], object]) -> int:
    """Peak bytes traced by tracemalloc during ``call()``, above those traced at its start.

    Starts tracemalloc for the call when it is off, and leaves it as it found it.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, peak - before)


def measure_peaks(
    call: Callable[[], object],
    probe: DeviceMemoryProbe | None,
    *,
    is_gpu: bool,
    simulated: bool = False,
) -> MemoryPeaks:
    """Run ``call`` once more, untimed, and read its device and host peaks.

    A probe that raises leaves the device peak unknown, with the error as its source;
    a kernel that raises propagates.
    """
    if simulated:
        host = host_peak(call)
        return MemoryPeaks(host, host, SIMULATOR_SOURCE, simulated=True)
    if probe is None:
        source = NO_PROBE_SOURCE if is_gpu else HOST_BACKEND_SOURCE
        return MemoryPeaks(None, host_peak(call), source)
    try:
        probe.start()
    except Exception as exc:
        failed = f"not measured: {probe.source} failed to start ({type(exc).__name__}: {exc})"
        return MemoryPeaks(None, host_peak(call), failed)
    try:
        host = host_peak(call)
    finally:
        try:
            device = probe.stop()
        except Exception:
            device = None
    return MemoryPeaks(device, host, probe.source)


def max_memory_failure(
    peaks: MemoryPeaks, cap: int, *, is_gpu: bool, where: str, accept: str = ""
) -> str | None:
    """The failure message when the capped peak exceeds ``max_memory``, else None."""
    capped = peaks.capped(is_gpu)
    if capped is None:
        return None
    kind, peak = capped
    if peak <= cap:
        return None
    source = peaks.device_source if kind == "device" else HOST_SOURCE
    return (
        f"{where}: peak {kind} memory of one call is {format_bytes(peak)} ({peak:,} bytes), "
        f"above gpuperf(max_memory={format_bytes(cap)}) ({cap:,} bytes; measured with "
        f"{source}); allocate less (reuse an output buffer, free temporaries) or raise "
        "gpuperf(max_memory=...)"
    )


def memory_regression(
    now_bytes: int | None,
    baseline_bytes: int | None,
    tolerance: float | None,
    *,
    kind: str = "device",
    accept_command: str = "pytest --gpuperf --gpuperf-save",
) -> str | None:
    """The reason a peak grew beyond ``baseline × (1 + tolerance)``, else None.

    ``tolerance=None`` (the ``gpuperf_memory_tolerance`` default) switches the
    check off; so does a peak or baseline that was not measured. Growth under
    :data:`MEMORY_SLACK_BYTES` never counts.
    """
    if tolerance is None or now_bytes is None or baseline_bytes is None:
        return None
    if tolerance < 0:
        raise ValueError(f"memory tolerance must be >= 0; got {tolerance!r}")
    ceiling = baseline_bytes * (1 + tolerance) + MEMORY_SLACK_BYTES
    if now_bytes <= ceiling:
        return None
    growth = f" ({now_bytes / baseline_bytes - 1:+.1%})" if baseline_bytes > 0 else ""
    return (
        f"peak {kind} memory grew to {format_bytes(now_bytes)} from the baseline's "
        f"{format_bytes(baseline_bytes)}{growth}; allowed tolerance {tolerance:.4g} "
        f"(ceiling {format_bytes(ceiling)}, gpuperf_memory_tolerance). If the new peak is "
        f"intended, accept it with: {accept_command}"
    )


# -- device probes, one per library ----------------------------------------------------------


@final
class CupyPoolProbe:
    """Peak bytes in use from CuPy's memory pool during the call, through a ``MemoryHook``.

    Counts what the pool hands out (rounded to its 512-byte blocks); memory from
    another allocator (``cupy.cuda.set_allocator``) is not seen. ``cupy`` can be
    given, for tests.
    """

    source = CUPY_SOURCE

    def __init__(self, cupy: Any = None) -> None:
        if cupy is None:
            cupy = importlib.import_module("cupy")
        self._cupy = cupy

        class _PeakHook(cupy.cuda.MemoryHook):  # type: ignore[misc]
            name = "gpuperf_peak"

            def __init__(self) -> None:
                self.in_use = 0
                self.peak = 0

            def malloc_postprocess(self, **kwargs: Any) -> None:
                self.in_use += int(kwargs["mem_size"])
                self.peak = max(self.peak, self.in_use)

            def free_postprocess(self, **kwargs: Any) -> None:
                self.in_use -= int(kwargs["mem_size"])

        self.hook = _PeakHook()

    def start(self) -> None:
        """Register the hook on this thread."""
        self.hook.in_use = self.hook.peak = 0
        self.hook.__enter__()

    def stop(self) -> int | None:
        """Wait for the stream, unregister the hook, return its peak."""
        try:
            self._cupy.cuda.get_current_stream().synchronize()
        finally:
            self.hook.__exit__(None, None, None)
        return int(self.hook.peak)


@final
class TorchPeakProbe:
    """``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``."""

    source = TORCH_SOURCE

    def __init__(self, torch: Any = None) -> None:
        if torch is None:
            torch = importlib.import_module("torch")
        self._torch = torch
        self._start = 0

    def start(self) -> None:
        """Reset the peak and note what is allocated now."""
        cuda = self._torch.cuda
        cuda.synchronize()
        cuda.reset_peak_memory_stats()
        self._start = int(cuda.memory_allocated())

    def stop(self) -> int | None:
        """The peak above the start."""
        cuda = self._torch.cuda
        cuda.synchronize()
        return max(0, int(cuda.max_memory_allocated()) - self._start)


@final
class NumbaCudaProbe:
    """Device-wide used memory (``cuMemGetInfo``) before and after, with frees deferred.

    numba-cuda has no pool and no peak counter. Inside ``cuda.defer_cleanup()``
    nothing allocated during the call is freed before it ends, so the growth is
    every byte the call allocated: an upper bound of its peak. The driver counts
    in pages (2 MiB), and other processes on the device count too. ``cuda``
    (``numba.cuda``) can be given, for tests.
    """

    source = NUMBA_CUDA_SOURCE

    def __init__(self, cuda: Any = None) -> None:
        if cuda is None:
            cuda = importlib.import_module("numba.cuda")
        self._cuda = cuda
        self._used = 0
        self._defer: Any = None

    def _used_bytes(self) -> int:
        free, total = self._cuda.current_context().get_memory_info()
        return int(total) - int(free)

    def start(self) -> None:
        """Defer frees and read the used memory."""
        self._cuda.synchronize()
        self._defer = self._cuda.defer_cleanup()
        self._defer.__enter__()
        self._used = self._used_bytes()

    def stop(self) -> int | None:
        """The growth of used memory; frees resume."""
        try:
            self._cuda.synchronize()
            return max(0, self._used_bytes() - self._used)
        finally:
            self._defer.__exit__(None, None, None)
