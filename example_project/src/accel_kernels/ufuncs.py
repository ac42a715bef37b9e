"""A Gaussian density as a NumPy ufunc, built with Numba's ``@vectorize`` for each target.

``@vectorize`` turns a scalar function into a ufunc: it broadcasts, takes
``out=`` and runs one fused loop instead of NumPy's chain of temporaries.
The same formula is also written with PyTorch and with ``dask.array``, for
pytest-gpuperf's opt-in ``torch`` and ``dask`` backends.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numba import vectorize

HALF = np.float32(0.5)
SQRT_2PI = np.float32(math.sqrt(2 * math.pi))
SIGNATURES = ["float32(float32, float32, float32)"]


def gaussian_numpy(x: np.ndarray, mu: np.float32, sigma: np.float32) -> np.ndarray:
    """The reference: five NumPy passes, each with a temporary array."""
    z = (x - mu) / sigma
    return np.exp(-HALF * z * z) / (sigma * SQRT_2PI)


def _gaussian(x, mu, sigma):
    """The scalar body every target compiles (float32 constants keep it in float32)."""
    z = (x - mu) / sigma
    return math.exp(-HALF * z * z) / (sigma * SQRT_2PI)


# One fused loop on one CPU core (target='cpu'). No __doc__ assignment: NumPy 2.0 and older
# keep a ufunc's read-only.
gaussian_numba = vectorize(SIGNATURES, cache=True)(_gaussian)

# The loop split across CPU threads (target='parallel').
gaussian_numba_parallel = vectorize(SIGNATURES, target="parallel", cache=True)(_gaussian)


@functools.cache
def cuda_gaussian_ufunc() -> Any:
    """Build the ``target='cuda'`` ufunc on first use, never at import.

    Numba's CUDA simulator cannot build it (it raises AttributeError); building
    it lazily keeps this module importable there, and the test can skip.
    """
    return vectorize(SIGNATURES, target="cuda")(_gaussian)


def gaussian_cuda(x: Any, mu: np.float32, sigma: np.float32) -> Any:
    """The CUDA ufunc on a device array; the result stays on the GPU."""
    return cuda_gaussian_ufunc()(x, mu, sigma)


@functools.cache
def _cupy_gaussian() -> Any:
    import cupy

    return cupy.ElementwiseKernel(
        "float32 x, float32 mu, float32 sigma",
        "float32 y",
        "float z = (x - mu) / sigma; y = expf(-0.5f * z * z) / (sigma * 2.5066283f)",
        "accel_gaussian",
    )


def gaussian_cupy(x: Any, mu: np.float32, sigma: np.float32) -> Any:
    """The same body as a CuPy ``ElementwiseKernel``, compiled on first use."""
    return _cupy_gaussian()(x, mu, sigma)


def gaussian_torch(x: Any, mu: np.float32, sigma: np.float32) -> Any:
    """The reference's formula with torch operations, on a tensor (CPU or GPU)."""
    import torch

    z = (x - float(mu)) / float(sigma)
    return torch.exp(-float(HALF) * z * z) / float(sigma * SQRT_2PI)


def gaussian_dask(x: Any, mu: np.float32, sigma: np.float32) -> Any:
    """The reference's formula with ``dask.array``: returns a graph, computed in every sample."""
    import dask.array

    z = (x - mu) / sigma
    return dask.array.exp(-HALF * z * z) / (sigma * SQRT_2PI)
