"""``--gpuperf-save-runs``: one save records several fresh processes, on the fake clock.

The inner project's kernel takes 1 ms of fake time in the run that was given
``--gpuperf-save`` and, where ``GP_CHILD_SLOWER`` says so, longer in the extra
processes (which ``GPUPERF_CHILD`` marks), so what each process saved tells
which rule judged it.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import fakeclock_plugin
import pytest

from pytest_gpuperf import fresh_process
from pytest_gpuperf.options import Settings

CONFTEST = """
    import os

    import fakeclock_plugin


    def child_factor():
        "How much slower the kernel is in an extra save run (GP_CHILD_SLOWER), else 1."
        if os.environ.get("GPUPERF_CHILD"):
            return float(os.environ.get("GP_CHILD_SLOWER", "1"))
        return 1.0
"""

KERNELS = """
    import pytest

    import fakeclock_plugin
    from conftest import child_factor


    def reference(a):
        fakeclock_plugin.advance(5_000_000)
        return a + 1


    def kernel(a):
        fakeclock_plugin.advance(int(1_000_000 * child_factor()))
        return a + 1


    @pytest.mark.gpuperf(reference=reference)
    @pytest.mark.parametrize("n", [8, 16])
    def test_add(backend, gpu_array, cuda_sync_timer, n):
        cuda_sync_timer(kernel, gpu_array.random(n, "float32"))


    @pytest.mark.gpuperf(reference=reference)
    def test_fails(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(kernel, gpu_array.random(8, "float32"))
        assert False, "never saved"


    def test_unmeasured():
        pass
"""

INI = """
    [pytest]
    addopts = --strict-markers -p no:hypothesispytest -p no:randomly
    filterwarnings = error
    gpuperf_backends = numpy
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """Two saved tests (add at 8 and 16 elements), one failing test and an unmeasured one."""
    monkeypatch.delenv("GPUPERF_SAVE_RUNS")
    monkeypatch.delenv("GP_CHILD_SLOWER", raising=False)
    # The extra processes import the fake clock plugin from the tests' folder.
    monkeypatch.setenv("PYTHONPATH", str(Path(fakeclock_plugin.__file__).parent))
    fakeclock_plugin.makeconftest(pytester, CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_kernels=KERNELS)
    return pytester


def saved_runs(pytester: pytest.Pytester) -> dict[str, int]:
    """Test key -> how many runs the baseline file holds for it on numpy."""
    data = json.loads((pytester.path / ".gpuperf" / "baselines.json").read_text())
    (machine,) = data["machines"].values()
    return {key: len(backends["numpy"]["runs"]) for key, backends in machine["tests"].items()}


def test_one_save_records_three_processes_by_default(project: pytest.Pytester) -> None:
    result = project.runpytest("--gpuperf", "--gpuperf-save")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "gpuperf: --gpuperf-save run 2 of 3: re-running 2 saved test(s) in a fresh process",
            "gpuperf: run 2 of 3: saved 2 run(s) (pytest exit 0, *)",
            "gpuperf: --gpuperf-save run 3 of 3: re-running 2 saved test(s) in a fresh process",
            "gpuperf: run 3 of 3: saved 2 run(s) (pytest exit 0, *)",
            "*saved 2 baseline(s) to *baselines.json; 1 not saved*",
            "*--gpuperf-save-runs=3: runs 2-3 in fresh processes: saved 2 run(s) *; saved 2 *",
        ]
    )
    assert saved_runs(project) == {
        "test_kernels.py::test_add[8]": 3,
        "test_kernels.py::test_add[16]": 3,
    }


def test_save_runs_of_one_saves_this_process_alone(project: pytest.Pytester) -> None:
    result = project.runpytest("--gpuperf", "--gpuperf-save", "--gpuperf-save-runs=1")
    result.assert_outcomes(passed=3, failed=1)
    assert "fresh process" not in result.stdout.str()
    assert set(saved_runs(project).values()) == {1}


def test_the_extra_runs_are_judged_against_the_baselines_from_before_the_save(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3x slower in the extra processes: against the parent's fresh run they would be
    # REGRESSED and not saved; against the baselines from before (none) they are new.
    monkeypatch.setenv("GP_CHILD_SLOWER", "3")
    result = project.runpytest("--gpuperf", "--gpuperf-save", "--gpuperf-save-runs=2")
    result.assert_outcomes(passed=3, failed=1)
    assert set(saved_runs(project).values()) == {2}
    # The next run sees the spread the extra process showed: one save already knows it.
    monkeypatch.delenv("GP_CHILD_SLOWER")
    gated = project.runpytest("--gpuperf", "--gpuperf-json=run.json")
    gated.assert_outcomes(passed=3, failed=1)
    report = json.loads((project.path / "run.json").read_text())
    detects = [b["extra_info"]["gpuperf"]["detectable"] for b in report["benchmarks"]]
    assert all(d is not None and d > 0.5 for d in detects if d is not None)


def test_the_extra_runs_write_no_job_summary_and_no_report(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = project.runpytest(
        "--gpuperf", "--gpuperf-save", "--gpuperf-json=run.json", "--junitxml=junit.xml"
    )
    result.assert_outcomes(passed=3, failed=1)
    assert summary.read_text().count("## gpuperf results") == 1
    report = json.loads((project.path / "run.json").read_text())
    assert len(report["benchmarks"]) == 3  # the parent's, with the failed test


def test_an_extra_run_that_fails_is_named_with_its_output(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makeconftest(  # the extra processes cannot even import their conftest
        fakeclock_plugin.LOAD_LINE
        + "import os\n"
        + "if os.environ.get('GPUPERF_CHILD'):\n"
        + "    raise RuntimeError('broken in the child')\n"
        + "def child_factor():\n    return 1.0\n"
    )
    result = project.runpytest("--gpuperf", "--gpuperf-save", "--gpuperf-save-runs=2")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["*--gpuperf-save run 2 of 2 saved nothing: pytest exited *; its last lines: *"]
    )
    assert "broken in the child" in result.stdout.str()
    assert set(saved_runs(project).values()) == {1}


@pytest.mark.parametrize("value", ["0", "21", "three", "1.5"])
def test_a_bad_save_runs_value_is_a_usage_error(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest("--gpuperf", f"--gpuperf-save-runs={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --gpuperf-save-runs must be a whole number of runs from 1 to 20, e.g. 3; "
         f"got '{value}' (from command line)"]
    )  # fmt: skip


def test_the_environment_sets_the_default_and_the_ini_key_wins(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPUPERF_SAVE_RUNS", "5")
    config = project.parseconfig("--gpuperf")
    assert Settings.from_config(config).save_runs == 5
    project.makeini(INI + "    gpuperf_save_runs = 2\n")
    assert Settings.from_config(project.parseconfig("--gpuperf")).save_runs == 2
    monkeypatch.setenv("GPUPERF_SAVE_RUNS", "many")
    project.makeini(INI)
    with pytest.raises(pytest.UsageError, match="GPUPERF_SAVE_RUNS must be a whole number"):
        Settings.from_config(project.parseconfig("--gpuperf"))


def test_a_child_switches_off_the_parents_outputs() -> None:
    option = types.SimpleNamespace(
        xmlpath="junit.xml", benchmark_json="b.json", benchmark_autosave=True, other=1
    )
    fresh_process.quiet_child_outputs(types.SimpleNamespace(option=option))  # type: ignore[arg-type]
    assert (option.xmlpath, option.benchmark_json, option.benchmark_autosave) == (
        None,
        None,
        False,
    )
    settings = Settings(
        enabled=True, save=True, json_path=Path("r.json"), plot_dir=Path("p"), save_runs=3
    )
    plan = fresh_process.Plan(("t.py::test",), "b.json", "r.json", save=True)
    child = fresh_process.child_settings(settings, plan)
    assert (child.json_path, child.markdown_path, child.plot_dir, child.save_runs) == (
        None,
        None,
        None,
        1,
    )
    assert child.save
    confirming = fresh_process.Plan(("t.py::test",), "b.json", "r.json", False, "fresh.json")
    checked = fresh_process.child_settings(settings, confirming)
    assert (checked.save, checked.json_path) == (False, Path("fresh.json"))


def test_the_child_marker_the_plugin_checks_is_the_one_fresh_process_sets() -> None:
    from pytest_gpuperf import plugin

    assert plugin._CHILD == fresh_process.CHILD_ENV


def test_a_child_without_a_readable_plan_is_not_planned(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(fresh_process.CHILD_ENV, "save 2/3")
    assert fresh_process.child_kind() == "save 2/3"
    assert fresh_process.child_plan() is None  # no plan file named
    monkeypatch.setenv(fresh_process.PLAN_ENV, str(tmp_path / "missing.json"))
    assert fresh_process.child_plan() is None
    plan = fresh_process.Plan(("a", "b"), "base.json", "r.json", save=False, report="f.json")
    plan.write(tmp_path / "plan.json")
    monkeypatch.setenv(fresh_process.PLAN_ENV, str(tmp_path / "plan.json"))
    assert fresh_process.child_plan() == plan
