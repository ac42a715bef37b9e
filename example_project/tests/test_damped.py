"""A size sweep: where does a threaded Numba loop start to beat NumPy?"""

from __future__ import annotations

import pytest

from accel_kernels.damped import (
    FLOPS_PER_ELEMENT,
    damped_norm_cuda,
    damped_norm_cupy,
    damped_norm_numba,
    damped_norm_numpy,
)

#: From a few hundred elements, where calling a kernel costs as much as its work, to a million,
#: where NumPy's temporary arrays no longer fit in a CPU's cache.
SIZES = [256, 4_096, 65_536, 262_144, 1_048_576]


def _bytes_moved(x, y):
    return 3 * x.nbytes  # x and y read, the result written


def _flops(x, y):
    return FLOPS_PER_ELEMENT * x.size


# A GPU grid under 128 blocks makes Numba warn about low occupancy. The small sizes of a sweep
# are small on purpose: they show where the GPU does not pay yet.
@pytest.mark.filterwarnings("ignore:Grid size \\d+ will likely result in GPU under-utilization")
@pytest.mark.gpuperf(reference=damped_norm_numpy, sweep="n", bytes=_bytes_moved, flops=_flops)
@pytest.mark.parametrize("n", SIZES)
def test_damped_norm(backend, gpu_array, cuda_sync_timer, size, n):
    kernel = backend.select(
        numpy=damped_norm_numpy,
        numba=damped_norm_numba,
        numba_cuda=damped_norm_cuda,
        cupy=damped_norm_cupy,
    )
    x = gpu_array.random(size("damped_norm", n), "float32", seed=7)
    y = gpu_array.random(size("damped_norm", n), "float32", seed=8)
    cuda_sync_timer(kernel, x, y)
