"""The bad-input catalogue: every kind of bad input a new user tried, kept from regressing.

Each case asserts the exit status, the first line of the message (an fnmatch
pattern), and that the files involved are byte-identical afterwards. Option, ini,
baseline and marker cases run in-process (numpy is imported by conftest); the
kernel cases share one measured run; the CLI runs in-process; kill -9 and
concurrent saves use subprocesses that call ``save_baselines`` directly.
"""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import fakeclock_plugin
import filelock
import pytest
from catalogue_data import (
    BAD_BASELINES,
    BAD_INI,
    BAD_MARKERS,
    BAD_OPTIONS,
    CLI_CASES,
    KERNEL_CASES,
    MACHINE_FP,
    VALID_BASELINE,
    baseline_doc,
)
from run_reports import bench, report, write

from pytest_gpuperf import cli
from pytest_gpuperf.store import atomic, baseline

REPO_ROOT = Path(baseline.__file__).resolve().parent.parent
PLAIN_TESTS = """
    def test_x(backend):
        pass

    def test_plain():
        pass
"""
SKIP_DIRS = {"__pycache__", ".pytest_cache"}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes; caches and (empty, git-ignored) locks left out."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.suffix == ".lock":
            continue
        if path.is_file() and not SKIP_DIRS & set(path.relative_to(root).parts):
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def first_line(lines: list[str]) -> str:
    """The first non-empty line."""
    return next((line for line in lines if line.strip()), "")


def assert_first_line(lines: list[str], pattern: str) -> None:
    """The first line matches ``pattern``, where only ``*`` is a wildcard."""
    line = first_line(lines)
    assert fnmatch.fnmatchcase(line, pattern.replace("[", "[[]").replace("?", "[?]")), (
        f"{line[:500]!r}\n  does not match\n{pattern!r}"
    )
    assert len(line) < 1000, "a bad value must be shortened in the message"


# --- options and ini keys: usage errors, nothing written ----------------------------------------


def _project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLAIN_TESTS)
    (pytester.path / ".gpuperf").mkdir()
    (pytester.path / ".gpuperf" / "baselines.json").write_text(VALID_BASELINE)


@pytest.mark.parametrize(
    ("args", "expected"), [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS]
)
def test_bad_option(pytester: pytest.Pytester, args: list[str], expected: str) -> None:
    _project(pytester)
    before = snapshot(pytester.path)
    result = pytester.runpytest("--gpuperf", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_first_line(result.errlines, expected)
    assert snapshot(pytester.path) == before


@pytest.mark.parametrize(("ini", "expected"), [c[1:] for c in BAD_INI], ids=[c[0] for c in BAD_INI])
def test_bad_ini_key(pytester: pytest.Pytester, ini: str, expected: str) -> None:
    _project(pytester)
    pytester.makeini(f"[pytest]\n{ini}\n")
    before = snapshot(pytester.path)
    result = pytester.runpytest("--gpuperf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_first_line(result.errlines, expected)
    assert snapshot(pytester.path) == before


@pytest.mark.parametrize(
    ("where", "make", "expected"),
    [
        (
            "option-directory",
            "dir",
            "ERROR: */some_dir: is a directory, not a file (from --gpuperf-baseline); point "
            "--gpuperf-baseline at a baseline file, e.g. */some_dir/baselines.json",
        ),
        (
            "option-test-file",
            "py",
            "ERROR: */test_bad_baseline_path.py: not valid JSON (*) (from --gpuperf-baseline); "
            "the file is corrupt or truncated; check that --gpuperf-baseline names your "
            "baseline file; if it does, restore it *",
        ),
        (
            "option-under-a-file",
            "under",
            "ERROR: */blocker.txt/b.json: cannot read the file (*Not a directory*) (from "
            "--gpuperf-baseline); check the file and --gpuperf-baseline",
        ),
        (
            "ini-directory",
            "ini",
            "ERROR: */some_dir: is a directory, not a file (from gpuperf_baseline in "
            "*tox.ini); point gpuperf_baseline in *tox.ini at a baseline file, *",
        ),
    ],
)
def test_bad_baseline_path(pytester: pytest.Pytester, where: str, make: str, expected: str) -> None:
    _project(pytester)
    (pytester.path / "some_dir").mkdir()
    (pytester.path / "some_dir" / "keep").write_text("x")
    args = ["--gpuperf"]
    if make == "dir":
        args.append("--gpuperf-baseline=some_dir")
    elif make == "py":
        args.append("--gpuperf-baseline=test_bad_baseline_path.py")
    elif make == "under":
        pytester.makefile(".txt", blocker="a file, not a folder")
        args.append("--gpuperf-baseline=blocker.txt/b.json")
    else:
        pytester.makeini("[pytest]\ngpuperf_baseline = some_dir\n")
    before = snapshot(pytester.path)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_first_line(result.errlines, expected)
    assert snapshot(pytester.path) == before


# --- corrupt baseline files: usage errors naming the file, never rewritten ----------------------


@pytest.mark.parametrize(
    ("content", "expected"), [c[1:] for c in BAD_BASELINES], ids=[c[0] for c in BAD_BASELINES]
)
def test_corrupt_baseline(pytester: pytest.Pytester, content: str, expected: str) -> None:
    _project(pytester)
    path = pytester.path / ".gpuperf" / "baselines.json"
    path.write_text(content)
    before = snapshot(pytester.path)
    result = pytester.runpytest("--gpuperf", "--gpuperf-save")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_first_line(result.errlines, f"ERROR: {path}: {expected}")
    assert snapshot(pytester.path) == before


def test_corrupt_baseline_too_large(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline, "MAX_BYTES", 1024)
    _project(pytester)
    path = pytester.path / ".gpuperf" / "baselines.json"
    path.write_text(VALID_BASELINE + " " * 2048)
    before = snapshot(pytester.path)
    result = pytester.runpytest("--gpuperf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_first_line(
        result.errlines,
        f"ERROR: {path}: larger than the 0.000976562 MiB limit for this file (from *); *",
    )
    assert snapshot(pytester.path) == before


def test_corrupt_baseline_not_utf8(pytester: pytest.Pytester) -> None:
    _project(pytester)
    path = pytester.path / ".gpuperf" / "baselines.json"
    path.write_bytes(b'{"schema": 1, "machines": {"\xff": {}}}')
    before = snapshot(pytester.path)
    result = pytester.runpytest("--gpuperf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert_first_line(result.errlines, f"ERROR: {path}: cannot read it as UTF-8 text (*); *")
    assert snapshot(pytester.path) == before


# --- outputs that can't be written: the run fails, the summary stays ----------------------------

MEASURED = """
    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(10_000)
        return a + 1

    def kernel(a):
        advance(5_000)
        return a + 1

    @pytest.mark.gpuperf(reference=reference)
    def test_add(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(kernel, gpu_array(np.zeros(4, dtype=np.float64)))
"""
MEASURE = ("--gpuperf", "--gpuperf-backends=numpy", "--gpuperf-max-time=0.05")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--gpuperf-json=out_dir"],
            "JSON report NOT written: out_dir: cannot write the JSON "
            "report: it is a directory; fix --gpuperf-json",
        ),
        (
            ["--gpuperf-json=blocker.txt/run.json"],
            "JSON report NOT written: blocker.txt/run.json: "
            "cannot write the JSON report: *; fix --gpuperf-json",
        ),
        (
            ["--gpuperf-markdown=out_dir"],
            "Markdown report NOT written to out_dir: out_dir: "
            "cannot write the Markdown report: it is a directory; fix --gpuperf-markdown",
        ),
    ],
    ids=["json-directory", "json-under-a-file", "markdown-directory"],
)
def test_unwritable_output_fails_the_run(
    pytester: pytest.Pytester, args: list[str], expected: str
) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_m=MEASURED)
    pytester.makefile(".txt", blocker="a file, not a folder")
    (pytester.path / "out_dir").mkdir()
    before = snapshot(pytester.path)
    result = pytester.runpytest(*MEASURE, *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    gpuperf = result.outlines[
        result.outlines.index(next(line for line in result.outlines if "= gpuperf =" in line)) + 1 :
    ]
    assert_first_line([line for line in gpuperf if "NOT" in line], expected)
    result.stdout.fnmatch_lines(
        [
            "test_m.py::test_add  numpy  *",
            "exit status 1: * could not be written (see above)",
            "*= 1 passed in *",
        ]
    )
    assert snapshot(pytester.path) == before


def test_save_that_cannot_replace_the_file_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_m=MEASURED)
    (pytester.path / ".gpuperf").mkdir()
    (pytester.path / ".gpuperf" / "baselines.json").write_text(VALID_BASELINE)
    before = snapshot(pytester.path)
    monkeypatch.setattr(os, "replace", disk_full)
    result = pytester.runpytest(*MEASURE, "--gpuperf-save")
    monkeypatch.undo()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "baselines NOT saved: */.gpuperf/baselines.json: cannot write the baseline file: "
            "No space left on device; check that */.gpuperf is writable and has free space",
            "exit status 1: the baselines could not be written (see above)",
            "*= 1 passed in *",
        ]
    )
    after = snapshot(pytester.path)
    after.pop(".gpuperf/.gitignore")  # the first save into .gpuperf/ adds it
    assert after == before


def test_lock_that_cannot_be_opened_fails_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_m=MEASURED)
    result = pytester.runpytest(*MEASURE, "--gpuperf-save")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["baselines NOT saved: *: cannot create or open the lock file *baselines.json.lock *"]
    )
    assert not (pytester.path / ".gpuperf" / "baselines.json").exists()


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (["--gpuperf-save"], "", "gpuperf: --gpuperf-save ignored: they need --gpuperf *"),
        (
            ["--gpuperf-json=r.json", "--gpuperf-markdown=r.md"],
            "",
            "gpuperf: --gpuperf-json, --gpuperf-markdown ignored: *",
        ),
        (["--gpuperf-plot=plots"], "", "gpuperf: --gpuperf-plot ignored: *"),
        ([], "gpuperf_markdown = r.md", "gpuperf: gpuperf_markdown (from config file) ignored: *"),
    ],
    ids=["save", "json-markdown", "plot", "markdown-ini"],
)
def test_output_options_without_gpuperf_say_so(
    pytester: pytest.Pytester, args: list[str], ini: str, expected: str
) -> None:
    pytester.makepyfile(PLAIN_TESTS)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    before = snapshot(pytester.path)
    result = pytester.runpytest("--gpuperf-backends=numpy", *args)
    assert result.ret == pytest.ExitCode.OK
    assert_first_line([line for line in result.outlines if "ignored" in line], expected)
    assert snapshot(pytester.path) == before


# --- marker keywords: one run, each bad keyword fails its own test at setup ---------------------


@pytest.fixture(scope="module")
def marker_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, str]]:
    """Run one module with a test per bad marker; return the exit status and first lines."""
    folder = tmp_path_factory.mktemp("markers")
    tests = ["import math", "import pytest", ""]
    for case_id, source, _ in BAD_MARKERS:
        name = case_id.replace("-", "_")
        tests += [f"@pytest.mark.gpuperf({source})", f"def test_{name}():", "    pass", ""]
    (folder / "test_markers.py").write_text("\n".join(tests))
    return _run_collecting(folder, ["--gpuperf-backends=numpy"])


def _run_collecting(folder: Path, args: list[str]) -> tuple[int, dict[str, str]]:
    """Run pytest in a subprocess; return its status and each failing test's first line."""
    report = folder / "first_lines.json"
    (folder / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import json
            LINES = {{}}

            def pytest_runtest_logreport(report):
                if report.failed:
                    crash = getattr(report.longrepr, "reprcrash", None)
                    text = crash.message if crash is not None else str(report.longrepr)
                    LINES[report.nodeid] = text.splitlines()[0]

            def pytest_sessionfinish(session):
                with open({str(report)!r}, "w") as handle:
                    json.dump(LINES, handle)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = json.loads(report.read_text()) if report.exists() else {}
    assert lines, proc.stdout + proc.stderr
    return proc.returncode, lines


@pytest.mark.parametrize(
    ("case_id", "expected"), [(c[0], c[2]) for c in BAD_MARKERS], ids=[c[0] for c in BAD_MARKERS]
)
def test_bad_marker(
    marker_reports: tuple[int, dict[str, str]], case_id: str, expected: str
) -> None:
    status, lines = marker_reports
    assert status == pytest.ExitCode.TESTS_FAILED
    nodeid = f"test_markers.py::test_{case_id.replace('-', '_')}"
    assert_first_line([lines.get(nodeid, "")], f"Failed: {nodeid}{expected.removeprefix('*')}")


# --- kernels: raising, wrong shape, dtype or NaN, bad bytes= ------------------------------------

KERNELS = """
    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    CALLS = {}

    def count(name):
        CALLS[name] = CALLS.get(name, 0) + 1
        return CALLS[name]

    def reference(a):
        advance(10_000)
        return a + 1

    def overflow_later(a):
        advance(10_000)
        if count("overflow_later") > 1:
            raise OverflowError("int32 overflow")
        return a + 1

    def good(a):
        advance(5_000)
        return a + 1

    def raise_first(a):
        raise ValueError("boom")

    def raise_later(a):
        advance(5_000)
        if count("raise_later") > 3:
            raise ValueError("late boom")
        return a + 1

    def wrong_shape(a):
        return (a + 1)[:3]

    def wrong_dtype(a):
        return (a + 1).astype(np.float32)

    def nan_result(a):
        return a * np.nan

    def returns_none(a):
        return None
"""


@pytest.fixture(scope="module")
def kernel_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, str]]:
    """One measured run (fake clock) with a test per bad kernel."""
    folder = tmp_path_factory.mktemp("kernels")
    source = [textwrap.dedent(KERNELS)]
    for case_id, kernel, marker, _ in KERNEL_CASES:
        keywords = {"reference": "reference", **marker}
        args = ", ".join(f"{k}={v}" for k, v in keywords.items())
        source.append(
            textwrap.dedent(
                f"""
                @pytest.mark.gpuperf({args})
                def test_{case_id.replace("-", "_")}(backend, gpu_array, cuda_sync_timer):
                    cuda_sync_timer({kernel}, gpu_array(np.zeros(4, dtype=np.float64)))
                """
            )
        )
    (folder / "test_kernels.py").write_text("\n".join(source))
    return _run_collecting(folder, ["-p", "fakeclock_plugin", *MEASURE])


@pytest.mark.parametrize(
    ("case_id", "expected"), [(c[0], c[3]) for c in KERNEL_CASES], ids=[c[0] for c in KERNEL_CASES]
)
def test_bad_kernel(
    kernel_reports: tuple[int, dict[str, str]], case_id: str, expected: str
) -> None:
    status, lines = kernel_reports
    assert status == pytest.ExitCode.TESTS_FAILED
    nodeid = f"test_kernels.py::test_{case_id.replace('-', '_')}[numpy]"
    assert_first_line([lines.get(nodeid, "")], expected)


# --- the gpuperf command: missing, corrupt and wrong arguments (exit 2) -------------------------


#: A saved result whose speedup is 0: a file edited by hand, or damaged.
ZERO_SPEEDUP = {
    "stats": {"median": 1e-3},
    "extra_info": {
        "gpuperf": {
            "test_key": "t.py::test_x",
            "backend": "numba",
            "speedup": {"value": 0.0, "low": 0.0, "high": 0.0},
        }
    },
}


def _run_report(
    path: Path, fingerprint: str = MACHINE_FP, entries: list[dict[str, Any]] | None = None
) -> None:
    path.write_text(
        json.dumps(
            {
                "machine_info": {
                    "gpuperf": {"fingerprint": fingerprint, "machine": {}, "versions": {}}
                },
                "benchmarks": entries or [],
                "gpuperf": {"schema": 1, "notes": []},
            }
        )
    )


@pytest.mark.parametrize(
    ("argv", "expected"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_bad_cli_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baselines.json").write_text(VALID_BASELINE)
    (tmp_path / "corrupt.json").write_text("{")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    _run_report(tmp_path / "run.json")
    _run_report(tmp_path / "nofp.json", fingerprint="")
    _run_report(tmp_path / "zero.json", entries=[ZERO_SPEEDUP])
    before = snapshot(tmp_path)
    assert cli.main(argv) == 2
    assert_first_line(capsys.readouterr().err.splitlines(), expected)
    assert snapshot(tmp_path) == before


def test_cli_accept_with_a_lock_it_cannot_open_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(self: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    run = write(tmp_path / "run.json", report(bench("t.py::test_x", "numba")))
    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    target = tmp_path / "b.json"
    target.write_text(VALID_BASELINE)
    before = snapshot(tmp_path)
    assert cli.main(["accept", str(run), "--baseline", str(target)]) == 2
    assert_first_line(
        capsys.readouterr().err.splitlines(),
        "gpuperf accept: error: *b.json: cannot create or open the lock file *b.json.lock *",
    )
    assert snapshot(tmp_path) == before


def test_cli_show_escapes_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = baseline_doc()
    doc["machines"] = {"evil\x1b]0;pwned\x07 \u202e": doc["machines"][MACHINE_FP]}  # type: ignore[index]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    before = snapshot(tmp_path)
    assert cli.main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert not {"\x1b", "\x07", "\u202e"} & set(out)
    assert first_line(out.splitlines()) == "machine evil\\x1b]0;pwned\\x07 \\u202e"
    assert snapshot(tmp_path) == before


def test_cli_piped_into_head_exits_quietly(tmp_path: Path) -> None:
    doc = baseline_doc()
    tests = doc["machines"][MACHINE_FP]["tests"]  # type: ignore[index]
    entry = tests["t.py::test_x"]["numba"]
    for n in range(20_000):
        tests[f"t.py::test_{n}"] = {"numba": entry}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    script = f"{sys.executable} -m pytest_gpuperf.cli show {path} | head -n 2"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.stderr == ""
    assert proc.returncode == cli.BROKEN_PIPE_STATUS
    assert proc.stdout.splitlines()[0] == f"machine {MACHINE_FP}"


# --- concurrent saves and kill -9 during a save -------------------------------------------------

SAVER = """
import sys
from pathlib import Path
from pytest_gpuperf.store.baseline import save_baselines
from pytest_gpuperf.store.baseline_entry import BaselineEntry

path, worker, count, pad = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
entry = BaselineEntry(
    speedup=2.0, ci_low=1.5, ci_high=2.5, kernel_median_s=0.001, reference_median_s=0.002,
    samples=3, dtypes=("float32",) * pad, shapes=((8,),), versions={}, timestamp="2024-05-01",
    foreign_cpu=0.0,
)
for i in range(count):
    save_baselines(path, "fp", {}, {f"t_{worker}_{i}": {"numba": entry}})
    print(i, flush=True)
"""


def _saver(path: Path, worker: int, count: int, pad: int = 1) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path), str(worker), str(count), str(pad)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_saves_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".gpuperf" / "baselines.json"
    workers = [_saver(path, n, 10) for n in range(3)]
    for proc in workers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    stored = baseline.load_baselines(path)
    keys = {key for _, key, _, _ in stored.iter_entries()}
    assert keys == {f"t_{n}_{i}" for n in range(3) for i in range(10)}
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [".gitignore", "baselines.json", "baselines.json.lock"]


def test_kill_9_during_saves_leaves_a_whole_file_and_no_lasting_litter(tmp_path: Path) -> None:
    path = tmp_path / ".gpuperf" / "baselines.json"
    for attempt in range(3):
        proc = _saver(path, attempt, 1000, pad=20_000)  # about 0.2 MB a write
        assert proc.stdout is not None
        proc.stdout.readline()  # one save done: the next ones are under way
        time.sleep(0.05 * (attempt + 1))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        stored = baseline.load_baselines(path)  # old or new, never half a file
        assert any(key.startswith(f"t_{attempt}_") for _, key, _, _ in stored.iter_entries())
    pattern = atomic.temp_pattern(path.name)
    litter = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    old = time.time() - atomic.STALE_AFTER_S - 1
    for stale in litter:
        os.utime(stale, (old, old))
    before = path.read_bytes()
    keep = _saver(path, 9, 1)
    _, err = keep.communicate(timeout=60)
    assert keep.returncode == 0, err
    assert not [p for p in path.parent.iterdir() if pattern.fullmatch(p.name)]
    assert len(path.read_bytes()) > len(before) // 2
    assert baseline.load_baselines(path).machines["fp"]["tests"]  # type: ignore[index]


def test_catalogue_has_at_least_sixty_kinds() -> None:
    kinds: list[Any] = [
        *BAD_OPTIONS,
        *BAD_INI,
        *BAD_BASELINES,
        *BAD_MARKERS,
        *KERNEL_CASES,
        *CLI_CASES,
    ]
    assert len(kinds) >= 60
    assert len({k[0] for k in BAD_BASELINES}) == len(BAD_BASELINES)
