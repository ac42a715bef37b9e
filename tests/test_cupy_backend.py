"""``cupy`` without a GPU: its skip reasons."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

from pytest_gpuperf.backends.cupy_backend import CupyBackend


def cupy_has_device() -> bool:
    """Whether cupy is installed and sees a CUDA device (test_numba_cuda asks too)."""
    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    try:
        return bool(cupy.is_available())
    except Exception:  # CuPy before 14 raises without a driver
        return False


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="cupy is not installed")
@pytest.mark.skipif(cupy_has_device(), reason="a CUDA device is visible to cupy")
def test_cupy_reason_without_device() -> None:
    import cupy

    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        error_name = str(exc).split(":", 1)[0]
    else:  # pragma: no cover - driver present but no device
        error_name = "getDeviceCount() = 0"
    reason = CupyBackend().available()
    assert reason is not None
    assert reason.startswith("cupy: installed, but no CUDA device is visible (")
    assert error_name in reason
    assert reason.endswith("; run on a GPU runner")


def test_cupy_reason_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name: str, package: str | None = None) -> object:
        return None if name == "cupy" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    reason = CupyBackend().available()
    assert (
        reason == "cupy: not installed; pip install 'pytest-gpuperf[cuda12]' (brings cupy-cuda12x)"
    )


def test_free_device_bytes_counts_the_pools_unused_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a fake cupy: the driver's free memory plus what the memory pool holds unused."""

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        runtime=types.SimpleNamespace(memGetInfo=lambda: (3 * 2**30, 80 * 2**30))
    )
    fake.get_default_memory_pool = lambda: types.SimpleNamespace(  # type: ignore[attr-defined]
        free_bytes=lambda: 2**30
    )
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert CupyBackend().free_device_bytes() == 4 * 2**30

    def no_driver() -> tuple[int, int]:
        raise RuntimeError("cudaErrorNoDevice")

    fake.cuda.runtime.memGetInfo = no_driver  # type: ignore[attr-defined]
    assert CupyBackend().free_device_bytes() is None


def test_cupy_before_14_raising_without_a_driver_is_a_skip_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CuPy 13's ``is_available()`` raises without a driver; the backend gives its reason."""

    def is_available() -> bool:
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    def get_device_count() -> int:
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    fake = types.ModuleType("cupy")
    fake.is_available = is_available  # type: ignore[attr-defined]
    fake.cuda = types.SimpleNamespace(runtime=runtime)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: object())
    reason = CupyBackend().available()
    assert reason == (
        "cupy: installed, but no CUDA device is visible (cudaErrorInsufficientDriver: CUDA "
        "driver version is insufficient); run on a GPU runner"
    )
