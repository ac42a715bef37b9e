"""``gpuperf compare``, ``merge`` and ``plot``: the commands on run reports (``--gpuperf-json``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from pytest_gpuperf.commands.inputs import (
    CliError,
    load_baselines_file,
    load_run_file,
)
from pytest_gpuperf.parsing import parse_fraction
from pytest_gpuperf.store.saved_runs import compare_runs
from pytest_gpuperf.text import columns, printable


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    """Print the speedup changes between two runs; with --fail, exit 1 on a regression."""
    try:
        tolerance = parse_fraction(args.tolerance, "--tolerance", "from command line")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    old, new = load_run_file(args.old), load_run_file(args.new)
    changes = compare_runs(old, new, tolerance)
    if old.fingerprint != new.fingerprint:
        print(
            "note: the runs come from different machines "
            f"({printable(old.fingerprint or 'unknown')} vs "
            f"{printable(new.fingerprint or 'unknown')}); their speedups may not be comparable",
            file=out,
        )
    rows = [
        (
            c.test_key,
            c.backend,
            f"{c.old.value:.3g}x" if c.old else "-",
            str(c.new) if c.new else "-",
            f"{c.change:+.1%}" if c.change is not None else "-",
            c.verdict,
        )
        for c in changes
    ]
    header = ("test", "backend", "old", "new [95% CI]", "change", "verdict")
    for line in columns(header, rows):
        print(line, file=out)
    regressed = sum(c.verdict == "REGRESSED" for c in changes)
    print(
        f"{regressed} regressed beyond the {tolerance:.0%} tolerance; {len(changes)} compared",
        file=out,
    )
    return 1 if args.fail and regressed else 0


def cmd_merge(args: argparse.Namespace, out: TextIO) -> int:
    """Merge shard run reports into one; with --fail, exit 1 when a result regressed."""
    from pytest_gpuperf.report import markdown
    from pytest_gpuperf.report.json_report import write_json
    from pytest_gpuperf.report.merge import MergeError, failing, merge_runs, render_markdown

    output = Path(args.output)
    if any(Path(name).resolve() == output.resolve() for name in args.runs):
        raise CliError(f"-o {output} names one of the shard reports; write the merge elsewhere")
    runs = [load_run_file(name) for name in args.runs]
    try:
        merged, notes = merge_runs(runs)
    except MergeError as exc:
        raise CliError(str(exc)) from None
    try:
        write_json(output, merged)
    except OSError as exc:
        raise CliError(f"{output}: cannot write the merged report ({exc}); fix -o") from None
    print(
        f"merged {len(merged['benchmarks'])} result(s) from {len(runs)} shard report(s) "
        f"into {output}",
        file=out,
    )
    for note in notes:
        print(f"note: {note}", file=out)
    text = render_markdown(merged)
    try:
        if args.markdown is not None:
            markdown.write_markdown(Path(args.markdown), text)
        if args.summary and markdown.append_step_summary(text) is None:
            print(
                f"note: ${markdown.STEP_SUMMARY_ENV} is not set; no job summary written", file=out
            )
    except OSError as exc:
        raise CliError(f"cannot write the Markdown report ({exc}); fix --markdown") from None
    bad = failing(merged)
    for test, backend, verdict in bad:
        print(f"{verdict}: {test} on {backend}", file=out)
    return 1 if args.fail and bad else 0


def cmd_plot(args: argparse.Namespace, out: TextIO) -> int:
    """Write the run's figures as PNG files."""
    from pytest_gpuperf.report import plots

    run = load_run_file(args.run)
    baselines: dict[tuple[str, str], float] | None = None
    if args.baseline is not None:
        stored = load_baselines_file(Path(args.baseline), "--baseline", must_exist=True)
        baselines = {
            (key, backend): e.speedup
            for fp, key, backend, e in stored.iter_entries()
            if fp == run.fingerprint
        }
    try:
        written = plots.write_plots(run.raw, Path(args.output), baselines=baselines)
    except plots.PlotError as exc:
        raise CliError(str(exc)) from None
    if not written:
        print(f"{run.path}: nothing to plot (no measured speedups)", file=out)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0
