"""Do CUDA events time a kernel correctly? A spin kernel of known length, events against wall.

A plain module: no pytest; CuPy is imported only by :func:`cupy_spin`.
``gpuperf doctor`` runs it where CuPy sees a device.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_gpuperf.backends.base import DeviceTimer

#: Length of the spin kernel that checks CUDA events, in seconds.
SPIN_S = 0.02
#: Events may read this much shorter than the spin (globaltimer granularity) ...
EVENT_LOW = 0.9
#: ... or this much longer than the wall clock that brackets them.
EVENT_OVER_WALL = 1.05

#: CUDA C for CuPy: spin on the global nanosecond timer for ``ns`` nanoseconds.
SPIN_SOURCE = r"""
extern "C" __global__ void gpuperf_spin(unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns);
}
"""


def check_event_timing(
    launch: Callable[[], object],
    synchronize: Callable[[], None],
    timer: DeviceTimer,
    *,
    expected_s: float | None,
    clock: Callable[[], int] = time.perf_counter_ns,
    repeats: int = 3,
) -> tuple[bool, str]:
    """Time a kernel with events and the wall clock; return (agree, what was measured).

    ``expected_s`` is the kernel's own length (None when it is not known exactly).
    Events must read at least 90% of it, and no more than 5% over the wall time
    that brackets them.
    """
    launch()  # compile and warm up
    synchronize()
    pairs = []
    for _ in range(repeats):
        start = clock()
        timer.start()
        launch()
        event_ns = timer.stop()
        pairs.append((event_ns * 1e-9, (clock() - start) * 1e-9))
    event = statistics.median(p[0] for p in pairs)
    wall = statistics.median(p[1] for p in pairs)
    detail = f"events {event * 1e3:.3f} ms, wall {wall * 1e3:.3f} ms"
    if expected_s is not None:
        detail += f" for a {expected_s * 1e3:g} ms spin"
    if event <= 0 or (expected_s is not None and event < EVENT_LOW * expected_s):
        return False, f"{detail}: the events read too short"
    if event > EVENT_OVER_WALL * wall:
        return False, f"{detail}: the events read longer than the wall"
    return True, detail


def cupy_spin() -> tuple[Callable[[], object], Callable[[], None], DeviceTimer]:
    """The spin kernel on CuPy (compiled by NVRTC): launch, synchronize, and an event timer."""
    import cupy

    from pytest_gpuperf.backends.cupy_backend import CupyBackend

    kernel = cupy.RawKernel(SPIN_SOURCE, "gpuperf_spin")
    ns = cupy.uint64(int(SPIN_S * 1e9))
    backend = CupyBackend()
    timer = backend.device_timer()
    assert timer is not None
    return (lambda: kernel((1,), (1,), (ns,))), backend.synchronize, timer
