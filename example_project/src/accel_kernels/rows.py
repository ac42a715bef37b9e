"""Normalize each row of a 2-D float32 array to unit length (L2 norm).

A row-wise operation is what ``@guvectorize`` is for: write the kernel for one
row, signature ``(n)->(n)``, and NumPy's broadcasting applies it to every row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda, guvectorize

from accel_kernels._launch import power_of_two_at_least

#: Threads per block of the CUDA kernel (one block per row): a power of two, for the tree.
THREADS = 64
SIGNATURES = ["void(float32[:], float32[:])"]


def normalize_rows_numpy(a: np.ndarray) -> np.ndarray:
    """The reference."""
    return a / np.sqrt(np.sum(a * a, axis=1, keepdims=True))


def _normalize_row(row, out):
    """The body for one row: its norm, then every element divided by it."""
    acc = np.float32(0)
    for x in row:
        acc += x * x
    norm = np.sqrt(acc)
    for j in range(row.shape[0]):
        out[j] = row[j] / norm


# The row kernel applied to each row on one core. No __doc__ assignment: NumPy 2.0 and older
# keep a ufunc's read-only.
normalize_rows_numba = guvectorize(SIGNATURES, "(n)->(n)", cache=True)(_normalize_row)

# Rows split across CPU threads (target='parallel').
normalize_rows_numba_parallel = guvectorize(SIGNATURES, "(n)->(n)", target="parallel", cache=True)(
    _normalize_row
)


# ``@guvectorize(target='cuda')`` fails on Numba's CUDA simulator, so the GPU version is a
# plain kernel: one block per row, a shared-memory tree for the norm.
@cuda.jit(cache=True)
def _normalize_rows_kernel(a, out):
    partial = cuda.shared.array(THREADS, dtype=np.float32)
    row, tid, stride = cuda.blockIdx.x, cuda.threadIdx.x, cuda.blockDim.x
    acc = np.float32(0)
    for j in range(tid, a.shape[1], stride):
        acc += a[row, j] * a[row, j]
    partial[tid] = acc
    cuda.syncthreads()
    step = stride // 2
    while step > 0:
        if tid < step:
            partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2
    norm = math.sqrt(partial[0])
    for j in range(tid, a.shape[1], stride):
        out[row, j] = a[row, j] / norm


def normalize_rows_cuda(a: Any) -> Any:
    """One block per row, of ``THREADS`` threads or fewer: each thread handles 2+ elements."""
    rows, cols = a.shape
    threads = min(THREADS, power_of_two_at_least(-(-cols // 2)))
    out = cuda.device_array_like(a)
    _normalize_rows_kernel[rows, threads](a, out)
    return out


def normalize_rows_cupy(a: Any) -> Any:
    """The NumPy version on CuPy arrays."""
    import cupy

    return a / cupy.sqrt(cupy.sum(a * a, axis=1, keepdims=True))
