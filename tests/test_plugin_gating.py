"""Regression gating under ``--gpuperf``, end to end, on a fake clock.

The inner runs load ``fakeclock_plugin``: a host clock that only kernels and
references move (kernel 1 ms, reference 5 ms: a speedup of exactly 5x), and a
machine that is idle or, with ``--fakeclock-foreign-cpu``, busy at a chosen
foreign CPU share, so every verdict here is deterministic on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import fakeclock_plugin
import pytest

from pytest_gpuperf.machine import facts as machine
from pytest_gpuperf.store import baseline

CONFTEST = """
    import fakeclock_plugin


    def pytest_terminal_summary(terminalreporter):
        terminalreporter.write_line(f"fake clock reads: {fakeclock_plugin.clock().reads}")
"""

KERNELS = """
    import os
    import time
    from pathlib import Path

    import pytest

    import fakeclock_plugin


    def advance(variable, default):
        fakeclock_plugin.advance(int(os.environ.get(variable, default)))


    def add_reference(a):
        advance("GP_REFERENCE_NS", 5_000_000)
        return a + 1


    def add_kernel(a):
        advance("GP_ADD_NS", 1_000_000)
        return a + 1


    def mul_reference(a):
        advance("GP_REFERENCE_NS", 5_000_000)
        return a * 3


    def mul_kernel(a):
        advance("GP_MUL_NS", 1_000_000)
        return a * 3


    def barrier(me):
        "Under GP_BARRIER, wait until the run of the other test got this far too."
        folder = os.environ.get("GP_BARRIER")
        if not folder:
            return
        Path(folder, me).touch()
        deadline = time.monotonic() + 120
        while len(list(Path(folder).iterdir())) < 2:
            if time.monotonic() > deadline:
                pytest.fail("the other run never reached the barrier")
            time.sleep(0.01)


    @pytest.mark.gpuperf(reference=add_reference)
    def test_add(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))
        barrier("add")


    @pytest.mark.gpuperf(reference=mul_reference)
    def test_mul(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(mul_kernel, gpu_array.random(8, "float32"))
        barrier("mul")
"""

INI = """
    [pytest]
    addopts = --strict-markers
    filterwarnings = error
    xfail_strict = true
    gpuperf_backends = numpy
"""

#: Subprocess runs skip Hypothesis's plugin: importing it costs seconds, and nothing uses it.
FAST_START = ("-p", "no:hypothesispytest")

ACCEPT = "pytest --gpuperf --gpuperf-save 'test_kernels.py::test_{name}[[]numpy[]]'"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with the fake clock, two gated tests (add and mul) and the numpy backend."""
    for name in ("GP_ADD_NS", "GP_MUL_NS", "GP_REFERENCE_NS", "GP_BARRIER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    fakeclock_plugin.makeconftest(pytester, CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_kernels=KERNELS)
    return pytester


def baseline_file(pytester: pytest.Pytester) -> Path:
    return pytester.path / ".gpuperf" / "baselines.json"


def this_fingerprint() -> str:
    """The fingerprint a run with host backends only computes for this machine."""
    return machine.fingerprint(machine.machine_info())


ADD = "test_kernels.py::test_add"
MUL = "test_kernels.py::test_mul"


def store(
    pytester: pytest.Pytester,
    speedups: dict[str, float],
    *,
    fingerprint: str | None = None,
    backend: str = "numpy",
    runs: int = 3,
) -> Path:
    """Write baselines (test key -> speedup on ``backend``) as --gpuperf-save would.

    ``runs`` saves of the same speedup: a steady history, whose floor is the tolerance.
    """
    path = baseline_file(pytester)
    entries = {
        key: {
            backend: baseline.BaselineEntry(
                speedup=value,
                ci_low=value,
                ci_high=value,
                kernel_median_s=1e-3,
                reference_median_s=5e-3,
                samples=10,
                dtypes=("float32",),
                shapes=((8,),),
                versions={},
                timestamp="2024-05-01T12:00:00+00:00",
                foreign_cpu=0.0,
            )
        }
        for key, value in speedups.items()
    }
    for _ in range(runs):
        baseline.save_baselines(path, fingerprint or this_fingerprint(), {"cpu": "test"}, entries)
    return path


def stored(path: Path) -> dict[str, dict[str, float]]:
    """test key -> backend -> saved speedup, for this machine."""
    data = json.loads(path.read_text())
    tests = data["machines"][this_fingerprint()]["tests"]
    return {key: {b: e["runs"][-1]["speedup"] for b, e in v.items()} for key, v in tests.items()}


def test_save_then_gate_passes(project: pytest.Pytester) -> None:
    plain = project.runpytest()
    plain.assert_outcomes(passed=2)
    plain.stdout.fnmatch_lines(["fake clock reads: 0"])
    plain.stdout.no_fnmatch_line("*= gpuperf =*")
    assert not baseline_file(project).exists()

    saved = project.runpytest("--gpuperf", "--gpuperf-save")
    saved.assert_outcomes(passed=2)
    saved.stdout.fnmatch_lines([f"saved 2 baseline(s) to {baseline_file(project)}"])
    assert stored(baseline_file(project)) == {
        "test_kernels.py::test_add": {"numpy": pytest.approx(5.0)},
        "test_kernels.py::test_mul": {"numpy": pytest.approx(5.0)},
    }

    gated = project.runpytest("--gpuperf")
    gated.assert_outcomes(passed=2)
    gated.stdout.fnmatch_lines(
        [
            "*= gpuperf =*",
            "test*backend*median*speedup [[]95% CI[]]*baseline*change*verdict*",
            "test_kernels.py::test_add*numpy*1 ms*5x [[]5-5[]]*5x*0.0%*ok*",
            "test_kernels.py::test_mul*numpy*1 ms*5x [[]5-5[]]*5x*0.0%*ok*",
        ]
    )
    reads = next(line for line in gated.outlines if line.startswith("fake clock reads:"))
    assert int(reads.split(":")[1]) > 0


def test_slowed_kernel_fails_exactly_that_test(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(project, {ADD: 5.0, MUL: 5.0})
    monkeypatch.setenv("GP_MUL_NS", "2000000")  # 2 ms: 2.5x instead of 5x
    junit = project.path / "junit.xml"
    result = project.runpytest("--gpuperf", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_mul[[]numpy[]] on numpy: speedup over mul_reference "
            "regressed: 2.5x (95% CI 2.5-2.5) vs baseline 5x (-50.0%); allowed tolerance 10% "
            "(floor 4.5x); the kernel's own time rose: kernel median 1 ms -> 2 ms (+100%), "
            "reference mul_reference median 5 ms -> 5 ms (+0%). If the new "
            "speed is intended, accept it with: " + ACCEPT.format(name="mul"),
            "attempt 1 (first inputs): 2.5x is below the floor 4.5x (baseline 5x - 10%)",
            "*test_kernels.py::test_mul*numpy*2.5x [[]2.5-2.5[]]*5x*-50.0%*REGRESSED*",
            "*test_kernels.py::test_add*numpy*5x [[]5-5[]]*5x*ok*",
            "FAILED test_kernels.py::test_mul[[]numpy[]]*",
        ]
    )
    result.stdout.no_fnmatch_line("FAILED test_kernels.py::test_add*")
    cases = {case.get("name"): case for case in ET.parse(junit).iter("testcase")}
    assert cases["test_mul[numpy]"].find("failure") is not None
    assert "regressed: 2.5x" in cases["test_mul[numpy]"].find("failure").get("message", "")
    assert cases["test_add[numpy]"].find("failure") is None
    assert cases["test_add[numpy]"].find("error") is None


def test_min_speedup_fails_without_a_baseline(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_floor="""
        import pytest
        from test_kernels import add_kernel, add_reference

        @pytest.mark.gpuperf(reference=add_reference, min_speedup=10)
        def test_floor(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))
        """
    )
    result = project.runpytest("--gpuperf", "test_floor.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_floor.py::test_floor[[]numpy[]] on numpy: speedup over add_reference is "
            "5x (95% CI 5-5), below min_speedup=10x; make the kernel faster or lower "
            "gpuperf(min_speedup=...)",
            "*test_floor.py::test_floor*BELOW min_speedup*",
        ]
    )
    assert not baseline_file(project).exists()


def test_missing_entry_is_new(project: pytest.Pytester) -> None:
    store(project, {ADD: 5.0})
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_mul*numpy*5x*new",
            "  new: test_kernels.py::test_mul [[]numpy[]]: no baseline entry; save one with "
            "--gpuperf-save",
        ]
    )
    result.stdout.no_fnmatch_line("*no baseline for this machine*")


def test_only_another_machine_gives_one_note_and_no_failure(project: pytest.Pytester) -> None:
    path = store(project, {ADD: 100.0, MUL: 100.0}, fingerprint="Other CPU x64 | no GPU")
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=2)
    note = f"no baseline for this machine: {this_fingerprint()}; run with --gpuperf-save"
    assert result.outlines.count(note) == 1
    assert sum("no baseline for this machine" in line for line in result.outlines) == 1
    result.stdout.fnmatch_lines(["*test_kernels.py::test_add*numpy*5x*-*new*"])
    assert "Other CPU x64 | no GPU" in json.loads(path.read_text())["machines"]


def test_improvement_passes_with_a_re_save_note(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(project, {ADD: 5.0, MUL: 5.0})
    monkeypatch.setenv("GP_ADD_NS", "500000")  # 10x
    result = project.runpytest("--gpuperf")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_add*numpy*10x [[]10-10[]]*5x*+100.0%*improved",
            "  improved: test_kernels.py::test_add [[]numpy[]]: "
            f"+100.0% over baseline 5x; re-save with {ACCEPT.format(name='add')} so the "
            "baseline keeps guarding the new speed",
        ]
    )


DAMAGED = {
    "corrupt": b"this is not json\n",
    "truncated": b'{"schema": 1, "machines": {"cpu x2 | no GPU": {"machine": {}, "te',
    "future": b'{"schema": 99, "machines": {}}\n',
    "binary": b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_damaged_baseline_file_is_a_usage_error_and_left_alone(
    project: pytest.Pytester, kind: str
) -> None:
    path = baseline_file(project)
    path.parent.mkdir()
    path.write_bytes(DAMAGED[kind])
    result = project.runpytest("--gpuperf", "--gpuperf-save")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {path}: *"])
    if kind == "future":
        result.stderr.fnmatch_lines(["*written by a newer pytest-gpuperf*upgrade pytest-gpuperf*"])
    else:
        result.stderr.fnmatch_lines(["*restore it from version control*"])
    assert path.read_bytes() == DAMAGED[kind]


def test_concurrent_saves_keep_both_entries(
    project: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each run waits inside its test until the other has loaded the (empty) file too, so a
    # save that wrote back what it loaded at start would drop the other run's entry.
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    monkeypatch.setenv("GP_BARRIER", str(barrier))
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                *FAST_START,
                "--gpuperf",
                "--gpuperf-save",
                "-k",
                name,
            ],
            cwd=project.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("test_add", "test_mul")
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(p.name for p in barrier.iterdir()) == ["add", "mul"]
    assert stored(baseline_file(project)) == {
        "test_kernels.py::test_add": {"numpy": pytest.approx(5.0)},
        "test_kernels.py::test_mul": {"numpy": pytest.approx(5.0)},
    }


TOLERANCE_TESTS = """
    import pytest
    from test_kernels import add_kernel, add_reference

    @pytest.mark.gpuperf(reference=add_reference)
    def test_plain(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))

    @pytest.mark.gpuperf(reference=add_reference, tolerance="15%")
    def test_marked(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(add_kernel, gpu_array.random(8, "float32"))
"""


@pytest.mark.parametrize(
    ("ini", "cli", "plain_tolerance"),
    [
        (None, None, "10%"),  # the default fails the 20% loss
        ("25%", None, None),  # ini loosens it
        ("5%", "0.3", None),  # the command line beats the ini
        ("25%", "10%", "10%"),  # ... both ways
    ],
)
def test_tolerance_precedence_marker_wins(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ini: str | None,
    cli: str | None,
    plain_tolerance: str | None,
) -> None:
    if ini is not None:
        project.makeini(INI + f"    gpuperf_tolerance = {ini}\n")
    project.makepyfile(test_tolerance=TOLERANCE_TESTS)
    store(project, {"test_tolerance.py::test_plain": 5.0, "test_tolerance.py::test_marked": 5.0})
    monkeypatch.setenv("GP_ADD_NS", "1250000")  # 4x against 5x: a 20% loss
    args = ["--gpuperf", "test_tolerance.py"] + ([f"--gpuperf-tolerance={cli}"] if cli else [])
    result = project.runpytest(*args)
    # The marker's 15% always wins, so the marked test always fails.
    result.stdout.fnmatch_lines(["*test_marked*regressed: 4x*allowed tolerance 15%*"])
    if plain_tolerance is None:
        result.assert_outcomes(passed=1, failed=1)
    else:
        result.assert_outcomes(failed=2)
        result.stdout.fnmatch_lines(
            [f"*test_plain*regressed: 4x*allowed tolerance {plain_tolerance} *"]
        )


SIMULATED = """
    import pytest
    from fakeclock_plugin import advance
    from numba import cuda


    @cuda.jit
    def add_one(a, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = a[i] + 1


    def launch(a, out):
        advance(1_000_000)
        add_one[1, 4](a, out)


    def add_reference(a, out):
        advance(5_000_000)
        return a + 1


    @pytest.mark.gpuperf(reference=add_reference, output=-1)
    def test_sim(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(4, "float32")
        m = cuda_sync_timer(launch, a, gpu_array.zeros(4, "float32"))
        assert m.simulated and m.timed
        assert m.speedup.value == pytest.approx(5.0)
"""


def test_simulator_is_measured_but_never_gated_or_saved(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    project.makepyfile(test_sim=SIMULATED)
    path = store(project, {"test_sim.py::test_sim": 1000.0}, backend="numba_cuda")
    before = path.read_bytes()
    result = project.runpytest_subprocess(
        *FAST_START, "--gpuperf", "--gpuperf-save", "--gpuperf-backends=numba_cuda", "test_sim.py"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_sim.py::test_sim*numba_cuda*5x*1e+03x*simulated",
            "  simulated: test_sim.py::test_sim [[]numba_cuda[]]: simulated device: "
            "timings are never gated",
            "saved 0 baseline(s) to *; 1 not saved (failed, simulated or contended)",
        ]
    )
    assert path.read_bytes() == before


def test_contended_run_is_remeasured_inconclusive_and_not_saved(project: pytest.Pytester) -> None:
    busy = "--fakeclock-foreign-cpu=0.4"
    report = project.path / "run.json"
    result = project.runpytest(
        busy, "--gpuperf", "--gpuperf-save", f"--gpuperf-json={report}", "-k", "add"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "test_kernels.py::test_add*numpy*inconclusive",
            "  inconclusive: test_kernels.py::test_add [[]numpy[]]: contended: other processes "
            "used 40% of the CPUs, above the 15% limit; re-run on a quiet machine",
            "saved 0 baseline(s) to *; 1 not saved (failed, simulated or contended)",
        ]
    )
    assert not baseline_file(project).exists()
    (bench,) = json.loads(report.read_text())["benchmarks"]
    assert bench["extra_info"]["gpuperf"]["attempts"] == 2
    assert bench["extra_info"]["gpuperf"]["foreign_cpu"] == 0.4

    failing = project.runpytest(busy, "--gpuperf", "--gpuperf-fail-inconclusive", "-k", "add")
    failing.assert_outcomes(failed=1)
    failing.stdout.fnmatch_lines(
        [
            "*test_kernels.py::test_add[[]numpy[]] on numpy: speedup over add_reference of "
            "5x (95% CI 5-5) is inconclusive (contended: other processes used 40% of the CPUs*"
        ]
    )


def test_quiet_run_is_measured_once(project: pytest.Pytester) -> None:
    report = project.path / "run.json"
    project.runpytest("--gpuperf", f"--gpuperf-json={report}", "-k", "add").assert_outcomes(
        passed=1
    )
    (bench,) = json.loads(report.read_text())["benchmarks"]
    assert bench["extra_info"]["gpuperf"]["attempts"] == 1
    assert bench["extra_info"]["gpuperf"]["foreign_cpu"] == 0.0


def test_xdist_workers_measure_and_the_controller_reports_once(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(project, {ADD: 5.0, MUL: 5.0})
    monkeypatch.setenv("GP_MUL_NS", "2000000")  # 2.5x instead of 5x
    json_path, markdown, junit = (project.path / name for name in ("run.json", "run.md", "j.xml"))
    result = project.runpytest_subprocess(
        *FAST_START,
        *("-n", "2", "--gpuperf", f"--gpuperf-json={json_path}"),
        *(f"--gpuperf-markdown={markdown}", f"--junitxml={junit}"),
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= gpuperf =*",
            "test_kernels.py::test_mul*numpy*2.5x [[]2.5-2.5[]]*5x*-50.0%*REGRESSED*",
            "test_kernels.py::test_add*numpy*5x [[]5-5[]]*5x*0.0%*ok*",
            "pytest-xdist: CUDA devices *, one per worker in turn;*",
        ]
    )
    assert sum("= gpuperf =" in line for line in result.outlines) == 1
    benchmarks = json.loads(json_path.read_text())["benchmarks"]
    verdicts = {b["fullname"]: b["extra_info"]["gpuperf"]["verdict"] for b in benchmarks}
    assert verdicts == {
        "test_kernels.py::test_add[numpy]": "ok",
        "test_kernels.py::test_mul[numpy]": "REGRESSED",
    }
    text = markdown.read_text()
    results = text.partition("### Memory")[0]  # the results table, once; memory rows follow
    assert results.count("`test_kernels.py::test_add` | numpy") == 1
    assert text.count("**REGRESSED**") == 1
    properties = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(junit).iter("testcase")
    }
    assert properties["test_add[numpy]"]["gpuperf_verdict"] == "ok"
    assert properties["test_mul[numpy]"]["gpuperf_verdict"] == "REGRESSED"
    assert properties["test_mul[numpy]"]["gpuperf_speedup"] == "2.5"


def test_xdist_names_a_worker_that_died_with_its_measurements(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_die="""
        import os

        def test_die():
            os._exit(3)
        """
    )
    result = project.runpytest_subprocess(*FAST_START, "-n", "2", "--gpuperf")
    result.stdout.fnmatch_lines(
        [
            "worker gw* ended without handing over its measurements (*); they are missing "
            "from the report and the baselines"
        ]
    )
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1
    assert outcomes.get("passed", 0) == 2


def test_xdist_run_saves_every_workers_baselines_once(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST_START, "-n", "2", "--gpuperf", "--gpuperf-save")
    result.assert_outcomes(passed=2)
    saved = [line for line in result.outlines if line.startswith("saved ")]
    assert saved == [f"saved 2 baseline(s) to {baseline_file(project)}"]
    assert stored(baseline_file(project)) == {
        "test_kernels.py::test_add": {"numpy": pytest.approx(5.0)},
        "test_kernels.py::test_mul": {"numpy": pytest.approx(5.0)},
    }


def test_untimed_reference_free_test_is_timed_with_its_first_call_apart(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_timed="""
        from fakeclock_plugin import advance

        calls = []

        def kernel(a):
            calls.append(1)
            advance(1_000_000_000 if len(calls) == 1 else 1_000_000)
            return a + 1

        def test_timed(backend, gpu_array, cuda_sync_timer):
            m = cuda_sync_timer(kernel, gpu_array.random(8, "float32"))
            assert m.timed and m.speedup is None
            assert m.first_call_s == 1.0
            assert max(m.samples) == 1e-3
        """
    )
    result = project.runpytest("--gpuperf", "--gpuperf-save", "-v", "test_timed.py")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["test_timed.py::test_timed*numpy*1 ms*-*-*-*-*-*1 s*timed"])
    result.stdout.no_fnmatch_line("*budget*")
    assert not baseline_file(project).exists()
