"""What a kernel's exception means: a broken GPU library, or a CUDA context that is gone.

A plain module: no pytest, and no GPU library is imported. It reads exceptions,
their chains and their tracebacks only. Two kinds of fault are recognised:

- a **library fault**: the exception was raised inside the GPU library's own
  modules (numba-cuda, CuPy, torch), possibly through NumPy or the standard
  library, but not in the caller's code. On the first call of every kernel of
  a backend, that says the environment is broken (a NumPy newer than the
  library supports, say), not the kernels;
- a **sticky CUDA error** (an illegal address, a device-side assert, ...): the
  CUDA context of the process is unusable until the process ends, so every later
  test that touches the GPU in that process would fail for no fault of its own.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from types import TracebackType

#: The GPU libraries, by the module-name prefixes their code runs under.
LIBRARY_MODULES: dict[str, tuple[str, ...]] = {
    "numba_cuda": ("numba_cuda", "numba.cuda"),
    "cupy": ("cupy", "cupyx", "cupy_backends"),
    "torch": ("torch",),
}
#: What a library leans on: frames there are passed over on the way out of the traceback.
_HELPERS = frozenset({"numpy", "numba", "llvmlite", "cuda", "cuda_core", "fastrlock"}) | frozenset(
    sys.stdlib_module_names
)
#: The distributions whose versions explain a fault of each library (cupy: every cupy* wheel).
_DISTRIBUTIONS = {
    "numba_cuda": ("numba-cuda", "numba", "numpy"),
    "cupy": ("cupy", "numpy"),
    "torch": ("torch", "numpy"),
}
_PIP_NAMES = {"numba_cuda": "numba-cuda", "cupy": "cupy", "torch": "torch"}
#: Exception types that carry a CUDA status code (numba-cuda, CuPy, torch).
_CUDA_ERROR_TYPES = frozenset(
    {"CudaAPIError", "CudaDriverError", "CUDARuntimeError", "CUDADriverError", "AcceleratorError"}
)
#: Exception types (or bases) that report CUDA errors: torch's before 2.8 are RuntimeErrors,
#: ``torch.cuda.CudaError``, JAX's ``XlaRuntimeError``. Others (an AssertionError that
#: quotes an error name, say) are not taken for one.
_REPORTING_TYPES = _CUDA_ERROR_TYPES | {"CudaError", "RuntimeError", "XlaRuntimeError"}
_MAX_ERROR = 300
_OUT_OF_MEMORY = re.compile(
    r"out of memory|CUDA_ERROR_OUT_OF_MEMORY|cudaErrorMemoryAllocation", re.I
)


@final
@dataclass(frozen=True)
class StickyKind:
    """One sticky CUDA error, as the driver API, the runtime API and torch spell it."""

    driver: str
    runtime: str
    code: int
    description: str


#: The errors after which, in CUDA's words, "any further CUDA work will return the same
#: error. To continue using CUDA, the process must be terminated and relaunched."
STICKY_ERRORS = (
    StickyKind("CUDA_ERROR_ILLEGAL_ADDRESS", "cudaErrorIllegalAddress", 700,
               "an illegal memory access was encountered"),
    StickyKind("CUDA_ERROR_LAUNCH_TIMEOUT", "cudaErrorLaunchTimeout", 702,
               "the launch timed out and was terminated"),
    StickyKind("CUDA_ERROR_ASSERT", "cudaErrorAssert", 710, "device-side assert triggered"),
    StickyKind("CUDA_ERROR_HARDWARE_STACK_ERROR", "cudaErrorHardwareStackError", 714,
               "hardware stack error"),
    StickyKind("CUDA_ERROR_ILLEGAL_INSTRUCTION", "cudaErrorIllegalInstruction", 715,
               "an illegal instruction was encountered"),
    StickyKind("CUDA_ERROR_MISALIGNED_ADDRESS", "cudaErrorMisalignedAddress", 716,
               "misaligned address"),
    StickyKind("CUDA_ERROR_INVALID_ADDRESS_SPACE", "cudaErrorInvalidAddressSpace", 717,
               "operation not supported on global/shared address space"),
    StickyKind("CUDA_ERROR_INVALID_PC", "cudaErrorInvalidPc", 718, "invalid program counter"),
    StickyKind("CUDA_ERROR_LAUNCH_FAILED", "cudaErrorLaunchFailure", 719,
               "unspecified launch failure"),
)  # fmt: skip


@final
@dataclass(frozen=True)
class StickyError:
    """A sticky CUDA error found in an exception: its driver name and the exception, in a line."""

    name: str
    description: str
    error: str


@final
@dataclass(frozen=True)
class LibraryFault:
    """An exception raised inside a GPU library's own code.

    ``via_numpy``: it was raised in NumPy, called by the library, or it names NumPy.
    """

    library: str
    error: str
    via_numpy: bool


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, shortened for a one-line summary."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it (``raise ... from``) or what it was raised during."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _matches(kind: StickyKind, text: str) -> bool:
    return bool(
        re.search(rf"\b({kind.driver}|{kind.runtime})\b", text)
        or f"CUDA error: {kind.description}" in text
    )


def sticky_cuda_error(exc: BaseException) -> StickyError | None:
    """The sticky CUDA error in ``exc`` or its chain, or None.

    Recognised in the exception types that report CUDA errors (numba-cuda's
    ``CudaAPIError``, CuPy's ``CUDARuntimeError`` and ``CUDADriverError``, torch's
    ``AcceleratorError`` and ``RuntimeError``), by name (``CUDA_ERROR_ILLEGAL_ADDRESS``,
    ``cudaErrorIllegalAddress``), by torch's ``CUDA error: <description>``, and by
    their status code (``.code`` in numba-cuda, ``.status`` in CuPy).
    """
    for link in _chain(exc):
        if not {cls.__name__ for cls in type(link).__mro__} & _REPORTING_TYPES:
            continue
        text = str(link)
        for kind in STICKY_ERRORS:
            if _matches(kind, text):
                return StickyError(kind.driver, kind.description, describe(link))
        if type(link).__name__ in _CUDA_ERROR_TYPES:
            code = _status_code(link)
            for kind in STICKY_ERRORS:
                if code == kind.code:
                    return StickyError(kind.driver, kind.description, describe(link))
    return None


def _status_code(exc: BaseException) -> int | None:
    for attr in ("code", "status"):
        try:
            return int(getattr(exc, attr))
        except (AttributeError, TypeError, ValueError):
            continue
    return None


def _library_of(module: str, filename: str) -> str | None:
    """The GPU library a frame belongs to, by its module name (or a Cython file's path)."""
    if not module and not filename.startswith("/"):  # Cython frames: "cupy/_core/core.pyx"
        module = filename.replace("/", ".")
    for library, prefixes in LIBRARY_MODULES.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return library
    return None


def _frames(tb: TracebackType | None) -> list[tuple[str, str]]:
    """(module name, file name) of each frame, outermost first."""
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((str(tb.tb_frame.f_globals.get("__name__", "")), code.co_filename))
        tb = tb.tb_next
    return frames


def _raised_inside(exc: BaseException) -> tuple[str, bool] | None:
    """(library, passed through NumPy) when ``exc`` was raised inside a GPU library's code.

    Walks out from the innermost frame, over NumPy, Numba's core, the CUDA bindings and
    the standard library; the first other frame must be the library's, not the caller's.
    """
    numpy_seen = False
    for module, filename in reversed(_frames(exc.__traceback__)):
        library = _library_of(module, filename)
        if library is not None:
            return library, numpy_seen
        top = module.split(".")[0]
        if top not in _HELPERS:
            return None
        numpy_seen = numpy_seen or top == "numpy"
    return None


def _numba_user_error(exc: BaseException) -> bool:
    """Numba's own errors (typing, lowering) are about the kernel, unless NumPy lacks a name."""
    named = any(cls.__name__ == "NumbaError" for cls in type(exc).__mro__)
    return named and "module 'numpy' has no attribute" not in str(exc)


def _kernel_or_size_error(exc: BaseException) -> bool:
    """A sticky CUDA error (the kernel's fault) or running out of memory (the size's)."""
    if sticky_cuda_error(exc) is not None:
        return True
    return any(
        "OutOfMemory" in type(link).__name__ or _OUT_OF_MEMORY.search(str(link))
        for link in _chain(exc)
    )


def library_fault(exc: BaseException) -> LibraryFault | None:
    """The library fault in ``exc`` or its chain (see the module docstring), or None.

    A sticky CUDA error and running out of memory are raised inside the library
    too, but say nothing against it: they are never library faults.
    """
    if _kernel_or_size_error(exc):
        return None
    for link in _chain(exc):
        found = _raised_inside(link)
        if found is None or _numba_user_error(link):
            continue
        library, numpy_seen = found
        mentions_numpy = re.search(r"\bnumpy\b", str(link)) is not None
        return LibraryFault(library, describe(link), numpy_seen or mentions_numpy)
    return None


def library_versions(library: str) -> dict[str, str]:
    """The installed versions that explain a fault of ``library`` (package metadata only)."""
    versions: dict[str, str] = {}
    for name in _DISTRIBUTIONS.get(library, (library, "numpy")):
        if name == "cupy":
            for dist in sorted(importlib.metadata.packages_distributions().get("cupy", [])):
                versions.setdefault(dist, importlib.metadata.version(dist))
            continue
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def versions_text(versions: Mapping[str, str]) -> str:
    """``numba-cuda 0.30.4, numba 0.68.0, numpy 2.5.2``."""
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def _older_numpy(version: str | None) -> str:
    """``pip install 'numpy<2.5'`` for numpy 2.5.x."""
    match = re.match(r"(\d+)\.(\d+)", version or "")
    if match is None:
        return "pip install 'numpy<X.Y' (the release before yours)"
    return f"pip install 'numpy<{match.group(1)}.{match.group(2)}'"


def library_fix(fault: LibraryFault, versions: Mapping[str, str]) -> str:
    """The likely fix for a library fault, naming the versions involved."""
    pip = _PIP_NAMES.get(fault.library, fault.library)
    own = next((v for name, v in versions.items() if name.startswith(pip)), None)
    library = f"{pip} {own}" if own else pip
    if fault.via_numpy:
        numpy = versions.get("numpy")
        return (
            f"the installed numpy{' ' + numpy if numpy else ''} is probably newer than {library} "
            f"supports: install an older numpy, e.g. {_older_numpy(numpy)}, or upgrade {pip} "
            f"(pip install -U {pip})"
        )
    return (
        f"{library} fails inside its own code: install versions of it and of what it "
        f"depends on that work together, e.g. pip install -U {pip}"
    )


def broken_environment_line(
    backend: str, faults: list[LibraryFault], versions: Mapping[str, str]
) -> str:
    """The summary line for a backend whose every kernel failed inside its library."""
    first = faults[0]
    pip = _PIP_NAMES.get(first.library, first.library)
    others = {fault.error for fault in faults} - {first.error}
    also = f" (and {len(others)} other message(s))" if others else ""
    return (
        f"{backend}: the GPU environment looks broken: all {len(faults)} tests that ran a "
        f"kernel on {backend} failed on its first call, inside {pip}: {first.error}{also}; "
        f"{versions_text(versions)}. Likely fix: {library_fix(first, versions)}. "
        "Run `gpuperf doctor` to check this machine."
    )


def broken_backends(
    observations: Iterable[tuple[str, LibraryFault | None]],
) -> dict[str, list[LibraryFault]]:
    """Backends whose environment looks broken, with their faults.

    ``observations``: per test that called a kernel, its backend and the library fault
    of its first call (None when the first call passed or failed otherwise). A backend
    counts when at least 2 tests ran and every one of them failed that way.
    """
    faults: dict[str, list[LibraryFault]] = {}
    healthy: set[str] = set()
    for backend, fault in observations:
        if fault is None:
            healthy.add(backend)
        else:
            faults.setdefault(backend, []).append(fault)
    return {b: found for b, found in faults.items() if len(found) >= 2 and b not in healthy}


def rerun_advice(nodeid: str) -> str:
    """How to look at the test that broke the context, alone or under compute-sanitizer."""
    quoted = shlex.quote(nodeid)
    return (
        f"rerun it alone: pytest {quoted}, or find the bad access with compute-sanitizer: "
        f"compute-sanitizer --tool memcheck python -m pytest {quoted}"
    )


def fail_fast_line(nodeid: str, sticky: StickyError, backend: str) -> str:
    """The one-line failure of a later test whose process has no usable CUDA context."""
    return (
        f"not run on {backend}: this process's CUDA context is unusable since {nodeid} raised "
        f"{sticky.name} (a sticky CUDA error; see the gpuperf summary)"
    )


def context_summary_line(
    nodeid: str, sticky: StickyError, failed_fast: int, ended_worker: str | None
) -> str:
    """The summary line for a test that broke its process's CUDA context."""
    later = (
        f"; {failed_fast} later test(s) on a GPU backend in that process failed fast"
        if failed_fast
        else ""
    )
    ended = (
        f"; pytest-xdist worker {ended_worker} was ended so that a fresh worker runs the rest"
        if ended_worker
        else ""
    )
    return (
        f"CUDA context broken by {nodeid}: it raised {sticky.name} ({sticky.description}), "
        f"a sticky error that leaves the process's CUDA context unusable until the process "
        f"ends{later}{ended}. To debug: {rerun_advice(nodeid)}"
    )
