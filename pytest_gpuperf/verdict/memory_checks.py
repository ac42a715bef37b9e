"""The memory side of a measured test: one untimed call's peaks, and the two checks on them.

``max_memory=`` caps a peak outright; ``gpuperf_memory_tolerance`` limits growth over
the latest saved run. Both messages name the test, the backend, the peak and the fix.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from pytest_gpuperf.backends.base import WithDefaults
from pytest_gpuperf.measure import memory

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_gpuperf.fixtures.backend_handle import BackendHandle
    from pytest_gpuperf.fixtures.sync_timer import RunContext
    from pytest_gpuperf.marker import MarkerSpec
    from pytest_gpuperf.measure.measurement import Measurement
    from pytest_gpuperf.measure.memory import MemoryPeaks
    from pytest_gpuperf.verdict.history import History


def measure(handle: BackendHandle, call: Callable[[], object]) -> MemoryPeaks:
    """Peak device and host memory of one more, untimed call (which may raise)."""
    backend = handle.impl
    probe = None
    if not backend.simulated:
        try:
            probe = WithDefaults(backend).memory_probe()
        except Exception:  # facts are optional; never fail a test over a probe
            probe = None
    return memory.measure_peaks(call, probe, is_gpu=backend.is_gpu, simulated=backend.simulated)


def failure(
    measurement: Measurement, spec: MarkerSpec | None, context: RunContext, handle: BackendHandle
) -> str | None:
    """The ``max_memory`` failure message, when the peak is above the marker's cap."""
    if spec is None or spec.max_memory is None or measurement.memory is None:
        return None
    return memory.max_memory_failure(
        measurement.memory,
        spec.max_memory,
        is_gpu=handle.impl.is_gpu,
        where=f"{context.nodeid} on {handle.name}",
    )


def growth(
    measurement: Measurement,
    history: History | None,
    context: RunContext,
    handle: BackendHandle,
) -> str | None:
    """Peaks that grew beyond ``gpuperf_memory_tolerance`` over the latest saved run."""
    peaks = measurement.memory
    tolerance = context.settings.memory_tolerance
    if peaks is None or history is None or tolerance is None:
        return None
    then = history.latest
    accept = f"pytest --gpuperf --gpuperf-save {shlex.quote(context.nodeid)}"
    device_now = None if peaks.simulated else peaks.device_peak_bytes
    reasons = [
        memory.memory_regression(now, before, tolerance, kind=kind, accept_command=accept)
        for kind, now, before in (
            ("device", device_now, then.device_peak_bytes),
            ("host", peaks.host_peak_bytes, then.host_peak_bytes),
        )
    ]
    found = [f"{context.nodeid} on {handle.name}: {r}" for r in reasons if r]
    return "\n".join(found) or None
