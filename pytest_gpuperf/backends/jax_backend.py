"""The ``jax`` backend: ``jax.numpy`` arrays on JAX's default device (a GPU if it has one)."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.backends.base import DeviceOutOfMemory, DeviceTimer

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from types import ModuleType

    import numpy as np

INSTALL_HINT = "pip install 'pytest-gpuperf[jax]'"
_GPU_PLATFORMS = ("gpu", "cuda", "rocm")
#: The variables that choose JAX's GPU allocator (JAX's "GPU memory allocation" page).
#: ``XLA_CLIENT_MEM_FRACTION`` is the new name of ``XLA_PYTHON_CLIENT_MEM_FRACTION``.
ALLOCATOR_VARIABLES = (
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_CLIENT_MEM_FRACTION",
    "XLA_PYTHON_CLIENT_ALLOCATOR",
)


def share_the_gpu(environ: MutableMapping[str, str] | None = None) -> bool:
    """Keep JAX from taking 75% of the GPU at its first operation; True when it set a variable.

    JAX preallocates 75% of the GPU's memory when it starts on a GPU, which
    starves CuPy, torch or numba-cuda in the same session, and other processes
    on the same GPU. Unless the user set one of :data:`ALLOCATOR_VARIABLES`
    (then they chose, and nothing changes), this sets
    ``XLA_PYTHON_CLIENT_PREALLOCATE=false``: JAX then allocates as it needs,
    up to its usual limit. JAX reads the variables when it starts its GPU
    client, so this must run before any JAX computation.
    """
    env = os.environ if environ is None else environ
    if any(name in env for name in ALLOCATOR_VARIABLES):
        return False
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return True


@final
class JaxBackend:
    """``jax.numpy`` arrays; results are waited for with ``jax.block_until_ready``.

    JAX dispatches asynchronously, so a kernel returns before its work is done:
    :meth:`make_concrete` blocks on every result inside each sample. JAX arrays
    are immutable, so kernels return their result (``gpuperf(output=...)``
    cannot apply), and ``jax.jit`` traces and compiles on the first call, which
    the timer keeps out of the samples. Without ``JAX_ENABLE_X64=1`` JAX has no
    64-bit arrays, so :meth:`to_device` refuses float64 and int64 inputs. Before
    it first imports JAX, :meth:`available` turns off JAX's preallocation of 75%
    of the GPU (:func:`share_the_gpu`), unless the user set an allocator variable.
    """

    name = "jax"
    #: Opt-in: runs only when named in ``--gpuperf-backends`` or ``gpuperf_backends``.
    default_enabled = False
    #: Lazy families whose results :meth:`make_concrete` forces.
    lazy_families: tuple[str, ...] = ("jax",)

    def __init__(self) -> None:
        #: True once :meth:`available` found that JAX's default device is a GPU.
        self.is_gpu = False

    @property
    def simulated(self) -> bool:
        """JAX always runs on real hardware."""
        return False

    @property
    def device(self) -> str:
        """The default device's kind and JAX's platform, e.g. ``"cpu (jax cpu)"``."""
        import jax

        first = jax.devices()[0]
        return f"{first.device_kind} (jax {jax.default_backend()}, {jax.device_count()} devices)"

    @property
    def xp(self) -> ModuleType:
        """``jax.numpy``."""
        import jax.numpy

        module: ModuleType = jax.numpy
        return module

    def available(self) -> str | None:
        """``None`` when jax imports; notes whether its default device is a GPU."""
        if importlib.util.find_spec("jax") is None:
            return f"jax: not installed; {INSTALL_HINT}"
        share_the_gpu()  # before JAX starts its GPU client
        try:
            import jax

            platform = jax.default_backend()
        except Exception as exc:
            return f"jax: installed but failed to start ({exc}); reinstall it: {INSTALL_HINT}"
        self.is_gpu = platform in _GPU_PLATFORMS
        return None

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        """``jax.device_put`` onto the default device; refuses 64-bit data without x64 mode."""
        import jax

        wide = host.dtype.itemsize == (16 if host.dtype.kind == "c" else 8)
        if wide and host.dtype.kind in "fiuc" and not _x64_enabled():
            raise TypeError(
                f"jax: a {host.dtype} input would silently become 32-bit, because JAX's "
                "64-bit mode is off; use float32/int32 inputs, or set JAX_ENABLE_X64=1 "
                "before pytest starts"
            )
        try:
            return jax.device_put(host)
        except Exception as exc:
            if "RESOURCE_EXHAUSTED" in str(exc) or "out of memory" in str(exc).lower():
                raise DeviceOutOfMemory(self.name, int(host.nbytes), None) from exc
            raise

    def free_device_bytes(self) -> int | None:
        """On a GPU, what JAX's allocator may still hand out: its limit less its use.

        ``None`` on the CPU, or when the device keeps no statistics. JAX sees only
        its own pool, not what other libraries hold on the same GPU.
        """
        if not self.is_gpu:
            return None
        jax: Any = importlib.import_module("jax")
        try:
            stats = jax.devices()[0].memory_stats() or {}
            return int(stats["bytes_limit"]) - int(stats["bytes_in_use"])
        except Exception:
            return None

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """``numpy.asarray`` (waits for the array and copies it off the device)."""
        import numpy

        return numpy.asarray(arr)

    def synchronize(self) -> None:
        """JAX has no device-wide barrier; :meth:`make_concrete` waits on each result."""

    def make_concrete(self, result: Any) -> Any:
        """``jax.block_until_ready`` on the result (any pytree of arrays)."""
        jax: Any = importlib.import_module("jax")  # Any: block_until_ready is untyped

        return jax.block_until_ready(result)

    def device_timer(self) -> DeviceTimer | None:
        """JAX exposes no device events; blocking wall time is what the timer uses."""
        return None

    def device_info(self) -> dict[str, Any]:
        """JAX's platform and device kind (``gpu`` too on a GPU, for the fingerprint)."""
        import jax

        first = jax.devices()[0]
        info: dict[str, Any] = {
            "jax_platform": jax.default_backend(),
            "jax_device": str(first.device_kind),
        }
        if self.is_gpu:
            info["gpu"] = str(first.device_kind)
        return info


def _x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on (``JAX_ENABLE_X64`` or ``jax_enable_x64``)."""
    jax: Any = importlib.import_module("jax")

    return bool(jax.config.read("jax_enable_x64"))
