"""Sum of squares of a 1-D float32 array: a reduction.

The versions add in different orders (NumPy pairwise, Numba per thread, the
GPU in a tree and then atomically across blocks), so their float32 results
differ in the last digits: the test allows for that with ``rtol``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numba import cuda, njit, prange

from accel_kernels._launch import power_of_two_at_least

#: Threads per block of the CUDA kernel: a power of two, for the tree.
THREADS = 128
#: Enough blocks to fill a large GPU; each thread first sums a grid-strided slice.
MAX_BLOCKS = 1024


def sum_squares_numpy(a: np.ndarray) -> np.float32:
    """The reference: NumPy's pairwise float32 sum."""
    return np.sum(a * a)


@njit(parallel=True, cache=True)
def sum_squares_numba(a):
    """A ``prange`` reduction; each thread accumulates in float64 and Numba combines them."""
    acc = 0.0
    for i in prange(a.shape[0]):
        acc += a[i] * a[i]
    return np.float32(acc)


@cuda.jit(cache=True)
def _sum_squares_kernel(a, out):
    partial = cuda.shared.array(THREADS, dtype=np.float32)
    tid = cuda.threadIdx.x
    acc = np.float32(0)
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        acc += a[i] * a[i]
    partial[tid] = acc
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:  # tree: halve the active threads, each adding its partner's partial
        if tid < step:
            partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        cuda.atomic.add(out, 0, partial[0])  # one atomic per block


def sum_squares_cuda(a: Any) -> np.float32:
    """Shared-memory tree per block, ``cuda.atomic.add`` across blocks; the sum comes back."""
    n = a.shape[0]
    # At most THREADS, and at most half the input, so that even a tiny input spans two
    # blocks and the cross-block atomic add is exercised (as it is on the simulator).
    threads = min(THREADS, power_of_two_at_least(-(-n // 2)))
    blocks = min(MAX_BLOCKS, -(-n // threads))
    out = cuda.to_device(np.zeros(1, dtype=np.float32))
    _sum_squares_kernel[blocks, threads](a, out)
    return out.copy_to_host()[0]


def sum_squares_cupy(a: Any) -> Any:
    """A CuPy ``ReductionKernel``: map ``x * x``, reduce with ``+``; a 0-d array on the GPU."""
    return _cupy_sum_squares()(a)


@functools.cache
def _cupy_sum_squares() -> Any:
    import cupy

    return cupy.ReductionKernel(
        "float32 x", "float32 y", "x * x", "a + b", "y = a", "0", "accel_sum_squares"
    )
