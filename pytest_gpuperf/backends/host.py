"""Backends whose arrays are plain NumPy arrays in host memory: ``numpy`` and ``numba``."""

from __future__ import annotations

import importlib.util
import platform
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.backends.base import DeviceTimer

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np


class HostBackend:
    """Shared behaviour of CPU backends: no copies, nothing to synchronize."""

    name = "host"
    is_gpu = False

    @property
    def simulated(self) -> bool:
        """Host backends are never simulated."""
        return False

    @property
    def device(self) -> str:
        """The CPU, as the platform names it."""
        return f"CPU ({platform.machine()})"

    @property
    def xp(self) -> ModuleType:
        """NumPy."""
        import numpy

        return numpy

    def available(self) -> str | None:
        """NumPy is a hard dependency, so host backends are always available."""
        return None

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """A private copy at the same page offset, so a kernel cannot scribble on the host copy."""
        from pytest_gpuperf.measure.alignment import page_offset, placed_copy

        return placed_copy(host, page_offset(host))

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """Wrap the result as a NumPy array."""
        import numpy

        return numpy.asarray(arr)

    def synchronize(self) -> None:
        """CPU work is synchronous."""

    def make_concrete(self, result: Any) -> Any:
        """CPU results are already concrete."""
        return result

    def device_timer(self) -> DeviceTimer | None:
        """No device events on the host."""
        return None

    def device_info(self) -> dict[str, Any]:
        """Nothing beyond the CPU, which the machine info already records."""
        return {}


@final
class NumpyBackend(HostBackend):
    """The reference backend: NumPy on the CPU."""

    name = "numpy"


@final
class NumbaCpuBackend(HostBackend):
    """Numba ``@njit``/``prange`` kernels on NumPy arrays."""

    name = "numba"

    def available(self) -> str | None:
        """Numba is a dependency, but say how to get it if it is missing."""
        if importlib.util.find_spec("numba") is None:
            return "numba: not installed; pip install numba"
        return None

    @property
    def device(self) -> str:
        """The CPU and the Numba thread count, read lazily."""
        import numba

        threads = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        return f"CPU ({platform.machine()}, {threads} numba threads)"
