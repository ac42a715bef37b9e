"""Rows of the run's results table, shared by the terminal summary and the reports.

The terminal table fits in 120 columns: each row carries its verdict, and the
reasons go under the table, where a reason shared by several rows is said once.
``-v`` puts each row's reason on the row, as one long line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.verdict.gate import Verdict, baseline_speedup

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.record import RunResults

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
#: The width the default table keeps to.
TABLE_WIDTH = 120
_MIN_TEST_WIDTH = 28


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
    runs: str
    change: str
    detects: str
    verdict: str
    why: str
    rank: int
    #: The between-run spread made the gate blind to losses at the tolerance.
    widened: bool = False
    #: The smallest loss the gate flags, as a fraction (``detects`` is its text).
    detectable: float | None = None


def format_seconds(seconds: float | None) -> str:
    """``1.23 ms``-style text for a duration."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def summary_rows(source: RunResults) -> list[SummaryRow]:
    """One row per measured test and backend, regressions first."""
    rows = []
    for record in source.records:
        m = record.measurement
        gate = record.gate
        verdict = gate.verdict if gate else Verdict.TIMED
        base = baseline_speedup(gate, record.history)
        speed = record.speedup
        why = gate.why if gate else ""
        if m.budget_note and not m.simulated:  # simulated rows are never gated
            why = f"{why}; {m.budget_note}" if why else m.budget_note
        detectable = gate.detectable if gate else None
        runs = (
            gate.runs if gate and gate.bands else len(record.history.runs) if record.history else 0
        )
        rows.append(
            SummaryRow(
                test=record.test_key,
                backend=record.backend,
                median=format_seconds(m.median),
                first_call=format_seconds(m.first_call_s),
                speedup=_speedup_text(speed, simulated=m.simulated),
                baseline=f"{base:.3g}x" if base else "-",
                runs=str(runs) if runs else "-",
                change=f"{speed.value / base - 1:+.1%}" if base and speed else "-",
                detects=f"{detectable:.0%}" if detectable is not None else "-",
                verdict=verdict.value,
                why=_with_warnings(why.splitlines()[0] if why else "", record.performance_warnings),
                rank=_ORDER[verdict],
                widened=any(b.widened for b in gate.bands.values()) if gate else False,
                detectable=detectable,
            )
        )
    return sorted(rows, key=lambda row: (row.rank, row.test, row.backend))


def _with_warnings(why: str, warnings: Sequence[str]) -> str:
    """The row's reason, then each distinct performance warning of its kernel (not raised)."""
    return "; ".join(part for part in (why, *warnings) if part)


def _speedup_text(speed: RatioEstimate | None, *, simulated: bool) -> str:
    """``2.5x [2.4-2.6]``; a simulated speedup (never gated) without its interval."""
    if speed is None:
        return "-"
    if simulated:
        return f"{speed.value:.3g}x"
    return f"{speed.value:.3g}x [{speed.low:.3g}-{speed.high:.3g}]"


_HEADER = ("test", "backend", "median", "speedup [95% CI]", "baseline", "runs", "change", "detects")


def _cells(row: SummaryRow) -> tuple[str, ...]:
    return (
        row.test,
        row.backend,
        row.median,
        row.speedup,
        row.baseline,
        row.runs,
        row.change,
        row.detects,
    )


def summary_lines(
    source: RunResults, sections: Sequence[str] = (), *, verbose: bool = False
) -> list[str]:
    """The terminal table, its reasons, then ``sections`` (sweeps, throughput), then notes."""
    rows = summary_rows(source)
    lines: list[str] = []
    if not rows:
        lines.append("no kernel was measured (use the cuda_sync_timer fixture)")
    elif verbose:
        cells = [(*_cells(r), r.first_call) for r in rows]
        header = (*_HEADER, "1st call")
        widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
        lines.append(_join(header, widths) + "  verdict")
        for row, cell in zip(rows, cells, strict=True):
            verdict = f"{row.verdict} ({row.why})" if row.why else row.verdict
            lines.append(_join(cell, widths) + "  " + verdict)
    else:
        lines.extend(_table(rows))
        lines.extend(_reasons(rows))
        lines.extend(_detection_advice(rows))
    lines.extend(sections)
    lines.extend(source.notes)
    return lines


def _table(rows: Sequence[SummaryRow]) -> list[str]:
    """The rows in at most TABLE_WIDTH columns: a long test name is shortened in the middle."""
    header = (*_HEADER, "verdict")
    cells = [(*_cells(r), r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    others = sum(widths[1:]) + 2 * (len(widths) - 1)
    widths[0] = min(widths[0], max(_MIN_TEST_WIDTH, TABLE_WIDTH - others))
    lines = [_join(header, widths)]
    for cell in cells:
        lines.append(_join((shorten(cell[0], widths[0]), *cell[1:]), widths))
    return [line.rstrip() for line in lines]


def shorten(text: str, width: int) -> str:
    """``text`` cut in the middle with ``...`` so that it fits ``width`` characters."""
    if len(text) <= width:
        return text
    keep = width - 3
    head = keep // 4  # the tail (test name and parameters) says more than the folder
    return text[:head] + "..." + text[len(text) - (keep - head) :]


def _reasons(rows: Sequence[SummaryRow]) -> list[str]:
    """Each row's reason, once: rows that share a reason share a line."""
    by_reason: dict[tuple[str, str], list[SummaryRow]] = {}
    for row in rows:
        if row.why:
            by_reason.setdefault((row.verdict, row.why), []).append(row)
    lines = []
    for (verdict, why), group in by_reason.items():
        if len(group) == 1:
            lines.append(f"  {verdict}: {group[0].test} [{group[0].backend}]: {why}")
        else:
            lines.append(f"  {verdict} ({len(group)} rows): {why}")
    return ["", "why:", *lines] if lines else []


_GATED = frozenset({Verdict.OK.value, Verdict.IMPROVED.value, Verdict.REGRESSED.value})


def _detection_advice(rows: Sequence[SummaryRow]) -> list[str]:
    """Say once when some tests can't detect a loss as small as their tolerance, and what helps."""
    lines = []
    short = [r for r in rows if r.runs in ("1", "2") and r.verdict in _GATED]
    if short:
        lines += [
            "",
            f"{len(short)} row(s) rest on fewer than 3 saved runs: their between-run spread is "
            "pooled over this machine's tests, or assumed; one --gpuperf-save with "
            "--gpuperf-save-runs=3 (the default) gives each its own.",
        ]
    widened = [row for row in rows if row.widened]
    if not widened:
        return lines
    worst = max(widened, key=lambda r: r.detectable or 0.0)
    return [
        *lines,
        "",
        f"{len(widened)} row(s) detect only losses larger than their tolerance, because what "
        f"they are judged on moves between runs on this machine (worst: {worst.test} "
        f"[{worst.backend}], detects {worst.detects}). What helps: more saved runs (each "
        "--gpuperf-save records --gpuperf-save-runs processes; gpuperf accept adds reports), "
        "a larger problem size, a quieter runner, or gpuperf(gate='time') where the reference "
        "is the noisier side.",
    ]


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False))
