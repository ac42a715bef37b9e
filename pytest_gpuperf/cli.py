"""The ``gpuperf`` command: show, history, compare, accept, merge, plot, prune, doctor.

Never imports pytest; matplotlib loads only for ``gpuperf plot``. Every bad file
or argument ends with a message on stderr that names it and the fix, and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pytest_gpuperf.parsing import parse_false_alarm, parse_fraction, parse_history
from pytest_gpuperf.report.table import format_seconds
from pytest_gpuperf.store import baseline as store
from pytest_gpuperf.store.saved_runs import (
    RUN_FIX,
    Run,
    RunReportError,
    Speedup,
    baseline_entries,
    compare_runs,
    load_run,
)
from pytest_gpuperf.text import printable
from pytest_gpuperf.verdict.history import DEFAULT_FALSE_ALARM, DEFAULT_HISTORY

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_BASELINE = Path(".gpuperf/baselines.json")
#: The exit status of a command whose output pipe was closed (128 + SIGPIPE), as the shell shows.
BROKEN_PIPE_STATUS = 141


class CliError(Exception):
    """A bad file or argument; the message names it and says what to do. Exit status 2."""


def _load_run(path: str) -> Run:
    try:
        return load_run(Path(path))
    except RunReportError as exc:
        raise CliError(str(exc)) from None


def _load_baselines(path: Path, source: str, *, must_exist: bool) -> store.Baselines:
    if must_exist and path.is_dir():
        raise CliError(
            f"{path}: is a directory, not a baseline file; pass the file, e.g. "
            f"{path / 'baselines.json'}"
        )
    if must_exist and not path.is_file():
        raise CliError(
            f"{path}: no baseline file here; record one with pytest --gpuperf --gpuperf-save, "
            "or pass the file's path"
        )
    try:
        return store.load_baselines(path, source)
    except store.BaselineError as exc:
        raise CliError(str(exc)) from None


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart; control characters in cells escaped."""
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


# -- show ---------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    """Print the stored baselines, one table per machine."""
    path = Path(args.baseline)
    baselines = _load_baselines(path, "the BASELINE argument", must_exist=True)
    if not baselines.fingerprints():
        print(
            f"{path}: no baselines stored yet; record some with pytest --gpuperf --gpuperf-save",
            file=out,
        )
        return 0
    header = (
        "test",
        "backend",
        "speedup [95% CI]",
        "kernel median",
        "reference median",
        "samples",
        "saved",
    )
    rows: dict[str, list[tuple[str, ...]]] = {}
    for fingerprint, test_key, backend, e in baselines.iter_entries():
        rows.setdefault(fingerprint, []).append(
            (
                test_key,
                backend,
                str(Speedup(e.speedup, e.ci_low, e.ci_high)),
                format_seconds(e.kernel_median_s),
                format_seconds(e.reference_median_s),
                str(e.samples),
                e.timestamp,
            )
        )
    for number, fingerprint in enumerate(baselines.fingerprints()):
        if number:
            print(file=out)
        print(f"machine {printable(fingerprint)}", file=out)
        for line in _table(header, rows.get(fingerprint, [])):
            print(f"  {line}", file=out)
    return 0


# -- history ------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    """Print each saved run of the matching tests, and the floor the next run must reach."""
    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.history import band, describe_runs

    try:
        tolerance = parse_fraction(args.tolerance, "--tolerance", "from command line")
        false_alarm = parse_false_alarm(args.false_alarm, "--false-alarm", "from command line")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    path = Path(args.baseline)
    baselines = _load_baselines(path, "--baseline", must_exist=True)
    found = [
        row
        for row in baselines.iter_histories()
        if (args.test is None or args.test in row[1]) and (args.machine in (None, row[0]))
    ]
    if not found:
        what = f"matching {args.test!r}" if args.test else "at all"
        raise CliError(f"{path}: no saved runs {what}; list the tests with: gpuperf show {path}")
    header = ("#", "saved", "commit", "speedup [95% CI]", "kernel median", "reference median")
    for number, (fingerprint, test_key, backend, history) in enumerate(found):
        if number:
            print(file=out)
        print(
            f"{printable(test_key)} [{printable(backend)}] on machine {printable(fingerprint)}",
            file=out,
        )
        rows = [
            (
                str(index),
                run.timestamp,
                (run.commit or "-")[:12],
                str(Speedup(run.speedup, run.ci_low, run.ci_high)),
                format_seconds(run.kernel_median_s),
                format_seconds(run.reference_median_s),
            )
            for index, run in enumerate(history.runs, start=1)
        ]
        for line in _table(header, rows):
            print(f"  {line}", file=out)
        latest = history.latest
        limits = band(
            [run.speedup for run in history.runs],
            RatioEstimate(latest.speedup, latest.ci_low, latest.ci_high),
            tolerance=tolerance,
            false_alarm=false_alarm,
        )
        spread = (
            f"between-run spread {limits.spread:.1%}"
            if limits.spread is not None
            else "between-run spread unknown (fewer than 3 runs)"
        )
        print(
            f"  baseline {limits.center:.3g}x from {describe_runs(limits.runs)}; {spread}; "
            f"floor {limits.floor:.3g}x at {tolerance:.0%} tolerance and {false_alarm:.0%} "
            f"false alarms: detects losses >= {limits.detectable:.0%}",
            file=out,
        )
    return 0


# -- compare ------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    """Print the speedup changes between two runs; with --fail, exit 1 on a regression."""
    try:
        tolerance = parse_fraction(args.tolerance, "--tolerance", "from command line")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    old, new = _load_run(args.old), _load_run(args.new)
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
    for line in _table(header, rows):
        print(line, file=out)
    regressed = sum(c.verdict == "REGRESSED" for c in changes)
    print(
        f"{regressed} regressed beyond the {tolerance:.0%} tolerance; {len(changes)} compared",
        file=out,
    )
    return 1 if args.fail and regressed else 0


# -- accept -------------------------------------------------------------------------------


def cmd_accept(args: argparse.Namespace, out: TextIO) -> int:
    """Merge a run's trustworthy speedups into the baseline file under its machine."""
    run = _load_run(args.run)
    path = Path(args.baseline)
    if not run.fingerprint:
        raise CliError(
            f"{run.path}: the report has no machine_info.gpuperf.fingerprint, so its machine is "
            f"unknown; {RUN_FIX}"
        )
    try:
        keep = parse_history(args.history, "--history", "from command line")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _load_baselines(path, "--baseline", must_exist=False)  # a damaged file stops here
    entries, accepted, skipped = baseline_entries(run)
    if entries:
        try:
            store.save_baselines(path, run.fingerprint, run.machine, entries, history=keep)
        except store.BaselineError as exc:
            raise CliError(str(exc)) from None
    print(
        f"accepted {len(accepted)} baseline(s) into {path} for machine "
        f"{printable(run.fingerprint)}",
        file=out,
    )
    if accepted:
        rows = [(e.test_key, e.backend, str(e.speedup)) for e in accepted]
        for line in _table(("test", "backend", "speedup [95% CI]"), rows):
            print(f"  {line}", file=out)
    if skipped:
        print(f"skipped {len(skipped)}:", file=out)
        rows = [(e.test_key, e.backend, why) for e, why in skipped]
        for line in _table(("test", "backend", "why"), rows):
            print(f"  {line}", file=out)
    return 0


# -- merge --------------------------------------------------------------------------------


def cmd_merge(args: argparse.Namespace, out: TextIO) -> int:
    """Merge shard run reports into one; with --fail, exit 1 when a result regressed."""
    from pytest_gpuperf.report import markdown
    from pytest_gpuperf.report.json_report import write_json
    from pytest_gpuperf.report.merge import MergeError, failing, merge_runs, render_markdown

    output = Path(args.output)
    if any(Path(name).resolve() == output.resolve() for name in args.runs):
        raise CliError(f"-o {output} names one of the shard reports; write the merge elsewhere")
    runs = [_load_run(name) for name in args.runs]
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


# -- plot and prune -----------------------------------------------------------------------


def cmd_plot(args: argparse.Namespace, out: TextIO) -> int:
    """Write the run's figures as PNG files."""
    from pytest_gpuperf.report import plots

    run = _load_run(args.run)
    baselines: dict[tuple[str, str], float] | None = None
    if args.baseline is not None:
        stored = _load_baselines(Path(args.baseline), "--baseline", must_exist=True)
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


def cmd_prune(args: argparse.Namespace, out: TextIO) -> int:
    """Remove one machine's baselines from the file."""
    path = Path(args.baseline)
    try:
        removed = store.prune_machine(path, args.machine)
    except store.BaselineError as exc:
        raise CliError(str(exc)) from None
    print(
        f"removed {removed} baseline(s) of machine {printable(args.machine)} from {path}",
        file=out,
    )
    return 0


def cmd_doctor(args: argparse.Namespace, out: TextIO) -> int:
    """Print what this machine can time; exit 1 when something is broken."""
    import json

    from pytest_gpuperf.machine.doctor import diagnose, render

    report = diagnose()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True), file=out)
    else:
        for line in render(report):
            print(line, file=out)
    return 1 if report.broken else 0


def build_parser() -> argparse.ArgumentParser:
    """The ``gpuperf`` argument parser and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="gpuperf", description="Read and manage pytest-gpuperf baselines and run reports."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    baseline_help = f"baseline file (default {DEFAULT_BASELINE})"

    show = sub.add_parser("show", help="print the stored baselines per machine")
    show.add_argument(
        "baseline", nargs="?", default=str(DEFAULT_BASELINE), metavar="BASELINE", help=baseline_help
    )
    show.set_defaults(func=cmd_show)

    compare = sub.add_parser("compare", help="compare the speedups of two --gpuperf-json runs")
    compare.add_argument("old", metavar="OLD.json")
    compare.add_argument("new", metavar="NEW.json")
    compare.add_argument(
        "--tolerance",
        default="10%",
        metavar="FRACTION",
        help="allowed speedup loss, as 10%% or 0.1 (default 10%%)",
    )
    compare.add_argument("--fail", action="store_true", help="exit 1 when a speedup regressed")
    compare.set_defaults(func=cmd_compare)

    accept = sub.add_parser("accept", help="store a run's passing speedups as baselines")
    accept.add_argument("run", metavar="RUN.json")
    accept.add_argument(
        "--baseline", default=str(DEFAULT_BASELINE), metavar="PATH", help=baseline_help
    )
    accept.add_argument(
        "--history",
        default=str(DEFAULT_HISTORY),
        metavar="N",
        help="saved runs kept per test and backend, like the gpuperf_history ini key (default 10)",
    )
    accept.set_defaults(func=cmd_accept)

    history = sub.add_parser(
        "history", help="print each saved run of a test, and the floor the next run must reach"
    )
    history.add_argument(
        "test", nargs="?", default=None, metavar="TEST", help="part of a test id (default: all)"
    )
    history.add_argument(
        "--baseline", default=str(DEFAULT_BASELINE), metavar="PATH", help=baseline_help
    )
    history.add_argument("--machine", default=None, metavar="FINGERPRINT", help="only this machine")
    history.add_argument(
        "--tolerance",
        default="10%",
        metavar="FRACTION",
        help="tolerance for the floor shown, as 10%% or 0.1 (default 10%%)",
    )
    history.add_argument(
        "--false-alarm",
        default=f"{DEFAULT_FALSE_ALARM:.0%}",
        metavar="FRACTION",
        help="false-alarm rate for the floor shown, as 1%% or 0.01 (default 1%%)",
    )
    history.set_defaults(func=cmd_history)

    merge = sub.add_parser("merge", help="merge shard --gpuperf-json reports into one report")
    merge.add_argument("runs", nargs="+", metavar="RUN.json")
    merge.add_argument(
        "-o", "--output", required=True, metavar="MERGED.json", help="the merged report"
    )
    merge.add_argument(
        "--markdown", default=None, metavar="PATH", help="also write the merged run as Markdown"
    )
    merge.add_argument(
        "--summary",
        action="store_true",
        help="append the Markdown to $GITHUB_STEP_SUMMARY (the job summary page)",
    )
    merge.add_argument(
        "--fail", action="store_true", help="exit 1 when a result is REGRESSED or below its floor"
    )
    merge.set_defaults(func=cmd_merge)

    plot = sub.add_parser("plot", help="draw a run's speedups, sweeps and compile times as PNG")
    plot.add_argument("run", metavar="RUN.json")
    plot.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="folder for the PNG files"
    )
    plot.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help="mark baselines from this file (default: the run's own)",
    )
    plot.set_defaults(func=cmd_plot)

    prune = sub.add_parser("prune", help="remove one machine's baselines")
    prune.add_argument(
        "--machine", required=True, metavar="FINGERPRINT", help="fingerprint shown by gpuperf show"
    )
    prune.add_argument(
        "--baseline", default=str(DEFAULT_BASELINE), metavar="PATH", help=baseline_help
    )
    prune.set_defaults(func=cmd_prune)

    doctor = sub.add_parser(
        "doctor", help="check backends, versions, devices, NVML and CUDA events; exit 1 if broken"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gpuperf`` command; return its exit status (2 on a bad file or argument)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None) * 2
    try:
        status: int = args.func(args, sys.stdout)
        sys.stdout.flush()
    except CliError as exc:
        print(f"gpuperf {args.command}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _closed_pipe()
    return status


def _closed_pipe() -> int:
    """The reader (``| head``) went away: stop quietly, as command-line tools do.

    stdout is pointed at devnull so that Python's final flush does not raise again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced, e.g. by a test's capture
        pass
    finally:
        os.close(devnull)
    return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
