"""The contract every backend fulfils, built in or added through the hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, final, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    import numpy as np

    from pytest_gpuperf.measure.memory import DeviceMemoryProbe


class DeviceOutOfMemory(Exception):
    """Raised when the device cannot hold an array.

    :meth:`Backend.to_device` raises it when an allocation failed; ``gpu_array``
    raises it before allocating anything, with a ``message`` that names the
    host's memory too.
    """

    def __init__(
        self,
        backend: str,
        requested_bytes: int,
        free_bytes: int | None,
        *,
        message: str | None = None,
    ) -> None:
        self.backend = backend
        self.requested_bytes = requested_bytes
        self.free_bytes = free_bytes
        free = "unknown" if free_bytes is None else f"{free_bytes / 2**20:,.1f} MiB"
        super().__init__(
            message
            or f"{backend}: out of device memory allocating {requested_bytes / 2**20:,.1f} MiB "
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
    so that registering a backend costs nothing until a test uses it. A backend
    may also define any of the members of :class:`OptionalMembers`
    (``default_enabled``, ``lazy_families``, ``flush_l2``, ``pci_bus_id``,
    ``memory_probe``, ``free_device_bytes``); the plugin reads them through
    :class:`WithDefaults`, so one that leaves them out gets their defaults.
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


class OptionalMembers(Protocol):
    """Members a backend may define on top of :class:`Backend`; each has a default.

    Define only those that apply. They are not part of the ``isinstance`` check
    on :class:`Backend`, and the plugin reads them through :class:`WithDefaults`,
    which supplies the default of each one a backend leaves out.
    """

    #: ``False`` makes the backend opt-in: it runs only when named in
    #: ``--gpuperf-backends`` or ``gpuperf_backends``. Default ``True``.
    default_enabled: bool
    #: The lazy families (``"dask"``, ``"jax"``) whose results :meth:`Backend.make_concrete`
    #: turns into finished ones; a result of another lazy family fails the test. Default ``()``.
    lazy_families: tuple[str, ...]

    def flush_l2(self) -> None:
        """Evict the device's L2 cache before a cold sample, and wait for it.

        Called before every sample under ``--gpuperf-flush-l2`` (or
        ``gpuperf(flush_l2=True)``) on a GPU backend. Default: none, so the
        backend is timed with a warm cache.
        """

    def pci_bus_id(self) -> str | None:
        """The PCI bus id of the device in use (``"0000:65:00.0"``), which picks the NVML device.

        Default ``None``: NVML's device when the machine has only one.
        """

    def memory_probe(self) -> DeviceMemoryProbe | None:
        """A fresh probe of the device memory one call allocates, for the memory columns.

        Default ``None``: the device peak is reported as not measured.
        """

    def free_device_bytes(self) -> int | None:
        """Device memory a new array can get now, in bytes, for ``gpu_array``'s check.

        Count what the backend's own allocator would hand back before failing an
        allocation (a memory pool's cached blocks, pending frees). Default
        ``None``: unknown, so ``gpu_array`` checks only the host's memory, and
        :meth:`Backend.to_device` reports an allocation that fails.
        """


@final
class WithDefaults:
    """A backend's :class:`OptionalMembers`, each one it leaves out read as its default."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @property
    def default_enabled(self) -> bool:
        """The backend's ``default_enabled``, or ``True``."""
        enabled: bool = getattr(self._backend, "default_enabled", True)
        return enabled

    @property
    def lazy_families(self) -> tuple[str, ...]:
        """The backend's ``lazy_families``, or ``()``."""
        families: tuple[str, ...] = getattr(self._backend, "lazy_families", ())
        return families

    @property
    def l2_flush(self) -> Callable[[], None] | None:
        """The backend's ``flush_l2`` method, or ``None`` when it cannot flush."""
        flush: Callable[[], None] | None = getattr(self._backend, "flush_l2", None)
        return flush

    def pci_bus_id(self) -> str | None:
        """The backend's ``pci_bus_id()``, or ``None``."""
        read = getattr(self._backend, "pci_bus_id", None)
        bus_id: str | None = read() if callable(read) else None
        return bus_id

    def memory_probe(self) -> DeviceMemoryProbe | None:
        """The backend's ``memory_probe()``, or ``None``."""
        make = getattr(self._backend, "memory_probe", None)
        probe: DeviceMemoryProbe | None = make() if callable(make) else None
        return probe

    def free_device_bytes(self) -> int | None:
        """The backend's ``free_device_bytes()``, or ``None``."""
        read = getattr(self._backend, "free_device_bytes", None)
        free: int | None = read() if callable(read) else None
        return free
