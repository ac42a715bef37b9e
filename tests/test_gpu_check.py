"""``bench/gpu_check.sh``: its no-GPU form end to end, its offline install, and each step's logic.

The steps that need a GPU (the comparison with cupyx, the faults, the suite, the
campaign on real backends) are tested here on canned outputs and fakes; only a
GPU machine runs them for real.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))  # the gpucheck package, as gpu_check.py imports it

from gpucheck import link_checkout, project_steps, steps  # noqa: E402


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env.update(extra)
    return env


def test_the_script_without_a_gpu_writes_what_it_ran_and_skipped(tmp_path: Path) -> None:
    # No venv, no install: the interpreter is used as it is. The README's test command does not
    # install the example project, so its sources come from the checkout.
    example_src = str(BENCH.parent / "example_project" / "src")
    python_path = os.pathsep.join(filter(None, [example_src, os.environ.get("PYTHONPATH")]))
    env = _env(OUT=str(tmp_path), GPU_CHECK_PYTHON=sys.executable, PYTHONPATH=python_path)
    done = subprocess.run(
        ["bash", str(BENCH / "gpu_check.sh"), "--no-gpu", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "GPU_RESULTS.md").read_text(encoding="utf-8")
    assert "WITHOUT a GPU (the steps that need one were skipped)" in text
    assert f"| install | skipped | - | skipped: GPU_CHECK_PYTHON={sys.executable} is used" in text
    assert "| gpuperf doctor | ok |" in text
    assert "| example project, -n 2 (numba_cuda on the simulator, cupy skipped) | ok |" in text
    assert "test_add2[numba_cuda]: speedup" in text
    assert "| cuda_sync_timer vs cupyx.profiler.benchmark | skipped | - | no CUDA device" in text
    for fault in ("broken GPU library", "illegal address", "twice the device"):
        assert f"{fault}" in text
    assert text.count("| skipped | - | needs a CUDA device |") == 3
    assert "| the project's own tests, -n " in text
    # the campaign's plumbing, on the CPU stand-in: 1 saved run, one round, every gate
    assert "| planted-slowdown campaign (CPU stand-in: the numba backend" in text
    assert "1 saved run(s), 1 round(s); the change is the kernel's wall time" in text
    assert '| condition | backend | round | gate="speedup" | gate="time" | default gate |' in text
    for condition in ("unchanged", "+20%", "+50%"):
        assert f"| {condition} | numba | 1 | " in text
        assert f"{condition}: REGRESSED under " in text
    assert "Every run's JSON report: campaign-reports.tar.gz." in text
    assert not (BENCH / "GPU_RESULTS.md.tmp").exists()
    # the raw material beside the results: the example's report, the campaign's, the logs
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["GPU_RESULTS.md", "campaign-reports.tar.gz", "example.json", "step-logs.tar.gz"]
    with tarfile.open(tmp_path / "campaign-reports.tar.gz") as archive:
        names = sorted(Path(n).name for n in archive.getnames() if n.endswith(".json"))
    # the run reports, and the baseline file they were judged against when accept kept a row
    # (on a busy machine every row is contended and nothing is saved)
    reports = [f"round-1-{c}.json" for c in ("20", "50", "unchanged")] + ["saved-0.json"]
    assert [n for n in names if n != "baselines.json"] == reports
    with tarfile.open(tmp_path / "step-logs.tar.gz") as archive:
        assert [Path(n).name for n in archive.getnames() if n.endswith(".log")] == ["example.log"]


def _wheel(folder: Path, name: str, version: str, module: str) -> Path:
    """A minimal pure-Python wheel, built by hand (no build backend, no network)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def test_the_install_without_network_carries_wheels_and_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "gpucheck_carried", "1.0", "VALUE = 42\n")
    venv = tmp_path / "venv"
    env = _env(
        OUT=str(tmp_path / "out"),
        GPU_CHECK_BASE_PYTHON=sys.executable,  # a venv itself: the new one must see its packages
        GPU_CHECK_VENV=str(venv),
        GPU_CHECK_WHEELS=str(wheels),
        PIP_INDEX_URL="http://127.0.0.1:9/simple/",  # refused at once: no network
    )
    done = subprocess.run(
        ["bash", str(BENCH / "gpu_check.sh"), "--no-gpu", "--steps="],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "out" / "GPU_RESULTS.md").read_text(encoding="utf-8")
    assert f"| install | ok | - | {venv}/bin/python: numpy " in text
    assert "no network: http://127.0.0.1:9/simple/ did not answer within 5 s" in text
    assert "installed from " in text
    assert "gpucheck_carried-1.0-py3-none-any.whl" in text
    assert (
        "installed pytest-gpuperf and the example project from this checkout, offline" in text
        or "linked this checkout into the venv instead" in text
    )
    probe = "import gpucheck_carried, numpy, pytest_gpuperf; print(gpucheck_carried.VALUE)"
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=False
    )
    assert check.stdout.strip() == "42", check.stderr


def test_link_checkout_writes_an_importable_plugin_with_its_entry_points(tmp_path: Path) -> None:
    written = link_checkout.link(tmp_path)
    assert [p.name for p in written] == [
        "_gpu_check_checkout.pth",
        "pytest_gpuperf-0.1.0.dist-info",
    ]
    pth = (tmp_path / "_gpu_check_checkout.pth").read_text().splitlines()
    assert pth == [str(link_checkout.ROOT), str(link_checkout.ROOT / "example_project" / "src")]
    (dist,) = importlib.metadata.distributions(path=[str(tmp_path)])
    assert dist.metadata["Name"] == "pytest-gpuperf"
    points = {(e.group, e.name): e.value for e in dist.entry_points}
    assert points[("pytest11", "gpuperf")] == "pytest_gpuperf.plugin"
    assert points[("console_scripts", "gpuperf")] == "pytest_gpuperf.cli:main"


def test_unknown_steps_are_refused_with_the_known_ones() -> None:
    with pytest.raises(SystemExit):
        gpu_check.main(["--steps=doctor,nonsense"])
    with pytest.raises(Exception, match="unknown step"):
        gpu_check._steps("doctor,nonsense")
    assert gpu_check._steps("campaign, suite") == {"campaign", "suite"}


# -- time limits ----------------------------------------------------------------------


def test_a_step_that_runs_out_of_time_takes_its_children_down(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {child}; wait"
    done = steps.run(["bash", "-c", script], cwd=tmp_path, env=_env(), timeout=1)
    assert done.status == 124
    assert done.exit_text().startswith("timed out after ")
    pid = int(child.read_text())
    deadline = time.monotonic() + 10  # a SIGKILL lands soon after killpg, not at once
    while True:
        try:  # killed: a zombie until its new parent reaps it, then gone
            stat = Path(f"/proc/{pid}/stat").read_text()
            state = stat.rpartition(")")[2].split()[0]
        except FileNotFoundError:
            state = "gone"
        if state in ("Z", "gone") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert state in ("Z", "gone")


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (0, "exit 0"),
        (1, "exit 1"),
        (-9, "killed by signal 9 (SIGKILL)"),
        (137, "killed by signal 9 (SIGKILL)"),
    ],
)
def test_exit_text_says_how_a_command_ended(status: int, text: str) -> None:
    assert steps.Finished(status, "", 3.0).exit_text() == text


def test_the_budget_keeps_back_what_later_steps_need(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(steps.time, "monotonic", lambda: now[0])
    budget = steps.Budget(300)
    assert budget.limit(90) == 90
    assert budget.limit(90, keep=250) == 50
    now[0] += 280
    assert budget.limit(90, keep=10) == 10
    skipped = steps.out_of_time("suite", 60, budget)
    assert skipped.outcome == "skipped"
    assert skipped.summary.startswith("out of time: 20 s of the 300 s budget left")


def test_progress_of_a_suite_that_ran_out_of_time() -> None:
    output = "....F.s.x [ 10%]\n..E        [ 20%]\nsome other line with dots...\n"
    text = project_steps.progress_text(output)
    assert (
        text == "stopped after 12 test outcomes: 8 passed, 1 failed, 1 errors, 1 skipped, 1 xfailed"
    )


def test_key_lines_keep_what_matches_cut_and_counted() -> None:
    output = "\n".join(["noise", *(f"FAILED test_{i}" for i in range(30)), "x" * 300 + " Killed"])
    lines = steps.key_lines(output, "FAILED|Killed", limit=5, width=20)
    assert lines == [*(f"FAILED test_{i}" for i in range(4)), "... and 27 more"]
    assert steps.clean("\x1b[1mGrid size 2\x1b[0m") == "Grid size 2"
