"""Verdicts across runs, end to end on the fake clock: history, attribution, modes, re-measure.

The project is test_plugin_gating.py's: kernels take 1 ms and references 5 ms of fake
time (a speedup of exactly 5x) unless the environment says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_plugin_gating import ADD, MUL, baseline_file, project, this_fingerprint

from pytest_gpuperf.store import baseline

__all__ = ["project"]  # the fixture, imported for the tests below


def save_runs(
    pytester: pytest.Pytester,
    runs: dict[str, list[tuple[float, float]]],
) -> Path:
    """Append saved runs (speedup, kernel median in s) per test key, oldest first."""
    path = baseline_file(pytester)
    for index in range(max(len(v) for v in runs.values())):
        entries = {}
        for key, history in runs.items():
            if index < len(history):
                speedup, kernel_s = history[index]
                entries[key] = {
                    "numpy": baseline.BaselineEntry(
                        speedup=speedup,
                        ci_low=speedup,
                        ci_high=speedup,
                        kernel_median_s=kernel_s,
                        reference_median_s=speedup * kernel_s,
                        samples=10,
                        dtypes=("float32",),
                        shapes=((8,),),
                        versions={},
                        timestamp=f"2024-05-0{index + 1}T12:00:00+00:00",
                        foreign_cpu=0.0,
                    )
                }
        baseline.save_baselines(path, this_fingerprint(), {"cpu": "test"}, entries)
    return path


def test_a_faster_reference_is_inconclusive_and_may_be_re_saved(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_runs(project, {ADD: [(5.0, 1e-3)] * 3, MUL: [(5.0, 1e-3)] * 3})
    monkeypatch.setenv("GP_REFERENCE_NS", "2500000")  # the reference got 2x faster
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_add*numpy*2.5x*5x*-50.0%*inconclusive",
            "  inconclusive: test_kernels.py::test_add [[]numpy[]]: the reference moved: kernel "
            "median 1 ms -> 1 ms (+0%), reference add_reference median 5 ms -> 2.5 ms (-50%); "
            "the kernel's own time did not rise; if the reference's new speed is real, re-save: "
            "pytest --gpuperf --gpuperf-save 'test_kernels.py::test_add[[]numpy[]]'",
        ]
    )
    failing = project.runpytest("--gpuperf", "--gpuperf-fail-inconclusive")
    failing.assert_outcomes(failed=2)
    failing.stdout.fnmatch_lines(["*--gpuperf-fail-inconclusive turns this into a failure*"])
    saved = project.runpytest("--gpuperf", "--gpuperf-save")
    saved.stdout.fnmatch_lines(["saved 2 baseline(s) to *"])
    found = baseline.load_baselines(baseline_file(project)).history(
        this_fingerprint(), ADD, "numpy"
    )
    assert found is not None
    assert [run.speedup for run in found.runs] == [5.0, 5.0, 5.0, pytest.approx(2.5)]


def test_a_slower_kernel_is_regressed_with_both_medians(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_runs(project, {ADD: [(5.0, 1e-3)] * 3, MUL: [(5.0, 1e-3)] * 3})
    monkeypatch.setenv("GP_MUL_NS", "1300000")
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*the kernel's own time rose: kernel median 1 ms -> 1.3 ms (+30%), reference*"]
    )


def test_a_noisy_history_widens_the_floor_and_the_summary_says_what_helps(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel's time moves between runs, the reference's stays at 5 ms.
    noisy = [(s, 5e-3 / s) for s in (5.0, 6.5, 3.8, 5.6, 4.4)]
    quiet = [(s, 5e-3 / s) for s in (5.0, 5.05, 4.95, 5.02, 4.98)]
    save_runs(project, {ADD: noisy, MUL: quiet})
    monkeypatch.setenv("GP_ADD_NS", "1150000")  # 15% slower: inside a noisy floor
    monkeypatch.setenv("GP_MUL_NS", "1150000")  # and beyond a quiet one
    result = project.runpytest("--gpuperf", "--gpuperf-json=run.json")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_kernels.py::test_mul  numpy*4.35x*5x*5*-13.0%*10%*REGRESSED",
            "test_kernels.py::test_add  numpy*4.35x*4.97x*5*-12.6%*5?%*ok",
            "1 row(s) detect only losses larger than their tolerance, because what they are judged "
            "on moves between runs on this machine (worst: test_kernels.py::test_add [[]numpy[]], "
            "detects *%). What helps: more saved runs*gpuperf(gate='time')*",
        ]
    )
    data = json.loads((project.path / "run.json").read_text())
    info = {
        b["extra_info"]["gpuperf"]["test_key"]: b["extra_info"]["gpuperf"]
        for b in data["benchmarks"]
    }
    assert len(info[ADD]["history"]) == 5
    assert info[ADD]["bands"]["speedup"]["widened"] is True
    assert info[ADD]["detectable"] > 0.3
    assert info[MUL]["detectable"] == pytest.approx(0.10)
    assert info[MUL]["attribution"] == "kernel"


def test_a_transient_slowdown_is_re_measured_on_fresh_inputs(
    project: pytest.Pytester,
) -> None:
    save_runs(project, {ADD: [(5.0, 1e-3)] * 3, MUL: [(5.0, 1e-3)] * 3})
    project.makepyfile(
        test_flaky="""
        import pytest
        from test_kernels import add_reference, advance

        FIRST = []

        def flaky_kernel(a):
            "Slow on the first input array it ever sees, normal on any other."
            FIRST.append(id(a)) if not FIRST else None
            advance("UNSET", 2_000_000 if id(a) == FIRST[0] else 1_000_000)
            return a + 1

        @pytest.mark.gpuperf(reference=add_reference)
        def test_add(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(flaky_kernel, gpu_array.random(8, "float32"))
        """
    )
    path = baseline_file(project)
    data = json.loads(path.read_text())
    tests = data["machines"][this_fingerprint()]["tests"]
    tests["test_flaky.py::test_add"] = tests[ADD]
    path.write_text(json.dumps(data))
    result = project.runpytest("--gpuperf", "test_flaky.py", "--gpuperf-json=run.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_flaky.py::test_add*5x*ok",
            "  ok: test_flaky.py::test_add [[]numpy[]]: re-measured on fresh inputs after "
            "attempt 1 was REGRESSED at 2.5x; attempt 2 decides",
        ]
    )
    (item,) = json.loads((project.path / "run.json").read_text())["benchmarks"]
    first = item["extra_info"]["gpuperf"]["first_attempt"]
    assert first["verdict"] == "REGRESSED"
    assert first["speedup"]["value"] == pytest.approx(2.5)


@pytest.mark.parametrize(
    "how", [("--gpuperf-gate=time",), ("-o", "gpuperf_gate=time")], ids=["option", "ini"]
)
def test_time_gate_ignores_the_reference_and_judges_the_kernel(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: tuple[str, ...]
) -> None:
    save_runs(project, {ADD: [(5.0, 1e-3)] * 3, MUL: [(5.0, 1e-3)] * 3})
    monkeypatch.setenv("GP_REFERENCE_NS", "6500000")  # the reference is slower: speedups rise
    monkeypatch.setenv("GP_MUL_NS", "1300000")  # mul is 30% slower; its speedup stays 5x
    assert project.runpytest("--gpuperf").ret == pytest.ExitCode.OK
    result = project.runpytest("--gpuperf", *how)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_mul[[]numpy[]] on numpy: the kernel's own wall median "
            "regressed: 1.3 ms (95% CI 1.3 ms-1.3 ms) vs baseline 1 ms (+30.0%)*"
        ]
    )


def test_time_gate_from_the_marker_needs_no_reference(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_alone="""
        import pytest
        from test_kernels import add_kernel

        @pytest.mark.gpuperf(gate="time")
        def test_alone(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))
        """
    )
    first = project.runpytest("--gpuperf", "test_alone.py")
    first.stdout.fnmatch_lines(["test_alone.py::test_alone*new"])
    saved = project.runpytest("--gpuperf", "--gpuperf-save", "test_alone.py")
    saved.stdout.fnmatch_lines(["saved 0 baseline(s) to *; 1 not saved*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--gpuperf-gate=fast",),
            "*--gpuperf-gate must be one of auto, speedup, time, both; got 'fast' "
            "(from command line)",
        ),
        (
            ("-o", "gpuperf_gate=fastest"),
            "*gpuperf_gate must be one of auto, speedup, time, both; got 'fastest' "
            "(from config file)",
        ),
        (
            ("--gpuperf-false-alarm=0",),
            "*--gpuperf-false-alarm must be a fraction above 0 and at most 0.5 written as 1% or "
            "0.01; got '0' (from command line)",
        ),
        (
            ("--gpuperf-false-alarm=60%",),
            "*--gpuperf-false-alarm must be a fraction between 0 and 0.5*got '60%'*",
        ),
        (
            ("-o", "gpuperf_history=0"),
            "*gpuperf_history must be a whole number of runs from 1 to 1000, e.g. 10; got '0' "
            "(from config file)",
        ),
        (("-o", "gpuperf_history=ten"), "*gpuperf_history must be a whole number*got 'ten'*"),
    ],
)
def test_bad_gate_settings_are_usage_errors(
    project: pytest.Pytester, args: tuple[str, ...], message: str
) -> None:
    result = project.runpytest("--gpuperf", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_history_setting_bounds_the_saved_runs(project: pytest.Pytester) -> None:
    for _ in range(3):
        project.runpytest("--gpuperf", "--gpuperf-save", "-o", "gpuperf_history=2")
    found = baseline.load_baselines(baseline_file(project)).history(
        this_fingerprint(), ADD, "numpy"
    )
    assert found is not None
    assert len(found.runs) == 2


def test_bad_gate_marker_fails_that_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad="""
        import pytest
        from test_kernels import add_kernel, add_reference

        @pytest.mark.gpuperf(reference=add_reference, gate="speed")
        def test_bad(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))
        """
    )
    result = project.runpytest("test_bad.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*gpuperf(gate=...) must be one of 'auto', 'speedup', 'time', 'both'; got 'speed'*"]
    )


def test_summary_fits_120_columns_and_says_a_shared_reason_once(
    project: pytest.Pytester,
) -> None:
    long_name = "test_" + "x" * 150
    project.makepyfile(
        test_long=f"""
        import pytest
        from test_kernels import add_kernel, add_reference

        @pytest.mark.gpuperf(reference=add_reference)
        @pytest.mark.parametrize("n", [1, 2, 3])
        def {long_name}(backend, gpu_array, cuda_sync_timer, n):
            cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))
        """
    )
    result = project.runpytest("--gpuperf", "test_long.py")
    result.assert_outcomes(passed=3)
    header = next(line for line in result.outlines if line.startswith("test  "))
    table = result.outlines[result.outlines.index(header) :]
    rows = table[: table.index("")]
    assert len(rows) == 4
    assert all(len(row) <= 120 for row in rows), [len(r) for r in rows]
    assert rows[1].startswith("test_long.")
    assert "...xxx" in rows[1]
    assert "xx[1]  numpy" in rows[1]
    result.stdout.fnmatch_lines(["  new (3 rows): no baseline entry; save one with --gpuperf-save"])
    verbose = project.runpytest("--gpuperf", "-v", "test_long.py")
    verbose.stdout.fnmatch_lines(
        [f"test_long.py::{long_name}[[]1[]]*new (no baseline entry; save one with --gpuperf-save)"]
    )


def test_memory_growth_against_the_saved_peak_fails_only_when_gated(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makepyfile(
        test_mem="""
        import os

        import numpy as np
        import pytest
        from test_kernels import add_reference, advance

        def hungry_kernel(a):
            advance("UNSET", 1_000_000)
            scratch = np.ones(int(os.environ.get("GP_FLOATS", "10")), dtype=np.float64)
            del scratch
            return a + 1

        @pytest.mark.gpuperf(reference=add_reference)
        def test_mem(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(hungry_kernel, gpu_array.random(8, "float32"))
        """
    )
    project.runpytest("--gpuperf", "--gpuperf-save", "test_mem.py").assert_outcomes(passed=1)
    found = baseline.load_baselines(baseline_file(project)).lookup(
        this_fingerprint(), "test_mem.py::test_mem", "numpy"
    )
    assert found is not None
    assert found.host_peak_bytes is not None
    assert found.device_peak_bytes is None  # a CPU backend has no device memory
    monkeypatch.setenv("GP_FLOATS", "1000000")  # 8 MB more per call
    project.runpytest("--gpuperf", "test_mem.py").assert_outcomes(passed=1)  # off by default
    gated = project.runpytest("--gpuperf", "-o", "gpuperf_memory_tolerance=10%", "test_mem.py")
    gated.assert_outcomes(failed=1)
    gated.stdout.fnmatch_lines(
        [
            "test_mem.py::test_mem[[]numpy[]] on numpy: peak host memory grew to 7.6* MiB from "
            "the baseline's * (+*%); allowed tolerance 0.1 (ceiling *, gpuperf_memory_tolerance)."
            " If the new peak is intended, accept it with: pytest --gpuperf --gpuperf-save "
            "'test_mem.py::test_mem[[]numpy[]]'"
        ]
    )
