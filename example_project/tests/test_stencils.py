"""The 5-point Laplacian: @stencil on the CPU, a shared-memory kernel on the GPU."""

from __future__ import annotations

import pytest

from accel_kernels.stencils import laplacian_cuda, laplacian_cupy, laplacian_numba, laplacian_numpy


# atol: a GPU may fuse "- 4 * centre" into one multiply-add, rounding once instead of twice.
@pytest.mark.gpuperf(reference=laplacian_numpy, atol=1e-5)
def test_laplacian(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(
        numpy=laplacian_numpy,
        numba=laplacian_numba,
        numba_cuda=laplacian_cuda,
        cupy=laplacian_cupy,
    )
    a = gpu_array.random(size("laplacian"), "float32", seed=4)
    cuda_sync_timer(kernel, a)
