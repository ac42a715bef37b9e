"""``--gpuperf-save-runs``: one save records several fresh processes, so the first save holds.

A history of one run can't tell how much a kernel's time moves between processes
from a regression; asv runs each benchmark in several processes for the same
reason. So the run given ``--gpuperf-save`` (the parent) saves its own run, then
runs the tests it saved again in ``N - 1`` fresh processes
(:mod:`pytest_gpuperf.fresh_process`), one after the other. Each of them is judged
against the baselines as they were before this save (a copy the parent made when
it started), as the parent was, so the same rule admits its run, and appends its
run to the baseline file under the same lock as any save. The parent learns from
each how many runs it saved, and says so.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, final

from pytest_gpuperf.fresh_process import Plan, child_kind, read_result, run_child, tell_parent

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pytest

    from pytest_gpuperf.options import Settings


def report_child_save(saved: int, not_saved: int) -> None:
    """In a save run's child, tell the parent how many runs it saved (and could not)."""
    tell_parent({"saved": saved, "not_saved": not_saved})


def wanted(settings: Settings, part: str) -> bool:
    """True for a run that saves, alone (no pytest-xdist), first (not a child), N > 1."""
    return settings.save and settings.save_runs > 1 and part == "solo" and child_kind() is None


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
        outcomes: list[str] = []
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
                outcomes.append(outcome)
                say(f"gpuperf: run {number} of {total}: {outcome}")
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
        notes.insert(
            0,
            f"--gpuperf-save-runs={total}: runs 2-{total} in fresh processes: "
            + "; ".join(outcomes),
        )
        return notes

    def _child(self, number: int, total: int, nodeids: Sequence[str]) -> tuple[str, str]:
        """Run one child; return what it saved, and a problem when it saved nothing."""
        result = self._folder / f"result-{number}.json"
        plan = Plan(tuple(nodeids), str(self._snapshot), str(result), save=True)
        done = run_child(self._config, plan, f"save {number}/{total}", self._folder)
        took = f"{done.seconds:.1f} s"
        counts = read_result(result)
        if counts is None:
            return (
                f"saved nothing (pytest exit {done.code}, {took})",
                f"pytest exited {done.code}; its last lines: {done.tail}",
            )
        not_saved = int(counts.get("not_saved", 0))
        failed = f", {not_saved} not saved (failed or contended there)" if not_saved else ""
        return (
            f"saved {int(counts.get('saved', 0))} run(s){failed} (pytest exit {done.code}, {took})",
            "",
        )
