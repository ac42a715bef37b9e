"""``gpuperf show``, ``history``, ``accept`` and ``prune``: the commands on a baseline file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pytest_gpuperf.commands.inputs import (
    CliError,
    load_baselines_file,
    load_run_file,
)
from pytest_gpuperf.parsing import parse_false_alarm, parse_fraction, parse_history
from pytest_gpuperf.report.table import format_seconds
from pytest_gpuperf.store import baseline as store
from pytest_gpuperf.store.saved_runs import RUN_FIX, Speedup, baseline_entries
from pytest_gpuperf.text import columns, printable

if TYPE_CHECKING:
    from pytest_gpuperf.verdict.bands import Band


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    """Print the stored baselines, one table per machine."""
    path = Path(args.baseline)
    baselines = load_baselines_file(path, "the BASELINE argument", must_exist=True)
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
        for line in columns(header, rows.get(fingerprint, [])):
            print(f"  {line}", file=out)
    return 0


def cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    """Print each saved run of the matching tests, and the floor the next run must reach."""
    from pytest_gpuperf.measure.statistics import RatioEstimate
    from pytest_gpuperf.verdict.bands import band, point_speed
    from pytest_gpuperf.verdict.cold_start import prior_for
    from pytest_gpuperf.verdict.history import describe_runs

    try:
        tolerance = parse_fraction(args.tolerance, "--tolerance", "from command line")
        false_alarm = parse_false_alarm(args.false_alarm, "--false-alarm", "from command line")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    path = Path(args.baseline)
    baselines = load_baselines_file(path, "--baseline", must_exist=True)
    found = [
        row
        for row in baselines.iter_histories()
        if (args.test is None or args.test in row[1]) and (args.machine in (None, row[0]))
    ]
    if not found:
        what = f"matching {args.test!r}" if args.test else "at all"
        raise CliError(f"{path}: no saved runs {what}; list the tests with: gpuperf show {path}")
    header = ("#", "saved", "commit", "speedup [95% CI]", "kernel median", "reference median")
    limits = {"tolerance": tolerance, "false_alarm": false_alarm}
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
        for line in columns(header, rows):
            print(f"  {line}", file=out)
        latest = history.latest
        priors = baselines.priors(fingerprint, backend)
        k = len(history.runs)
        speedups = band(
            [run.speedup for run in history.runs],
            RatioEstimate(latest.speedup, latest.ci_low, latest.ci_high),
            prior=prior_for("speedup", k, priors),
            **limits,
        )
        print(
            f"  baseline {speedups.center:.3g}x from {describe_runs(k)}; "
            f"{_spread_text(speedups)}; floor {speedups.floor:.3g}x at {tolerance:.0%} "
            f"tolerance and {false_alarm:.0%} false alarms: detects losses >= "
            f"{speedups.detectable:.0%}",
            file=out,
        )
        if history.has_device_times:
            device = [run.kernel_device_median_s or 0.0 for run in history.runs]
            then = device[-1]
            times = band(
                [1 / t for t in device],
                point_speed(then),
                prior=prior_for("device", k, priors),
                **limits,
            )
            print(
                f"  CUDA-event time {format_seconds(1 / times.center)}; {_spread_text(times)}; "
                f"ceiling {format_seconds(1 / times.floor)} (what a device row is gated on by "
                f"default): detects slowdowns >= {1 / (1 - times.detectable) - 1:.0%}",
                file=out,
            )
    return 0


def _spread_text(found: Band) -> str:
    """``between-run spread 3.1%`` and where it came from."""
    if found.spread is None:
        return "between-run spread unknown (fewer than 3 runs)"
    source = {
        "pooled": f" (pooled over this machine's tests, {found.df:.3g} df)",
        "assumed": " (assumed: too few runs here, and no other test to pool)",
    }.get(found.source, "")
    return f"between-run spread {found.spread:.1%}{source}"


def cmd_accept(args: argparse.Namespace, out: TextIO) -> int:
    """Merge a run's trustworthy speedups into the baseline file under its machine."""
    run = load_run_file(args.run)
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
    load_baselines_file(path, "--baseline", must_exist=False)  # a damaged file stops here
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
        for line in columns(("test", "backend", "speedup [95% CI]"), rows):
            print(f"  {line}", file=out)
    if skipped:
        print(f"skipped {len(skipped)}:", file=out)
        rows = [(e.test_key, e.backend, why) for e, why in skipped]
        for line in columns(("test", "backend", "why"), rows):
            print(f"  {line}", file=out)
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
