"""The planted-slowdown kernel: ``out = 2 * a`` after a chain of work whose size is planted.

Each element first runs ``reps`` dependent multiply-adds on a value that stays
finite, then writes ``2 * a[i] + 0 * acc``: exactly ``2 * a[i]`` whatever ``reps``
is (``0 * acc`` is ``+0`` for a finite ``acc``, and without fast-math the compiler
may not drop it). So raising the work changes the kernel's time and not its result,
and the NumPy reference (one vectorised ``2 * a``) stays the same.

Read from the environment, set by ``bench/gpucheck/campaign.py``:
``GPU_CAMPAIGN_SIZE`` (elements), ``GPU_CAMPAIGN_REPS`` (the unchanged work) and
``GPU_CAMPAIGN_WORK`` (the planted factor: 1.0, 1.2, 1.5).
"""

from __future__ import annotations

import functools
import os

import numpy as np
from numba import cuda, njit

SIZE = int(os.environ.get("GPU_CAMPAIGN_SIZE", str(1 << 22)))
REPS = round(
    int(os.environ.get("GPU_CAMPAIGN_REPS", "4096"))
    * float(os.environ.get("GPU_CAMPAIGN_WORK", "1.0"))
)
DECAY = np.float32(0.999)
STEP = np.float32(0.001)
TWO = np.float32(2.0)
ZERO = np.float32(0.0)
THREADS = 256

CUPY_BODY = """
float acc = v;
for (int k = 0; k < reps; ++k) {
    acc = acc * 0.999f + 0.001f;
}
out = v * 2.0f + 0.0f * acc;
"""


def double(a, out):
    """The NumPy reference: ``2 * a`` into ``out``."""
    np.multiply(a, TWO, out=out)


@njit
def _spin_cpu(a, out, reps):
    for i in range(a.size):
        v = a[i]
        acc = v
        for _ in range(reps):
            acc = acc * DECAY + STEP
        out[i] = v * TWO + ZERO * acc


@cuda.jit
def _spin_cuda(a, out, reps):
    i = cuda.grid(1)
    if i < a.size:
        v = a[i]
        acc = v
        for _ in range(reps):
            acc = acc * DECAY + STEP
        out[i] = v * TWO + ZERO * acc


@functools.cache
def _cupy():
    import cupy

    return cupy.ElementwiseKernel(
        "float32 v, int32 reps", "float32 out", CUPY_BODY, "gpuperf_planted_spin"
    )


def spin_numba(a, out):
    """The planted kernel on the CPU (the stand-in when there is no GPU)."""
    _spin_cpu(a, out, REPS)


def spin_numba_cuda(a, out):
    """The planted kernel with numba-cuda, one thread per element."""
    _spin_cuda[(a.size + THREADS - 1) // THREADS, THREADS](a, out, REPS)


def spin_cupy(a, out):
    """The planted kernel as a CuPy elementwise kernel."""
    _cupy()(a, np.int32(REPS), out)
