"""Built-in backends; each imports its array library only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_gpuperf.backends.base import Backend


def builtin_backends() -> list[Backend]:
    """numpy (the reference), numba (CPU), numba_cuda and cupy, in that order."""
    from pytest_gpuperf.backends.cupy_backend import CupyBackend
    from pytest_gpuperf.backends.host import NumbaCpuBackend, NumpyBackend
    from pytest_gpuperf.backends.numba_cuda import NumbaCudaBackend

    return [NumpyBackend(), NumbaCpuBackend(), NumbaCudaBackend(), CupyBackend()]
