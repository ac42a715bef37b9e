"""A damped distance ``sqrt(x² + y²) · exp(-x)`` on 1-D float32 arrays, swept over the size.

The test runs it at sizes from a few hundred elements to a million, to find
where ``prange`` starts to pay. On a small array, waking Numba's worker
threads costs more than NumPy's whole call. On a large one, NumPy makes seven
passes over memory, each writing a temporary array, while the fused, threaded
loop makes one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda, njit, prange

from accel_kernels._launch import launch_config

#: Threads per block of the CUDA kernel (one thread per element).
THREADS = (128,)
#: Work of one element: two multiplies, an add, a square root, an exp and a multiply.
FLOPS_PER_ELEMENT = 6


def damped_norm_numpy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The reference: seven NumPy calls, each a pass that writes a temporary array."""
    return np.sqrt(x * x + y * y) * np.exp(-x)


@njit(parallel=True, cache=True)
def damped_norm_numba(x, y):
    """One fused loop, split across CPU threads by ``prange``."""
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i]) * math.exp(-x[i])
    return out


@cuda.jit(cache=True)
def _damped_norm_kernel(x, y, out):
    i = cuda.grid(1)
    if i < x.shape[0]:
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i]) * math.exp(-x[i])


def damped_norm_cuda(x: Any, y: Any) -> Any:
    """One thread per element; the result stays on the GPU."""
    blocks, threads = launch_config(x.shape, THREADS)
    out = cuda.device_array_like(x)
    _damped_norm_kernel[blocks, threads](x, y, out)
    return out


def damped_norm_cupy(x: Any, y: Any) -> Any:
    """The NumPy version on CuPy arrays."""
    import cupy

    return cupy.sqrt(x * x + y * y) * cupy.exp(-x)
