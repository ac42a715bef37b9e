"""One kernel, three gates: judged under gate="speedup", gate="time" and the default."""

from __future__ import annotations

import pytest
from planted import SIZE, double, spin_cupy, spin_numba, spin_numba_cuda


def _measure(backend, gpu_array, cuda_sync_timer):
    kernel = backend.select(numba=spin_numba, numba_cuda=spin_numba_cuda, cupy=spin_cupy)
    a = gpu_array.random(SIZE, "float32", seed=1)
    out = gpu_array.empty_like(a)
    cuda_sync_timer(kernel, a, out)


@pytest.mark.gpuperf(reference=double, output=-1, gate="speedup")
def test_gate_speedup(backend, gpu_array, cuda_sync_timer):
    _measure(backend, gpu_array, cuda_sync_timer)


@pytest.mark.gpuperf(reference=double, output=-1, gate="time")
def test_gate_time(backend, gpu_array, cuda_sync_timer):
    _measure(backend, gpu_array, cuda_sync_timer)


@pytest.mark.gpuperf(reference=double, output=-1)
def test_gate_default(backend, gpu_array, cuda_sync_timer):
    _measure(backend, gpu_array, cuda_sync_timer)
