"""Rows of the run's results table, shared by the terminal summary and the reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, final

from pytest_gpuperf.gate import Verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.baseline import BaselineEntry
    from pytest_gpuperf.runner import TestRecord

#: Regressions first, then what needs attention, then the rest.
_ORDER = {
    Verdict.REGRESSED: 0,
    Verdict.BELOW_FLOOR: 1,
    Verdict.INCONCLUSIVE: 2,
    Verdict.IMPROVED: 3,
    Verdict.NEW: 4,
    Verdict.OK: 5,
    Verdict.SIMULATED: 6,
    Verdict.TIMED: 7,
}


class RecordSource(Protocol):
    """What the table needs from a session."""

    records: list[TestRecord]
    notes: list[str]

    def baseline(self, test_key: str, backend: str) -> BaselineEntry | None:
        """The baseline entry for a test and backend on this machine."""


@final
@dataclass(frozen=True)
class SummaryRow:
    """One line of the results table, as text cells."""

    test: str
    backend: str
    median: str
    first_call: str
    speedup: str
    baseline: str
    change: str
    verdict: str
    why: str
    rank: int


def format_seconds(seconds: float | None) -> str:
    """``1.23 ms``-style text for a duration."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def summary_rows(source: RecordSource) -> list[SummaryRow]:
    """One row per measured test and backend, regressions first."""
    rows = []
    for record in source.records:
        m = record.measurement
        verdict = record.gate.verdict if record.gate else Verdict.TIMED
        entry = source.baseline(record.test_key, record.backend)
        speed = m.speedup
        why = record.gate.why if record.gate else ""
        if m.budget_note and not m.simulated:  # simulated rows are never gated
            why = f"{why}; {m.budget_note}" if why else m.budget_note
        rows.append(
            SummaryRow(
                test=record.test_key,
                backend=record.backend,
                median=format_seconds(m.median),
                first_call=format_seconds(m.first_call_s),
                speedup=f"{speed.value:.3g}x [{speed.low:.3g}-{speed.high:.3g}]" if speed else "-",
                baseline=f"{entry.speedup:.3g}x" if entry else "-",
                change=f"{speed.value / entry.speedup - 1:+.1%}" if entry and speed else "-",
                verdict=verdict.value,
                why=why.splitlines()[0] if why else "",
                rank=_ORDER[verdict],
            )
        )
    return sorted(rows, key=lambda row: (row.rank, row.test, row.backend))


_HEADER = ("test", "backend", "median", "1st call", "speedup [95% CI]", "baseline", "change")


def summary_lines(source: RecordSource, sections: Sequence[str] = ()) -> list[str]:
    """The terminal table, then ``sections`` (sweeps, throughput), then the session's notes."""
    rows = summary_rows(source)
    lines: list[str] = []
    if rows:
        cells = [
            (r.test, r.backend, r.median, r.first_call, r.speedup, r.baseline, r.change)
            for r in rows
        ]
        widths = [max(len(str(c[i])) for c in [_HEADER, *cells]) for i in range(len(_HEADER))]
        lines.append(_join(_HEADER, widths) + "  verdict")
        for row, cell in zip(rows, cells, strict=False):
            verdict = f"{row.verdict} ({row.why})" if row.why else row.verdict
            lines.append(_join(cell, widths) + "  " + verdict)
    else:
        lines.append("no kernel was measured (use the cuda_sync_timer fixture)")
    lines.extend(sections)
    lines.extend(source.notes)
    return lines


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False))
