"""The ``gpuperf`` command: show, history, compare, accept, merge, plot, prune, doctor.

Never imports pytest; matplotlib loads only for ``gpuperf plot``. Every bad file
or argument ends with a message on stderr that names it and the fix, and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, TextIO

from pytest_gpuperf.commands.baselines import cmd_accept, cmd_history, cmd_prune, cmd_show
from pytest_gpuperf.commands.inputs import DEFAULT_BASELINE, CliError
from pytest_gpuperf.commands.runs import cmd_compare, cmd_merge, cmd_plot
from pytest_gpuperf.text import printable
from pytest_gpuperf.verdict.history import DEFAULT_FALSE_ALARM, DEFAULT_HISTORY

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The exit status of a command whose output pipe was closed (128 + SIGPIPE), as the shell shows.
BROKEN_PIPE_STATUS = 141


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
