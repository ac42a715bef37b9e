"""Monte Carlo estimate of π: the share of random points in the unit square inside the circle.

Every version returns one estimate per batch (``n_batches`` batches of
``per_batch`` points), as Numba's CUDA example does with one batch per thread;
π is their mean. The spread of the batch estimates gives the standard error, so
a test can check the result statistically whatever the number of points.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
from numba import cuda, njit, prange
from numba.core.errors import NumbaDeprecationWarning

with warnings.catch_warnings():
    # Under the CUDA simulator, numba.cuda.random passes @jit the deprecated nopython=False.
    warnings.filterwarnings("ignore", ".*nopython=False", NumbaDeprecationWarning)
    from numba.cuda.random import create_xoroshiro128p_states, xoroshiro128p_uniform_float32

#: Threads per block of the CUDA version (one thread per batch).
THREADS = 128


def pi_numpy(n_batches: int, per_batch: int, seed: int) -> np.ndarray:
    """The reference: float32 points from NumPy's default generator."""
    rng = np.random.default_rng(seed)
    x = rng.random((n_batches, per_batch), dtype=np.float32)
    y = rng.random((n_batches, per_batch), dtype=np.float32)
    inside = np.count_nonzero(x * x + y * y <= 1, axis=1)
    return (4 * inside / per_batch).astype(np.float32)


@njit(cache=True)
def pi_numba(n_batches, per_batch, seed):
    """Serial loops over batches and points."""
    np.random.seed(seed)
    out = np.empty(n_batches, np.float32)
    for b in range(n_batches):
        inside = 0
        for _ in range(per_batch):
            x = np.random.random()
            y = np.random.random()
            if x * x + y * y <= 1.0:
                inside += 1
        out[b] = np.float32(4 * inside) / np.float32(per_batch)
    return out


@njit(parallel=True, cache=True)
def pi_numba_parallel(n_batches, per_batch, seed):
    """Batches split across threads by ``prange``; each thread has its own random stream."""
    np.random.seed(seed)
    out = np.empty(n_batches, np.float32)
    for b in prange(n_batches):
        inside = 0
        for _ in range(per_batch):
            x = np.random.random()
            y = np.random.random()
            if x * x + y * y <= 1.0:
                inside += 1
        out[b] = np.float32(4 * inside) / np.float32(per_batch)
    return out


@cuda.jit(cache=True)
def _pi_kernel(states, per_batch, out):
    b = cuda.grid(1)
    if b < out.shape[0]:
        inside = 0
        for _ in range(per_batch):
            x = xoroshiro128p_uniform_float32(states, b)
            y = xoroshiro128p_uniform_float32(states, b)
            if x * x + y * y <= np.float32(1):
                inside += 1
        out[b] = np.float32(4 * inside) / np.float32(per_batch)


@functools.cache
def _states(n: int, seed: int) -> Any:
    """One xoroshiro128+ state per thread, made once: creating them costs more than using them."""
    return create_xoroshiro128p_states(n, seed=seed)


def pi_cuda(n_batches: int, per_batch: int, seed: int) -> Any:
    """One thread per batch with ``numba.cuda.random``; returns the batch estimates on the GPU.

    The generator states are kept between calls and advance with each one, so
    every call draws new points.
    """
    out = cuda.device_array(n_batches, dtype=np.float32)
    threads = min(THREADS, n_batches)
    blocks = -(-n_batches // threads)
    _pi_kernel[blocks, threads](_states(n_batches, seed), per_batch, out)
    return out


def pi_cupy(n_batches: int, per_batch: int, seed: int) -> Any:
    """The NumPy version on the GPU, with CuPy's generator."""
    import cupy

    rng = cupy.random.RandomState(seed)
    x = rng.random_sample((n_batches, per_batch), dtype=cupy.float32)
    y = rng.random_sample((n_batches, per_batch), dtype=cupy.float32)
    inside = (x * x + y * y <= 1).sum(axis=1)
    return (4 * inside / per_batch).astype(cupy.float32)
