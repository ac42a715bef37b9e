"""The ``dask`` backend: ``dask.array`` inputs, computed inside every sample.

The default scheduler is dask's threaded one: it shares memory with the test
process and starts nothing, so a speedup compares the same CPUs without
serialization. ``--gpuperf-dask-address=tcp://host:port`` sends the work to a
running ``distributed`` scheduler instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import platform
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.backends.base import DeviceTimer

if TYPE_CHECKING:
    from types import ModuleType

    import numpy as np

INSTALL_HINT = "pip install 'pytest-gpuperf[dask]'"
#: Default chunking splits the first axis into one block per thread, but no block under this.
MIN_CHUNK_BYTES = 1 * 2**20
#: ... and none over this (dask's own default ``array.chunk-size``).
MAX_CHUNK_BYTES = 128 * 2**20


def default_chunks(shape: tuple[int, ...], itemsize: int, threads: int) -> tuple[int, ...]:
    """Chunk shape: the first axis cut into about one block per thread, other axes whole.

    Blocks stay between :data:`MIN_CHUNK_BYTES` (so small arrays are one block, not
    a graph of tiny tasks) and :data:`MAX_CHUNK_BYTES`.
    """
    if not shape or shape[0] == 0:
        return shape
    nbytes = math.prod(shape) * itemsize
    blocks = max(1, min(threads, nbytes // MIN_CHUNK_BYTES), math.ceil(nbytes / MAX_CHUNK_BYTES))
    blocks = min(blocks, shape[0])
    return (math.ceil(shape[0] / blocks), *shape[1:])


def _dask() -> Any:
    """``dask``, untyped: its top-level names are not re-exported for mypy."""
    return importlib.import_module("dask")


@final
class DaskBackend:
    """``dask.array`` inputs; :meth:`make_concrete` calls ``compute`` on dask results.

    A kernel builds a graph and returns it; the graph is computed inside every
    sample, so a lazy result is never timed as fast. Writes into an argument
    are lazy too, so dask kernels return their result.
    """

    name = "dask"
    is_gpu = False
    #: Opt-in: runs only when named in ``--gpuperf-backends`` or ``gpuperf_backends``.
    default_enabled = False
    #: Lazy families whose results :meth:`make_concrete` forces.
    lazy_families: tuple[str, ...] = ("dask",)

    def __init__(
        self, address: str | None = None, chunks: Any = None, connect_timeout: str = "10s"
    ) -> None:
        #: ``distributed`` scheduler address, or ``None`` for the threaded scheduler.
        self.address = address
        #: How long :meth:`available` waits for the scheduler to answer.
        self.connect_timeout = connect_timeout
        #: ``chunks`` for ``dask.array.from_array``; ``None`` uses :func:`default_chunks`.
        self.chunks = chunks
        self._client: Any = None

    @property
    def simulated(self) -> bool:
        """Dask runs on real CPUs."""
        return False

    @property
    def device(self) -> str:
        """The scheduler: threaded with its thread count, or the distributed address."""
        if self._client is None:
            return f"CPU ({platform.machine()}, dask threaded scheduler, {self.threads} threads)"
        workers = len(self._client.scheduler_info().get("workers", {}))
        return (
            f"dask distributed scheduler at {self.address} "
            f"({workers} workers, {self.threads} threads)"
        )

    @property
    def threads(self) -> int:
        """Threads that run tasks: the threaded pool's size, or all workers' threads."""
        if self._client is not None:
            return int(sum(self._client.nthreads().values()))
        import dask
        import dask.system

        configured = dask.config.get("num_workers", None)
        return int(configured or dask.system.CPU_COUNT)

    @property
    def xp(self) -> ModuleType:
        """``dask.array`` (a large part of NumPy's API, lazily)."""
        import dask.array

        module: ModuleType = dask.array
        return module

    def available(self) -> str | None:
        """``None`` when dask.array imports (and, with an address, the scheduler answers)."""
        if importlib.util.find_spec("dask") is None:
            return f"dask: not installed; {INSTALL_HINT}"
        try:
            import dask.array  # noqa: F401
        except Exception as exc:
            return f"dask: dask.array failed to import ({exc}); {INSTALL_HINT}"
        if self.address is None or self._client is not None:
            return None
        if importlib.util.find_spec("distributed") is None:
            return f"dask: --gpuperf-dask-address needs distributed, not installed; {INSTALL_HINT}"
        try:
            distributed: Any = importlib.import_module("distributed")

            self._client = distributed.Client(
                self.address, timeout=self.connect_timeout, set_as_default=False
            )
        except Exception as exc:
            return (
                f"dask: cannot reach the scheduler at {self.address} ({exc}); start one "
                "(dask scheduler) or fix --gpuperf-dask-address / gpuperf_dask_address"
            )
        return None

    def close(self) -> None:
        """Disconnect from the distributed scheduler, if connected."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """``dask.array.from_array`` on a private copy, chunked by :func:`default_chunks`."""
        dask_array: Any = importlib.import_module("dask.array")

        chunks = self.chunks
        if chunks is None:
            chunks = default_chunks(tuple(host.shape), host.dtype.itemsize, self.threads)
        return dask_array.from_array(host.copy(), chunks=chunks)

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """Compute a dask result (already computed ones pass through) as a NumPy array."""
        import numpy

        return numpy.asarray(self.make_concrete(arr))

    def synchronize(self) -> None:
        """``compute`` returns when the work is done; nothing else is queued."""

    def make_concrete(self, result: Any) -> Any:
        """``compute`` a dask collection, or each one in a tuple or list; other values pass."""
        dask = _dask()
        if dask.is_dask_collection(result):
            return self._compute([result])[0]
        if isinstance(result, (tuple, list)) and any(map(dask.is_dask_collection, result)):
            return type(result)(self._compute(list(result)))
        return result

    def _compute(self, values: list[Any]) -> list[Any]:
        """Compute on the chosen scheduler, all values in one graph."""
        if self._client is not None:
            return list(self._client.compute(values, sync=True))
        return list(_dask().compute(*values, scheduler="threads"))

    def device_timer(self) -> DeviceTimer | None:
        """No device events: dask work is timed by the host clock."""
        return None

    def device_info(self) -> dict[str, Any]:
        """The scheduler and its thread count, for the machine info."""
        return {
            "dask_scheduler": self.address or "threads",
            "dask_threads": self.threads,
        }
