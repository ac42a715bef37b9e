"""``measure.kernel_faults``: library faults and sticky CUDA errors, from fake exceptions.

The tracebacks are real: the "library" code runs in modules made here under the
library's module names (``numba.cuda.*``, ``cupy.*``, ``torch.*``), so its frames
carry those names as a real library's would. No GPU library is called.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from pytest_gpuperf.measure import kernel_faults
from pytest_gpuperf.measure.kernel_faults import (
    LibraryFault,
    StickyError,
    broken_backends,
    library_fault,
    sticky_cuda_error,
)


def fake_module(name: str, source: str) -> dict[str, Any]:
    """Run ``source`` as module ``name``: its frames carry that module name."""
    namespace: dict[str, Any] = {"__name__": name}
    path = f"/fake-site-packages/{name.replace('.', '/')}.py"
    exec(compile(textwrap.dedent(source), path, "exec"), namespace)
    return namespace


def raised(func: Any, *args: Any) -> BaseException:
    try:
        func(*args)
    except Exception as exc:
        return exc
    raise AssertionError("expected an exception")


NUMBA_DISPATCH = fake_module(
    "numba.cuda.fake_dispatcher",
    """
    import json
    import numpy

    def compile_kernel():
        return numpy.definitely_not_a_numpy_name  # as numba-cuda 0.30.4 met numpy.row_stack

    def launch(kernel, *args):
        return kernel(*args)  # the user's kernel runs inside the library

    def parse_config():
        return json.loads("{")

    class NumbaError(Exception):
        pass

    class TypingError(NumbaError):
        pass

    def typing_error(message):
        raise TypingError(message)
    """,
)
CUPY_CORE = fake_module(
    "cupy._core.fake_core",
    """
    def elementwise(x):
        raise ValueError("Unsupported dtype object")

    class CUDARuntimeError(RuntimeError):
        pass

    class OutOfMemoryError(MemoryError):
        pass

    def synchronize():
        raise CUDARuntimeError("cudaErrorIllegalAddress: an illegal memory access was encountered")

    def malloc(n):
        raise OutOfMemoryError(f"Out of memory allocating {n:,} bytes (allocated so far: 0 bytes).")
    """,
)
TORCH_OPS = fake_module(
    "torch._ops_fake",
    """
    def add(x):
        raise RuntimeError("expected scalar type Float but found Double")
    """,
)


def user_kernel_that_raises() -> None:
    raise ValueError("index 9 is out of bounds")


def user_kernel_using_numpy() -> None:
    import numpy

    numpy.definitely_not_a_numpy_name  # noqa: B018


class KernelError(Exception):
    pass


def wrapped(func: Any, *args: Any) -> BaseException:
    """``func`` raising inside our timer: a KernelError whose cause is the original."""
    original = raised(func, *args)
    try:
        raise KernelError(f"kernel raised {original}") from original
    except KernelError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(
            raised(NUMBA_DISPATCH["compile_kernel"]),
            LibraryFault(
                "numba_cuda",
                "AttributeError: module 'numpy' has no attribute 'definitely_not_a_numpy_name'",
                via_numpy=True,
            ),
            id="numpy-attribute-gone-inside-numba-cuda",
        ),
        pytest.param(
            wrapped(NUMBA_DISPATCH["compile_kernel"]),
            LibraryFault(
                "numba_cuda",
                "AttributeError: module 'numpy' has no attribute 'definitely_not_a_numpy_name'",
                via_numpy=True,
            ),
            id="the-cause-of-a-kernel-error",
        ),
        pytest.param(
            raised(CUPY_CORE["elementwise"], 1),
            LibraryFault("cupy", "ValueError: Unsupported dtype object", via_numpy=False),
            id="cupy",
        ),
        pytest.param(
            raised(TORCH_OPS["add"], 1),
            LibraryFault(
                "torch", "RuntimeError: expected scalar type Float but found Double", False
            ),
            id="torch",
        ),
        pytest.param(
            raised(NUMBA_DISPATCH["parse_config"]),
            LibraryFault(
                "numba_cuda",
                "JSONDecodeError: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)",
                via_numpy=False,
            ),
            id="through-the-standard-library",
        ),
        pytest.param(
            raised(NUMBA_DISPATCH["typing_error"], "Failed: module 'numpy' has no attribute 'x'"),
            LibraryFault(
                "numba_cuda",
                "TypingError: Failed: module 'numpy' has no attribute 'x'",
                via_numpy=True,
            ),
            id="a-numba-error-that-names-a-missing-numpy-attribute",
        ),
    ],
)
def test_library_fault_is_an_exception_raised_inside_the_library(
    exc: BaseException, expected: LibraryFault
) -> None:
    assert library_fault(exc) == expected


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(raised(user_kernel_that_raises), id="the-users-kernel"),
        pytest.param(raised(user_kernel_using_numpy), id="the-users-kernel-through-numpy"),
        pytest.param(
            raised(NUMBA_DISPATCH["launch"], user_kernel_that_raises),
            id="the-users-code-called-back-by-the-library",
        ),
        pytest.param(
            raised(NUMBA_DISPATCH["typing_error"], "Cannot unify int64 and array(float32)"),
            id="a-numba-typing-error-is-about-the-kernel",
        ),
        pytest.param(ValueError("never raised"), id="no-traceback"),
        pytest.param(raised(CUPY_CORE["synchronize"]), id="a-sticky-error-is-the-kernels-fault"),
        pytest.param(raised(CUPY_CORE["malloc"], 2**40), id="out-of-memory-is-the-sizes-fault"),
    ],
)
def test_not_a_library_fault(exc: BaseException) -> None:
    assert library_fault(exc) is None


def test_the_library_fault_fix_names_an_older_numpy_and_the_versions() -> None:
    fault = LibraryFault("numba_cuda", "AttributeError: ...", via_numpy=True)
    versions = {"numba-cuda": "0.30.4", "numba": "0.68.0", "numpy": "2.5.2"}
    assert kernel_faults.library_fix(fault, versions) == (
        "the installed numpy 2.5.2 is probably newer than numba-cuda 0.30.4 supports: install "
        "an older numpy, e.g. pip install 'numpy<2.5', or upgrade numba-cuda "
        "(pip install -U numba-cuda)"
    )
    own = LibraryFault("cupy", "ValueError: ...", via_numpy=False)
    assert kernel_faults.library_fix(own, {"cupy-cuda12x": "14.2.0", "numpy": "2.4.6"}) == (
        "cupy 14.2.0 fails inside its own code: install versions of it and of what it depends "
        "on that work together, e.g. pip install -U cupy"
    )


def test_library_versions_read_the_installed_metadata() -> None:
    import numba
    import numpy

    versions = kernel_faults.library_versions("numba_cuda")
    assert versions["numpy"] == numpy.__version__
    assert versions["numba"] == numba.__version__
    assert "numba-cuda" in versions
    assert list(kernel_faults.library_versions("torch"))[-1] == "numpy"


def test_broken_backends_need_two_tests_that_all_failed_inside_the_library() -> None:
    fault = LibraryFault("numba_cuda", "AttributeError: x", via_numpy=True)
    observations: list[tuple[str, LibraryFault | None]] = [
        ("numba_cuda", fault),
        ("numba_cuda", fault),
        ("cupy", LibraryFault("cupy", "ValueError: y", via_numpy=False)),  # only one test
        ("torch", LibraryFault("torch", "RuntimeError: z", via_numpy=False)),
        ("torch", LibraryFault("torch", "RuntimeError: z", via_numpy=False)),
        ("torch", None),  # one torch kernel ran: torch works
    ]
    assert broken_backends(observations) == {"numba_cuda": [fault, fault]}


def test_broken_environment_line_quotes_the_error_once_with_versions_and_doctor() -> None:
    first = LibraryFault("numba_cuda", "AttributeError: gone", via_numpy=True)
    other = LibraryFault("numba_cuda", "AttributeError: also gone", via_numpy=True)
    line = kernel_faults.broken_environment_line(
        "numba_cuda", [first, first, other], {"numba-cuda": "0.30.4", "numpy": "2.5.2"}
    )
    assert line.startswith(
        "numba_cuda: the GPU environment looks broken: all 3 tests that ran a kernel on "
        "numba_cuda failed on its first call, inside numba-cuda: AttributeError: gone "
        "(and 1 other message(s)); numba-cuda 0.30.4, numpy 2.5.2. Likely fix: the installed "
        "numpy 2.5.2 is probably newer than numba-cuda 0.30.4 supports"
    )
    assert line.count("AttributeError: gone") == 1
    assert line.endswith("Run `gpuperf doctor` to check this machine.")


CUDA_KERNEL_NOTE = (
    "\nCUDA kernel errors might be asynchronously reported at some other API call, so the "
    "stacktrace below might be incorrect."
)


def _error(type_name: str, message: str, base: type[Exception] = Exception, **attrs: Any) -> Any:
    """An exception of a class named as the library names it, with its status attributes."""
    exc = type(type_name, (base,), {"__str__": lambda self: message})()
    for name, value in attrs.items():
        setattr(exc, name, value)
    return exc


@pytest.mark.parametrize(
    ("exc", "name"),
    [
        pytest.param(
            _error(
                "CudaAPIError",
                "[CUresult.CUDA_ERROR_ILLEGAL_ADDRESS] Call to cuMemAlloc "
                "results in CUDA_ERROR_ILLEGAL_ADDRESS",
                code=700,
            ),
            "CUDA_ERROR_ILLEGAL_ADDRESS",
            id="numba-cuda-cuda-python-bindings",
        ),
        pytest.param(
            _error(
                "CudaAPIError",
                "[700] Call to cuCtxSynchronize results in CUDA_ERROR_ILLEGAL_ADDRESS",
                code=700,
            ),
            "CUDA_ERROR_ILLEGAL_ADDRESS",
            id="numba-cuda-ctypes-bindings",
        ),
        pytest.param(
            _error("CudaAPIError", "[715] Call to cuLaunchKernel results in UNKNOWN", code=715),
            "CUDA_ERROR_ILLEGAL_INSTRUCTION",
            id="numba-cuda-by-code",
        ),
        pytest.param(
            _error(
                "CUDARuntimeError",
                "cudaErrorIllegalAddress: an illegal memory access was encountered",
                RuntimeError,
                status=700,
            ),
            "CUDA_ERROR_ILLEGAL_ADDRESS",
            id="cupy-runtime",
        ),
        pytest.param(
            _error(
                "CUDADriverError",
                "CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure",
                RuntimeError,
                status=719,
            ),
            "CUDA_ERROR_LAUNCH_FAILED",
            id="cupy-driver",
        ),
        pytest.param(
            _error(
                "CUDARuntimeError",
                "cudaErrorMisalignedAddress: misaligned address",
                RuntimeError,
                status=716,
            ),
            "CUDA_ERROR_MISALIGNED_ADDRESS",
            id="cupy-misaligned",
        ),
        pytest.param(
            _error("CUDARuntimeError", "?", RuntimeError, status=718),
            "CUDA_ERROR_INVALID_PC",
            id="cupy-by-status",
        ),
        pytest.param(
            _error(
                "AcceleratorError",
                "CUDA error: device-side assert triggered" + CUDA_KERNEL_NOTE,
                RuntimeError,
            ),
            "CUDA_ERROR_ASSERT",
            id="torch-accelerator-error",
        ),
        pytest.param(
            RuntimeError("CUDA error: an illegal memory access was encountered" + CUDA_KERNEL_NOTE),
            "CUDA_ERROR_ILLEGAL_ADDRESS",
            id="torch-before-2.8",
        ),
        pytest.param(
            RuntimeError("CUDA error: hardware stack error"),
            "CUDA_ERROR_HARDWARE_STACK_ERROR",
            id="torch-hardware-stack",
        ),
    ],
)
def test_sticky_cuda_errors_in_each_librarys_spelling(exc: BaseException, name: str) -> None:
    found = sticky_cuda_error(exc)
    assert found is not None
    assert found.name == name
    assert found.error.startswith(type(exc).__name__ + ": ")
    assert "\n" not in found.error


def test_a_sticky_error_is_found_behind_a_kernel_error() -> None:
    cause = _error(
        "CudaAPIError", "[700] Call to cuMemcpyDtoH results in CUDA_ERROR_ILLEGAL_ADDRESS", code=700
    )
    try:
        try:
            raise cause
        except Exception as exc:
            raise KernelError(f"k on numba_cuda raised {exc}") from exc
    except KernelError as outer:
        found = sticky_cuda_error(outer)
    assert found == StickyError(
        "CUDA_ERROR_ILLEGAL_ADDRESS",
        "an illegal memory access was encountered",
        "CudaAPIError: [700] Call to cuMemcpyDtoH results in CUDA_ERROR_ILLEGAL_ADDRESS",
    )


@pytest.mark.parametrize(
    "exc",
    [
        _error(
            "CudaAPIError", "[2] Call to cuMemAlloc results in CUDA_ERROR_OUT_OF_MEMORY", code=2
        ),
        _error(
            "CUDARuntimeError", "cudaErrorMemoryAllocation: out of memory", RuntimeError, status=2
        ),
        RuntimeError("CUDA error: out of memory"),
        ValueError("misaligned address in my own allocator"),
        _error("MyError", "failed", ValueError, code=700),  # a code, but not a CUDA error type
        json.JSONDecodeError("x", "y", 0),
        AssertionError("expected CUDA_ERROR_ILLEGAL_ADDRESS in the message"),
        ValueError("CUDA error: an illegal memory access was encountered"),
    ],
)
def test_other_errors_are_not_sticky(exc: BaseException) -> None:
    assert sticky_cuda_error(exc) is None


def test_the_context_lines_name_the_test_and_the_fix() -> None:
    sticky = StickyError(
        "CUDA_ERROR_ILLEGAL_ADDRESS",
        "an illegal memory access was encountered",
        "CudaAPIError: ...",
    )
    nodeid = "tests/test_k.py::test_bad[numba_cuda-256]"
    assert kernel_faults.fail_fast_line(nodeid, sticky, "cupy") == (
        "not run on cupy: this process's CUDA context is unusable since "
        "tests/test_k.py::test_bad[numba_cuda-256] raised CUDA_ERROR_ILLEGAL_ADDRESS (a sticky "
        "CUDA error; see the gpuperf summary)"
    )
    line = kernel_faults.context_summary_line(nodeid, sticky, 3, "gw1")
    assert "3 later test(s) on a GPU backend in that process failed fast" in line
    assert "pytest-xdist worker gw1 was ended so that a fresh worker runs the rest" in line
    assert line.endswith(
        "rerun it alone: pytest 'tests/test_k.py::test_bad[numba_cuda-256]', or find the bad "
        "access with compute-sanitizer: compute-sanitizer --tool memcheck python -m pytest "
        "'tests/test_k.py::test_bad[numba_cuda-256]'"
    )
    alone = kernel_faults.context_summary_line(nodeid, sticky, 0, None)
    assert "failed fast" not in alone
    assert "worker" not in alone
