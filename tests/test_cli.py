"""The ``gpuperf`` command: show, compare, accept, plot and prune, and their errors."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from run_reports import FAKE_RUN_ARGS, FINGERPRINT, bench, fake_project, report, write

from pytest_gpuperf.cli import build_parser, main
from pytest_gpuperf.store import baseline as store

OTHER = "Other CPU x64 | NVIDIA H100 cc9.0 | cuda 12/12"


def entry(speedup: float = 3.0, **changes: object) -> store.BaselineEntry:
    """A valid stored entry."""
    values: dict[str, object] = {
        "speedup": speedup,
        "ci_low": speedup * 0.9,
        "ci_high": speedup * 1.1,
        "kernel_median_s": 1e-3,
        "reference_median_s": 3e-3,
        "samples": 12,
        "dtypes": ("float32",),
        "shapes": ((1024,),),
        "versions": {"numpy": "2.0.0"},
        "timestamp": "2024-04-01T10:00:00+00:00",
        "foreign_cpu": 0.01,
        **changes,
    }
    return store.BaselineEntry(**values)  # type: ignore[arg-type]


@pytest.fixture
def baselines(tmp_path: Path) -> Path:
    """A baseline file with two machines."""
    path = tmp_path / "baselines.json"
    store.save_baselines(
        path, FINGERPRINT, {"cpu": "Test CPU"}, {"t.py::test_keep": {"numba": entry(3.0)}}
    )
    store.save_baselines(path, OTHER, {"cpu": "Other CPU"}, {"t.py::test_gpu": {"cupy": entry(40)}})
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run the command; return (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# -- the command itself -------------------------------------------------------------------


def test_console_script_runs_and_imports_nothing_heavy() -> None:
    code = (
        "import sys; from pytest_gpuperf.cli import main; "
        "heavy = [m for m in ('pytest', 'numpy', 'numba', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy; sys.exit(main(['--help']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for command in ("show", "compare", "accept", "plot", "prune"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["compare", "only-one.json"], "the following arguments are required: NEW.json"),
        (["plot", "run.json"], "the following arguments are required: -o/--output"),
        (["prune"], "the following arguments are required: --machine"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert message in err


# -- show ---------------------------------------------------------------------------------


def test_show_prints_one_table_per_machine(
    capsys: pytest.CaptureFixture[str], baselines: Path
) -> None:
    status, out, _ = run(capsys, "show", baselines)
    assert status == 0
    lines = out.splitlines()
    assert lines.index(f"machine {OTHER}") < lines.index(f"machine {FINGERPRINT}")
    header = "test backend speedup [95% CI] kernel median reference median samples saved"
    assert " ".join(lines[1].split()) == header
    keep = next(line for line in lines if "test_keep" in line)
    assert keep.split() == [
        "t.py::test_keep",
        "numba",
        "3x",
        "[2.7-3.3]",
        "1",
        "ms",
        "3",
        "ms",
        "12",
        "2024-04-01T10:00:00+00:00",
    ]
    assert "40x [36-44]" in out


def test_show_reads_the_default_path(
    capsys: pytest.CaptureFixture[str], baselines: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(baselines.parent)
    (baselines.parent / ".gpuperf").mkdir()
    baselines.rename(baselines.parent / ".gpuperf" / "baselines.json")
    status, out, _ = run(capsys, "show")
    assert status == 0
    assert "t.py::test_keep" in out


def test_show_of_an_empty_file_says_how_to_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path / "b.json", {"schema": 1, "machines": {}})
    status, out, _ = run(capsys, "show", path)
    assert status == 0
    assert "no baselines stored yet" in out
    assert "--gpuperf-save" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no baseline file here; record one with pytest --gpuperf --gpuperf-save"),
        ('{"schema": 1, "machines": {', "not valid JSON"),
        ('{"machines": {}}', "this is not a pytest-gpuperf baseline file"),
    ],
)
def test_show_of_a_bad_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    status, out, err = run(capsys, "show", path)
    assert status == 2
    assert out == ""
    assert err.startswith(f"gpuperf show: error: {path}: ")
    assert message in err


# -- compare ------------------------------------------------------------------------------


def compare_files(
    tmp_path: Path, old: list[dict[str, object]], new: list[dict[str, object]]
) -> tuple[Path, Path]:
    return (
        write(tmp_path / "old.json", report(*old)),
        write(tmp_path / "new.json", report(*new)),
    )


def verdicts(out: str) -> dict[tuple[str, str], str]:
    """(test, backend) -> verdict column of the compare table."""
    rows = {}
    for line in out.splitlines()[1:]:
        cells = line.split()
        if cells and "::" in cells[0]:
            rows[(cells[0], cells[1])] = line.split("  ")[-1].strip()
    return rows


def test_compare_judges_each_test_and_backend(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = [
        bench("t.py::test_a", "numba", speedup=(4.0, 3.8, 4.2)),
        bench("t.py::test_a", "cupy", speedup=(10.0, 9.0, 11.0)),
        bench("t.py::test_b", "numba", speedup=(2.0, 1.9, 2.1)),
        bench("t.py::test_c", "numba", speedup=(2.0, 1.9, 2.1)),
        bench("t.py::test_gone", "numba"),
        bench("t.py::test_busy", "numba", speedup=(4.0, 3.8, 4.2)),
        bench("t.py::test_sim", "numba_cuda", speedup=(4.0, 3.8, 4.2), simulated=True),
    ]
    new = [
        bench("t.py::test_a", "numba", speedup=(2.0, 1.8, 2.2)),  # high 2.2 < 4 * 0.9
        bench("t.py::test_a", "cupy", speedup=(9.5, 8.5, 10.5)),  # within 10%
        # One run on each side: the cold-start spread (10% assumed, 4 df) sets the bands.
        bench("t.py::test_b", "numba", speedup=(4.0, 3.9, 4.1)),  # +100%: above the ceiling
        bench("t.py::test_c", "numba", speedup=(1.9, 1.75, 2.05)),  # high 2.05 > 1.8
        bench("t.py::test_new", "numba"),
        bench("t.py::test_busy", "numba", speedup=(1.0, 0.9, 1.1), verdict="inconclusive"),
        bench("t.py::test_sim", "numba_cuda", speedup=(0.1, 0.1, 0.1), simulated=True),
    ]
    status, out, _ = run(capsys, "compare", *compare_files(tmp_path, old, new))
    assert status == 0
    assert verdicts(out) == {
        ("t.py::test_a", "numba"): "REGRESSED",
        ("t.py::test_a", "cupy"): "ok",
        ("t.py::test_b", "numba"): "improved",
        ("t.py::test_c", "numba"): "ok",
        ("t.py::test_new", "numba"): "added",
        ("t.py::test_gone", "numba"): "removed",
        ("t.py::test_busy", "numba"): "inconclusive",
        ("t.py::test_sim", "numba_cuda"): "not compared (simulated)",
    }
    first = out.splitlines()[1].split()
    assert first == ["t.py::test_a", "numba", "4x", "2x", "[1.8-2.2]", "-50.0%", "REGRESSED"]
    assert out.splitlines()[-1] == "1 regressed beyond the 10% tolerance; 8 compared"


@pytest.mark.parametrize(
    ("new_speedup", "argv", "expected"),
    [
        ((2.0, 1.8, 2.2), ["--fail"], 1),
        ((2.0, 1.8, 2.2), [], 0),
        ((2.0, 1.8, 2.2), ["--fail", "--tolerance=50%"], 0),
        ((2.0, 1.8, 2.2), ["--fail", "--tolerance", "0.4"], 1),
        ((3.9, 3.7, 4.1), ["--fail"], 0),
    ],
)
def test_compare_fail_exits_1_only_on_a_regression(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    new_speedup: tuple[float, float, float],
    argv: list[str],
    expected: int,
) -> None:
    old, new = compare_files(
        tmp_path,
        [bench("t.py::test_a", "numba", speedup=(4.0, 3.8, 4.2))],
        [bench("t.py::test_a", "numba", speedup=new_speedup)],
    )
    status, _, err = run(capsys, "compare", old, new, *argv)
    assert (status, err) == (expected, "")


def test_compare_notes_runs_from_different_machines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = write(tmp_path / "old.json", report(bench("t.py::test_a", "numba")))
    new = write(tmp_path / "new.json", report(bench("t.py::test_a", "numba"), fingerprint=OTHER))
    _, out, _ = run(capsys, "compare", old, new)
    assert out.splitlines()[0].startswith(
        f"note: the runs come from different machines ({FINGERPRINT} vs {OTHER})"
    )


@pytest.mark.parametrize("tolerance", ["-5%", "150%", "banana", "1.5", ""])
def test_compare_rejects_a_bad_tolerance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tolerance: str
) -> None:
    old, new = compare_files(tmp_path, [bench("t.py::test_a", "numba")], [])
    status, out, err = run(capsys, "compare", old, new, f"--tolerance={tolerance}")
    assert status == 2
    assert out == ""
    assert err == (
        "gpuperf compare: error: --tolerance must be a fraction between 0 and 1 written as "
        f"10% or 0.1; got {tolerance!r} (from command line)\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ('{"benchmarks": [', "not valid JSON"),
        ("[1, 2]", "not a gpuperf run report"),
        (json.dumps({"benchmarks": [], "machine_info": {}}), "not a gpuperf run report"),
        (
            json.dumps({"gpuperf": {"schema": 1}, "benchmarks": [{"stats": {}}]}),
            "benchmarks[0] has no 'extra_info.gpuperf' object",
        ),
        (
            json.dumps(report(bench("t.py::test_a", "numba"), {"extra_info": {"gpuperf": {}}})),
            "benchmarks[1] 'test_key' must be a non-empty string, got None",
        ),
        (
            json.dumps(
                report(
                    {
                        "extra_info": {
                            "gpuperf": {"test_key": "t", "backend": "numba", "speedup": 2.0}
                        }
                    }
                )
            ),
            "benchmarks[0] 'speedup' must be null or an object of numbers value, low, high",
        ),
        (json.dumps({**report(), "gpuperf": {"schema": 99}}), "upgrade pytest-gpuperf"),
    ],
)
def test_compare_rejects_a_bad_run_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, message: str
) -> None:
    good = write(tmp_path / "good.json", report(bench("t.py::test_a", "numba")))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    for argv in ((good, bad), (bad, good)):
        status, out, err = run(capsys, "compare", *argv)
        assert status == 2
        assert out == ""
        assert err.startswith(f"gpuperf compare: error: {bad}: ")
        assert message in err
        assert "pytest --gpuperf --gpuperf-json=PATH" in err or "upgrade" in err


# -- accept -------------------------------------------------------------------------------


def test_accept_merges_trustworthy_results_and_keeps_the_rest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, baselines: Path
) -> None:
    run_file = write(
        tmp_path / "run.json",
        report(
            bench("t.py::test_a", "numba", speedup=(4.0, 3.5, 4.5), foreign_cpu=0.02),
            bench("t.py::test_a", "numba_cuda", simulated=True, verdict="simulated"),
            bench("t.py::test_b", "numba", passed=False, verdict="REGRESSED"),
            bench("t.py::test_c", "numba", verdict="inconclusive", foreign_cpu=0.4),
            bench("t.py::test_d", "numba", speedup=None, verdict="timed"),
        ),
    )
    before = baselines.read_text()
    status, out, err = run(capsys, "accept", run_file, "--baseline", baselines)
    assert (status, err) == (0, "")
    stored = store.load_baselines(baselines)
    new = stored.lookup(FINGERPRINT, "t.py::test_a", "numba")
    assert new == store.BaselineEntry(
        speedup=4.0,
        ci_low=3.5,
        ci_high=4.5,
        kernel_median_s=5e-4,
        reference_median_s=2e-3,
        samples=10,
        dtypes=("float32",),
        shapes=((1024,),),
        versions={"numpy": "2.0.0", "numba": "0.60.0"},
        timestamp="2024-05-01T12:00:00+00:00",
        foreign_cpu=0.02,
    )
    assert stored.lookup(FINGERPRINT, "t.py::test_keep", "numba") == entry(3.0)
    assert stored.lookup(OTHER, "t.py::test_gpu", "cupy") == entry(40)
    assert stored.machine_info(FINGERPRINT) == {"cpu": "Test CPU", "cpu_count": 2}
    keys = {(k, b) for fp, k, b, _ in stored.iter_entries() if fp == FINGERPRINT}
    assert keys == {("t.py::test_a", "numba"), ("t.py::test_keep", "numba")}
    assert before != baselines.read_text()
    lines = out.splitlines()
    assert lines[0] == f"accepted 1 baseline(s) into {baselines} for machine {FINGERPRINT}"
    assert "skipped 4:" in lines
    why = {tuple(line.split()[:2]): line for line in lines[lines.index("skipped 4:") :]}
    assert why[("t.py::test_a", "numba_cuda")].endswith("simulated device")
    assert why[("t.py::test_b", "numba")].endswith("the test did not pass (verdict REGRESSED)")
    assert why[("t.py::test_c", "numba")].endswith(
        "contended (other processes used 40% of the CPUs)"
    )
    assert why[("t.py::test_d", "numba")].endswith("no speedup (no reference to compare with)")


def test_accept_creates_the_file_and_skips_invalid_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_file = write(
        tmp_path / "run.json",
        report(
            bench("t.py::test_a", "numba"),
            bench("t.py::test_b", "numba", speedup=(5.0, 1.0, 2.0)),  # value outside its CI
        ),
    )
    target = tmp_path / "new" / "baselines.json"
    status, out, _ = run(capsys, "accept", run_file, "--baseline", target)
    assert status == 0
    assert [k for _, k, _, _ in store.load_baselines(target).iter_entries()] == ["t.py::test_a"]
    assert "the interval must hold the speedup" in out


def test_accept_writes_nothing_when_nothing_qualifies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_file = write(tmp_path / "run.json", report(bench("t.py::test_a", "numba", passed=False)))
    target = tmp_path / "baselines.json"
    status, out, _ = run(capsys, "accept", run_file, "--baseline", target)
    assert status == 0
    assert out.startswith("accepted 0 baseline(s)")
    assert not target.exists()


def test_accept_refuses_a_corrupt_baseline_file_and_leaves_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_file = write(tmp_path / "run.json", report(bench("t.py::test_a", "numba")))
    target = tmp_path / "baselines.json"
    target.write_text('{"schema": 1, "machines": {"x": ')
    status, out, err = run(capsys, "accept", run_file, "--baseline", target)
    assert status == 2
    assert out == ""
    assert f"gpuperf accept: error: {target}: not valid JSON" in err
    assert target.read_text() == '{"schema": 1, "machines": {"x": '


def test_accept_needs_the_runs_machine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_file = write(
        tmp_path / "run.json", report(bench("t.py::test_a", "numba"), fingerprint=None)
    )
    status, _, err = run(capsys, "accept", run_file, "--baseline", tmp_path / "b.json")
    assert status == 2
    assert "has no machine_info.gpuperf.fingerprint" in err


def test_accept_of_a_missing_run_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "accept", tmp_path / "nope.json")
    assert status == 2
    assert f"gpuperf accept: error: {tmp_path / 'nope.json'}: no such file" in err


# -- prune --------------------------------------------------------------------------------


def test_prune_removes_one_machine(capsys: pytest.CaptureFixture[str], baselines: Path) -> None:
    status, out, _ = run(capsys, "prune", "--machine", OTHER, "--baseline", baselines)
    assert status == 0
    assert out == f"removed 1 baseline(s) of machine {OTHER} from {baselines}\n"
    assert store.load_baselines(baselines).fingerprints() == [FINGERPRINT]


@pytest.mark.parametrize(
    ("machine", "exists", "message"),
    [
        ("nope", True, "no machine 'nope' to prune; known fingerprints: "),
        (OTHER, False, "no baseline file here"),
    ],
)
def test_prune_errors_exit_2(
    capsys: pytest.CaptureFixture[str], baselines: Path, machine: str, exists: bool, message: str
) -> None:
    if not exists:
        baselines.unlink()
    status, _, err = run(capsys, "prune", "--machine", machine, "--baseline", baselines)
    assert status == 2
    assert message in err
    if exists:
        assert len(store.load_baselines(baselines).fingerprints()) == 2


# -- plot ---------------------------------------------------------------------------------


def test_plot_writes_the_pngs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_file = write(tmp_path / "run.json", report(bench("t.py::test_a", "numba")))
    status, out, _ = run(capsys, "plot", run_file, "-o", tmp_path / "plots")
    assert status == 0
    assert out.splitlines() == [
        f"wrote {tmp_path / 'plots' / 'speedup.png'}",
        f"wrote {tmp_path / 'plots' / 'compile.png'}",
    ]
    assert (tmp_path / "plots" / "speedup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    run_file = write(tmp_path / "run.json", report(bench("t.py::test_a", "numba")))
    status, _, err = run(capsys, "plot", run_file, "-o", tmp_path / "plots")
    assert status == 2
    assert "install the plot extra: pip install 'pytest-gpuperf[plot]'" in err
    assert not (tmp_path / "plots").exists()


# -- a real run ---------------------------------------------------------------------------


def test_accept_show_and_compare_a_real_run(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_project(pytester)
    result = pytester.runpytest_subprocess(*FAKE_RUN_ARGS, "--gpuperf-json=run.json")
    result.assert_outcomes(passed=8)
    capsys.readouterr()  # drop pytester's echo of the run
    path = pytester.path / "run.json"
    baselines = pytester.path / "b.json"

    status, out, _ = run(capsys, "accept", path, "--baseline", baselines)
    assert status == 0
    assert out.startswith("accepted 8 baseline(s)")
    stored = store.load_baselines(baselines)
    (fingerprint,) = stored.fingerprints()
    add = stored.lookup(fingerprint, "test_fake.py::test_add", "numba")
    assert add is not None
    assert add.speedup == pytest.approx(4.0, rel=1e-3)
    assert add.kernel_median_s == pytest.approx(1e-3, rel=1e-3)
    assert add.reference_median_s == pytest.approx(4e-3, rel=1e-3)
    assert add.foreign_cpu == 0.0

    status, out, _ = run(capsys, "show", baselines)
    assert status == 0
    assert f"machine {fingerprint}" in out
    assert "test_fake.py::test_sweep[1000000]" in out

    data = json.loads(path.read_text())
    for item in data["benchmarks"]:
        info = item["extra_info"]["gpuperf"]
        if info["backend"] == "numba" and info["test_key"] == "test_fake.py::test_add":
            info["speedup"] = {"value": 2.0, "low": 1.9, "high": 2.1}
            item["stats"]["median"] *= 2  # the kernel itself got slower, not the reference faster
    slower = write(pytester.path / "slower.json", data)
    assert run(capsys, "compare", path, path, "--fail")[0] == 0
    status, out, _ = run(capsys, "compare", path, slower, "--fail")
    assert status == 1
    assert verdicts(out)[("test_fake.py::test_add", "numba")] == "REGRESSED"


def test_readme_documents_every_command_and_option() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.partition("### The `gpuperf` command")[2].partition("\n## ")[0]
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        row = next((line for line in section.splitlines() if f"`gpuperf {name}" in line), "")
        assert row, f"README has no row for gpuperf {name}"
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                named = (re.search(rf"(?<![\w-]){o}(?![\w-])", row) for o in action.option_strings)
                assert any(named), (name, action.option_strings)


# -- history ------------------------------------------------------------------------------


def test_history_lists_each_saved_run_and_the_floor(
    capsys: pytest.CaptureFixture[str], baselines: Path
) -> None:
    for value, commit in ((3.3, "abcdef1234567890"), (2.8, None), (3.1, "fedcba")):
        store.save_baselines(
            baselines, FINGERPRINT, {}, {"t.py::test_keep": {"numba": entry(value, commit=commit)}}
        )
    status, out, err = run(capsys, "history", "test_keep", "--baseline", baselines)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"t.py::test_keep [numba] on machine {FINGERPRINT}"
    assert lines[1].split() == [
        "#", "saved", "commit", "speedup", "[95%", "CI]", "kernel", "median", "reference", "median"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[2:6]] == ["1", "2", "3", "4"]
    assert lines[3].split()[2] == "abcdef123456"
    assert lines[4].split()[2] == "-"
    assert lines[6].startswith("  baseline 3.04x from 4 saved runs; between-run spread ")
    assert "at 10% tolerance and 1% false alarms: detects losses >= " in lines[6]
    assert "t.py::test_gpu" not in out


def test_history_without_a_filter_shows_every_test_and_a_short_history_says_so(
    capsys: pytest.CaptureFixture[str], baselines: Path
) -> None:
    status, out, _ = run(capsys, "history", "--baseline", baselines, "--tolerance", "20%")
    assert status == 0
    assert "t.py::test_keep [numba]" in out
    assert "t.py::test_gpu [cupy]" in out
    assert "between-run spread 10.0% (assumed: too few runs here, and no other test to pool)" in out
    assert "floor 22.8x at 20% tolerance" in out
    status, out, _ = run(capsys, "history", "--baseline", baselines, "--machine", OTHER)
    assert "t.py::test_keep" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nothing_like_it"], "no saved runs matching 'nothing_like_it'; list the tests with"),
        (["--tolerance", "2"], "--tolerance must be a fraction between 0 and 1"),
        (["--false-alarm", "0"], "--false-alarm must be a fraction above 0 and at most 0.5"),
    ],
)
def test_history_errors_exit_2(
    capsys: pytest.CaptureFixture[str], baselines: Path, argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, "history", *argv, "--baseline", baselines)
    assert (status, out) == (2, "")
    assert err.startswith("gpuperf history: error: ")
    assert message in err


def test_accept_appends_to_the_history_within_its_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, baselines: Path
) -> None:
    run_file = write(tmp_path / "run.json", report(bench("t.py::test_keep", "numba")))
    for _ in range(3):
        assert run(capsys, "accept", run_file, "--baseline", baselines, "--history", "2")[0] == 0
    found = store.load_baselines(baselines).history(FINGERPRINT, "t.py::test_keep", "numba")
    assert found is not None
    assert [r.speedup for r in found.runs] == [2.0, 2.0]
    status, _, err = run(capsys, "accept", run_file, "--baseline", baselines, "--history", "0")
    assert status == 2
    assert "--history must be a whole number of runs from 1 to 1000" in err


def test_compare_calls_a_faster_reference_inconclusive(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = [bench("t.py::test_a", "numba", speedup=(4.0, 3.9, 4.1), reference_median=4e-3)]
    # Same kernel (1 ms), reference 4 ms -> 2 ms: the speedup halves, the kernel did not move.
    new = [bench("t.py::test_a", "numba", speedup=(2.0, 1.9, 2.1), reference_median=2e-3)]
    status, out, _ = run(capsys, "compare", *compare_files(tmp_path, old, new), "--fail")
    assert status == 0
    assert verdicts(out) == {("t.py::test_a", "numba"): "inconclusive"}
