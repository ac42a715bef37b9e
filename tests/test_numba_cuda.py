"""``numba_cuda`` without a GPU: skip reasons, the CUDA simulator and out-of-memory errors.

Also what it shares with ``cupy``: the Backend protocol, device names, light imports.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_cupy_backend import cupy_has_device

from pytest_gpuperf.backends import numba_cuda
from pytest_gpuperf.backends.base import Backend, DeviceOutOfMemory
from pytest_gpuperf.backends.cupy_backend import CupyBackend
from pytest_gpuperf.backends.numba_cuda import NumbaCudaBackend, late_simulator_warning

ROOT = Path(__file__).resolve().parents[1]


def _run_isolated(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        env={**os.environ, "PYTHONPATH": pythonpath, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _numba_state() -> tuple[bool, bool]:
    """``(simulator on, device visible)`` as numba sees them in this process."""
    numba: Any = importlib.import_module("numba")
    cuda: Any = importlib.import_module("numba.cuda")
    return bool(numba.config.ENABLE_CUDASIM), bool(cuda.is_available())


def test_backends_fulfil_protocol() -> None:
    assert isinstance(NumbaCudaBackend(), Backend)
    assert isinstance(CupyBackend(), Backend)
    assert NumbaCudaBackend().name == "numba_cuda"
    assert CupyBackend().name == "cupy"
    assert CupyBackend().simulated is False


@pytest.mark.skipif(cupy_has_device(), reason="a CUDA device is visible to cupy")
def test_device_names_without_a_device() -> None:
    assert CupyBackend().device == "no CUDA device"
    if _numba_state() == (False, False):
        assert NumbaCudaBackend().device == "no CUDA device"


def test_gpu_modules_import_nothing_heavy() -> None:
    result = _run_isolated(
        """
        import sys
        import pytest_gpuperf.backends.numba_cuda, pytest_gpuperf.backends.cupy_backend
        import pytest_gpuperf.machine.facts, pytest_gpuperf.measure.contention
        heavy = sorted(m for m in ("numpy", "numba", "cupy") if m in sys.modules)
        assert not heavy, heavy
        """
    )
    assert result.returncode == 0, result.stderr


def test_numba_cuda_reason_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name: str, package: str | None = None) -> object:
        return None if name == "numba" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    reason = NumbaCudaBackend().available()
    assert reason == "numba_cuda: numba is not installed; pip install 'pytest-gpuperf[cuda12]'"


def test_numba_cuda_reason_without_simulator() -> None:
    simulator, device = _numba_state()
    if simulator:
        pytest.skip("numba was imported with NUMBA_ENABLE_CUDASIM=1")
    if device:
        pytest.skip("a CUDA device is visible to numba")
    backend = NumbaCudaBackend()
    assert backend.simulated is False
    reason = backend.available()
    assert reason is not None
    assert reason.startswith("numba_cuda: no CUDA driver or device is visible;")
    assert "set NUMBA_ENABLE_CUDASIM=1 before numba is imported" in reason
    assert "pip install 'pytest-gpuperf[cuda12]'" in reason


def test_late_simulator_warning_when_numba_imported_too_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if _numba_state()[0]:
        pytest.skip("numba was imported with NUMBA_ENABLE_CUDASIM=1")
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    warning = late_simulator_warning()
    assert warning is not None
    assert "NUMBA_ENABLE_CUDASIM=1" in warning
    assert "before pytest starts" in warning
    assert "\n" not in warning


@pytest.mark.parametrize("value", [None, "0", ""])
def test_no_late_simulator_warning_without_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    else:
        monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", value)
    assert late_simulator_warning() is None


def test_no_late_simulator_warning_before_numba_import() -> None:
    result = _run_isolated(
        """
        import sys
        from pytest_gpuperf.backends.numba_cuda import late_simulator_warning
        assert late_simulator_warning() is None
        assert "numba" not in sys.modules
        """,
        NUMBA_ENABLE_CUDASIM="1",
    )
    assert result.returncode == 0, result.stderr


def test_numba_cuda_on_simulator() -> None:
    result = _run_isolated(
        """
        import numpy as np
        from numba import cuda

        from pytest_gpuperf.backends.numba_cuda import NumbaCudaBackend, late_simulator_warning

        backend = NumbaCudaBackend()
        assert backend.available() is None, backend.available()
        assert backend.simulated is True
        assert backend.device == "CUDA simulator"
        assert backend.device_info() == {"gpu": "CUDA simulator"}
        assert backend.device_timer() is None
        assert backend.xp is np
        assert late_simulator_warning() is None

        host = np.arange(64, dtype=np.float32)
        dev = backend.to_device(host)
        np.testing.assert_array_equal(backend.to_host(dev), host)

        @cuda.jit
        def axpy(a, x, out):
            i = cuda.grid(1)
            if i < x.size:
                out[i] = a * x[i] + 1.0

        out = cuda.device_array_like(dev)
        axpy[2, 32](np.float32(2.0), dev, out)
        result = backend.to_host(backend.make_concrete(out))
        np.testing.assert_allclose(result, 2.0 * host + 1.0)

        backend.synchronize()
        backend.flush_l2()  # no-op on the simulator
        np.testing.assert_array_equal(backend.to_host([1, 2]), [1, 2])
        print("ok")
        """,
        NUMBA_ENABLE_CUDASIM="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_device_out_of_memory_message() -> None:
    exc = DeviceOutOfMemory("cupy", 3 * 2**30, 512 * 2**20)
    assert str(exc) == (
        "cupy: out of device memory allocating 3,072.0 MiB (free device memory: 512.0 MiB); "
        "use a smaller size or a larger GPU"
    )
    assert (exc.backend, exc.requested_bytes, exc.free_bytes) == ("cupy", 3 * 2**30, 512 * 2**20)
    assert "free device memory: unknown" in str(DeviceOutOfMemory("numba_cuda", 1, None))


class _FakeCudaAPIError(Exception):
    """Stands in for numba's CudaAPIError, whose import needs the CUDA bindings."""

    def __init__(self, code: object) -> None:
        super().__init__(f"[{code}] Call to cuMemAlloc results in {code}")
        self.code = code


_FakeCudaAPIError.__name__ = "CudaAPIError"


@pytest.mark.parametrize(
    ("code", "is_oom"),
    [(2, True), (1, False), ("CUDA_ERROR_OUT_OF_MEMORY", True), ("other", False)],
)
def test_numba_cuda_recognizes_out_of_memory(code: object, is_oom: bool) -> None:
    assert numba_cuda._is_out_of_memory(_FakeCudaAPIError(code)) is is_oom
    assert numba_cuda._is_out_of_memory(MemoryError()) is False


def test_numba_cuda_to_device_maps_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from numba import cuda

    def out_of_memory(host: object) -> object:
        raise _FakeCudaAPIError(2)

    monkeypatch.setattr(cuda, "to_device", out_of_memory)
    backend = NumbaCudaBackend()
    monkeypatch.setattr(backend, "_free_bytes", lambda: 1024)
    with pytest.raises(DeviceOutOfMemory, match=r"numba_cuda: out of device memory") as info:
        backend.to_device(np.zeros(1024, dtype=np.uint8))
    assert (info.value.requested_bytes, info.value.free_bytes) == (1024, 1024)


class _FakeContext:
    """numba's context: pending frees that ``clear()`` hands back, and the driver's reading."""

    def __init__(self, free: int, pending: int) -> None:
        self.free, self.total = free, 80 * 2**30
        self.deallocations = self
        self.pending = pending

    def clear(self) -> None:
        self.free += self.pending
        self.pending = 0

    def get_memory_info(self) -> tuple[int, int]:
        return self.free, self.total


def test_numba_cuda_free_device_bytes_flushes_pending_frees_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context = _FakeContext(free=2**30, pending=2**29)
    fake_cuda = type("FakeCuda", (), {"current_context": staticmethod(lambda: context)})
    monkeypatch.setattr(numba_cuda, "_cuda", lambda: fake_cuda)
    monkeypatch.setattr(NumbaCudaBackend, "simulated", property(lambda self: False))
    assert NumbaCudaBackend().free_device_bytes() == 2**30 + 2**29
    monkeypatch.setattr(NumbaCudaBackend, "simulated", property(lambda self: True))
    assert NumbaCudaBackend().free_device_bytes() is None  # host memory: the host check covers it
