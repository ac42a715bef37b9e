"""The ``--gpuperf-json`` report, read back by pytest-benchmark, and our facts in its runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import fakeclock_plugin
import pytest
from pytest_benchmark.stats import Stats

from pytest_gpuperf.machine import facts as machine

KERNELS = """
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(5_000_000)
        return a * 2

    def kernel(a):
        advance(1_000_000)
        return a * 2

    @pytest.mark.gpuperf(reference=reference)
    @pytest.mark.parametrize("n", [8, 16])
    def test_double(backend, gpu_array, cuda_sync_timer, n):
        cuda_sync_timer(kernel, gpu_array.random(n, "float32"))

    def test_timed(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(kernel, gpu_array.random(8, "float32"))
"""

#: Subprocess runs skip Hypothesis's plugin: importing it costs seconds, and nothing uses it.
FAST_START = ("-p", "no:hypothesispytest")


@pytest.fixture
def report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A --gpuperf run of three measured tests on numpy, written with --gpuperf-json."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_kernels=KERNELS)
    path = pytester.path / "out" / "run.json"
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=numpy", f"--gpuperf-json={path}")
    result.assert_outcomes(passed=3)
    return path


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {bench["name"]: bench for bench in data["benchmarks"]}


def test_report_has_pytest_benchmark_layout(report: Path) -> None:
    data = json.loads(report.read_text())
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(data)
    info = data["machine_info"]
    for key in ("node", "processor", "machine", "python_version", "release", "system", "cpu"):
        assert key in info, key
    assert info["gpuperf"]["fingerprint"] == machine.fingerprint(machine.machine_info())
    assert "numpy" in info["gpuperf"]["versions"]
    assert isinstance(data["commit_info"], dict)
    assert data["gpuperf"]["schema"] == 1
    assert sorted(by_name(data)) == [
        "test_double[numpy-16]",
        "test_double[numpy-8]",
        "test_timed[numpy]",
    ]


def test_stats_use_pytest_benchmark_field_names_and_keep_raw_samples(report: Path) -> None:
    bench = by_name(json.loads(report.read_text()))["test_double[numpy-8]"]
    assert bench["fullname"] == "test_kernels.py::test_double[numpy-8]"
    assert bench["group"] == "test_kernels.py::test_double[8]"
    assert bench["params"] == {"backend": "numpy", "n": 8}
    stats = bench["stats"]
    assert set(Stats.fields) <= set(stats)
    assert stats["data"] == [pytest.approx(1e-3)] * stats["rounds"]
    assert stats["rounds"] >= 10
    assert stats["median"] == pytest.approx(1e-3)
    assert stats["iterations"] == 1


def test_gpuperf_extras(report: Path) -> None:
    benches = by_name(json.loads(report.read_text()))
    extra = benches["test_double[numpy-16]"]["extra_info"]["gpuperf"]
    assert extra["backend"] == "numpy"
    assert extra["kernel"] == "kernel"
    assert extra["reference"] == "reference"
    assert extra["speedup"] == {
        "value": pytest.approx(5.0),
        "low": pytest.approx(5.0),
        "high": pytest.approx(5.0),
    }
    assert extra["ratios"] == [pytest.approx(5.0)] * len(extra["ratios"])
    assert extra["verdict"] == "new"
    assert extra["passed"] is True
    assert extra["first_call_s"] == pytest.approx(1e-3)
    assert extra["shapes"] == [[16]]
    assert extra["dtypes"] == ["float32"]
    assert extra["reference_stats"]["median"] == pytest.approx(5e-3)
    timed = benches["test_timed[numpy]"]["extra_info"]["gpuperf"]
    assert timed["verdict"] == "timed"
    assert timed["speedup"] is None
    assert timed["ratios"] == []


def test_pytest_benchmark_compare_reads_the_report(report: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", str(report)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for name in ("test_double[numpy-8]", "test_double[numpy-16]", "test_timed[numpy]"):
        assert name in result.stdout, result.stdout


BENCHMARK_TEST = """
    def test_sum(benchmark):
        benchmark(sum, range(10))
"""

IMPORT_PROBE = """
    import sys

    def pytest_unconfigure(config):
        heavy = sorted(m for m in ("numba", "numba.cuda", "cupy") if m in sys.modules)
        print(f"heavy modules: {heavy}")
"""


def _benchmark_machine_info(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    path = pytester.path / "bench.json"
    result = pytester.runpytest(f"--benchmark-json={path}", "--benchmark-max-time=0.001", *args)
    result.assert_outcomes(passed=1)
    info: dict[str, Any] = json.loads(path.read_text())["machine_info"]
    return info


def test_benchmark_machine_info_gets_our_facts_under_gpuperf(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(BENCHMARK_TEST)
    ours = _benchmark_machine_info(pytester, "--gpuperf", "--gpuperf-backends=numpy")["gpuperf"]
    assert ours["fingerprint"] == machine.fingerprint(machine.machine_info())
    assert ours["gpu_probed"] is True
    assert ours["machine"]["cpu_count"] is not None
    assert "numpy" in ours["versions"]


def test_benchmark_machine_info_without_gpuperf_imports_nothing_heavy(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile(BENCHMARK_TEST)
    pytester.makeconftest(IMPORT_PROBE)
    path = pytester.path / "bench.json"
    result = pytester.runpytest_subprocess(
        *FAST_START, "-s", f"--benchmark-json={path}", "--benchmark-max-time=0.001"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["heavy modules: []"])
    ours = json.loads(path.read_text())["machine_info"]["gpuperf"]
    assert ours["gpu_probed"] is False
    assert ours["fingerprint"] is None
    assert ours["machine"]["cpu"] == machine.cpu_model()
    assert "numba" in ours["versions"]
