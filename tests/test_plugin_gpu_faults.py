"""A broken GPU environment and a broken CUDA context, through pytest: only fakes, no GPU.

Each run is a subprocess whose folder holds a fake ``numba_cuda`` package (it
shadows the real one there, so the tracebacks really pass through a module named
``numba_cuda``) and a fake GPU backend registered through the plugin's hook:

- ``numba_cuda.launch`` fails on every kernel's first call as numba-cuda 0.30.4
  did with numpy 2.5.2 (a NumPy name that is gone, looked up inside the library);
- ``numba_cuda.cudadrv`` is a fake driver: a kernel that writes out of bounds
  raises CUDA_ERROR_ILLEGAL_ADDRESS, and from then on every allocation and launch
  in that process raises it too, as a real CUDA context does after a sticky error.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import numpy
import pytest

if TYPE_CHECKING:
    from pathlib import Path

#: Subprocess runs skip Hypothesis's plugin: importing it costs seconds, and nothing uses it.
FAST_START = ("-p", "no:hypothesispytest", "--gpuperf-backends=numpy,fakegpu")

LAUNCH = """
    import os

    import numpy

    CALLS = {}


    def compile_and_launch(kernel, *args):
        "Compile (which looks up a NumPy name that numpy 2.5 removed), then launch."
        numpy.row_stack_removed_in_a_newer_numpy
        return kernel(*args)


    def fails_after_the_first_call(kernel, *args):
        "The first launch of each test works; later ones fail inside the library."
        test = os.environ["PYTEST_CURRENT_TEST"]
        CALLS[test] = CALLS.get(test, 0) + 1
        if CALLS[test] > 1:
            numpy.row_stack_removed_in_a_newer_numpy
        return kernel(*args)
"""

CUDADRV = """
    class CudaDriverError(Exception):
        pass


    class CudaAPIError(CudaDriverError):
        "As numba-cuda spells a driver error: [code] Call to ... results in NAME."

        def __init__(self, code, msg):
            self.code = code
            self.msg = msg
            super().__init__(code, msg)

        def __str__(self):
            return f"[{self.code}] {self.msg}"


    BROKEN = []


    def _check(call):
        if BROKEN:
            raise CudaAPIError(700, f"Call to {call} results in CUDA_ERROR_ILLEGAL_ADDRESS")


    def mem_alloc(nbytes):
        _check("cuMemAlloc")


    def launch(kernel, *args):
        _check("cuLaunchKernel")
        return kernel(*args)


    def write_out_of_bounds(*args):
        BROKEN.append(True)
        _check("cuCtxSynchronize")
"""

CONFTEST = """
    from pytest_gpuperf import HostBackend

    from numba_cuda import cudadrv


    class FakeGpu(HostBackend):
        "A real (not simulated) GPU backend on host arrays; it allocates through the fake driver."

        name = "fakegpu"
        is_gpu = True

        def to_device(self, host):
            cudadrv.mem_alloc(host.nbytes)
            return super().to_device(host)


    def pytest_gpuperf_register_backends(config):
        return [FakeGpu()]
"""

BROKEN_LIBRARY_TESTS = """
    import pytest

    from numba_cuda.launch import compile_and_launch


    def add_one(a):
        return a + 1


    def add_one_gpu(a):
        return compile_and_launch(add_one, a)


    @pytest.mark.gpuperf(reference=add_one)
    @pytest.mark.parametrize("n", [8, 16, 32])
    def test_add_one(backend, gpu_array, cuda_sync_timer, n):
        kernel = backend.select(numpy=add_one, fakegpu=add_one_gpu)
        cuda_sync_timer(kernel, gpu_array.random(n, "float32", seed=1))
"""

STICKY_TESTS = """
    import pytest

    from numba_cuda import cudadrv


    def add_one(a):
        return a + 1


    def add_one_gpu(a):
        return cudadrv.launch(add_one, a)


    def out_of_bounds(a):
        return cudadrv.launch(cudadrv.write_out_of_bounds, a)


    @pytest.mark.gpuperf(reference=add_one)
    def test_1_before(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(numpy=add_one, fakegpu=add_one_gpu)
        cuda_sync_timer(kernel, gpu_array.random(8, "float32", seed=1))


    @pytest.mark.gpuperf(reference=add_one)
    def test_2_bad(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(numpy=add_one, fakegpu=out_of_bounds)
        cuda_sync_timer(kernel, gpu_array.random(8, "float32", seed=1))


    @pytest.mark.gpuperf(reference=add_one)
    @pytest.mark.parametrize("n", [8, 16, 32])
    def test_3_after(backend, gpu_array, cuda_sync_timer, n):
        kernel = backend.select(numpy=add_one, fakegpu=add_one_gpu)
        cuda_sync_timer(kernel, gpu_array.random(n, "float32", seed=1))
"""

INI = """
    [pytest]
    addopts = --strict-markers
    filterwarnings = error
    xfail_strict = true
    gpuperf_max_time = 0.05s
"""

BAD = "test_sticky.py::test_2_bad[fakegpu]"
KERNEL_ERROR = (
    "KernelError: out_of_bounds on fakegpu raised CudaAPIError: [700] Call to cuCtxSynchronize "
    "results in CUDA_ERROR_ILLEGAL_ADDRESS"
)
SECTION = "*-- gpuperf: GPU faults --*"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A folder with the fake ``numba_cuda`` package, the fake GPU backend and the ini."""
    # CI and BUILD_NUMBER make pytest print its short summary uncut: the counts below
    # read the output the same on a developer's machine and in CI.
    for name in (
        "PYTEST_XDIST_WORKER",
        "PYTEST_ADDOPTS",
        "NUMBA_ENABLE_CUDASIM",
        "CI",
        "BUILD_NUMBER",
    ):
        monkeypatch.delenv(name, raising=False)
    package = pytester.mkpydir("numba_cuda")
    (package / "launch.py").write_text(_dedent(LAUNCH))
    (package / "cudadrv.py").write_text(_dedent(CUDADRV))
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    return pytester


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).lstrip()


def _older_numpy() -> str:
    major, minor = numpy.__version__.split(".")[:2]
    return f"pip install 'numpy<{major}.{minor}'"


def _fault_lines(result: pytest.RunResult) -> list[str]:
    """The lines of the ``gpuperf: GPU faults`` section."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "gpuperf: GPU faults" in line)
    section = []
    for line in lines[start + 1 :]:
        if line.startswith(("==", "--")):
            break
        section.append(line)
    return section


MODES = {
    "plain": (),
    "gpuperf": ("--gpuperf",),
    "xdist": ("-n", "2"),
    "xdist-gpuperf": ("-n", "2", "--gpuperf"),
}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_first_call_failing_inside_the_library_says_the_environment_is_broken(
    project: pytest.Pytester, mode: str
) -> None:
    project.makepyfile(test_broken_library=BROKEN_LIBRARY_TESTS)
    result = project.runpytest_subprocess(*FAST_START, *MODES[mode])
    result.assert_outcomes(passed=3, failed=3)
    lines = _fault_lines(result)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(
        "fakegpu: the GPU environment looks broken: all 3 tests that ran a kernel on fakegpu "
        "failed on its first call, inside numba-cuda: AttributeError: module 'numpy' has no "
        "attribute 'row_stack_removed_in_a_newer_numpy'; numba-cuda "
    )
    assert f"numpy {numpy.__version__}. Likely fix: the installed numpy" in line
    assert _older_numpy() in line
    assert line.count("row_stack_removed_in_a_newer_numpy") == 1
    assert line.endswith("Run `gpuperf doctor` to check this machine.")


def test_one_kernel_that_runs_clears_the_environment(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_broken_library=BROKEN_LIBRARY_TESTS.replace(
            "fakegpu=add_one_gpu)",
            "fakegpu=add_one if n == 8 else add_one_gpu)",
        )
    )
    result = project.runpytest_subprocess(*FAST_START)
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.no_fnmatch_line(SECTION)


def test_kernels_whose_first_call_passed_are_not_the_environment(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_broken_library=BROKEN_LIBRARY_TESTS.replace(
            "import compile_and_launch", "import fails_after_the_first_call"
        ).replace("return compile_and_launch(", "return fails_after_the_first_call(")
    )
    result = project.runpytest_subprocess(*FAST_START, "--gpuperf")
    result.assert_outcomes(passed=3, failed=3)
    assert result.stdout.str().count("(in timed sample 1, after the first call had passed") == 3
    result.stdout.no_fnmatch_line(SECTION)


def test_kernels_that_fail_in_their_own_code_are_not_the_environment(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_own_bug="""
        import pytest

        def add_one(a):
            return a + 1

        def buggy(a):
            raise IndexError("index 8 is out of bounds")

        @pytest.mark.gpuperf(reference=add_one)
        @pytest.mark.parametrize("n", [8, 16])
        def test_bug(backend, gpu_array, cuda_sync_timer, n):
            kernel = backend.select(numpy=add_one, fakegpu=buggy)
            cuda_sync_timer(kernel, gpu_array.random(n, "float32", seed=1))
        """
    )
    result = project.runpytest_subprocess(*FAST_START)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.no_fnmatch_line(SECTION)


def _check_sticky_summary(result: pytest.RunResult, failed_fast: int, worker: str | None) -> None:
    lines = _fault_lines(result)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(
        f"CUDA context broken by {BAD}: it raised CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory "
        "access was encountered), a sticky error that leaves the process's CUDA context "
        "unusable until the process ends"
    )
    if failed_fast:
        assert f"; {failed_fast} later test(s) on a GPU backend in that process failed fast" in line
    else:
        assert "failed fast" not in line
    if worker:
        assert f"; pytest-xdist worker {worker} was ended so that a fresh worker runs" in line
    else:
        assert "was ended" not in line
    assert line.endswith(
        f"rerun it alone: pytest '{BAD}', or find the bad access with compute-sanitizer: "
        f"compute-sanitizer --tool memcheck python -m pytest '{BAD}'"
    )


@pytest.mark.parametrize("mode", ["plain", "gpuperf"])
def test_after_a_sticky_error_later_gpu_tests_fail_fast_naming_the_test(
    project: pytest.Pytester, mode: str
) -> None:
    project.makepyfile(test_sticky=STICKY_TESTS)
    result = project.runpytest_subprocess(*FAST_START, "-p", "no:randomly", *MODES[mode])
    result.assert_outcomes(passed=6, failed=1, errors=3)
    assert f"FAILED {BAD} - " in result.stdout.str()
    assert KERNEL_ERROR in result.stdout.str()
    # each later GPU test: one line naming the test, no traceback from the allocation
    expected = (
        "not run on fakegpu: this process's CUDA context is unusable since "
        f"{BAD} raised CUDA_ERROR_ILLEGAL_ADDRESS (a sticky CUDA error; see the gpuperf summary)"
    )
    assert result.outlines.count(expected) == 3, result.stdout.str()
    assert "cuMemAlloc" not in result.stdout.str()
    _check_sticky_summary(result, failed_fast=3, worker=None)


def _junit_cases(path: Path) -> dict[str, list[str]]:
    """Test case name -> the kinds of its result children (failure, error, skipped)."""
    cases: dict[str, list[str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "")
        assert name not in cases, f"{name} appears twice in the JUnit XML"
        cases[name] = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
    return cases


@pytest.mark.parametrize("extra", [(), ("--gpuperf", "--gpuperf-json=run.json")])
def test_under_xdist_the_worker_ends_and_a_fresh_one_runs_the_rest(
    project: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    project.makepyfile(test_sticky=STICKY_TESTS)
    result = project.runpytest_subprocess(*FAST_START, "-n", "1", "--junitxml=junit.xml", *extra)
    # the fresh worker has a good context: the later tests pass there
    result.assert_outcomes(passed=9, failed=1)
    out = result.stdout.str()
    assert "crashed while running" not in out
    assert "not run on fakegpu" not in out
    assert KERNEL_ERROR in out  # the test's own failure reached the report
    _check_sticky_summary(result, failed_fast=0, worker="gw0")
    cases = _junit_cases(project.path / "junit.xml")
    assert len(cases) == 10
    assert cases["test_2_bad[fakegpu]"] == ["failure"]
    assert {name: kinds for name, kinds in cases.items() if kinds} == {
        "test_2_bad[fakegpu]": ["failure"]
    }
    lastfailed = project.path / ".pytest_cache" / "v" / "cache" / "lastfailed"
    assert set(json.loads(lastfailed.read_text())) == {BAD}  # what --lf reruns
    if extra:
        # the records measured by the ended worker reached the report
        assert "ended without handing over" not in out
        report = (project.path / "run.json").read_text()
        assert "test_1_before[fakegpu]" in report
        assert "test_3_after[fakegpu-8]" in report


@pytest.mark.parametrize(
    "options",
    [("-n", "2", "--dist", "loadscope"), ("-n", "1", "--max-worker-restart=0"), ("-n", "1", "-x")],
    ids=["loadscope", "no-restarts", "exitfirst"],
)
def test_a_worker_is_not_ended_where_xdist_would_rerun_or_stop(
    project: pytest.Pytester, options: tuple[str, ...]
) -> None:
    project.makepyfile(test_sticky=STICKY_TESTS)
    result = project.runpytest_subprocess(*FAST_START, *options)
    out = result.stdout.str()
    assert "crashed" not in out
    assert "was ended" not in out
    if "-x" in options:
        result.assert_outcomes(passed=3, failed=1)
    else:
        result.assert_outcomes(passed=6, failed=1, errors=3)
        _check_sticky_summary(result, failed_fast=3, worker=None)


RAW_CUDA_TEST = """
    from numba_cuda import cudadrv


    def test_0_raw_cuda():
        "A test that does not use the plugin and breaks the context."
        cudadrv.write_out_of_bounds()


    def test_0_quotes_the_error_name():
        "Not a CUDA error: an assertion that quotes one."
        assert "CUDA_ERROR_ILLEGAL_ADDRESS" == "cudaErrorIllegalAddress"
"""


def test_a_context_broken_outside_the_plugin_is_named_by_the_tests_that_fail_fast(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_0=RAW_CUDA_TEST, test_sticky=STICKY_TESTS)
    result = project.runpytest_subprocess(*FAST_START, "-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=2, errors=5)
    raw = "test_0.py::test_0_raw_cuda"
    assert result.stdout.str().count(f"unusable since {raw} raised CUDA_ERROR_ILLEGAL_ADDRESS") == 5
    lines = _fault_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"CUDA context broken by {raw}: it raised CUDA_ERROR_ILLEGAL")
    assert "; 5 later test(s) on a GPU backend in that process failed fast" in lines[0]


@pytest.mark.parametrize("options", [(), ("-n", "1")], ids=["solo", "xdist"])
def test_a_suite_that_does_not_use_the_plugin_hears_nothing(
    project: pytest.Pytester, options: tuple[str, ...]
) -> None:
    project.makepyfile(test_0=RAW_CUDA_TEST)
    result = project.runpytest_subprocess("-p", "no:hypothesispytest", *options)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    result.stdout.no_fnmatch_line(SECTION)
    assert "CUDA context" not in out
    assert "crashed" not in out
