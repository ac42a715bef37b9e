"""``gpuperf doctor``'s launch checks: compile and run one tiny kernel on each GPU backend.

A plain module: no pytest. A backend that imports and sees a device can still fail
on its first kernel (numba-cuda 0.30.4 with numpy 2.5: ``AttributeError: module
'numpy' has no attribute 'row_stack'``). Each check here adds 1 to 32 float32 values
on the device, copies them back and compares; a failure names the library versions
and, through :mod:`pytest_gpuperf.measure.kernel_faults`, the likely fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.measure import kernel_faults

if TYPE_CHECKING:
    from collections.abc import Callable

#: How many values the tiny kernel adds 1 to (one warp; cheap on the simulator too).
SIZE = 32


class WrongResult(Exception):
    """The tiny kernel ran but returned other values than it should."""


@final
@dataclass(frozen=True)
class LaunchResult:
    """What one launch check found: ok, or broken with a detail and a fix."""

    ok: bool
    detail: str
    fix: str = ""


def _expected() -> Any:
    import numpy

    return numpy.arange(SIZE, dtype=numpy.float32) + 1


def _compare(got: Any) -> None:
    import numpy

    expected = _expected()
    if not numpy.array_equal(numpy.asarray(got), expected):
        raise WrongResult(f"expected {expected[:4].tolist()}..., got {numpy.asarray(got)[:4]}...")


def numba_cuda_launch() -> None:
    """A ``@cuda.jit`` kernel (on the simulator when ``NUMBA_ENABLE_CUDASIM=1``)."""
    import numpy

    from pytest_gpuperf.machine.numba_kernel import add_one, cuda

    device = cuda.to_device(numpy.arange(SIZE, dtype=numpy.float32))
    add_one[1, SIZE](device)
    cuda.synchronize()
    _compare(device.copy_to_host())


def cupy_launch() -> None:
    """A CuPy ``ElementwiseKernel`` (compiled with NVRTC)."""
    import cupy

    add_one = cupy.ElementwiseKernel("float32 x", "float32 y", "y = x + 1.0f", "gpuperf_add_one")
    result = add_one(cupy.arange(SIZE, dtype=cupy.float32))
    cupy.cuda.runtime.deviceSynchronize()
    _compare(cupy.asnumpy(result))


def torch_launch() -> bool:
    """A torch op on the GPU; False (nothing launched) when torch sees no CUDA device."""
    import torch

    if not torch.cuda.is_available():
        return False
    values = torch.arange(SIZE, dtype=torch.float32, device="cuda") + 1
    torch.cuda.synchronize()
    _compare(values.cpu().numpy())
    return True


#: Backend name -> its launch check and the library it exercises.
LAUNCHES: dict[str, tuple[Callable[[], object], str]] = {
    "numba_cuda": (numba_cuda_launch, "numba_cuda"),
    "cupy": (cupy_launch, "cupy"),
    "torch": (torch_launch, "torch"),
}


def launch(backend: str, *, simulated: bool = False) -> LaunchResult | None:
    """Run ``backend``'s tiny kernel; None when it has none or nothing was launched."""
    if backend not in LAUNCHES:
        return None
    run, library = LAUNCHES[backend]
    where = "on the CUDA simulator" if simulated else "on the device"
    try:
        if run() is False:
            return None
    except Exception as exc:
        return failed(library, exc)
    return LaunchResult(True, f"a tiny kernel ran {where} and returned the right values")


def failed(library: str, exc: BaseException) -> LaunchResult:
    """The broken result for a tiny kernel that raised or returned wrong values."""
    versions = kernel_faults.library_versions(library)
    shown = kernel_faults.versions_text(versions)
    error = kernel_faults.describe(exc)
    if isinstance(exc, WrongResult):
        return LaunchResult(
            False,
            f"a tiny kernel returned wrong values ({exc}); {shown}",
            "the library, the driver and the device disagree: reinstall the library for "
            "this CUDA version, and check the driver",
        )
    fault = kernel_faults.library_fault(exc)
    if fault is not None:
        return LaunchResult(
            False,
            f"a tiny kernel failed inside the library: {error}; {shown}",
            kernel_faults.library_fix(fault, versions),
        )
    return LaunchResult(
        False,
        f"a tiny kernel failed: {error}; {shown}",
        "the library cannot compile or run kernels here: reinstall it for this CUDA version "
        "(pip install 'pytest-gpuperf[cuda12]')",
    )
