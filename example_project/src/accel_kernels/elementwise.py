"""Element-wise ``out = a + 2`` on a 3-D array: the simplest memory-bound kernel.

Every version writes into ``out`` (the last argument), so the test declares
``gpuperf(output=-1)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda, njit, prange

from accel_kernels._launch import launch_config

TWO = np.float32(2)  # a float32 constant: a Python 2 would promote Numba's sum to float64

#: Threads per block in (x, y, z): x runs along the last, contiguous axis, so a warp reads
#: 32 neighbouring floats (coalesced).
THREADS = (32, 4, 2)


def add2_numpy(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The reference."""
    np.add(a, TWO, out=out)
    return out


@njit(cache=True)
def add2_numba(a, out):
    """Serial loops nested in memory order: C order, so k (the last axis) is innermost."""
    ni, nj, nk = a.shape
    for i in range(ni):
        for j in range(nj):
            for k in range(nk):
                out[i, j, k] = a[i, j, k] + TWO
    return out


@njit(parallel=True, cache=True)
def add2_numba_parallel(a, out):
    """The same loops with the outermost one split across threads by ``prange``."""
    ni, nj, nk = a.shape
    for i in prange(ni):
        for j in range(nj):
            for k in range(nk):
                out[i, j, k] = a[i, j, k] + TWO
    return out


@cuda.jit(cache=True)
def _add2_kernel(a, out):
    k, j, i = cuda.grid(3)  # x is the fastest-varying thread index: map it to the last axis
    if i < a.shape[0] and j < a.shape[1] and k < a.shape[2]:
        out[i, j, k] = a[i, j, k] + TWO


def add2_cuda(a: Any, out: Any) -> Any:
    """Launch one thread per element on a 3-D grid; returns at once, before the GPU is done."""
    ni, nj, nk = a.shape
    blocks, threads = launch_config((nk, nj, ni), THREADS)
    _add2_kernel[blocks, threads](a, out)
    return out


def add2_cupy(a: Any, out: Any) -> Any:
    """CuPy's element-wise add, written into ``out``."""
    import cupy

    cupy.add(a, TWO, out=out)
    return out
