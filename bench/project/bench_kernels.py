"""The benchmark workload: sqrt+sin over a float32 array, and its slowed variants.

Every variant is the same compiled kernel: ``extra`` > 0 adds a redundant pass over
the first ``extra`` elements into a scratch buffer, so a slowdown is added work,
not different code. The driver (``bench/run.py``) calibrates ``n`` and ``extra``
and passes them in the environment.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numba
import numpy as np

#: Environment variables the driver sets for each run.
N_VAR = "GPUPERF_BENCH_N"
EXTRA_VAR = "GPUPERF_BENCH_EXTRA"
REFERENCE_SLOW_VAR = "GPUPERF_BENCH_REFERENCE_SLOW"
DEFAULT_N = 200_000
#: The bimodal reference's state, fixed for the whole process (the driver picks it per process).
REFERENCE_SLOW = os.environ.get(REFERENCE_SLOW_VAR) == "1"


@numba.njit(cache=True)
def serial(a: Any, out: Any, scratch: Any, extra: int) -> None:
    """out = sin(sqrt(a)), plus a redundant pass over a[:extra] into scratch."""
    for i in range(a.size):
        out[i] = math.sin(math.sqrt(a[i]))
    for i in range(extra):
        scratch[i] = math.sin(math.sqrt(a[i]))


@numba.njit(parallel=True, cache=True)
def parallel(a: Any, out: Any, scratch: Any, extra: int) -> None:
    """The same work split over all cores with ``prange``."""
    for i in numba.prange(a.size):
        out[i] = math.sin(math.sqrt(a[i]))
    for i in numba.prange(extra):
        scratch[i] = math.sin(math.sqrt(a[i]))


def reference(a: Any, out: Any, scratch: Any, extra: int) -> None:
    """The NumPy reference: out = sin(sqrt(a)), without the redundant pass."""
    np.sqrt(a, out=out)
    np.sin(out, out=out)


def reference_bimodal(a: Any, out: Any, scratch: Any, extra: int) -> None:
    """The reference at one of two speeds, chosen per process: the slow state adds a sin pass.

    It stands for a NumPy reference whose speed depends on the process (allocator
    state, a BLAS path, CPU frequency), as the issue's matmul did.
    """
    np.sqrt(a, out=out)
    np.sin(out, out=out)
    if REFERENCE_SLOW:
        np.sin(out, out=scratch)


def size() -> int:
    """Array length for this run (from the environment)."""
    return int(os.environ.get(N_VAR, DEFAULT_N))


def extra() -> int:
    """Length of the redundant pass for this run: 0 for the unchanged kernel."""
    return int(os.environ.get(EXTRA_VAR, "0"))


def host_inputs(n: int, seed: int = 0) -> tuple[Any, Any, Any]:
    """Input, output and scratch arrays on the host."""
    a = np.random.default_rng(seed).random(n).astype(np.float32)
    return a, np.zeros(n, np.float32), np.zeros(n, np.float32)
