"""Campaign for verdicts across runs: a saved history, then K runs per condition against it.

Run from the repository root, on an otherwise quiet machine, and nothing else at once::

    .venv/bin/python bench/verdicts.py            # K=20, H=10; writes its section of RESULTS.md
    .venv/bin/python bench/verdicts.py --quick    # K=2, H=3; writes bench/out/verdicts/RESULTS.md

Protocol:

1. Calibrate the workload (``workload.py``) in a fresh process.
2. History: H pytest processes of the serial, ``prange`` and bimodal tests with
   ``--gpuperf-save``, unchanged kernels, no busy loop. The bimodal test's
   reference runs at one of two speeds, drawn per process (seeded).
3. Runs: K rounds; each round runs every condition once in a shuffled order, each a
   pytest process with ``--gpuperf-json`` against that history (nothing more is saved).
4. Scoring (``verdict_scoring.py``): the plugin's own verdict, the old gate (one
   baseline, the first saved run, interval against ``baseline x (1 - tolerance)``,
   no attribution), ``gate="time"`` offline on the same runs, and every (history
   window, run) pair.

The section between the ``verdicts`` markers in ``bench/RESULTS.md`` is replaced
(appended when absent); ``bench/run.py`` writes the rest of that file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import campaign
import run as bench_run
import verdict_scoring
from workload import Calibration

BENCH = Path(__file__).resolve().parent
SERIAL = "test_workload.py::test_gpuperf_serial"
PARALLEL = "test_workload.py::test_gpuperf_parallel"
BIMODAL = "test_workload.py::test_gpuperf_bimodal"


@dataclass(frozen=True)
class Condition:
    """One condition of the campaign."""

    name: str
    node: str
    nominal: float
    busy: str = "never"  # "never", "odd runs" or "always"
    should_flag: bool = False

    def busy_for(self, index: int) -> bool:
        """Whether run ``index`` has a busy loop on the other core."""
        return self.busy == "always" or (self.busy == "odd runs" and index % 2 == 1)


CONDITIONS = (
    Condition("unchanged", SERIAL, 1.0, busy="odd runs"),
    Condition("5% slower", SERIAL, 1.05),
    Condition("15% slower", SERIAL, 1.15, should_flag=True),
    Condition("20% slower", SERIAL, 1.20, should_flag=True),
    Condition("50% slower", SERIAL, 1.50, should_flag=True),
    Condition("prange + busy", PARALLEL, 1.0, busy="always"),
    Condition("bimodal reference, unchanged", BIMODAL, 1.0),
    Condition("bimodal reference, 20% slower", BIMODAL, 1.20, should_flag=True),
)


def log(text: str) -> None:
    """Progress on stderr, flushed."""
    print(text, file=sys.stderr, flush=True)


def _env(calibration: Calibration, nominal: float, reference_slow: bool) -> dict[str, str]:
    env = campaign._environment(calibration.n, calibration.extra_for(nominal))
    env["GPUPERF_BENCH_REFERENCE_SLOW"] = "1" if reference_slow else "0"
    return env


def save_history(
    out: Path, calibration: Calibration, runs: int, rng: random.Random
) -> list[dict[str, Any]]:
    """H quiet saves of the unchanged kernels; returns one record per process."""
    saved = []
    for index in range(runs):
        slow = rng.random() < 0.5
        report = out / "runs" / f"history-{index:02d}.json"
        args = [SERIAL, PARALLEL, BIMODAL, "--gpuperf", "--gpuperf-save", "--gpuperf-save-runs=1"]
        args += [f"--gpuperf-baseline={out / 'baselines.json'}", f"--gpuperf-json={report}"]
        rc, _, wall = campaign.pytest_process(
            args, _env(calibration, 1.0, slow), out / "runs" / f"history-{index:02d}.log"
        )
        saved.append(
            {
                "index": index,
                "reference_slow": slow,
                "rc": rc,
                "wall_s": wall,
                "report": str(report),
            }
        )
        log(f"history {index + 1}/{runs}: rc={rc} {wall:.1f} s reference_slow={slow}")
    return saved


def run_conditions(
    out: Path, calibration: Calibration, k: int, rng: random.Random, data: dict[str, Any]
) -> None:
    """K rounds of every condition, shuffled within a round; saved after every run."""
    plan = []
    for index in range(k):
        round_ = [(index, condition) for condition in CONDITIONS]
        rng.shuffle(round_)
        plan.extend(round_)
    start = time.perf_counter()
    data["runs"] = []
    for done, (index, condition) in enumerate(plan, 1):
        slow = rng.random() < 0.5 if condition.node == BIMODAL else False
        tag = f"{condition.name.replace(' ', '_').replace('%', 'pct').replace(',', '')}-{index:02d}"
        report = out / "runs" / f"{tag}.json"
        args = [condition.node, "--gpuperf", f"--gpuperf-baseline={out / 'baselines.json'}"]
        args.append(f"--gpuperf-json={report}")
        busy = condition.busy_for(index)
        with campaign.busy_loop(busy):
            rc, _, wall = campaign.pytest_process(
                args, _env(calibration, condition.nominal, slow), out / "runs" / f"{tag}.log"
            )
        record = {
            "condition": condition.name,
            "index": index,
            "busy": busy,
            "rc": rc,
            "wall_s": wall,
            "reference_slow": slow,
            "report": str(report),
        }
        data["runs"].append(record)
        bench_run.write_json(out / "data.json", data)
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (len(plan) - done)
        log(
            f"[{done}/{len(plan)} {elapsed:4.0f}s eta {eta:4.0f}s] {condition.name:30s} "
            f"#{index:02d}{' busy' if busy else '     '} rc={rc} {wall:4.1f}s"
        )


def write_section(target: Path, section: str) -> None:
    """Replace the verdicts section of ``target`` (append it when there is none)."""
    bench_run.write_marked(target, section, "verdicts")


def main(argv: list[str] | None = None) -> int:
    """Run the campaign (or rebuild its report) and write the Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=None, help="runs per condition (default 20)")
    parser.add_argument("--history", type=int, default=None, help="saved runs (default 10)")
    parser.add_argument("--quick", action="store_true", help="smoke test: K=2, H=3")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the order and states")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "verdicts")
    parser.add_argument("--report-only", action="store_true", help="rebuild from OUT/data.json")
    args = parser.parse_args(argv)
    k = args.k or (2 if args.quick else 20)
    history = args.history or (3 if args.quick else 10)
    out: Path = args.out
    if args.report_only:
        data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    else:
        shutil.rmtree(out, ignore_errors=True)
        (out / "runs").mkdir(parents=True)
        started = time.perf_counter()
        foreign = bench_run.foreign_share()
        data = {
            "meta": {
                "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
                "command": " ".join(
                    [".venv/bin/python", "bench/verdicts.py", *(argv or sys.argv[1:])]
                ),
                "k": k,
                "history": history,
                "seed": args.seed,
                "git": bench_run._git(),
                "machine": bench_run._machine(),
                "versions": bench_run._versions(),
                "foreign_before": foreign,
                "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            }
        }
        log(f"foreign CPU share before the runs: {foreign}")
        rng = random.Random(args.seed)
        calibration = bench_run.calibrate(out)
        data["calibration"] = calibration.to_dict()
        data["history_runs"] = save_history(out, calibration, history, rng)
        bench_run.write_json(out / "data.json", data)
        run_conditions(out, calibration, k, rng, data)
        data["meta"]["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        data["meta"]["foreign_after"] = bench_run.foreign_share()
        data["meta"]["duration_s"] = time.perf_counter() - started
        bench_run.write_json(out / "data.json", data)
    section = verdict_scoring.markdown(data, out / "baselines.json", CONDITIONS)
    final = k >= 20 and history >= 10 and not args.quick
    target = BENCH / "RESULTS.md" if final else out / "RESULTS.md"
    write_section(target, section)
    log(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
