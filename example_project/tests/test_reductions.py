"""Sum of squares: a reduction whose float32 result depends on the order of the additions."""

from __future__ import annotations

import pytest

from accel_kernels.reductions import (
    sum_squares_cuda,
    sum_squares_cupy,
    sum_squares_numba,
    sum_squares_numpy,
)


# rtol=1e-4: NumPy adds pairwise, Numba per thread in float64, the GPU in a tree and then
# atomically in whatever order blocks finish; float32 results agree to about 1e-5, not 1e-7.
# check_dtype=False: Numba hands back its float32 result as a Python float.
@pytest.mark.gpuperf(
    reference=sum_squares_numpy, rtol=1e-4, check_dtype=False, bytes=lambda a: a.nbytes
)
def test_sum_squares(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(
        numpy=sum_squares_numpy,
        numba=sum_squares_numba,
        numba_cuda=sum_squares_cuda,
        cupy=sum_squares_cupy,
    )
    a = gpu_array.random(size("sum_squares"), "float32", seed=5)
    cuda_sync_timer(kernel, a)
