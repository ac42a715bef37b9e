"""Monte Carlo π: a correct estimate lies within a few standard errors of π."""

from __future__ import annotations

import math

import pytest
from pytest_gpuperf import within_standard_errors

from accel_kernels.montecarlo import pi_cuda, pi_cupy, pi_numba, pi_numba_parallel, pi_numpy

SEED = 2024
#: Each kernel returns one estimate per batch; their mean must be within 5 standard errors of π.
PI_CHECK = within_standard_errors(5, target=math.pi)


# On the simulator, numba.cuda.random does its uint64 arithmetic in NumPy scalars, which
# warn on the intended wrap-around, and builds the generator states in object mode.
@pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:\\s*Compilation is falling back to object mode")
@pytest.mark.gpuperf(reference=pi_numpy, compare=PI_CHECK)
def test_pi(backend, cuda_sync_timer, size):
    kernel = backend.select(numpy=pi_numpy, numba=pi_numba, numba_cuda=pi_cuda, cupy=pi_cupy)
    n_batches, per_batch = size("pi")
    cuda_sync_timer(kernel, n_batches, per_batch, SEED)


@pytest.mark.gpuperf(reference=pi_numpy, compare=PI_CHECK, backends=("numba",))
def test_pi_parallel(backend, cuda_sync_timer, size):
    kernel = backend.select(numba=pi_numba_parallel)
    n_batches, per_batch = size("pi")
    cuda_sync_timer(kernel, n_batches, per_batch, SEED)
