"""A machine without a GPU, faked, for tests of that path that must pass on a GPU machine too.

- :func:`hide_nvml` writes a ``pynvml`` that fails to import, as on a machine
  without NVML; NVML ignores ``CUDA_VISIBLE_DEVICES``, so a child process finds
  the real GPU through it otherwise.
- :func:`environ` is the environment of a child process that sees no GPU:
  no CUDA device, JAX on the CPU, no NVML.
- :func:`cupy_without_a_device` and :func:`numba_cuda_without_a_device` stand in
  for the libraries, installed but finding no device, for in-process tests.
"""

from __future__ import annotations

import os
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

FAKE_PYNVML = 'raise ImportError("pynvml is hidden by the test: a machine without NVML")\n'


def hide_nvml(folder: Path) -> Path:
    """Write a ``pynvml`` that fails to import into ``folder``; put ``folder`` first on the path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pynvml.py").write_text(FAKE_PYNVML, encoding="ascii")
    return folder


def python_path(folder: Path) -> str:
    """``PYTHONPATH`` with ``folder`` first."""
    return os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH", "")]))


def environ(folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment, less every GPU: for a child process, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name != "NUMBA_ENABLE_CUDASIM"}
    env.update(
        CUDA_VISIBLE_DEVICES="",  # no CUDA device for CuPy, torch, numba-cuda
        JAX_PLATFORMS="cpu",
        PYTHONPATH=python_path(hide_nvml(folder)),
    )
    env.update(extra)
    return env


def _no_driver() -> int:
    raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")


def cupy_without_a_device() -> types.SimpleNamespace:
    """A ``cupy`` that imports and sees no device (``is_available()`` is False)."""
    runtime = types.SimpleNamespace(
        driverGetVersion=_no_driver, runtimeGetVersion=_no_driver, getDeviceCount=_no_driver
    )
    return types.SimpleNamespace(
        __version__="14.0.0",
        is_available=lambda: False,
        cuda=types.SimpleNamespace(runtime=runtime),
    )


def numba_cuda_without_a_device() -> types.SimpleNamespace:
    """A ``numba.cuda`` that imports and finds no driver or device."""
    return types.SimpleNamespace(is_available=lambda: False)
