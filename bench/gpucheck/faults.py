"""The faults a user meets in the first hour on a GPU runner, run on purpose and recorded.

Each fault runs in its own process, with a time limit, and the step keeps its
exit status and key lines. The step is ``ok`` when the plugin behaved as
issue 18 asks, ``FAILED`` when it did not; what it expected is in its summary.

- **A broken GPU library**: numba-cuda 0.30.4 under numpy 2.5 fails every kernel
  on ``numpy.row_stack``. A ``sitecustomize.py`` on ``PYTHONPATH`` removes it,
  and ``gpuperf doctor`` must call numba_cuda broken (exit 1).
- **An illegal address, then a good kernel** in the same process: a numba-cuda
  kernel writes far out of bounds, which leaves the CUDA context unusable; the
  next test must fail naming the test that broke the context.
- **An oversized allocation**: ``gpu_array.zeros`` of twice the device's memory
  must fail the test with the sizes, not get the process killed. It runs last,
  and the kernel's OOM killer is told to prefer it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from gpucheck.steps import PYTHON, Budget, Context, Step, key_lines, out_of_time, run

NEEDS_GPU = "needs a CUDA device"

#: Removes ``numpy.row_stack`` at start-up, as numpy 2.5 did, on every Python it runs in.
BROKEN_NUMPY = '''\
"""Reproduce numpy 2.5 for numba-cuda 0.30.4: ``numpy.row_stack`` is gone."""
import numpy

numpy.__dict__.pop("row_stack", None)
_getattr = numpy.__dict__.get("__getattr__")


def __getattr__(name):
    if name == "row_stack" or _getattr is None:
        raise AttributeError(f"module 'numpy' has no attribute {name!r}")
    return _getattr(name)


numpy.__getattr__ = __getattr__
'''

STICKY_TESTS = '''\
"""A kernel that corrupts the CUDA context, then a good one in the same process."""
import pytest
from numba import cuda

#: Far past any allocation: 4 TiB of float32.
OFFSET = 1 << 40


@cuda.jit
def _scribble(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i + OFFSET] = 1.0


@cuda.jit
def _add_one(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] += 1.0


def scribble(a):
    _scribble[1, 32](a)
    return a


def add_one(a):
    _add_one[1, 32](a)
    return a


def add_one_reference(a):
    return a + 1


@pytest.mark.gpuperf(backends=("numba_cuda",))
def test_1_writes_out_of_bounds(backend, gpu_array, cuda_sync_timer):
    cuda_sync_timer(scribble, gpu_array.zeros(32, "float32"))


@pytest.mark.gpuperf(reference=add_one_reference, output=0, backends=("numba_cuda",))
def test_2_good_kernel_after(backend, gpu_array, cuda_sync_timer):
    cuda_sync_timer(add_one, gpu_array.zeros(32, "float32"))
'''

OVERSIZED_TESTS = '''\
"""An allocation of twice the device's memory (the host copy is larger than most hosts)."""
import pytest


def device_bytes(name):
    if name == "cupy":
        import cupy

        return int(cupy.cuda.runtime.memGetInfo()[1])
    from numba import cuda

    return int(cuda.current_context().get_memory_info()[1])


@pytest.mark.gpuperf(backends=("numba_cuda", "cupy"))
def test_twice_the_device(backend, gpu_array):
    gpu_array.zeros(2 * device_bytes(backend.name) // 4, "float32")
'''

#: Lines of a fault's output worth keeping: pytest's error lines, outcomes and summary.
FAULT_LINES = (
    r"^E |^(FAILED|ERROR|INTERNALERROR)|Killed|MemoryError|(passed|failed|error).* in [0-9.]+s"
)


def _project(work: Path, name: str, tests: str) -> Path:
    """A throw-away pytest project: an empty ``pytest.ini`` (so it is the rootdir), one file."""
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (folder / f"test_{name}.py").write_text(tests, encoding="utf-8")
    return folder


def _pytest() -> list[str]:
    """pytest in the fault's folder: its file order, no cache, the failures summarized."""
    return [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-rfE", "-q"]


def broken_numpy_env(env: dict[str, str], work: Path) -> dict[str, str]:
    """``env`` with a ``sitecustomize.py`` first on ``PYTHONPATH`` that removes ``row_stack``."""
    folder = work / "broken_numpy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(BROKEN_NUMPY, encoding="utf-8")
    paths = (str(folder), env.get("PYTHONPATH"))
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


#: Run under the broken numpy: says whether the breakage was reproduced.
PROBE = "import numpy; print('row_stack gone:', not hasattr(numpy, 'row_stack'))"


def broken_library_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """``gpuperf doctor`` on a numpy without ``row_stack``: numba_cuda must be broken."""
    name = "fault: doctor with a broken GPU library (numpy.row_stack removed)"
    if not ctx.gpu:
        return Step(name, "skipped", NEEDS_GPU)
    limit = budget.limit(90, keep=keep)
    if limit < 20:
        return out_of_time(name, 20, budget)
    broken_env = broken_numpy_env(ctx.env, ctx.work)
    probe = run([PYTHON, "-c", PROBE], cwd=ctx.work, env=broken_env, timeout=30)
    done = run(
        [PYTHON, "-m", "pytest_gpuperf.cli", "doctor", "--json"],
        cwd=ctx.work,
        env=broken_env,
        timeout=limit,
    )
    ctx.save_log("fault-broken-library", done)
    return judge_broken_library(name, probe.output, done.status, done.output, done.seconds)


def judge_broken_library(
    name: str, probe: str, status: int, output: str, seconds: float | None = None
) -> Step:
    """ok when the doctor exits 1 and names numba_cuda broken; the probe says it was reproduced."""
    if "row_stack gone: True" not in probe:
        return Step(name, "FAILED", "the breakage was not reproduced", probe.splitlines()[-10:])
    try:
        report = json.loads(output[output.index("{") : output.rindex("}") + 1])
        broken = list(report.get("broken", []))
        lines = [
            f"{c['name']}: {c['status']}: {c['detail']}"
            + (f"; fix: {c['fix']}" if c.get("fix") else "")
            for c in report.get("backends", [])
            if c["status"] != "ok" or c["name"] in ("numba_cuda", "cupy")
        ]
    except (ValueError, KeyError, TypeError):
        broken, lines = [], key_lines(output, FAULT_LINES)
    ok = status == 1 and "numba_cuda" in broken
    summary = (
        f"exit {status}; broken: {', '.join(broken) or 'nothing'} "
        "(expected: exit 1, numba_cuda broken)"
    )
    return Step(name, "ok" if ok else "FAILED", summary, lines, seconds)


def sticky_error_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """An illegal-address kernel, then a good one: the second must name the first."""
    name = "fault: illegal address, then a good kernel (numba_cuda, one process)"
    if not ctx.gpu:
        return Step(name, "skipped", NEEDS_GPU)
    limit = budget.limit(90, keep=keep)
    if limit < 20:
        return out_of_time(name, 20, budget)
    folder = _project(ctx.work, "sticky", STICKY_TESTS)
    cmd = [*_pytest(), "--gpuperf-backends=numba_cuda"]
    done = run(cmd, cwd=folder, env=ctx.env, timeout=limit)
    ctx.save_log("fault-sticky-error", done)
    return judge_sticky_error(name, done.exit_text(), done.status, done.output, done.seconds)


def judge_sticky_error(
    name: str, exit_text: str, status: int, output: str, seconds: float | None = None
) -> Step:
    """ok when both tests failed, the first on the illegal address, the second naming the first."""
    section = failure_section(output, "test_2_good_kernel_after")
    illegal = "ILLEGAL_ADDRESS" in output
    named = "test_1_writes_out_of_bounds" in section
    ok = status == 1 and illegal and named
    summary = (
        f"{exit_text}; illegal address reported: {'yes' if illegal else 'no'}; the next test "
        f"names the one that broke the context: {'yes' if named else 'no'} "
        "(expected: exit 1, yes, yes)"
    )
    return Step(name, "ok" if ok else "FAILED", summary, key_lines(output, FAULT_LINES), seconds)


def failure_section(output: str, test: str) -> str:
    """The text pytest printed for ``test``'s failure (its ``____ test ____`` block), or ``""``."""
    match = re.search(rf"^_+ {re.escape(test)}\S* _+$", output, flags=re.MULTILINE)
    if match is None:
        return ""
    rest = output[match.end() :]
    end = re.search(r"^(_+ \S+ _+|=+ .* =+)$", rest, flags=re.MULTILINE)
    return rest[: end.start()] if end else rest


def oversized_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """``gpu_array.zeros`` of twice the device: the test must fail with the sizes."""
    name = "fault: allocation of twice the device's memory"
    if not ctx.gpu:
        return Step(name, "skipped", NEEDS_GPU)
    limit = budget.limit(90, keep=keep)
    if limit < 20:
        return out_of_time(name, 20, budget)
    folder = _project(ctx.work, "oversized", OVERSIZED_TESTS)
    done = run(
        [*_pytest(), "--gpuperf-backends=numba_cuda,cupy"],
        cwd=folder,
        env=ctx.env,
        timeout=limit,
        oom_first=True,
    )
    ctx.save_log("fault-oversized", done)
    return judge_oversized(name, done.exit_text(), done.status, done.output, done.seconds)


def judge_oversized(
    name: str, exit_text: str, status: int, output: str, seconds: float | None = None
) -> Step:
    """ok when pytest itself ended (exit 1) with an out-of-memory failure naming the sizes."""
    oom = re.search(r"OutOfMemory|(device|host) memory", output) is not None
    ok = status == 1 and oom
    summary = (
        f"{exit_text}; out-of-memory failure reported: {'yes' if oom else 'no'} "
        "(expected: exit 1, yes; not killed)"
    )
    return Step(name, "ok" if ok else "FAILED", summary, key_lines(output, FAULT_LINES), seconds)
