"""The ``numba_cuda`` backend: ``@cuda.jit`` kernels on Numba device arrays (or the simulator)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.backends import cuda_common
from pytest_gpuperf.backends.base import DeviceOutOfMemory, DeviceTimer

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np

    from pytest_gpuperf.measure.memory import DeviceMemoryProbe

_INSTALL_HINT = "pip install 'pytest-gpuperf[cuda12]'"
_OOM_NAME = "CUDA_ERROR_OUT_OF_MEMORY"
_OOM_CODE = 2  # CUresult value of CUDA_ERROR_OUT_OF_MEMORY


def _numba() -> Any:
    """``numba``, untyped: its partial annotations only get in mypy's way here."""
    return importlib.import_module("numba")


def _cuda() -> Any:
    """``numba.cuda`` (or its simulator), imported on first use."""
    return importlib.import_module("numba.cuda")


def late_simulator_warning() -> str | None:
    """Warn when ``NUMBA_ENABLE_CUDASIM=1`` was set after numba had already read its config.

    Never imports numba: if it is not imported yet, the variable will still take effect.
    """
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        return None
    numba = sys.modules.get("numba")
    if numba is None:
        return None
    config = getattr(numba, "config", None)
    if config is None or getattr(config, "ENABLE_CUDASIM", False):
        return None
    return (
        "NUMBA_ENABLE_CUDASIM=1 is set, but numba was imported before it was set, so the CUDA "
        "simulator is off; set the variable in the shell or CI environment before pytest "
        "starts, not in conftest.py after numba is imported"
    )


def _version_text(version: Any) -> str:
    """Format a ``(major, minor)`` tuple as ``"12.4"``."""
    major, minor = version[0], version[1]
    return f"{int(major)}.{int(minor)}"


def _is_out_of_memory(exc: BaseException) -> bool:
    """True for numba's ``CudaAPIError`` carrying ``CUDA_ERROR_OUT_OF_MEMORY``."""
    if type(exc).__name__ != "CudaAPIError":
        return False
    code: Any = getattr(exc, "code", None)
    if getattr(code, "name", None) == _OOM_NAME:
        return True
    try:
        return int(code) == _OOM_CODE
    except (TypeError, ValueError):
        return _OOM_NAME in str(exc)


@final
class NumbaCudaBackend:
    """Numba ``@cuda.jit`` kernels; runs on the CUDA simulator when ``NUMBA_ENABLE_CUDASIM=1``."""

    name = "numba_cuda"
    is_gpu = True

    def __init__(self) -> None:
        self._flush = cuda_common.FlushBuffer()

    @property
    def simulated(self) -> bool:
        """True when numba was imported with ``NUMBA_ENABLE_CUDASIM=1``."""
        try:
            numba = _numba()
        except ImportError:
            return False
        return bool(numba.config.ENABLE_CUDASIM)

    @property
    def device(self) -> str:
        """``"CUDA simulator"``, ``"<name> (cc X.Y)"``, or ``"no CUDA device"`` without one."""
        if self.simulated:
            return "CUDA simulator"
        try:
            cuda = _cuda()
            dev = cuda.get_current_device()
            major, minor = dev.compute_capability
        except Exception:  # no driver: describing the device must not crash a report
            return "no CUDA device"
        return f"{cuda_common.name_text(dev.name)} (cc {major}.{minor})"

    @property
    def xp(self) -> ModuleType:
        """NumPy: numba device arrays come with no array module of their own."""
        import numpy

        return numpy

    def available(self) -> str | None:
        """``None`` with the simulator on or a CUDA device visible, else how to get one."""
        if importlib.util.find_spec("numba") is None:
            return f"numba_cuda: numba is not installed; {_INSTALL_HINT}"
        if self.simulated:
            return None
        try:
            cuda = _cuda()
        except ImportError as exc:
            return f"numba_cuda: numba.cuda failed to import ({exc}); {_INSTALL_HINT}"
        if not cuda.is_available():
            return (
                "numba_cuda: no CUDA driver or device is visible; set NUMBA_ENABLE_CUDASIM=1 "
                "before numba is imported to run on the simulator, or run on a GPU runner "
                f"with {_INSTALL_HINT}"
            )
        return None

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """``cuda.to_device``; an out-of-memory driver error becomes DeviceOutOfMemory."""
        cuda = _cuda()
        try:
            return cuda.to_device(host)
        except Exception as exc:
            if not _is_out_of_memory(exc):
                raise
            raise DeviceOutOfMemory(self.name, int(host.nbytes), self._free_bytes()) from exc

    def _free_bytes(self) -> int | None:
        """Free device memory in bytes, or ``None`` when the driver cannot say."""
        cuda = _cuda()
        return cuda_common.free_bytes(lambda: cuda.current_context().get_memory_info())

    def free_device_bytes(self) -> int | None:
        """Free device memory after numba's pending frees; ``None`` under the simulator.

        numba frees device arrays late, in batches, and flushes the batch itself
        before it fails an allocation; so the batch is flushed here first (not
        while a ``cuda.defer_cleanup()`` block holds it), and its bytes count as free.
        """
        if self.simulated:
            return None  # simulated device memory is host memory: the host check covers it
        try:
            context = _cuda().current_context()
            context.deallocations.clear()
        except Exception:
            return None
        return cuda_common.free_bytes(context.get_memory_info)

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """``copy_to_host()`` for device arrays, ``numpy.asarray`` for anything else."""
        copy_to_host = getattr(arr, "copy_to_host", None)
        if callable(copy_to_host):
            result: np.ndarray[Any, Any] = copy_to_host()
            return result
        import numpy

        return numpy.asarray(arr)

    def synchronize(self) -> None:
        """``cuda.synchronize()``."""
        cuda = _cuda()
        cuda.synchronize()

    def make_concrete(self, result: Any) -> Any:
        """Kernels run asynchronously: wait for them, then return the result unchanged."""
        self.synchronize()
        return result

    def device_timer(self) -> DeviceTimer | None:
        """CUDA events on a GPU; ``None`` under the simulator, whose events cannot time."""
        if self.simulated:
            return None
        cuda = _cuda()
        return cuda_common.EventTimer(
            cuda.event(timing=True),
            cuda.event(timing=True),
            record=lambda event: event.record(stream=0),  # the default stream
            elapsed_ms=cuda.event_elapsed_time,
        )

    def flush_l2(self) -> None:
        """Overwrite ``max(256 MiB, 2 × L2)`` of device memory so the next sample starts cold.

        The memset is waited for here, so neither its launch nor its run lands in
        a sample.
        """
        if self.simulated:
            return
        import numpy

        cuda = _cuda()
        driver = importlib.import_module("numba.cuda.cudadrv.driver")
        buf = self._flush.buffer(
            lambda size: cuda.device_array(size, dtype=numpy.uint8), _l2_cache_bytes
        )
        driver.device_memset(buf, self._flush.next_byte(), buf.size)
        cuda.synchronize()

    def pci_bus_id(self) -> str | None:
        """``"0000:65:00.0"`` of the current device, for NVML; None under the simulator."""
        if self.simulated:
            return None
        try:
            dev = _cuda().get_current_device()
            return cuda_common.pci_bus_id(dev.PCI_DOMAIN_ID, dev.PCI_BUS_ID, dev.PCI_DEVICE_ID)
        except Exception:
            return None

    def memory_probe(self) -> DeviceMemoryProbe | None:
        """The device-memory probe of :mod:`~pytest_gpuperf.measure.memory` (None: simulator)."""
        if self.simulated:
            return None
        from pytest_gpuperf.measure.memory import NumbaCudaProbe

        return NumbaCudaProbe()

    def device_info(self) -> dict[str, Any]:
        """GPU model, compute capability, L2, memory clock and bus, CUDA versions."""
        if self.simulated:
            return {"gpu": "CUDA simulator"}
        try:
            cuda = _cuda()
            dev = cuda.get_current_device()
        except Exception:
            return {}
        return cuda_common.device_facts(
            {
                "gpu": lambda: cuda_common.name_text(dev.name),
                "compute_capability": lambda: _version_text(dev.compute_capability),
                "l2_cache_bytes": lambda: int(dev.L2_CACHE_SIZE),
                "memory_clock_khz": lambda: int(dev.MEMORY_CLOCK_RATE),
                "memory_bus_width_bits": lambda: int(dev.GLOBAL_MEMORY_BUS_WIDTH),
                "cuda_runtime": lambda: _version_text(cuda.runtime.get_version()),
                "cuda_driver": lambda: _version_text(_driver_version()),
            }
        )


def _l2_cache_bytes() -> int | None:
    """The current device's L2 size in bytes, or ``None`` when the driver cannot say."""
    try:
        return int(_cuda().get_current_device().L2_CACHE_SIZE)
    except Exception:
        return None


def _driver_version() -> Any:
    """The driver's ``(major, minor)``, from numba's driver wrapper."""
    driver_module: Any = importlib.import_module("numba.cuda.cudadrv.driver")
    return driver_module.driver.get_version()
