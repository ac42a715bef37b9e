"""The whole ``RESULTS.md``: the header, every section in order, and the notes."""

from __future__ import annotations

from typing import Any

from campaign import GPUPERF

from results.cells import pct
from results.conditions import conditions_section, pairs_section, time_section
from results.costs import imports_section, install_section, timer_section
from results.protocol import protocol_section, workload_section
from results.runs import Campaign
from results.targets import targets_section


def header(c: Campaign) -> list[str]:
    """Title, date, command, code, machine, versions and load of the campaign."""
    meta = c.meta
    title = "# pytest-gpuperf benchmark results"
    if not meta.get("final"):
        title += " (SMOKE TEST: the numbers mean nothing)"
    lines = [
        title,
        "",
        f"- Date: {meta['date']}; total duration {meta.get('duration_s', 0) / 60:.1f} min",
        f"- Command: `{meta['command']}` (K={c.k} runs per condition and method, "
        f"seed {meta['seed']})",
        f"- Code: {meta['git']}",
        f"- Machine: {meta['machine']}",
        f"- Versions: {meta['versions']}",
        f"- Foreign CPU share before the runs: {pct(meta.get('foreign_before'))}; "
        f"load average at start {meta.get('load_start')}, at end {meta.get('load_end')}",
    ]
    return [*lines, ""]


def notes_section(c: Campaign) -> list[str]:
    """The campaign's notes, plus one when the gpuperf baseline could not be saved."""
    notes = list(c.meta.get("notes", []))
    baselines = c.data.get("baselines") or {}
    if c.runs and not baselines.get(GPUPERF):
        notes.append(
            "The gpuperf baseline could not be saved (contended on every try), so no "
            "gpuperf run was judged against a baseline: its run-level figures are void."
        )
    if not notes:
        return []
    return ["## Notes", "", *(f"- {n}" for n in notes), ""]


SECTIONS = (
    header,
    targets_section,
    protocol_section,
    workload_section,
    conditions_section,
    pairs_section,
    time_section,
    timer_section,
    install_section,
    imports_section,
    notes_section,
)


class Report:
    """The Markdown built from the raw data of a campaign."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.campaign = Campaign(data)

    def markdown(self) -> str:
        """The whole RESULTS.md."""
        parts = [section(self.campaign) for section in SECTIONS]
        return "\n".join(line for part in parts for line in part).rstrip() + "\n"
