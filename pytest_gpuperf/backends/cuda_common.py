"""What the CUDA backends (``numba_cuda``, ``cupy``, ``torch``) share.

CUDA-event timing, the cold-L2 flush buffer, and the device facts they read
the same way. Imports no CUDA library: each backend passes its library's calls in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.measure.timer import flush_buffer_bytes

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def name_text(name: object) -> str:
    """A device name as ``str``: depending on the binding it comes as ``str`` or ``bytes``."""
    if isinstance(name, bytes):
        return name.decode(errors="replace")
    return str(name)


def pci_bus_id(domain: int, bus: int, device: int) -> str:
    """NVML's spelling of a PCI bus id, e.g. ``"00000000:65:00.0"``, from its three numbers."""
    return f"{int(domain):08X}:{int(bus):02X}:{int(device):02X}.0"


def free_bytes(mem_info: Callable[[], tuple[Any, Any]]) -> int | None:
    """Free device memory from a ``(free, total)`` query, or ``None`` when it fails."""
    try:
        free, _total = mem_info()
        return int(free)
    except Exception:
        return None


def device_facts(lookups: Mapping[str, Callable[[], object]]) -> dict[str, Any]:
    """Each fact whose lookup answers; one the driver or binding cannot give is left out."""
    facts: dict[str, Any] = {}
    for key, lookup in lookups.items():
        try:
            facts[key] = lookup()
        except Exception:
            continue
    return facts


@final
class EventTimer:
    """Times one sample with a pair of CUDA events, as a :class:`~pytest_gpuperf.DeviceTimer`.

    ``record(event)`` records an event on the stream the kernels run on, and
    ``elapsed_ms(start, end)`` reads the time between two finished events.
    """

    def __init__(
        self,
        start: Any,
        end: Any,
        record: Callable[[Any], object],
        elapsed_ms: Callable[[Any, Any], float],
    ) -> None:
        self._start = start
        self._end = end
        self._record = record
        self._elapsed_ms = elapsed_ms

    def start(self) -> None:
        """Record the start event."""
        self._record(self._start)

    def stop(self) -> float:
        """Record the end event, wait for it, return the elapsed device time in ns."""
        self._record(self._end)
        self._end.synchronize()
        return float(self._elapsed_ms(self._start, self._end)) * 1e6


@final
class FlushBuffer:
    """The device buffer a cold-cache flush overwrites, made on first use, and the byte to write."""

    def __init__(self) -> None:
        self._buffer: Any = None
        self._byte = 0

    def buffer(self, allocate: Callable[[int], Any], l2_bytes: Callable[[], int | None]) -> Any:
        """The buffer: ``allocate(max(256 MiB, 2 × L2))`` the first time, the same one after.

        ``l2_bytes`` is only called then; ``None`` or ``0`` means the L2 size is unknown.
        """
        if self._buffer is None:
            self._buffer = allocate(flush_buffer_bytes(l2_bytes()))
        return self._buffer

    def next_byte(self) -> int:
        """``1``, then ``0``, then ``1``...: each flush writes new data, not what is there."""
        self._byte ^= 1
        return self._byte
