"""The parsed runs of a campaign, and how the tables pick and count them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from campaign import Run, run_from_dict
from pairs import score


class Campaign:
    """The raw data of a campaign, its runs parsed and scored against every baseline."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.meta: dict[str, Any] = data["meta"]
        self.k: int = self.meta["k"]
        self.runs = [run_from_dict(r) for r in data.get("runs", [])]
        self.pairs = score(self.runs, data.get("baselines") or {}) if self.runs else {}


def select(runs: list[Run], method: str, condition: str, busy: bool | None = None) -> list[Run]:
    """The runs of ``method`` under ``condition`` (only busy or quiet ones when ``busy`` is set)."""
    return [
        r
        for r in runs
        if r.method == method and r.condition == condition and (busy is None or r.busy == busy)
    ]


def valid(runs: list[Run]) -> list[Run]:
    """The runs without an error."""
    return [r for r in runs if r.error is None]


def count(runs: list[Run], pred: Callable[[Run], bool]) -> int:
    """How many runs without an error satisfy ``pred``."""
    return sum(1 for r in valid(runs) if pred(r))


def regressed(r: Run) -> bool:
    """Whether the run was flagged as a regression."""
    return r.flagged


def inconclusive(r: Run) -> bool:
    """Whether the run's verdict was inconclusive."""
    return r.verdict == "inconclusive"
