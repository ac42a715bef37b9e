"""GPU-runner bench without a GPU: the plugin's gate on a fake CUDA backend modelled on the H200.

Run from the repository root, on an otherwise quiet machine, and nothing else at once::

    .venv/bin/python bench/gpu_runner.py               # K=20; writes its section of RESULTS.md
    .venv/bin/python bench/gpu_runner.py --quick       # K=2; writes bench/out/gpu-runner/RESULTS.md
    .venv/bin/python bench/gpu_runner.py --report-only # the report again, from the saved data

The workload is ``bench/gpu_project/``: eight kernels of 0.05 to 5 ms on the ``fakegpu``
backend, whose fake CUDA events report each kernel's modelled device time (±2% between
processes), with 7-40 µs of launch and sync inside the wall time, against a reference
whose speed is drawn per process between 1x and 2x (``fake_gpu.py`` has the figures).

Protocol:

1. Histories: 3 fresh ``pytest --gpuperf --gpuperf-json`` processes of the unchanged
   kernels, against no baseline. ``gpuperf accept`` takes the first report into the
   history of 1 and all three into the history of 3. A process with a row that
   ``accept`` refuses (contended) is run again, up to 3 times.
2. Runs: K rounds; each round runs every (condition, history) once, in a shuffled
   order, each a fresh ``pytest --gpuperf --gpuperf-json`` process against that
   history's baseline file (nothing more is saved) with its own seed for the draws.
   A planted change applies to all eight kernels at once.
3. Scoring (``gpu_scoring.py``; the section: ``gpu_report.py``): the plugin's own
   verdict of every row of every run, and every (history window, run) pair replayed
   offline through the plugin's ``judge``.

Whatever gate the installed plugin has by default is what is measured; the report
names it. Only a full run (K >= 20, every condition and history, default settings)
writes the section between the ``gpu-runner`` markers of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import campaign
import gpu_report
import gpu_scoring
import run as bench_run

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH / "gpu_project"
HISTORIES = (3, 1)
HISTORY_TRIES = 3
MARKERS = ("<!-- gpu-runner:start -->", "<!-- gpu-runner:end -->")


@dataclass(frozen=True)
class Condition:
    """One condition: how much slower the kernels' device time and the reference are."""

    name: str
    kernel_factor: float = 1.0
    reference_factor: float = 1.0


CONDITIONS = (
    Condition("unchanged"),
    Condition("kernel +10%", kernel_factor=1.10),
    Condition("kernel +20%", kernel_factor=1.20),
    Condition("kernel +50%", kernel_factor=1.50),
    Condition("reference 1.6x slower", reference_factor=1.6),
    Condition("reference 1.6x faster", reference_factor=1 / 1.6),
)


def environment(condition: Condition, seed: int) -> dict[str, str]:
    """The environment of one pytest process: the planted factors and the seed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["GPUBENCH_SEED"] = str(seed)
    env["GPUBENCH_KERNEL_FACTOR"] = repr(condition.kernel_factor)
    env["GPUBENCH_REFERENCE_FACTOR"] = repr(condition.reference_factor)
    return env


def pytest_args(report: Path, baseline: Path, args: argparse.Namespace) -> list[str]:
    """The pytest command line of one measured process."""
    argv = ["--gpuperf", f"--gpuperf-baseline={baseline}", f"--gpuperf-json={report}"]
    if args.select:
        argv += ["-k", args.select]
    if args.max_time is not None:
        argv.append(f"--gpuperf-max-time={args.max_time}")
    if args.contention is not None:
        argv.append(f"--gpuperf-contention={args.contention}")
    return argv


def accept(report: Path, baseline: Path) -> int:
    """``gpuperf accept REPORT --baseline BASELINE``; the number of rows it accepted."""
    command = [sys.executable, "-m", "pytest_gpuperf.cli", "accept", str(report)]
    done = subprocess.run(
        [*command, "--baseline", str(baseline)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"accepted (\d+) baseline", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"gpuperf accept {report} failed: {done.stdout}{done.stderr}")
    return int(found.group(1))


def save_histories(out: Path, args: argparse.Namespace, rng: random.Random) -> list[dict[str, Any]]:
    """Run the history processes and accept them into one baseline file per history size."""
    saved: list[dict[str, Any]] = []
    for index in range(max(args.histories)):
        for attempt in range(1, HISTORY_TRIES + 1):
            seed = rng.randrange(2**31)
            tag = f"history-{index}-try{attempt}"
            report = out / "runs" / f"{tag}.json"
            argv = pytest_args(report, out / "no-baseline.json", args)
            rc, _, wall = campaign.pytest_process(
                argv, environment(CONDITIONS[0], seed), out / "runs" / f"{tag}.log", cwd=PROJECT
            )
            rows = len(gpu_scoring.load_rows(report) or [])
            probe = out / "probe.json"
            probe.unlink(missing_ok=True)
            accepted = accept(report, probe) if report.exists() else 0
            bench_run.log(
                f"history {index + 1} try {attempt}: rc={rc} {wall:.1f} s, {accepted}/{rows} rows"
            )
            if rows and accepted == rows:
                break
        saved.append(
            {
                "index": index,
                "seed": seed,
                "rc": rc,
                "wall_s": wall,
                "tries": attempt,
                "rows": rows,
                "accepted": accepted,
                "report": str(report.relative_to(out)),
            }
        )
    for size in args.histories:
        baseline = out / f"baselines-h{size}.json"
        baseline.unlink(missing_ok=True)
        for record in saved[:size]:
            accept(out / record["report"], baseline)
    return saved


def plan(
    k: int, conditions: tuple[Condition, ...], histories: tuple[int, ...], rng: random.Random
) -> list[dict[str, Any]]:
    """Every run: K rounds of each (condition, history), shuffled within a round, seeded."""
    order: list[dict[str, Any]] = []
    for index in range(k):
        round_ = [(c, h) for c in conditions for h in histories]
        rng.shuffle(round_)
        for condition, history in round_:
            order.append(
                {
                    "condition": condition.name,
                    "history": history,
                    "index": index,
                    "seed": rng.randrange(2**31),
                }
            )
    return order


def run_conditions(out: Path, args: argparse.Namespace, rng: random.Random, data: dict) -> None:
    """Run the plan, saving the data after every process."""
    by_name = {c.name: c for c in CONDITIONS}
    todo = plan(args.k, args.conditions, args.histories, rng)
    data["runs"] = []
    start = time.perf_counter()
    for done, run in enumerate(todo, 1):
        condition = by_name[run["condition"]]
        slug = re.sub(r"[^a-z0-9]+", "_", condition.name.lower()).strip("_")
        tag = f"{slug}-h{run['history']}-{run['index']:02d}"
        report = out / "runs" / f"{tag}.json"
        argv = pytest_args(report, out / f"baselines-h{run['history']}.json", args)
        rc, _, wall = campaign.pytest_process(
            argv, environment(condition, run["seed"]), out / "runs" / f"{tag}.log", cwd=PROJECT
        )
        run.update(rc=rc, wall_s=wall, report=str(report.relative_to(out)))
        data["runs"].append(run)
        bench_run.write_json(out / "data.json", data)
        rows = gpu_scoring.load_rows(report) or []
        verdicts = ", ".join(
            f"{v} {sum(r['verdict'] == v for r in rows)}"
            for v in sorted({r["verdict"] for r in rows})
        )
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (len(todo) - done)
        bench_run.log(
            f"[{done}/{len(todo)} {elapsed:4.0f}s eta {eta:4.0f}s] {condition.name:22s} "
            f"h={run['history']} #{run['index']:02d} rc={rc} {wall:4.1f}s {verdicts}"
        )


def write_section(target: Path, section: str) -> None:
    """Replace the text between the ``gpu-runner`` markers of ``target`` (append when absent)."""
    bench_run.write_marked(target, section, "gpu-runner")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--k", type=int, default=None, help="runs per condition (default 20)")
    parser.add_argument("--quick", action="store_true", help="smoke test: K=2")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the order and draws")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "gpu-runner")
    parser.add_argument("--report-only", action="store_true", help="rebuild from OUT/data.json")
    parser.add_argument("--histories", default="3,1", help="history sizes (default 3,1)")
    names = ", ".join(c.name for c in CONDITIONS)
    escaped = names.replace("%", "%%")  # argparse formats help with %
    parser.add_argument("--conditions", default=None, help=f"a subset of: {escaped}")
    parser.add_argument("--select", default=None, help="pytest -k expression (a subset)")
    parser.add_argument("--max-time", type=float, default=None, help="--gpuperf-max-time")
    parser.add_argument("--contention", type=float, default=None, help="--gpuperf-contention")
    args = parser.parse_args(argv)
    args.k = args.k or (2 if args.quick else 20)
    args.histories = tuple(int(h) for h in args.histories.split(","))
    by_name = {c.name: c for c in CONDITIONS}
    wanted = [n.strip() for n in args.conditions.split(",")] if args.conditions else list(by_name)
    unknown = [n for n in wanted if n not in by_name]
    if unknown or args.k < 1 or min(args.histories) < 1:
        parser.error(f"--conditions takes {names}; --k and --histories >= 1; got {unknown}")
    args.conditions = tuple(by_name[n] for n in wanted)
    defaults = (args.select, args.max_time, args.contention) == (None, None, None)
    args.final = (
        not args.quick
        and args.k >= 20
        and defaults
        and set(args.histories) == set(HISTORIES)
        and len(args.conditions) == len(CONDITIONS)
    )
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the campaign (or rebuild its report) and write the Markdown section."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out: Path = args.out
    if args.report_only:
        data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    else:
        shutil.rmtree(out, ignore_errors=True)
        (out / "runs").mkdir(parents=True)
        started = time.perf_counter()
        foreign = bench_run.foreign_share()
        bench_run.log(f"foreign CPU share before the runs: {foreign}")
        data = {
            "meta": {
                "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
                "command": shlex.join([".venv/bin/python", "bench/gpu_runner.py", *argv]),
                "k": args.k,
                "histories": list(args.histories),
                "conditions": [c.name for c in args.conditions],
                "seed": args.seed,
                "final": args.final,
                "select": args.select,
                "max_time": args.max_time,
                "contention": args.contention,
                "git": bench_run._git(),
                "machine": bench_run._machine(),
                "versions": bench_run._versions(),
                "foreign_before": foreign,
                "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            }
        }
        rng = random.Random(args.seed)
        data["history_runs"] = save_histories(out, args, rng)
        bench_run.write_json(out / "data.json", data)
        run_conditions(out, args, rng, data)
        data["meta"]["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        data["meta"]["foreign_after"] = bench_run.foreign_share()
        data["meta"]["duration_s"] = time.perf_counter() - started
        bench_run.write_json(out / "data.json", data)
    section = gpu_report.markdown(data, out)
    target = BENCH / "RESULTS.md" if data["meta"]["final"] else out / "RESULTS.md"
    write_section(target, section)
    bench_run.log(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
