"""``--gpuperf-save-runs``: one save records several fresh processes, so the first save holds.

What a kernel's time does between processes (where the OS puts Numba's threads,
the memory layout, how fast the CPU reference runs that time) is invisible inside
one process, and a history of one run can't tell it from a regression. asv runs
each benchmark in several processes for the same reason. So the run given
``--gpuperf-save`` (the parent) saves its own run, then starts ``N - 1`` more
pytest processes, one after the other, with the same command line in the same
folder. Each of them (a child):

- runs only the tests the parent saved; the others are deselected;
- is judged against the baselines as they were before this save (a copy the
  parent made when it started), as the parent was, so the same rule admits its run;
- writes no reports: no ``--gpuperf-json``, Markdown, plots, job summary, JUnit XML
  or pytest-benchmark JSON;
- appends its run to the baseline file, under the same lock as any save.

The parent learns from each child how many runs it saved, and says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pytest_gpuperf.options import Settings

#: Set in a child: ``"2/3"`` is the second of three runs.
CHILD_ENV = "GPUPERF_SAVE_RUN"
#: Set in a child: the JSON file with the tests to run and where to judge against.
PLAN_ENV = "GPUPERF_SAVE_RUN_PLAN"
#: How many lines of a failed child's output the parent quotes.
TAIL_LINES = 5


@final
@dataclass(frozen=True)
class Plan:
    """What a child runs: these node ids, judged against ``judge_baseline``, saved to ``result``."""

    nodeids: tuple[str, ...]
    judge_baseline: str
    result: str


def child_run() -> tuple[int, int] | None:
    """``(this run, of runs)`` in a child process, else None."""
    text = os.environ.get(CHILD_ENV, "")
    number, _, total = text.partition("/")
    if not (number.isdigit() and total.isdigit()):
        return None
    return int(number), int(total)


def child_plan() -> Plan | None:
    """The parent's plan for this child, or None outside a child (or when it can't be read)."""
    path = os.environ.get(PLAN_ENV)
    if child_run() is None or not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Plan(tuple(data["nodeids"]), str(data["judge_baseline"]), str(data["result"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def quiet_child_outputs(config: pytest.Config) -> None:
    """In a child, switch off the outputs the parent writes: JUnit XML and pytest-benchmark's.

    Runs before the plugins that write them read their options (``pytest_cmdline_main``).
    """
    option = config.option
    for name, off in (
        ("xmlpath", None),
        ("benchmark_json", None),
        ("benchmark_autosave", False),
        ("benchmark_save", None),
        ("benchmark_save_data", False),
    ):
        if hasattr(option, name):
            setattr(option, name, off)


def child_settings(settings: Settings) -> Settings:
    """A child's settings: it saves, once, and writes none of the parent's reports."""
    return dataclasses.replace(
        settings, json_path=None, markdown_path=None, plot_dir=None, save_runs=1
    )


@final
class ChildSelection:
    """A child's plugin: run only the tests the parent saved, deselect the rest."""

    def __init__(self, nodeids: Sequence[str]) -> None:
        self._wanted = set(nodeids)

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep the saved tests, in their order; report the others as deselected."""
        kept = [item for item in items if item.nodeid in self._wanted]
        dropped = [item for item in items if item.nodeid not in self._wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept


def report_child_save(saved: int, not_saved: int) -> None:
    """In a child, tell the parent how many runs this process saved (and how many it could not)."""
    plan = child_plan()
    if plan is not None:
        payload = {"saved": saved, "not_saved": not_saved}
        Path(plan.result).write_text(json.dumps(payload), encoding="utf-8")


@final
class SaveRuns:
    """The parent's side: a copy of the baselines as they were, then the extra runs."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self._config = config
        self._settings = settings
        self._folder = Path(tempfile.mkdtemp(prefix="gpuperf-save-runs-"))
        self._snapshot = self._folder / "baselines-before.json"
        if settings.baseline_path.is_file():
            shutil.copyfile(settings.baseline_path, self._snapshot)

    def run(self, nodeids: Sequence[str], say: Callable[[str], None]) -> list[str]:
        """Run the extra processes one after the other; return the summary's notes."""
        total = self._settings.save_runs
        saved_counts: list[str] = []
        notes: list[str] = []
        try:
            for number in range(2, total + 1):
                say(
                    f"gpuperf: --gpuperf-save run {number} of {total}: re-running "
                    f"{len(nodeids)} saved test(s) in a fresh process"
                )
                outcome, problem = self._child(number, total, nodeids)
                if problem:
                    notes.append(f"--gpuperf-save run {number} of {total} saved nothing: {problem}")
                saved_counts.append(outcome)
                say(f"gpuperf: run {number} of {total}: {outcome}")
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
        notes.insert(
            0,
            f"--gpuperf-save-runs={total}: runs 2-{total} in fresh processes: "
            + "; ".join(saved_counts),
        )
        return notes

    def _child(self, number: int, total: int, nodeids: Sequence[str]) -> tuple[str, str]:
        """Run one child; return what it saved, and a problem when it saved nothing."""
        result = self._folder / f"result-{number}.json"
        plan = self._folder / f"plan-{number}.json"
        plan.write_text(
            json.dumps(
                {
                    "nodeids": list(nodeids),
                    "judge_baseline": str(self._snapshot),
                    "result": str(result),
                }
            ),
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
        env.update({CHILD_ENV: f"{number}/{total}", PLAN_ENV: str(plan)})
        params = self._config.invocation_params
        command = [sys.executable, "-m", "pytest", *params.args]
        log = self._folder / f"output-{number}.txt"
        start = time.perf_counter()
        with log.open("wb") as out:
            code = subprocess.call(
                command, cwd=params.dir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        took = f"{time.perf_counter() - start:.1f} s"
        counts = _read_counts(result)
        if counts is None:
            tail = _tail(log)
            return (
                f"saved nothing (pytest exit {code}, {took})",
                f"pytest exited {code}; its last lines: {tail}",
            )
        saved, not_saved = counts
        failed = f", {not_saved} not saved (failed or contended there)" if not_saved else ""
        return f"saved {saved} run(s){failed} (pytest exit {code}, {took})", ""


def _read_counts(path: Path) -> tuple[int, int] | None:
    """What a child reported it saved, or None when it reported nothing."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return int(data["saved"]), int(data["not_saved"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _tail(path: Path) -> str:
    """The last lines of a child's output, joined with `` | ``."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no output)"
    kept = [line.strip() for line in lines if line.strip()][-TAIL_LINES:]
    return " | ".join(kept) or "(no output)"
