"""The Gaussian ufunc, built with @vectorize for the cpu, parallel and cuda targets."""

from __future__ import annotations

import numpy as np
import pytest

from accel_kernels import ufuncs

MU, SIGMA = np.float32(0.5), np.float32(0.2)


def _skip_if_the_cuda_ufunc_cannot_be_built(backend):
    """The ``target='cuda'`` ufunc is built on first use; Numba's simulator cannot build it."""
    try:
        ufuncs.cuda_gaussian_ufunc()
    except Exception as exc:
        if not backend.simulated:
            raise
        pytest.skip(
            "numba_cuda: @vectorize(target='cuda') does not work on Numba's CUDA simulator "
            f"({type(exc).__name__}: {exc}); run on a GPU"
        )


# torch and dask are pytest-gpuperf's opt-in backends: they run only when named, as in
# pytest --gpuperf --gpuperf-backends=numpy,torch,dask tests/test_ufuncs.py::test_gaussian
@pytest.mark.gpuperf(reference=ufuncs.gaussian_numpy)
def test_gaussian(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(
        numpy=ufuncs.gaussian_numpy,
        numba=ufuncs.gaussian_numba,
        numba_cuda=ufuncs.gaussian_cuda,
        cupy=ufuncs.gaussian_cupy,
        torch=ufuncs.gaussian_torch,
        dask=ufuncs.gaussian_dask,
    )
    if backend.name == "numba_cuda":
        _skip_if_the_cuda_ufunc_cannot_be_built(backend)
    x = gpu_array.random(size("gaussian"), "float32", seed=3)
    cuda_sync_timer(kernel, x, MU, SIGMA)


@pytest.mark.gpuperf(reference=ufuncs.gaussian_numpy, backends=("numba",))
def test_gaussian_parallel(backend, gpu_array, cuda_sync_timer, size):
    kernel = backend.select(numba=ufuncs.gaussian_numba_parallel)
    x = gpu_array.random(size("gaussian"), "float32", seed=3)
    cuda_sync_timer(kernel, x, MU, SIGMA)
