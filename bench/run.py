"""Benchmark of pytest-gpuperf itself: false alarms, detection power, overhead, install cost.

Run from the repository root, on an otherwise quiet machine::

    .venv/bin/python bench/run.py            # full run: K=20, writes bench/RESULTS.md
    .venv/bin/python bench/run.py --quick    # smoke test: K=2, writes bench/out/RESULTS.md

Only a full run (K >= 20, every part) writes ``bench/RESULTS.md``; anything less writes
``bench/out/RESULTS.md``. Raw data goes to ``bench/out/``: ``data.json`` (everything the
report is built from; ``--report-only`` rebuilds the report from it), and one JSON
report and one log per pytest run under ``runs/``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import campaign
import overhead
import results
from workload import Calibration

from pytest_gpuperf.measure.contention import CpuMonitor

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PARTS = ("alarms", "timer", "install", "imports")


def log(text: str) -> None:
    """Progress on stderr, flushed."""
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=None, help="runs per condition (default 20)")
    parser.add_argument("--quick", action="store_true", help="smoke test: K=2, fewer repetitions")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the run order")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="raw data folder")
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild the report from OUT/data.json"
    )
    args = parser.parse_args(argv)
    args.k = args.k if args.k is not None else (2 if args.quick else 20)
    args.parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown or args.k < 1:
        parser.error(f"--parts takes {','.join(PARTS)} and --k must be >= 1; got {args.parts}")
    return args


def _git() -> str:
    def git(*argv: str) -> str:
        proc = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    dirty = (
        " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    )
    return f"commit {git('rev-parse', '--short', 'HEAD') or '?'}{dirty}"


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (OSError, ValueError):
        pass
    return (
        f"{model}, {os.cpu_count()} logical CPUs{memory}, {platform.system()} "
        f"{platform.release()}, no GPU used"
    )


def _versions() -> str:
    names = ("numpy", "numba", "llvmlite", "pytest", "pytest-benchmark", "pytest-gpuperf")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except Exception:
            found.append(f"{name} ?")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def foreign_share(seconds: float = 3.0) -> float | None:
    """Share of the CPUs that other processes used over ``seconds`` of idling here."""
    monitor = CpuMonitor()
    monitor.start()
    time.sleep(seconds)
    return monitor.stop()


def calibrate(out: Path) -> Calibration:
    """Calibrate the workload in a fresh process (keeps Numba's threads out of this one)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "workload.py")],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    (out / "calibration.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return Calibration.from_dict(data)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write a campaign's data to ``path`` atomically (through ``path`` with a ``.tmp`` suffix)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


def write_marked(target: Path, section: str, marker: str) -> None:
    """Replace the text between the ``marker`` markers of ``target`` (append when absent)."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{section.rstrip()}\n{end}\n"
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) + 1 :]
    else:
        text = f"{text.rstrip()}\n\n{block}" if text else block
    target.write_text(text, encoding="utf-8")


def _command(argv: list[str]) -> str:
    return " ".join([".venv/bin/python", "bench/run.py", *argv])


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts and write the report."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data_path = out / "data.json"
    if args.report_only:
        data = json.loads(data_path.read_text(encoding="utf-8"))
    else:
        data = run_parts(args, out, data_path, argv)
    final = bool(data["meta"]["final"])
    target = BENCH / "RESULTS.md" if final else out / "RESULTS.md"
    target.write_text(results.Report(data).markdown(), encoding="utf-8")
    log(f"wrote {target}")
    return 0


def run_parts(
    args: argparse.Namespace, out: Path, data_path: Path, argv: list[str]
) -> dict[str, Any]:
    """Measure the selected parts, saving the raw data as it comes."""
    started = time.perf_counter()
    final = not args.quick and args.k >= 20 and set(args.parts) == set(PARTS)
    data: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": _command(argv),
            "k": args.k,
            "seed": args.seed,
            "quick": args.quick,
            "final": final,
            "parts": list(args.parts),
            "git": _git(),
            "machine": _machine(),
            "versions": _versions(),
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "notes": [],
        }
    }
    foreign = foreign_share()
    data["meta"]["foreign_before"] = foreign
    log(f"foreign CPU share before the runs: {foreign if foreign is None else f'{foreign:.0%}'}")
    if foreign is not None and foreign > 0.15:
        data["meta"]["notes"].append(
            f"The machine was not quiet before the runs: other processes used {foreign:.0%} "
            "of the CPUs."
        )
    write_json(data_path, data)
    if "alarms" in args.parts:
        paths = campaign.Paths(out)
        for stale in (paths.runs, paths.benchmark_storage):
            shutil.rmtree(stale, ignore_errors=True)
        paths.runs.mkdir(parents=True)
        calibration = calibrate(out)
        data["calibration"] = calibration.to_dict()
        data["baselines"] = campaign.save_baselines(paths, calibration, log=log)
        write_json(data_path, data)

        def save(runs: list[campaign.Run]) -> None:
            data["runs"] = [campaign.run_to_dict(r) for r in runs]
            write_json(data_path, data)

        campaign.run_all(paths, calibration, args.k, args.seed, save, log=log)
    reps = 3 if args.quick else 9
    if "timer" in args.parts:
        data["timer"] = overhead.timer_overhead(reps=5 if args.quick else 21)
        log(f"timer overhead: {data['timer']['overhead_ns']:.0f} ns per sample")
    if "install" in args.parts:
        data["install"] = overhead.install_cost(out / "suite", reps=reps)
        log(f"install cost: ratio {data['install']['ratio']:.3f}")
    if "imports" in args.parts:
        data["imports"] = overhead.import_time(reps=reps)
        log(f"plugin import beyond pytest: {data['imports']['beyond_pytest_us'] / 1e3:.1f} ms")
    data["meta"]["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    data["meta"]["duration_s"] = time.perf_counter() - started
    write_json(data_path, data)
    return data


if __name__ == "__main__":
    sys.exit(main())
