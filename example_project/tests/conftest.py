"""Problem sizes, in one place, and a demonstration backend whose work finishes asynchronously."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from pytest_gpuperf import HostBackend

#: Problem sizes: (on CPU backends and a real GPU, on Numba's CUDA simulator). Real sizes keep
#: one NumPy call near 10-50 ms on a laptop CPU and every GPU grid at 128 blocks or more (Numba
#: warns below that). The simulator runs each GPU thread as a Python thread (about 0.5 ms
#: each), so its launches stay near a hundred threads; they still span several blocks with
#: partial ones, so index guards, halos and cross-block atomics are exercised.
SIZES: dict[str, tuple[Any, Any]] = {
    "add2": ((64, 256, 256), (3, 5, 4)),
    "pi": ((16384, 64), (32, 8)),  # (batches, points per batch); one GPU thread per batch
    "gaussian": (1 << 20, 256),
    "laplacian": ((1024, 1024), (10, 12)),
    "sum_squares": (1 << 22, 100),
    "rows": ((16384, 128), (3, 50)),
}

#: Swept problems (the test parametrizes the size): the largest size the simulator runs. Larger
#: sizes skip there, since every element would be a Python thread; real hardware runs them all.
SIMULATED_SWEEP_LIMIT: dict[str, int] = {
    "damped_norm": 256,
}


@pytest.fixture
def size(backend):
    """``size("add2")``: this problem's size on the current backend (tiny on the simulator).

    ``size("damped_norm", n)``: a swept size, ``n`` itself, except that on the simulator sizes
    above the problem's limit skip the test.
    """

    def pick(problem: str, swept: int | None = None) -> Any:
        if swept is None:
            real, simulated = SIZES[problem]
            return backend.size(real=real, simulated=simulated)
        limit = SIMULATED_SWEEP_LIMIT[problem]
        if backend.simulated and swept > limit:
            pytest.skip(
                f"{backend.name}: {problem} at {swept:,} elements is too large for Numba's CUDA "
                f"simulator (one Python thread each); it runs sizes up to {limit:,} there. "
                "Run on a GPU for the whole sweep"
            )
        return swept

    return pick


class AsyncHostBackend(HostBackend):
    """A CPU "device" whose work runs later on a worker thread, as a GPU runs a stream.

    ``launch`` queues work and returns at once, like a CUDA kernel launch; only
    ``synchronize`` waits for it. ``tests/test_elementwise.py`` uses it to show
    that ``cuda_sync_timer`` times the work itself, not just the launch.
    """

    name = "async_host"

    def __init__(self) -> None:
        self._worker: ThreadPoolExecutor | None = None
        self._queued: list[Future[Any]] = []

    @property
    def device(self) -> str:
        """What stands in for the device."""
        return "CPU worker thread (a stand-in for a GPU stream)"

    def launch(self, work: Any, *args: Any) -> None:
        """Queue ``work(*args)`` and return before it runs."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="async_host")
        self._queued.append(self._worker.submit(work, *args))

    def synchronize(self) -> None:
        """Wait for all queued work, in order, and re-raise its errors."""
        queued, self._queued = self._queued, []
        for future in queued:
            future.result()

    def make_concrete(self, result: Any) -> Any:
        """Wait for the queued work, then return the result."""
        self.synchronize()
        return result

    def to_host(self, arr: Any) -> Any:
        """A device-to-host copy waits for the stream first, as ``copy_to_host`` does."""
        for future in list(self._queued):
            future.result()
        return np.asarray(arr)

    def close(self) -> None:
        """Stop the worker thread, dropping work nobody waited for."""
        if self._worker is not None:
            self._worker.shutdown(cancel_futures=True)


_ASYNC_HOST = AsyncHostBackend()


def pytest_gpuperf_register_backends(config):
    """Add the demonstration backend next to the built-in ones."""
    return [_ASYNC_HOST]


def pytest_unconfigure(config):
    _ASYNC_HOST.close()
