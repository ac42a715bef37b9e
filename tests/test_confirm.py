"""A suspected regression measured again in a fresh process, on the fake clock.

The inner project's kernel takes 1 ms of fake time, or 2 ms where the environment
says so: in the run itself (``GP_SLOW_HERE``) and/or in the fresh process that
``GPUPERF_CHILD`` marks (``GP_SLOW_FRESH``), so each test decides which of the two
processes sees a slower kernel.
"""

from __future__ import annotations

from pathlib import Path

import fakeclock_plugin
import pytest
from test_plugin_gating import baseline_file, store

from pytest_gpuperf import confirm
from pytest_gpuperf.options import Settings
from pytest_gpuperf.verdict.confirmation import FreshRun, after_fresh_process
from pytest_gpuperf.verdict.outcome import GateResult, Verdict

CONFTEST = """
    import os

    import fakeclock_plugin


    def kernel_ns():
        "1 ms, or 2 ms in the process the environment names as slow."
        fresh = bool(os.environ.get("GPUPERF_CHILD"))
        slow = os.environ.get("GP_SLOW_FRESH" if fresh else "GP_SLOW_HERE")
        return 2_000_000 if slow else 1_000_000
"""

KERNELS = """
    import pytest

    import fakeclock_plugin
    from conftest import kernel_ns


    def reference(a):
        fakeclock_plugin.advance(5_000_000)
        return a + 1


    def kernel(a):
        fakeclock_plugin.advance(kernel_ns())
        return a + 1


    @pytest.mark.gpuperf(reference=reference)
    def test_add(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(kernel, gpu_array.random(8, "float32"))


    def test_other():
        pass
"""

INI = """
    [pytest]
    addopts = --strict-markers -p no:hypothesispytest -p no:randomly --gpuperf-confirm=fresh
    filterwarnings = error
    gpuperf_backends = numpy
"""

ADD = "test_kernels.py::test_add"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """One gated test with three steady saved runs at 5x, and one plain test."""
    for name in ("GP_SLOW_HERE", "GP_SLOW_FRESH", "GPUPERF_CONFIRM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(Path(fakeclock_plugin.__file__).parent))
    fakeclock_plugin.makeconftest(pytester, CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_kernels=KERNELS)
    store(pytester, {ADD: 5.0})
    assert baseline_file(pytester).is_file()
    return pytester


def test_a_kernel_slower_in_this_process_only_is_inconclusive(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_SLOW_HERE", "1")
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_add*numpy*2.5x*inconclusive*",
            "  inconclusive: test_kernels.py::test_add [[]numpy[]]: slower in this process only: "
            "a fresh process measured 5x, kernel median 1 ms (verdict ok); this run was 2.5x is "
            "below the floor 4.5x*",
        ]
    )
    failing = project.runpytest("--gpuperf", "--gpuperf-fail-inconclusive")
    failing.assert_outcomes(passed=1, failed=1)
    failing.stdout.fnmatch_lines(["*--gpuperf-fail-inconclusive turns this into a failure*"])


def test_a_kernel_slower_in_every_process_is_regressed_and_says_both_agreed(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_SLOW_HERE", "1")
    monkeypatch.setenv("GP_SLOW_FRESH", "1")
    result = project.runpytest("--gpuperf", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["a fresh process measured it REGRESSED too (2.5x, kernel median 2 ms)"]
    )
    # The fresh process wrote none of this run's reports: the JUnit file is this run's.
    assert (project.path / "junit.xml").read_text().count("<testcase ") == 2


def test_a_regression_that_the_fresh_process_cannot_judge_stands(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.makeconftest(  # the fresh process can't even load its conftest
        fakeclock_plugin.LOAD_LINE
        + "import os\n"
        + "if os.environ.get('GPUPERF_CHILD'):\n"
        + "    raise RuntimeError('broken in the fresh process')\n"
        + "def kernel_ns():\n    return 2_000_000\n"
    )
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["not confirmed in a fresh process: pytest exited * with no report; its last lines: *"]
    )
    assert "broken in the fresh process" in result.stdout.str()


def test_same_confirms_in_this_process_only(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_SLOW_HERE", "1")
    result = project.runpytest("--gpuperf", "--gpuperf-confirm=same")
    result.assert_outcomes(passed=1, failed=1)
    assert "fresh process" not in result.stdout.str()


@pytest.mark.parametrize(
    ("settings", "part", "expected"),
    [
        (Settings(enabled=True), "solo", True),
        (Settings(enabled=True, confirm="same"), "solo", False),
        (Settings(enabled=True), "worker", False),
        (Settings(enabled=True), "controller", False),
    ],
)
def test_where_a_fresh_process_confirms(settings: Settings, part: str, expected: bool) -> None:
    assert confirm.wanted(settings, part) is expected


def test_a_bad_confirm_mode_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--gpuperf", "--gpuperf-confirm=twice")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --gpuperf-confirm must be one of fresh, same; got 'twice' (from command line)"]
    )


REGRESSED = GateResult(
    Verdict.REGRESSED,
    failed=True,
    message="t on numpy: speedup regressed\nmore",
    reason="2.5x is below the floor 4.5x",
)


def test_only_a_regressed_verdict_is_changed() -> None:
    ok = GateResult(Verdict.OK)
    fresh = FreshRun("ok", 5.0, 1e-3)
    assert after_fresh_process(ok, fresh, fail_inconclusive=False) is ok


@pytest.mark.parametrize("fail_inconclusive", [False, True])
def test_a_fresh_process_that_disagrees_makes_it_inconclusive(fail_inconclusive: bool) -> None:
    result = after_fresh_process(
        REGRESSED, FreshRun("ok", 5.0, 1e-3), fail_inconclusive=fail_inconclusive
    )
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.failed is fail_inconclusive
    assert result.attribution == "process"
    assert result.reason.startswith(
        "slower in this process only: a fresh process measured 5x, kernel median 1 ms "
        "(verdict ok); this run was 2.5x is below the floor 4.5x"
    )
    assert bool(result.message) is fail_inconclusive


def test_a_fresh_process_that_agrees_or_cannot_judge_keeps_the_regression() -> None:
    agreed = after_fresh_process(
        REGRESSED, FreshRun("REGRESSED", 2.5, None), fail_inconclusive=False
    )
    assert agreed.verdict is Verdict.REGRESSED
    assert agreed.failed
    assert agreed.message.endswith("a fresh process measured it REGRESSED too (2.5x)")
    unknown = after_fresh_process(REGRESSED, "it ran out of time (300 s)", fail_inconclusive=True)
    assert unknown.verdict is Verdict.REGRESSED
    assert unknown.notes == ("not confirmed in a fresh process: it ran out of time (300 s)",)


def _timer_with(confirm_calls: list[str]) -> object:
    """Just enough of a SyncTimer for its confirmation step, recording confirm calls."""
    import contextlib
    import types

    def confirm_stub(nodeid: str, test_key: str, backend: str) -> FreshRun:
        confirm_calls.append(nodeid)
        return FreshRun("ok", 5.0, 1e-3)

    context = types.SimpleNamespace(
        nodeid="t.py::test[x]", test_key="t.py::test", confirm=confirm_stub
    )
    return types.SimpleNamespace(
        _context=context,
        _held=contextlib.nullcontext,
        _handle=types.SimpleNamespace(name="x"),
        _settings=types.SimpleNamespace(fail_inconclusive=False),
    )


@pytest.mark.parametrize(
    ("judged_on", "confirmed"),
    [("speedup", True), ("wall time", True), ("CUDA-event time", False)],
)
def test_only_wall_clock_evidence_is_confirmed_in_a_fresh_process(
    judged_on: str, confirmed: bool
) -> None:
    from dataclasses import replace

    from pytest_gpuperf.fixtures.sync_timer import SyncTimer

    calls: list[str] = []
    gate = replace(REGRESSED, judged_on=judged_on)
    result = SyncTimer._confirm_in_a_fresh_process(_timer_with(calls), gate)  # type: ignore[arg-type]
    assert (calls == ["t.py::test[x]"]) is confirmed
    assert (result.verdict is Verdict.INCONCLUSIVE) is confirmed  # type: ignore[union-attr]


def test_after_three_agreeing_fresh_processes_the_rest_stand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checker = confirm.FreshConfirmation(None, Path("b.json"), 1.0)  # type: ignore[arg-type]
    measured: list[str] = []

    def regressed(nodeid: str, test_key: str, backend: str) -> FreshRun:
        measured.append(nodeid)
        return FreshRun("REGRESSED", 2.5, 2e-3)

    monkeypatch.setattr(checker, "_measure", regressed)
    results = [checker(f"t.py::test_{i}", f"t.py::test_{i}", "numba") for i in range(5)]
    assert measured == ["t.py::test_0", "t.py::test_1", "t.py::test_2"]
    assert all(isinstance(r, FreshRun) for r in results[:3])
    assert results[3] == (
        "fresh processes already confirmed 3 regressions in this run, so the rest are not "
        "measured again"
    )
