"""add2: check every backend against NumPy and, under --gpuperf, gate its speedup."""

from __future__ import annotations

import time

import pytest

from accel_kernels.elementwise import (
    add2_cuda,
    add2_cupy,
    add2_numba,
    add2_numba_parallel,
    add2_numpy,
)

#: How long the async_host backend's queued work takes, at least, per launch.
QUEUED_WORK_S = 0.005


def _bytes_moved(a, out):
    return a.nbytes + out.nbytes


@pytest.mark.gpuperf(reference=add2_numpy, output=-1, bytes=_bytes_moved)
def test_add2(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(
        numpy=add2_numpy, numba=add2_numba, numba_cuda=add2_cuda, cupy=add2_cupy
    )
    a = gpu_array.random(size("add2"), "float32", seed=1)
    out = gpu_array.empty_like(a)
    cuda_sync_timer(kernel, a, out)


@pytest.mark.gpuperf(reference=add2_numpy, output=-1, bytes=_bytes_moved, backends=("numba",))
def test_add2_parallel(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(numba=add2_numba_parallel)
    a = gpu_array.random(size("add2"), "float32", seed=1)
    out = gpu_array.empty_like(a)
    cuda_sync_timer(kernel, a, out)


def _later(kernel, *args):
    time.sleep(QUEUED_WORK_S)
    kernel(*args)


@pytest.mark.gpuperf(reference=add2_numpy, output=-1, max_time=0.3)
def test_add2_timing_waits_for_the_device(backend, gpu_array, cuda_sync_timer, size):
    """On a device that finishes work later, every sample includes that work.

    A GPU launch returns before the kernel runs; a timer that does not
    synchronize measures only the launch. The ``async_host`` backend (see
    conftest.py) queues the work on a worker thread and returns at once, so
    this test fails if the check or a timing sample does not wait for it.
    """
    kernel = backend.select(async_host=add2_numba)
    device = backend.impl

    def add2_async(a, out):
        device.launch(_later, kernel, a, out)  # returns before the addition happens

    a = gpu_array.random(size("add2"), "float32", seed=1)
    out = gpu_array.empty_like(a)
    m = cuda_sync_timer(add2_async, a, out)
    if m.timed:
        for what, seconds in (("a sample", min(m.samples)), ("the first call", m.first_call_s)):
            assert seconds >= QUEUED_WORK_S, (
                f"{what} took {seconds * 1e3:.3f} ms, less than the {QUEUED_WORK_S * 1e3:g} ms "
                "of queued work: the timer did not wait for the device"
            )
