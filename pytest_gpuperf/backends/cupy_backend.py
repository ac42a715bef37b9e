"""The ``cupy`` backend: CuPy arrays and kernels on a CUDA device."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.backends import cuda_common
from pytest_gpuperf.backends.base import DeviceOutOfMemory, DeviceTimer

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np

    from pytest_gpuperf.measure.memory import DeviceMemoryProbe


def _version_text(version: int) -> str:
    """Format CUDA's ``1000 * major + 10 * minor`` encoding as ``"12.4"``."""
    return f"{version // 1000}.{(version % 1000) // 10}"


def _properties() -> dict[str, Any]:
    """``cudaGetDeviceProperties`` of the current device."""
    import cupy

    props: dict[str, Any] = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.runtime.getDevice())
    return props


@final
class CupyBackend:
    """CuPy arrays on the current CUDA device; there is no simulator."""

    name = "cupy"
    is_gpu = True

    def __init__(self) -> None:
        self._flush = cuda_common.FlushBuffer()

    @property
    def simulated(self) -> bool:
        """CuPy always runs on a real device."""
        return False

    @property
    def device(self) -> str:
        """``"<name> (cc X.Y)"`` of the current device, or ``"no CUDA device"`` without one."""
        try:
            props = _properties()
        except Exception:  # no driver: describing the device must not crash a report
            return "no CUDA device"
        return f"{cuda_common.name_text(props['name'])} (cc {props['major']}.{props['minor']})"

    @property
    def xp(self) -> ModuleType:
        """CuPy."""
        import cupy

        module: ModuleType = cupy
        return module

    def available(self) -> str | None:
        """``None`` when CuPy imports and sees a device, else the runtime's own reason."""
        if importlib.util.find_spec("cupy") is None:
            return "cupy: not installed; pip install 'pytest-gpuperf[cuda12]' (brings cupy-cuda12x)"
        try:
            import cupy
        except Exception as exc:
            return (
                f"cupy: installed but failed to import ({exc}); "
                "reinstall the cupy-cudaXXx wheel that matches your CUDA"
            )
        try:
            if cupy.is_available():
                return None
        except Exception:  # CuPy before 14 raises without a driver; the reason follows
            pass
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:
            detail = str(exc) or type(exc).__name__
        else:
            detail = f"cupy.is_available() is False with getDeviceCount() = {count}"
        return f"cupy: installed, but no CUDA device is visible ({detail}); run on a GPU runner"

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """``cupy.asarray``; CuPy's OutOfMemoryError becomes DeviceOutOfMemory."""
        import cupy

        try:
            return cupy.asarray(host)
        except cupy.cuda.memory.OutOfMemoryError as exc:
            free = cuda_common.free_bytes(cupy.cuda.runtime.memGetInfo)
            raise DeviceOutOfMemory(self.name, int(host.nbytes), free) from exc

    def free_device_bytes(self) -> int | None:
        """Free device memory plus the blocks CuPy's memory pool holds unused (it reuses them)."""
        import cupy

        free = cuda_common.free_bytes(cupy.cuda.runtime.memGetInfo)
        if free is None:
            return None
        try:
            cached = int(cupy.get_default_memory_pool().free_bytes())
        except Exception:
            cached = 0
        return free + cached

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """``cupy.asnumpy`` (accepts NumPy arrays and scalars too)."""
        import cupy

        result: np.ndarray[Any, Any] = cupy.asnumpy(arr)
        return result

    def synchronize(self) -> None:
        """Wait for the current stream."""
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def make_concrete(self, result: Any) -> Any:
        """CuPy kernels run asynchronously: wait for them, then return the result unchanged."""
        self.synchronize()
        return result

    def device_timer(self) -> DeviceTimer | None:
        """A fresh pair of CUDA events, recorded on the current stream."""
        import cupy

        return cuda_common.EventTimer(
            cupy.cuda.Event(),
            cupy.cuda.Event(),
            record=lambda event: event.record(cupy.cuda.get_current_stream()),
            elapsed_ms=cupy.cuda.get_elapsed_time,
        )

    def flush_l2(self) -> None:
        """Overwrite ``max(256 MiB, 2 × L2)`` of device memory so the next sample starts cold.

        The fill is waited for here, so neither its launch nor its run lands in a sample.
        """
        import cupy

        buf = self._flush.buffer(lambda size: cupy.empty(size, dtype=cupy.uint8), _l2_cache_bytes)
        buf.fill(self._flush.next_byte())
        self.synchronize()

    def pci_bus_id(self) -> str | None:
        """``"0000:65:00.0"`` of the current device, for NVML."""
        try:
            import cupy

            return str(cupy.cuda.Device().pci_bus_id)
        except Exception:
            return None

    def memory_probe(self) -> DeviceMemoryProbe | None:
        """The CuPy memory-pool probe of :mod:`pytest_gpuperf.measure.memory`."""
        from pytest_gpuperf.measure.memory import CupyPoolProbe

        return CupyPoolProbe()

    def device_info(self) -> dict[str, Any]:
        """GPU model, compute capability, L2, memory clock and bus, CUDA versions."""
        import cupy

        try:
            props = _properties()
        except Exception:
            props = {}
        runtime = cupy.cuda.runtime
        return cuda_common.device_facts(
            {
                "gpu": lambda: cuda_common.name_text(props["name"]),
                "compute_capability": lambda: f"{int(props['major'])}.{int(props['minor'])}",
                "l2_cache_bytes": lambda: int(props["l2CacheSize"]),
                "memory_clock_khz": lambda: int(props["memoryClockRate"]),
                "memory_bus_width_bits": lambda: int(props["memoryBusWidth"]),
                "cuda_runtime": lambda: _version_text(int(runtime.runtimeGetVersion())),
                "cuda_driver": lambda: _version_text(int(runtime.driverGetVersion())),
            }
        )


def _l2_cache_bytes() -> int | None:
    """The current device's L2 size in bytes, or ``None`` when the runtime cannot say."""
    try:
        return int(_properties()["l2CacheSize"])
    except Exception:
        return None
