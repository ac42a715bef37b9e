"""The run as Markdown: for ``--gpuperf-markdown`` and GitHub's job summary page.

A plain module: no pytest, no numpy. The table is the terminal's (regressions
first), followed by the sweeps, the throughput and the notes when there are any.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_gpuperf.report.gpu_sections import (
    GATE_TIME_NOTE,
    GPU_TIME_HEADER,
    MEMORY_HEADER,
    gpu_time_cells,
    gpu_time_rows,
    memory_cells,
    memory_notes,
    memory_rows,
)
from pytest_gpuperf.report.sweep import (
    benchmark_items,
    describe_crossover,
    describe_points,
    sweep_series,
)
from pytest_gpuperf.report.table import summary_rows
from pytest_gpuperf.report.throughput import peak_notes, throughput_rows
from pytest_gpuperf.store.atomic import WriteError, write_atomic

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from pytest_gpuperf.verdict.record import RunResults

#: The environment variable GitHub Actions sets to the job summary file.
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

#: Verdicts shown in bold: the ones that fail the test.
_FAILING = frozenset({"REGRESSED", "BELOW min_speedup"})


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    """A GitHub-flavoured Markdown table."""
    head = [cell(h) for h in header]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines


def render_markdown(source: RunResults) -> str:
    """The whole report as Markdown text, ending with a newline."""
    lines = ["## gpuperf results", ""]
    if source.fingerprint:
        lines += [f"Machine: `{' '.join(source.fingerprint.split())}`", ""]
    rows = summary_rows(source)
    if rows:
        header = ("test", "backend", "median", "speedup [95% CI]", "baseline", "runs")
        lines += table(
            (*header, "change", "detects", "verdict", "why"),
            (
                (
                    f"`{r.test}`",
                    r.backend,
                    r.median,
                    r.speedup,
                    r.baseline,
                    r.runs,
                    r.change,
                    r.detects,
                    f"**{r.verdict}**" if r.verdict in _FAILING else r.verdict,
                    r.why,
                )
                for r in rows
            ),
        )
    else:
        lines.append("No kernel was measured (use the `cuda_sync_timer` fixture).")
    series = sweep_series(benchmark_items(source.records))
    if series:
        lines += ["", "### Size sweeps", ""]
        lines += table(
            ("test", "backend", "speedup against size", "crossover"),
            (
                (
                    f"`{s.group}`",
                    s.backend,
                    describe_points(s),
                    describe_crossover(s, "the reference" if s.backend == "numpy" else "numpy"),
                )
                for s in series
            ),
        )
    throughput = throughput_rows(source.records)
    if throughput:
        lines += ["", "### Throughput", ""]
        lines += table(
            ("test", "backend", "GB/s", "GFLOP/s", "% of peak"),
            (
                (f"`{t.test}`", t.backend, t.gb_per_s, t.gflop_per_s, t.percent_of_peak)
                for t in throughput
            ),
        )
        peaks = peak_notes(source.records)
        if peaks:
            lines += ["", *(f"- {note}" for note in peaks)]
    times = gpu_time_rows(source.records)
    if times:
        lines += ["", "### GPU time", ""]
        lines += table(GPU_TIME_HEADER, ((f"`{r.test}`", *gpu_time_cells(r)[1:]) for r in times))
        lines += ["", f"- {GATE_TIME_NOTE}"]
    memory = memory_rows(source.records)
    if memory:
        lines += ["", "### Memory (peak of one call)", ""]
        lines += table(MEMORY_HEADER, ((f"`{r.test}`", *memory_cells(r)[1:]) for r in memory))
        lines += ["", *(f"- {note}" for note in memory_notes(source.records))]
    if source.notes:
        lines += ["", "### Notes", "", *(f"- {note}" for note in source.notes)]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, text: str) -> None:
    """Replace the report at ``path`` atomically, creating its folder; WriteError on failure."""
    write_atomic(Path(path), text, what="the Markdown report", fix="fix --gpuperf-markdown")


def append_step_summary(text: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when it is set; never truncate what is there."""
    target = (os.environ if environ is None else environ).get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    needs_gap = path.exists() and path.stat().st_size > 0
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("\n" if needs_gap else "") + text)
    return path


def publish(source: RunResults, path: Path | None) -> tuple[list[str], bool]:
    """Write the Markdown file and the job summary.

    Return notes on what could not be written, and whether the Markdown file failed
    (which fails the run; a job summary that can't be appended is only noted).
    """
    text = render_markdown(source)
    problems = []
    failed = False
    if path is not None:
        try:
            write_markdown(path, text)
        except WriteError as exc:
            problems.append(f"Markdown report NOT written to {path}: {exc}")
            failed = True
    try:
        append_step_summary(text)
    except OSError as exc:
        problems.append(
            f"job summary NOT appended to ${STEP_SUMMARY_ENV}="
            f"{os.environ.get(STEP_SUMMARY_ENV)!r}: {exc}"
        )
    return problems, failed
