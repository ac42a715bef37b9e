"""A test's saved runs on one machine: the accepted history a new run is judged against.

A plain module: no pytest, no numpy. Each (machine, test, backend) keeps its last
few accepted runs. From them the gate learns how much an unchanged kernel moves
between processes on this machine (:mod:`pytest_gpuperf.verdict.bands`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.store.baseline_entry import BaselineEntry

#: Runs needed before a test's own between-run spread is estimated and used alone.
MIN_RUNS = 3
#: Accepted runs kept per (machine, test, backend) unless ``gpuperf_history`` says otherwise.
DEFAULT_HISTORY = 10
#: Share of unchanged-code runs the gate may flag, unless ``gpuperf_false_alarm`` says otherwise.
DEFAULT_FALSE_ALARM = 0.01


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean of positive numbers."""
    return math.exp(statistics.fmean(math.log(v) for v in values))


@final
@dataclass(frozen=True)
class History:
    """The accepted runs of one test and backend on one machine, oldest first."""

    runs: tuple[BaselineEntry, ...]

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a history holds at least one run")

    @property
    def latest(self) -> BaselineEntry:
        """The most recently accepted run."""
        return self.runs[-1]

    def appended(self, run: BaselineEntry, limit: int) -> History:
        """This history with ``run`` added, keeping the newest ``limit`` runs."""
        return History((*self.runs, run)[-limit:])

    @property
    def has_device_times(self) -> bool:
        """True when every saved run has a CUDA-event median."""
        return all(run.kernel_device_median_s for run in self.runs)


def describe_runs(runs: int) -> str:
    """``1 saved run`` / ``4 saved runs``."""
    return f"{runs} saved run{'s' if runs != 1 else ''}"
