"""Row normalization: @guvectorize on the CPU, one block per row on the GPU."""

from __future__ import annotations

import pytest

from accel_kernels.rows import (
    normalize_rows_cuda,
    normalize_rows_cupy,
    normalize_rows_numba,
    normalize_rows_numba_parallel,
    normalize_rows_numpy,
)


# rtol: each version sums a row's squares in its own order before the square root.
@pytest.mark.gpuperf(reference=normalize_rows_numpy, rtol=2e-5)
def test_normalize_rows(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(
        numpy=normalize_rows_numpy,
        numba=normalize_rows_numba,
        numba_cuda=normalize_rows_cuda,
        cupy=normalize_rows_cupy,
    )
    a = gpu_array.random(size("rows"), "float32", seed=6)
    cuda_sync_timer(kernel, a)


@pytest.mark.gpuperf(reference=normalize_rows_numpy, rtol=2e-5, backends=("numba",))
def test_normalize_rows_parallel(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(numba=normalize_rows_numba_parallel)
    a = gpu_array.random(size("rows"), "float32", seed=6)
    cuda_sync_timer(kernel, a)
