"""The contract every backend fulfils, built in or added through the hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np


class DeviceOutOfMemory(Exception):
    """Raised by :meth:`Backend.to_device` when the device cannot hold the array."""

    def __init__(self, backend: str, requested_bytes: int, free_bytes: int | None) -> None:
        self.backend = backend
        self.requested_bytes = requested_bytes
        self.free_bytes = free_bytes
        free = "unknown" if free_bytes is None else f"{free_bytes / 2**20:,.1f} MiB"
        super().__init__(
            f"{backend}: out of device memory allocating {requested_bytes / 2**20:,.1f} MiB "
            f"(free device memory: {free}); use a smaller size or a larger GPU"
        )


class LazyResultError(Exception):
    """Raised by :meth:`Backend.make_concrete` for a result it cannot force."""


@runtime_checkable
class DeviceTimer(Protocol):
    """Times one sample on the device (CUDA events); ``stop`` synchronizes."""

    def start(self) -> None:
        """Record the start event on the current stream."""

    def stop(self) -> float:
        """Record the end event, wait for it, return the elapsed device time in ns."""


@runtime_checkable
class Backend(Protocol):
    """What a test and the timer need from an array backend.

    Implementations import their library inside methods, never at module level,
    so that registering a backend costs nothing until a test uses it.
    """

    #: Short identifier, used in test ids and ``--gpuperf-backends``.
    name: str
    #: True when arrays live on an accelerator (the timer then uses device timing).
    is_gpu: bool

    @property
    def simulated(self) -> bool:
        """True when the device is emulated (timings are never gated)."""

    @property
    def device(self) -> str:
        """Human-readable device description, e.g. ``"NVIDIA H100 (cc 9.0)"``."""

    @property
    def xp(self) -> ModuleType:
        """Array module of this backend (``numpy`` or ``cupy``)."""

    def available(self) -> str | None:
        """Return ``None`` when usable here, else an actionable skip reason."""

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """Copy a host array to the device; raise :class:`DeviceOutOfMemory` on OOM."""

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """Copy a device array (or any result) back to a NumPy array."""

    def synchronize(self) -> None:
        """Block until all work queued on the device is complete."""

    def make_concrete(self, result: Any) -> Any:
        """Force a lazy or asynchronous result; raise :class:`LazyResultError` if impossible."""

    def device_timer(self) -> DeviceTimer | None:
        """Return a fresh device-event timer, or ``None`` on host-only backends."""

    def device_info(self) -> dict[str, Any]:
        """Facts for the machine fingerprint and reports (model, compute capability, ...)."""
