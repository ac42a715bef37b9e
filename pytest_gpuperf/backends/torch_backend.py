"""The ``torch`` backend: PyTorch tensors on ``cuda`` when a GPU is visible, else on ``cpu``."""

from __future__ import annotations

import importlib
import importlib.util
import platform
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.backends import cuda_common
from pytest_gpuperf.backends.base import DeviceOutOfMemory, DeviceTimer

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np

    from pytest_gpuperf.measure.memory import DeviceMemoryProbe

INSTALL_HINT = "pip install 'pytest-gpuperf[torch]'"


@final
class TorchBackend:
    """PyTorch tensors; the device (``cuda`` or ``cpu``) is chosen by :meth:`available`.

    ``xp`` is ``torch`` itself: it mirrors much of NumPy (``torch.sum``,
    ``torch.sin``, ``torch.matmul``) but not all of it, so kernels are written
    against torch, and ``backend.select(torch=...)`` picks them.
    """

    name = "torch"
    #: Opt-in: runs only when named in ``--gpuperf-backends`` or ``gpuperf_backends``.
    default_enabled = False
    #: Lazy families whose results :meth:`make_concrete` forces (none: tensors are concrete).
    lazy_families: tuple[str, ...] = ()

    def __init__(self) -> None:
        #: True once :meth:`available` found a CUDA device (False until it runs).
        self.is_gpu = False
        self._device = "cpu"
        self._flush = cuda_common.FlushBuffer()

    @property
    def simulated(self) -> bool:
        """PyTorch always runs on real hardware."""
        return False

    @property
    def device(self) -> str:
        """``"<GPU name> (cc X.Y)"`` on CUDA, else the CPU and torch's thread count."""
        import torch

        if self.is_gpu:
            major, minor = torch.cuda.get_device_capability()
            return f"{torch.cuda.get_device_name()} (cc {major}.{minor})"
        return f"CPU ({platform.machine()}, {torch.get_num_threads()} torch threads)"

    @property
    def xp(self) -> ModuleType:
        """``torch`` (not a NumPy-compatible namespace; see the class docstring)."""
        import torch

        module: ModuleType = torch
        return module

    def available(self) -> str | None:
        """``None`` when torch imports; picks ``cuda`` if a device is visible, else ``cpu``."""
        if importlib.util.find_spec("torch") is None:
            return f"torch: not installed; {INSTALL_HINT}"
        try:
            import torch
        except Exception as exc:
            return f"torch: installed but failed to import ({exc}); reinstall it: {INSTALL_HINT}"
        self.is_gpu = bool(torch.cuda.is_available())
        self._device = "cuda" if self.is_gpu else "cpu"
        return None

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """A copy on the device; CUDA out-of-memory becomes DeviceOutOfMemory.

        ``torch.from_numpy`` shares the host array's memory, and ``.to(device,
        copy=True)`` makes the one copy, so a GPU copy holds no second host copy.
        """
        import torch

        shareable = host.flags.writeable and host.flags.c_contiguous
        try:
            tensor = torch.from_numpy(host if shareable else host.copy())
        except TypeError as exc:
            raise TypeError(
                f"torch: cannot hold a {host.dtype} array ({exc}); use a dtype torch "
                "supports, e.g. float32, float64, int32 or int64"
            ) from None
        try:
            return tensor.to(self._device, copy=True)
        except torch.cuda.OutOfMemoryError as exc:
            free = cuda_common.free_bytes(torch.cuda.mem_get_info)
            raise DeviceOutOfMemory(self.name, int(host.nbytes), free) from exc

    def free_device_bytes(self) -> int | None:
        """Free CUDA memory plus what torch's caching allocator holds unused; None on the CPU."""
        if not self.is_gpu:
            return None
        import torch

        free = cuda_common.free_bytes(torch.cuda.mem_get_info)
        if free is None:
            return None
        try:
            cached = int(torch.cuda.memory_reserved()) - int(torch.cuda.memory_allocated())
        except Exception:
            cached = 0
        return free + max(cached, 0)

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """``arr.detach().cpu().numpy()`` for a tensor; ``numpy.asarray`` for anything else."""
        import numpy
        import torch

        if isinstance(arr, torch.Tensor):
            result: np.ndarray[Any, Any] = arr.detach().cpu().numpy()
            return result
        return numpy.asarray(arr)

    def synchronize(self) -> None:
        """``torch.cuda.synchronize()`` on CUDA; CPU ops are synchronous."""
        if self.is_gpu:
            import torch

            torch.cuda.synchronize()

    def make_concrete(self, result: Any) -> Any:
        """Wait for queued CUDA work; tensors are then concrete."""
        self.synchronize()
        return result

    def device_timer(self) -> DeviceTimer | None:
        """CUDA events on a GPU, recorded on the current stream; ``None`` on the CPU."""
        if not self.is_gpu:
            return None
        torch: Any = importlib.import_module("torch")  # Any: torch.cuda.Event is untyped

        return cuda_common.EventTimer(
            torch.cuda.Event(enable_timing=True),
            torch.cuda.Event(enable_timing=True),
            record=lambda event: event.record(),
            elapsed_ms=lambda start, end: start.elapsed_time(end),
        )

    def flush_l2(self) -> None:
        """Overwrite ``max(256 MiB, 2 × L2)`` of CUDA memory so the next sample starts cold."""
        import torch

        buf = self._flush.buffer(
            lambda size: torch.empty(size, dtype=torch.uint8, device="cuda"), _l2_cache_bytes
        )
        buf.zero_()
        torch.cuda.synchronize()

    def pci_bus_id(self) -> str | None:
        """``"0000:65:00.0"`` of the current CUDA device, for NVML; None on the CPU."""
        if not self.is_gpu:
            return None
        try:
            import torch

            props: Any = torch.cuda.get_device_properties(torch.cuda.current_device())
            return cuda_common.pci_bus_id(
                props.pci_domain_id, props.pci_bus_id, props.pci_device_id
            )
        except Exception:
            return None

    def memory_probe(self) -> DeviceMemoryProbe | None:
        """``torch.cuda.max_memory_allocated`` on a GPU; None on the CPU."""
        if not self.is_gpu:
            return None
        from pytest_gpuperf.measure.memory import TorchPeakProbe

        return TorchPeakProbe()

    def device_info(self) -> dict[str, Any]:
        """GPU model, compute capability and CUDA version on CUDA; torch's CPU threads else."""
        import torch

        if not self.is_gpu:
            return {"torch_device": "cpu", "torch_threads": torch.get_num_threads()}
        major, minor = torch.cuda.get_device_capability()
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        info: dict[str, Any] = {
            "torch_device": "cuda",
            "gpu": torch.cuda.get_device_name(),
            "compute_capability": f"{major}.{minor}",
            "cuda_runtime": str(torch.version.cuda),
        }
        l2 = getattr(props, "L2_cache_size", None)
        if l2:
            info["l2_cache_bytes"] = int(l2)
        return info


def _l2_cache_bytes() -> int:
    """The current CUDA device's L2 size in bytes (0 when torch does not report it)."""
    import torch

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    return int(getattr(props, "L2_cache_size", 0) or 0)
