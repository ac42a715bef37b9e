"""The example project, run the way its users and its CI run it.

Each run happens in a temporary copy of ``example_project/`` (its tests, config
and CI recipes), so nothing is written into the checkout but Numba's on-disk
cache: the kernels are imported from the checkout's ``example_project/src``,
which keeps that cache warm between runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
CPU_RECIPE = EXAMPLE / "ci" / "cpu.yml"
TEST_STEP_ID = "gpuperf-tests"

#: Real time on a machine that reads as idle, so a busy test host cannot make a measurement
#: inconclusive (``fakeclock_plugin`` is copied next to the injection plugins).
QUIET_CPU = ("-p", "fakeclock_plugin", "--fakeclock-real-clock")
#: One kernel file, on the CPU backends only, with a short budget: quick and deterministic.
GATED = ("tests/test_ufuncs.py::test_gaussian", "--gpuperf-backends=numpy,numba")
FAST = ("--gpuperf-max-time=0.3s", "--gpuperf-tolerance=50%", *QUIET_CPU)

#: The size sweep on the CPU backends, with the short budget of ``FAST``.
SWEEP = ("tests/test_damped.py", "--gpuperf-backends=numpy,numba")
#: The kernel that also has torch and dask versions, on the opt-in backends; its own baseline
#: file, so it leaves the one that ``saved_baselines`` writes alone. The point is the mechanics
#: (measured, saved, gated), not the speed, so the tolerance is wider than ``FAST``'s.
EXTRA_BACKENDS = (
    "tests/test_ufuncs.py::test_gaussian",
    "--gpuperf-backends=numpy,torch,dask",
    "--gpuperf-baseline=.gpuperf/extra-backends.json",
    "--gpuperf-max-time=0.5s",
    "--gpuperf-tolerance=75%",
    *QUIET_CPU,
)
#: One thread each for torch and dask, like the NumPy reference. Their thread pools wait for
#: every thread, so on a small host shared with another job a two-thread kernel can run many
#: times slower than it did a moment earlier; a single thread slows down far less.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "DASK_NUM_WORKERS": "1"}

#: ``-p`` plugins written next to the copy and imported before the example's conftest.
PLUGINS = {
    "slow_gaussian": '''
        """Make the Numba CPU Gaussian do its work five times: a 5x slowdown."""
        from accel_kernels import ufuncs

        fast = ufuncs.gaussian_numba


        def gaussian_numba(x, mu, sigma):
            for _ in range(4):
                fast(x, mu, sigma)
            return fast(x, mu, sigma)


        ufuncs.gaussian_numba = gaussian_numba
    ''',
    "wrong_gaussian": '''
        """Make the Numba CPU Gaussian 0.1% too large."""
        import numpy as np

        from accel_kernels import ufuncs

        right = ufuncs.gaussian_numba


        def gaussian_numba(x, mu, sigma):
            return right(x, mu, sigma) * np.float32(1.001)


        ufuncs.gaussian_numba = gaussian_numba
    ''',
    "no_wait": '''
        """Make the example's async_host backend return without waiting for its queued work."""


        def pytest_plugin_registered(plugin):
            backend = getattr(plugin, "AsyncHostBackend", None)
            if backend is not None:
                backend.synchronize = lambda self: None
                backend.make_concrete = lambda self, result: result
    ''',
}


def recipe_step_command(text: str, step_id: str) -> str:
    """The one-line ``run:`` of the workflow step whose ``id`` is ``step_id``."""
    lines = text.splitlines()
    at = next((n for n, line in enumerate(lines) if line.strip() == f"id: {step_id}"), None)
    assert at is not None, f"no step with 'id: {step_id}' in the recipe"
    indent = len(lines[at]) - len(lines[at].lstrip())
    start = at
    while not lines[start].startswith(" " * (indent - 2) + "- "):
        start -= 1
    end = at + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent
    ):
        end += 1
    step = [lines[start].replace("- ", "  ", 1), *lines[start + 1 : end]]
    runs = [line.strip()[len("run:") :].strip() for line in step if line.strip().startswith("run:")]
    assert len(runs) == 1, f"step {step_id!r} must have exactly one run:; found {runs}"
    command = runs[0].strip("'\"")
    assert command, f"step {step_id!r} has an empty run:"
    assert command[0] not in "|>", f"step {step_id!r} must run one line: {command!r}"
    return command


def recipe_env(text: str) -> dict[str, str]:
    """The workflow's top-level ``env:`` entries whose values are plain strings."""
    block = re.search(r"^env:\n((?:[ \t]+.*\n|\s*\n)+)", text, flags=re.MULTILINE)
    assert block is not None, "the recipe has no top-level env:"
    pairs = re.findall(r"^\s+([A-Z_][A-Z0-9_]*):\s*(\S.*?)\s*$", block[1], flags=re.MULTILINE)
    return {key: value.strip("'\"") for key, value in pairs if "${{" not in value}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of example_project/ (without its sources) and the injection plugins."""
    base = tmp_path_factory.mktemp("example")
    shutil.copytree(
        EXAMPLE,
        base / "example_project",
        ignore=shutil.ignore_patterns(
            "src", "__pycache__", ".pytest_cache", ".gpuperf", "*.egg-info", "gpuperf.json"
        ),
    )
    plugins = base / "plugins"
    plugins.mkdir()
    for name, source in PLUGINS.items():
        (plugins / f"{name}.py").write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    shutil.copy(Path(__file__).with_name("fakeclock_plugin.py"), plugins)
    return base


def example_env(workspace: Path, **extra: str) -> dict[str, str]:
    """The environment of a run: the simulator on, the checkout's kernels and our plugins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_STEP"))}
    python_path = [str(EXAMPLE / "src"), str(workspace / "plugins")]
    env.update(
        NUMBA_ENABLE_CUDASIM="1",
        PYTHONPATH=os.pathsep.join([*python_path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    env.update(extra)
    return env


def run_example(
    workspace: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in the copy, with ``env`` added to its environment."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=workspace / "example_project",
        env=example_env(workspace, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """The run's output, for assertion messages."""
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def failed_tests(output: str) -> list[str]:
    """Node ids in the short summary's FAILED lines."""
    return re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def saved_baselines(workspace: Path) -> Path:
    """Run the gated kernel once under ``--gpuperf-save``; return the baseline file.

    One process (``--gpuperf-save-runs=1``): the gate then assumes the cold-start spread,
    and the 50% tolerance of ``FAST`` decides, whatever the host did between processes.
    """
    result = run_example(
        workspace, *GATED, *FAST, "--gpuperf", "--gpuperf-save", "--gpuperf-save-runs=1"
    )
    assert result.returncode == 0, outcome(result)
    assert "saved 2 baseline(s)" in result.stdout, outcome(result)
    path = workspace / "example_project" / ".gpuperf" / "baselines.json"
    assert path.is_file()
    return path


def test_cpu_recipe_command_passes(workspace: Path) -> None:
    """(a) The CPU CI recipe's test command, read from ci/cpu.yml, passes on the example.

    The command and the recipe's environment are used as written; only the
    measurement budget is shortened (``PYTEST_ADDOPTS``) to keep this test quick.
    """
    text = CPU_RECIPE.read_text(encoding="utf-8")
    command = recipe_step_command(text, TEST_STEP_ID)
    env = recipe_env(text)
    assert env.get("NUMBA_ENABLE_CUDASIM") == "1", env
    assert "working-directory: example_project" in text
    assert command.startswith("pytest --gpuperf"), command
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=workspace / "example_project",
        env=example_env(
            workspace,
            **env,
            PYTEST_ADDOPTS="-p no:cacheprovider --gpuperf-max-time=0.25s",
        ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, outcome(result)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed, \d+ skipped", summary), summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary
    # Every backend of the main kernel ran: numba_cuda on the simulator, numpy and numba timed.
    assert re.search(r"test_add2\s+numba_cuda\s.*simulated", result.stdout), outcome(result)
    assert re.search(r"test_add2\s+numba\s", result.stdout), outcome(result)
    # The sweep runs on the simulator at its smallest size only; the larger ones skip there.
    cuda_sweep = r"test_damped_norm \[numba_cuda\] speedup vs n: 256: \S+x — numba_cuda never beats"
    assert re.search(cuda_sweep, result.stdout), outcome(result)


def test_recipe_parser_reads_one_line_steps_only() -> None:
    recipe = textwrap.dedent(
        """
        env:
          NUMBA_ENABLE_CUDASIM: "1"
          CACHE: ${{ github.workspace }}/x
        jobs:
          test:
            steps:
              - uses: actions/checkout@v4
              - name: Tests
                id: gpuperf-tests
                run: pytest --gpuperf
              - name: Other
                id: other
                run: |
                  echo one
        """
    )
    assert recipe_step_command(recipe, "gpuperf-tests") == "pytest --gpuperf"
    assert recipe_env(recipe) == {"NUMBA_ENABLE_CUDASIM": "1"}
    with pytest.raises(AssertionError, match="must run one line"):
        recipe_step_command(recipe, "other")


def test_saved_baselines_then_gate_passes(workspace: Path, saved_baselines: Path) -> None:
    """(b) ``--gpuperf-save`` then ``--gpuperf`` against those baselines: both pass."""
    stored = json.loads(saved_baselines.read_text(encoding="utf-8"))
    assert "tests/test_ufuncs.py::test_gaussian" in json.dumps(stored)
    result = run_example(workspace, *GATED, *FAST, "--gpuperf")
    assert result.returncode == 0, outcome(result)
    for backend in ("numpy", "numba"):
        row = rf"tests/test_ufuncs.py::test_gaussian\s+{backend}\s.*\d\.\d+x\s.*\s(ok|improved)\b"
        assert re.search(row, result.stdout), outcome(result)


def test_gate_fails_only_the_slowed_kernel(workspace: Path, saved_baselines: Path) -> None:
    """(c) A kernel made 5x slower fails its own test, with the regression message."""
    result = run_example(workspace, *GATED, *FAST, "--gpuperf", "-p", "slow_gaussian")
    assert result.returncode == 1, outcome(result)
    assert failed_tests(result.stdout) == ["tests/test_ufuncs.py::test_gaussian[numba]"], outcome(
        result
    )
    assert "1 failed, 1 passed" in result.stdout, outcome(result)
    message = re.search(
        r"tests/test_ufuncs.py::test_gaussian\[numba\] on numba: speedup over gaussian_numpy "
        r"regressed: \S+x \(95% CI \S+\) vs baseline \S+x \(-[5-9]\d\.\d%\); allowed tolerance "
        r"50% \(floor \S+x\); the kernel's own time rose: kernel median \S+ \S+ -> \S+ \S+ "
        r"\(\+\d+%\).*If the new speed is intended, accept it with: pytest --gpuperf "
        r"--gpuperf-save 'tests/test_ufuncs.py::test_gaussian\[numba\]'",
        result.stdout,
    )
    assert message, outcome(result)
    assert re.search(r"test_gaussian\s+numba\s.*REGRESSED", result.stdout), outcome(result)


def test_check_fails_only_the_wrong_kernel(workspace: Path) -> None:
    """(c) A kernel made 0.1% wrong fails its own test, naming where it differs."""
    result = run_example(workspace, *GATED, *FAST, "--gpuperf", "-p", "wrong_gaussian")
    assert result.returncode == 1, outcome(result)
    assert failed_tests(result.stdout) == ["tests/test_ufuncs.py::test_gaussian[numba]"], outcome(
        result
    )
    assert re.search(
        r"test_gaussian\[numba\]: gaussian_numba on numba: [\d,]+ of 1,048,576 elements differ "
        r"\(\d+\.\d+%\) beyond rtol=1e-05",
        result.stdout,
    ), outcome(result)


def test_async_timing_test_fails_when_nothing_waits(workspace: Path) -> None:
    """The example's proof that samples include device work fails if nothing waits for it.

    (The same test passes, waiting, in the full run of (a).)
    """
    node = "tests/test_elementwise.py::test_add2_timing_waits_for_the_device"
    result = run_example(
        workspace, node, "--gpuperf", "--gpuperf-backends=async_host", "-p", "no_wait"
    )
    assert result.returncode == 1, outcome(result)
    assert failed_tests(result.stdout) == [f"{node}[async_host]"], outcome(result)
    assert re.search(
        r"a sample took \d+\.\d+ ms, less than the 5 ms of queued work: the timer did not wait "
        r"for the device",
        result.stdout,
    ), outcome(result)


def test_sweep_reports_speedup_against_size(workspace: Path) -> None:
    """The size sweep prints, per backend, its speedup at each size and where it wins.

    Which size numba starts to win at depends on the machine (and on how busy it is), so
    only the line's form is checked, not the crossover it names.
    """
    result = run_example(workspace, *SWEEP, *FAST, "--gpuperf")
    assert result.returncode == 0, outcome(result)
    assert "10 passed" in result.stdout, outcome(result)
    sweeps = result.stdout.partition("\nsweeps:\n")[2]
    assert sweeps, outcome(result)
    sizes = r"256: \S+x, 4,096: \S+x, 65,536: \S+x, 262,144: \S+x, 1,048,576: \S+x"
    verdict = (
        r"(beats numpy from n = [\d,]+"
        r"|beats numpy at every size measured \(from n = 256\)"
        r"|beats numpy at n = [\d, ]+ but not at the largest, n = 1,048,576"
        r"|never beats numpy up to n = 1,048,576)"
    )
    group = r"^  tests/test_damped.py::test_damped_norm"
    numba = rf"{group} \[numba\] speedup vs n: {sizes} — numba {verdict}$"
    assert re.search(numba, sweeps, flags=re.MULTILINE), outcome(result)
    numpy = rf"{group} \[numpy\] speedup vs n: {sizes} — numpy "
    assert re.search(numpy, sweeps, flags=re.MULTILINE), outcome(result)


def test_torch_and_dask_saved_then_gated(workspace: Path) -> None:
    """The Gaussian on the opt-in torch and dask backends: saved, then gated, with numpy."""
    pytest.importorskip("torch")
    pytest.importorskip("dask.array")
    saved = run_example(workspace, *EXTRA_BACKENDS, "--gpuperf", "--gpuperf-save", env=ONE_THREAD)
    assert saved.returncode == 0, outcome(saved)
    assert "saved 3 baseline(s)" in saved.stdout, outcome(saved)

    # A wide tolerance: this checks that each backend is saved and judged, not its speed
    # (a shared machine moves a one-run baseline by more than the default 10%).
    gated = ("--gpuperf", "--gpuperf-tolerance=90%")
    result = run_example(workspace, *EXTRA_BACKENDS, *gated, env=ONE_THREAD)
    assert result.returncode == 0, outcome(result)
    assert "3 passed" in result.stdout, outcome(result)
    for backend in ("numpy", "torch", "dask"):  # measured, with a baseline, and judged
        # The table keeps to 120 columns: with wide numbers the test name is shortened in
        # the middle ("tests/t...ufuncs.py::test_gaussian"), so match its end only.
        row = (
            rf"test_gaussian\s+{backend}\s.*\dx \[.*\]\s+\S+x\s+1\s"
            r".*\s(ok|improved|inconclusive)\b"
        )
        assert re.search(row, result.stdout), outcome(result)


def test_example_readme_shows_the_real_test() -> None:
    """The python blocks in example_project/README.md are the real tests, in their files."""
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    files = ("test_elementwise.py", "test_damped.py")
    assert len(blocks) == len(files), f"example_project/README.md has {len(blocks)} python blocks"
    for block, name in zip(blocks, files, strict=True):
        source = (EXAMPLE / "tests" / name).read_text(encoding="utf-8")
        assert block.strip() in source, f"the README's block differs from tests/{name}"
