"""Room for an array, checked before ``gpu_array`` allocates any copy of it.

A plain module: no pytest. An array too large for the device, or for the host
copies made first, must fail its test with the sizes, not get the process
killed by the kernel's out-of-memory killer with no outcome and no summary.

The rule (both sides are checked; each that cannot be read is skipped):

- **Device**: the bytes the new device arrays take, plus :data:`DEVICE_HEADROOM`,
  must fit in the backend's ``free_device_bytes()`` (free memory plus what its
  allocator holds unused). The headroom is room for what the kernel itself
  allocates (its output, a library's workspace, local memory the driver grows
  at launch) and the allocator's rounding (2 MiB pages), so an input that just
  fits does not leave the kernel to fail.
- **Host**: the bytes the host holds at the peak of the call, plus
  :data:`HOST_HEADROOM`, must fit in the host's available memory (psutil's
  ``virtual_memory().available`` when psutil is installed, else Linux's
  ``MemAvailable`` from ``/proc/meminfo``). The headroom is room for the
  process around the call: the reference's own output, pytest, the interpreter.
  See :func:`host_peak_bytes` for what the peak counts.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.backends.base import DeviceOutOfMemory

if TYPE_CHECKING:
    from collections.abc import Callable

#: Device memory left free beyond the arrays: the kernel's own allocations and rounding.
DEVICE_HEADROOM = 256 * 2**20
#: Host memory left available beyond the copies: the reference's output, pytest, Python.
HOST_HEADROOM = 512 * 2**20
#: What a fix looks like, in every message.
SMALLER = "Use a smaller size, e.g. backend.size(real=..., simulated=...)"
MEMINFO = "/proc/meminfo"


class HostOutOfMemory(Exception):
    """Raised by ``gpu_array`` before allocating, when the host cannot hold the copies."""

    def __init__(
        self, backend: str, requested_bytes: int, available_bytes: int, message: str
    ) -> None:
        super().__init__(message)
        self.backend = backend
        self.requested_bytes = requested_bytes
        self.available_bytes = available_bytes


@final
@dataclass(frozen=True)
class Need:
    """What one ``gpu_array`` call will hold at its peak, and what it makes."""

    device_bytes: int
    host_bytes: int
    what: str
    #: The backend's arrays live in host memory (a CPU backend, the simulator).
    in_host_memory: bool = False


def host_peak_bytes(array_bytes: int, made_bytes: int, on_host: bool) -> int:
    """Host bytes one ``gpu_array`` allocation holds at once, at its peak.

    ``gpu_array`` keeps two host copies of each array: the one handed to the
    backend (at a fixed page offset) and the one kept for the reference. A
    backend whose arrays live in host memory (a CPU backend, the simulator) holds
    a third. Before that, the constructor makes the values (``made_bytes``):
    ``random`` draws 8-byte values and converts them, so for a 1-byte dtype that
    step is the larger one.
    """
    copies = 3 if on_host else 2
    return max(made_bytes, copies * array_bytes)


def _meminfo_available(path: str = MEMINFO) -> int | None:
    """``MemAvailable`` from ``/proc/meminfo``, in bytes; ``None`` where it is not there."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    _, number, *unit = line.split()
                    return int(number) * (1024 if unit == ["kB"] else 1)
    except (OSError, ValueError):
        return None
    return None


@functools.cache
def _host_reader() -> Callable[[], int | None]:
    """psutil when it is installed (it also knows other systems), else ``/proc/meminfo``."""
    try:
        import psutil
    except ImportError:
        return _meminfo_available

    def read_psutil() -> int | None:
        try:
            return int(psutil.virtual_memory().available)
        except Exception:
            return None

    return read_psutil


def host_available_bytes() -> int | None:
    """Memory the host can give this process now without swapping, or ``None`` when unknown."""
    return _host_reader()()


def check(
    backend: str,
    need: Need,
    device_free: Callable[[], int | None],
    host_available: Callable[[], int | None] | None = None,
) -> None:
    """Raise when ``need`` does not fit; nothing is allocated either way.

    :class:`DeviceOutOfMemory` when the device is short (whether or not the host
    is too), :class:`HostOutOfMemory` when only the host is. The message names
    both sides: needed, headroom, free or available, and which is short. A side
    with nothing to hold, or whose memory cannot be read, is not checked.
    ``host_available`` defaults to :func:`host_available_bytes`.
    """
    read_host = host_available or host_available_bytes
    free = device_free() if need.device_bytes > 0 else None
    available = read_host() if need.host_bytes > 0 else None
    device_short = free is not None and need.device_bytes + DEVICE_HEADROOM > free
    host_short = available is not None and need.host_bytes + HOST_HEADROOM > available
    if not device_short and not host_short:
        return
    short = " and ".join(
        side for side, is_short in (("device", device_short), ("host", host_short)) if is_short
    )
    fixes = [SMALLER]
    if device_short:
        fixes.append("a GPU with more free memory")
    if host_short:
        fixes.append("a machine with more host memory")
    message = (
        f"{backend}: not enough {short} memory for {need.what}; nothing was allocated. "
        f"{_device_side(need, free, device_short)}; "
        f"{_side('host', need.host_bytes, HOST_HEADROOM, available, host_short)}. "
        f"{', or '.join(fixes)}"
    )
    if device_short:
        raise DeviceOutOfMemory(backend, need.device_bytes, free, message=message)
    assert available is not None
    raise HostOutOfMemory(backend, need.host_bytes, available, message)


def _device_side(need: Need, free: int | None, short: bool) -> str:
    """The device's part of the message."""
    if need.in_host_memory:
        return "device: arrays in host memory"
    return _side("device", need.device_bytes, DEVICE_HEADROOM, free, short)


def _side(name: str, needed: int, headroom: int, have: int | None, short: bool) -> str:
    """``device: 200.0 GiB needed + 256.0 MiB headroom, 130.4 GiB free (short)``."""
    if needed <= 0:
        return f"{name}: nothing to hold"
    word = "free" if name == "device" else "available"
    if have is None:
        return f"{name}: {size_text(needed)} needed, {word} memory unknown (not checked)"
    verdict = "short" if short else "enough"
    return (
        f"{name}: {size_text(needed)} needed + {size_text(headroom)} headroom, "
        f"{size_text(have)} {word} ({verdict})"
    )


def size_text(count: int) -> str:
    """``200.0 GiB``, ``256.0 MiB``, ``4.0 KiB`` or ``12 B``: one decimal, the largest unit."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} B"
