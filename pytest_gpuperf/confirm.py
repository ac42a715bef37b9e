"""``--gpuperf-confirm=fresh``: a suspected regression measured again in a fresh process.

The decision is :func:`pytest_gpuperf.verdict.confirmation.after_fresh_process`;
this module runs the process (:mod:`pytest_gpuperf.fresh_process`) and reads the
row it measured back from its ``--gpuperf-json`` report.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, final

from pytest_gpuperf.fresh_process import Plan, child_kind, run_child
from pytest_gpuperf.store.saved_runs import RunReportError, load_run
from pytest_gpuperf.verdict.confirmation import FreshRun

if TYPE_CHECKING:
    import pytest

    from pytest_gpuperf.options import Settings

#: A fresh process that takes longer than this is given up on (seconds, with the
#: measuring budget added): the regression then stands, unconfirmed.
TIMEOUT_S = 300.0
#: Once fresh processes agreed on this many regressions, the run's regressions are
#: real, not one process's luck: the rest stand without a fresh process each.
AGREED_ENOUGH = 3


def wanted(settings: Settings, part: str) -> bool:
    """True when suspected regressions are confirmed in a fresh process in this run.

    Not in a fresh process itself, and not under pytest-xdist: a worker's command
    line is the controller's, and the locks that keep workers from timing at once
    would not hold the fresh process.
    """
    return settings.confirm == "fresh" and part == "solo" and child_kind() is None


@final
class FreshConfirmation:
    """Measures one test again in a fresh process, judged against ``baseline``."""

    def __init__(self, config: pytest.Config, baseline: Path, budget_s: float) -> None:
        self._config = config
        self._baseline = baseline
        self._timeout = TIMEOUT_S + 4 * budget_s
        self._agreed = 0

    def __call__(self, nodeid: str, test_key: str, backend: str) -> FreshRun | str:
        """The fresh process's row for this test and backend, or why there is none."""
        if self._agreed >= AGREED_ENOUGH:
            return (
                f"fresh processes already confirmed {self._agreed} regressions in this run, "
                "so the rest are not measured again"
            )
        found = self._measure(nodeid, test_key, backend)
        if isinstance(found, FreshRun) and found.verdict == "REGRESSED":
            self._agreed += 1
        return found

    def _measure(self, nodeid: str, test_key: str, backend: str) -> FreshRun | str:
        """Run the test in a fresh process and read its row back."""
        folder = Path(tempfile.mkdtemp(prefix="gpuperf-confirm-"))
        try:
            report = folder / "fresh.json"
            plan = Plan(
                nodeids=(nodeid,),
                judge_baseline=str(self._baseline),
                result=str(folder / "result.json"),
                save=False,
                report=str(report),
            )
            done = run_child(self._config, plan, "confirm", folder, timeout=self._timeout)
            if done.code == -1:
                return f"it ran out of time ({done.seconds:.0f} s)"
            try:
                run = load_run(report)
            except RunReportError:
                return f"pytest exited {done.code} with no report; its last lines: {done.tail}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for entry in run.entries:
            if entry.test_key == test_key and entry.backend == backend:
                return FreshRun(
                    verdict=entry.verdict,
                    speedup=entry.speedup.value if entry.speedup else None,
                    kernel_median_s=entry.kernel_median_s,
                )
        return f"pytest exited {done.code} and measured no {test_key} on {backend}"
