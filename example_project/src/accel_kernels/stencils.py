"""The 2-D five-point Laplacian: each interior cell gets its four neighbours minus 4x itself.

Border cells are 0 in every version (the default of Numba's ``@stencil``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda, njit, stencil

from accel_kernels._launch import launch_config

FOUR = np.float32(4)

#: Threads per block in (y, x) rows and columns; the shared tile adds a one-cell halo.
TILE_Y, TILE_X = 8, 32
#: The shared tile's shape: computed here, since a CUDA kernel needs a constant shape.
HALO_TILE = (TILE_Y + 2, TILE_X + 2)


def laplacian_numpy(a: np.ndarray) -> np.ndarray:
    """The reference: shifted slices, one temporary each."""
    out = np.zeros_like(a)
    out[1:-1, 1:-1] = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - FOUR * a[1:-1, 1:-1]
    return out


@stencil
def _laplacian_stencil(a):
    return a[-1, 0] + a[1, 0] + a[0, -1] + a[0, 1] - FOUR * a[0, 0]


@njit(parallel=True, cache=True)
def laplacian_numba(a):
    """Numba's ``@stencil`` inside ``@njit(parallel=True)``: one fused, threaded loop."""
    return _laplacian_stencil(a)


@cuda.jit(cache=True)
def _laplacian_kernel(a, out):
    tile = cuda.shared.array(HALO_TILE, dtype=np.float32)
    ny, nx = a.shape
    ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
    dy, dx = cuda.blockDim.y, cuda.blockDim.x
    y0, x0 = cuda.blockIdx.y * dy, cuda.blockIdx.x * dx
    # The block loads its tile plus a one-cell halo together: stride over the tile's cells.
    height, width = dy + 2, dx + 2
    for cell in range(ty * dx + tx, height * width, dy * dx):
        r, c = cell // width, cell % width
        gy, gx = y0 + r - 1, x0 + c - 1
        if 0 <= gy < ny and 0 <= gx < nx:
            tile[r, c] = a[gy, gx]
        else:
            tile[r, c] = 0
    cuda.syncthreads()
    y, x = y0 + ty, x0 + tx
    if y < ny and x < nx:
        if 0 < y < ny - 1 and 0 < x < nx - 1:
            r, c = ty + 1, tx + 1
            up, down, left, right = tile[r - 1, c], tile[r + 1, c], tile[r, c - 1], tile[r, c + 1]
            out[y, x] = up + down + left + right - FOUR * tile[r, c]
        else:
            out[y, x] = 0


def laplacian_cuda(a: Any) -> Any:
    """Shared-memory tiles: each input cell is read from global memory once per block."""
    ny, nx = a.shape
    blocks, threads = launch_config((nx, ny), (TILE_X, TILE_Y))
    out = cuda.device_array_like(a)
    _laplacian_kernel[blocks, threads](a, out)
    return out


def laplacian_cupy(a: Any) -> Any:
    """The NumPy slicing version on CuPy arrays."""
    import cupy

    out = cupy.zeros_like(a)
    out[1:-1, 1:-1] = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - a[1:-1, 1:-1] * FOUR
    return out
