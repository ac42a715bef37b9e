"""A GPU library's performance warning under ``filterwarnings = error``: recorded, not a failure.

The inner runs register ``fakegpu`` through our hook. Its kernel warns like numba-cuda
does on a real GPU for a small launch: a ``NumbaPerformanceWarning`` (here a stand-in of
that name and module) whose message carries the terminal escapes numba puts around it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import fakeclock_plugin
import numpy as np  # noqa: F401  (imported here first, for the in-process pytester runs)
import pytest

CONFTEST = """
    import warnings

    from fakeclock_plugin import advance

    from pytest_gpuperf import HostBackend


    class NumbaPerformanceWarning(UserWarning):
        "Stands in for numba-cuda's class of that name."


    NumbaPerformanceWarning.__module__ = "numba.cuda.core.errors"

    GRID = (
        "\\x1b[1mGrid size 2 will likely result in GPU under-utilization due to low "
        "occupancy.\\x1b[0m"
    )


    def small_launch(a):
        "A kernel that works, and warns as numba-cuda does for a grid of 2 blocks."
        warnings.warn(NumbaPerformanceWarning(GRID))
        advance(1_000)
        return a + 1


    class FakeGpu(HostBackend):
        name = "fakegpu"
        is_gpu = True

        def synchronize(self):
            advance(1_000)

        def make_concrete(self, result):
            self.synchronize()
            return result


    def pytest_gpuperf_register_backends(config):
        return [FakeGpu()]
"""

TESTS = """
    import warnings

    import pytest
    from conftest import small_launch

    from fakeclock_plugin import advance


    def reference(a):
        advance(10_000)
        return a + 1


    def user_warning(a):
        warnings.warn("the kernel's own warning")
        return a + 1


    def escapes(a):
        raise ValueError("\\x1b[31mbad\\x1b[0m input \\x1b]0;title\\x07here")


    @pytest.mark.gpuperf(reference=reference)
    def test_small(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(256, "float32", seed=1)
        cuda_sync_timer(backend.select(fakegpu=small_launch), a)


    @pytest.mark.gpuperf(reference=reference)
    def test_other_warning(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(256, "float32", seed=1)
        cuda_sync_timer(backend.select(fakegpu=user_warning), a)


    @pytest.mark.gpuperf(reference=reference)
    def test_escapes(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(256, "float32", seed=1)
        cuda_sync_timer(backend.select(fakegpu=escapes), a)
"""

TEXT = (
    "NumbaPerformanceWarning: Grid size 2 will likely result in GPU under-utilization "
    "due to low occupancy."
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    fakeclock_plugin.makeconftest(pytester, CONFTEST)
    pytester.makepyfile(test_perf=TESTS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.syspathinsert()
    return pytester


def test_plain_pytest_passes_and_shows_the_warning_once_in_the_warnings_summary(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest(
        "--gpuperf-backends=fakegpu", "--junitxml=junit.xml", "-k", "test_small"
    )
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*warnings summary*", "test_perf.py::test_small[[]fakegpu[]]", f"*: {TEXT}"]
    )
    assert "\x1b" not in result.stdout.str()
    junit = ET.parse(project.path / "junit.xml")
    assert [
        p.get("value")
        for p in junit.iter("property")
        if p.get("name") == "gpuperf_performance_warning"
    ] == [TEXT]


def test_gpuperf_records_it_once_per_test_in_every_report(project: pytest.Pytester) -> None:
    result = project.runpytest(
        "--gpuperf",
        "--gpuperf-backends=fakegpu",
        "--gpuperf-json=run.json",
        "--gpuperf-markdown=run.md",
        "--junitxml=junit.xml",
        "-k",
        "test_small",
    )
    result.assert_outcomes(passed=1, warnings=1)  # many samples, one warning shown
    result.stdout.fnmatch_lines(["why:", f"  *test_perf.py::test_small [[]fakegpu[]]: *{TEXT}"])
    assert "\x1b" not in result.stdout.str()
    report = json.loads((project.path / "run.json").read_text(encoding="utf-8"))
    (entry,) = report["benchmarks"]
    assert entry["extra_info"]["gpuperf"]["performance_warnings"] == [TEXT]
    markdown = (project.path / "run.md").read_text(encoding="utf-8")
    assert markdown.count(TEXT) == 1
    junit = ET.parse(project.path / "junit.xml")
    values = [
        p.get("value")
        for p in junit.iter("property")
        if p.get("name") == "gpuperf_performance_warning"
    ]
    assert values == [TEXT]
    for name in ("run.json", "run.md", "junit.xml"):
        assert "\x1b" not in (project.path / name).read_text(encoding="utf-8")


def test_other_warnings_still_fail_the_kernel(project: pytest.Pytester) -> None:
    result = project.runpytest("--gpuperf-backends=fakegpu", "-k", "test_other_warning")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*KernelError: user_warning on fakegpu raised UserWarning: the kernel's own warning"]
    )


def test_a_users_ignore_filter_still_ignores_it(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nfilterwarnings =\n    error\n    ignore:.*Grid size 2\n")
    result = project.runpytest(
        "--gpuperf", "--gpuperf-backends=fakegpu", "--gpuperf-json=run.json", "-k", "test_small"
    )
    result.assert_outcomes(passed=1, warnings=0)
    report = json.loads((project.path / "run.json").read_text(encoding="utf-8"))
    assert report["benchmarks"][0]["extra_info"]["gpuperf"]["performance_warnings"] == []


def test_a_kernel_errors_terminal_escapes_are_stripped(project: pytest.Pytester) -> None:
    result = project.runpytest("--gpuperf-backends=fakegpu", "-k", "test_escapes")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*KernelError: escapes on fakegpu raised ValueError: bad input here"]
    )
