"""The two checks on a measured test's memory peaks (measured by one untimed call).

``max_memory=`` caps a peak outright; ``gpuperf_memory_tolerance`` limits growth over
the latest saved run. Both messages name the test, the backend, the peak and the fix.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from pytest_gpuperf.measure import memory

if TYPE_CHECKING:
    from pytest_gpuperf.measure.measurement import Measurement
    from pytest_gpuperf.verdict.history import History


def failure(
    measurement: Measurement, max_memory: int | None, where: str, *, is_gpu: bool
) -> str | None:
    """The ``max_memory`` failure message, when the peak is above the marker's cap.

    ``where`` names the test and backend, e.g. ``t.py::test_x[numba] on numba``.
    """
    if max_memory is None or measurement.memory is None:
        return None
    return memory.max_memory_failure(measurement.memory, max_memory, is_gpu=is_gpu, where=where)


def growth(
    measurement: Measurement,
    history: History | None,
    tolerance: float | None,
    nodeid: str,
    where: str,
) -> str | None:
    """Peaks that grew beyond ``gpuperf_memory_tolerance`` over the latest saved run."""
    peaks = measurement.memory
    if peaks is None or history is None or tolerance is None:
        return None
    then = history.latest
    accept = f"pytest --gpuperf --gpuperf-save {shlex.quote(nodeid)}"
    device_now = None if peaks.simulated else peaks.device_peak_bytes
    reasons = [
        memory.memory_regression(now, before, tolerance, kind=kind, accept_command=accept)
        for kind, now, before in (
            ("device", device_now, then.device_peak_bytes),
            ("host", peaks.host_peak_bytes, then.host_peak_bytes),
        )
    ]
    found = [f"{where}: {r}" for r in reasons if r]
    return "\n".join(found) or None
