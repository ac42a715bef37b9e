"""``pytest -n N --gpuperf`` measured: wall time and verdicts, the locks' cost, device overlap.

Three parts, each a Markdown subsection of the file named by ``--output``:

- ``example``: the example project (``NUMBA_ENABLE_CUDASIM=1``) under ``-n 0`` and
  ``-n 2 --gpuperf``, R runs each, interleaved, against baselines saved once with
  ``-n 0``: median wall time per mode, verdict counts, false REGRESSED (nothing
  changed, so every REGRESSED is false) and per-result verdict agreement.
- ``locks``: what the pytest-xdist locks add to one measurement (uncontended).
- ``overlap``: a fake 4-device GPU backend under 4 workers, with 4 devices and with
  2: which recorded timing intervals overlap, across devices and on one device.

Run on a quiet machine, from the repository root::

    .venv/bin/python bench/xdist_campaign.py --runs 10 --output bench/RESULTS-xdist.md

``--runs 1 -k EXPR`` runs a quick subset to check that the script works.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
PYTEST = (sys.executable, "-m", "pytest")
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q")


# -- the example project ------------------------------------------------------------------


def _example_run(workers: int, folder: Path, name: str, extra: list[str]) -> dict[str, Any]:
    """One run of the example project; its wall time, exit status and verdicts."""
    report = folder / f"{name}.json"
    command = [
        *PYTEST,
        *QUIET,
        "--gpuperf",
        f"--gpuperf-baseline={folder / 'baselines.json'}",
        f"--gpuperf-json={report}",
        *(["-n", str(workers)] if workers else ["-p", "no:xdist"]),
        *extra,
    ]
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    # The kernels from the checkout, installed or not (`pip install -e ./example_project`).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLE / "src"), env.get("PYTHONPATH")]))
    env.pop("GITHUB_STEP_SUMMARY", None)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=EXAMPLE, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    verdicts = {}
    if report.is_file():
        for item in json.loads(report.read_text())["benchmarks"]:
            info = item["extra_info"]["gpuperf"]
            verdicts[f"{item['fullname']}"] = info["verdict"]
    return {
        "wall": wall,
        "status": done.returncode,
        "verdicts": verdicts,
        "tail": done.stdout[-2000:],
    }


def example(runs: int, select: list[str]) -> list[str]:
    """The example project under -n 0 and -n 2, interleaved, against one -n 0 baseline."""
    with tempfile.TemporaryDirectory(prefix="xdist-campaign-") as tmp:
        folder = Path(tmp)
        saved = _example_run(
            0, folder, "save", [*select, "--gpuperf-save", "--gpuperf-save-runs=1"]
        )
        if saved["status"] not in (0, 1):
            raise SystemExit(f"the baseline run failed ({saved['status']}):\n{saved['tail']}")
        results: dict[int, list[dict[str, Any]]] = {0: [], 2: []}
        for index in range(runs):
            order = (0, 2) if index % 2 == 0 else (2, 0)  # alternate which mode goes first
            for workers in order:
                results[workers].append(
                    _example_run(workers, folder, f"n{workers}-{index}", select)
                )
                print(
                    f"run {index + 1}/{runs} -n {workers}: {results[workers][-1]['wall']:.1f} s",
                    file=sys.stderr,
                )
    lines = [
        "### The example project: `-n 2 --gpuperf` against `-n 0 --gpuperf`",
        "",
        f"{runs} run(s) per mode, interleaved (the first mode alternates), "
        "`NUMBA_ENABLE_CUDASIM=1`, "
        f"against baselines saved once with `-n 0 --gpuperf-save`"
        + (f"; selection `{' '.join(select)}`" if select else "")
        + ". The code never changes, so every REGRESSED is a false alarm.",
        "",
        "| mode | median wall time | results per run | REGRESSED (false) | inconclusive "
        "| runs that failed |",
        "|---|---|---|---|---|---|",
    ]
    for workers, label in ((0, "`-n 0`"), (2, "`-n 2`")):
        done = results[workers]
        counts = collections.Counter(v for r in done for v in r["verdicts"].values())
        per_run = statistics.median(len(r["verdicts"]) for r in done)
        lines.append(
            f"| {label} | {statistics.median(r['wall'] for r in done):.1f} s | {per_run:g} | "
            f"{counts['REGRESSED']} | {counts['inconclusive']} | "
            f"{sum(r['status'] != 0 for r in done)} of {len(done)} |"
        )
    same = total = 0
    for serial, parallel in zip(results[0], results[2], strict=True):
        for key in serial["verdicts"].keys() & parallel["verdicts"].keys():
            total += 1
            same += serial["verdicts"][key] == parallel["verdicts"][key]
    lines += [
        "",
        f"Verdict agreement, run i of `-n 0` against run i of `-n 2`, result by result: "
        f"{same} of {total} ({same / total:.0%})."
        if total
        else "No results to compare.",
        "",
        "Verdicts per mode (all runs): "
        + "; ".join(
            f"`-n {w}`: "
            + ", ".join(
                f"{k} {v}"
                for k, v in sorted(
                    collections.Counter(
                        x for r in results[w] for x in r["verdicts"].values()
                    ).items()
                )
            )
            for w in (0, 2)
        ),
    ]
    return lines


# -- the locks ----------------------------------------------------------------------------


def locks(reps: int = 400) -> list[str]:
    """Per-measurement cost of the locks, uncontended: median of ``reps`` cycles."""
    from pytest_gpuperf.measure import contention
    from pytest_gpuperf.scaleout.locks import WorkerLocks, sibling_pids

    def median_us(cycle: Any) -> float:
        times = []
        for _ in range(reps):
            start = time.perf_counter_ns()
            cycle()
            times.append(time.perf_counter_ns() - start)
        return statistics.median(times) / 1e3

    with tempfile.TemporaryDirectory(prefix="xdist-locks-") as tmp:
        me = WorkerLocks(Path(tmp), "gw0", "0")
        me.register_pid()
        WorkerLocks(Path(tmp), "gw1", "1").register_pid(os.getppid())  # a live sibling to read

        def cpu_side() -> None:
            with me.measuring(cpu_side=True):
                pass

        def gpu_side() -> None:
            with me.measuring(cpu_side=False):
                pass

        def shared_hold() -> None:
            with me.test_running():
                pass

        def monitor() -> None:
            watch = contention.CpuMonitor()
            watch.start()
            watch.stop()

        with me.test_running():
            cpu = median_us(cpu_side)
            gpu = median_us(gpu_side)
        per_test = median_us(shared_hold)
        bare = median_us(monitor)
        contention.watch_siblings(lambda: sibling_pids(Path(tmp)))
        try:
            watched = median_us(monitor)
        finally:
            contention.watch_siblings(None)
    return [
        "### The locks' cost per measurement",
        "",
        f"Median of {reps} uncontended cycles each (filelock's SQLite `ReadWriteLock` for the "
        "host, "
        "a `FileLock` per device):",
        "",
        "| what | when | median |",
        "|---|---|---|",
        "| drop the shared hold, take the host exclusively, release, take the shared hold back "
        f"| each CPU-side measurement | {cpu:.0f} µs |",
        f"| take and release the device lock | each GPU measurement | {gpu:.0f} µs |",
        f"| take and release the shared hold | each test under `-n` | {per_test:.0f} µs |",
        "| contention monitor start + stop, without / with one sibling to read "
        f"| each measurement attempt | {bare:.0f} / {watched:.0f} µs |",
    ]


# -- interval overlap on a fake 4-device backend ------------------------------------------

CONFTEST = """
import json, os, time
from pathlib import Path
from pytest_gpuperf import HostBackend

class FakeGpu(HostBackend):
    name = "fakegpu"
    is_gpu = True

    @property
    def device(self):
        return "fake GPU " + os.environ.get("CUDA_VISIBLE_DEVICES", "unbound")

def pytest_gpuperf_register_backends(config):
    return [FakeGpu()]
"""

TESTS = """
import json, os, time
from pathlib import Path
import pytest

SEEN = set()

def reference(a):
    return a + 1

def kernel(a):
    start = time.monotonic()
    time.sleep(0.001)
    if a.size in SEEN:  # the first call of each test is outside its measurement
        line = [os.environ.get("CUDA_VISIBLE_DEVICES", ""), os.getpid(), start, time.monotonic()]
        with open(Path(os.environ["GP_LOG"]) / f"{os.getpid()}.jsonl", "a") as fh:
            fh.write(json.dumps(line) + "\\n")
    SEEN.add(a.size)
    return a + 1

@pytest.mark.gpuperf(reference=reference)
@pytest.mark.parametrize("n", range(8, 24))
def test_kernel(backend, gpu_array, cuda_sync_timer, n):
    cuda_sync_timer(kernel, gpu_array.random(n, "float32"))
"""


def overlap() -> list[str]:
    """4 workers on 4 fake devices, then on 2: overlapping timing intervals by device."""
    rows = []
    for devices in ("0,1,2,3", "0,1"):
        with tempfile.TemporaryDirectory(prefix="xdist-overlap-") as tmp:
            folder = Path(tmp)
            (folder / "conftest.py").write_text(CONFTEST)
            (folder / "test_fake.py").write_text(TESTS)
            (folder / "pytest.ini").write_text("[pytest]\ngpuperf_max_time = 0.3s\n")
            (folder / "log").mkdir()
            command = [*PYTEST, *QUIET, "-n", "4", "--gpuperf", "--gpuperf-backends=fakegpu"]
            env = {**os.environ, "GP_LOG": str(folder / "log")}
            env.pop("CUDA_VISIBLE_DEVICES", None)
            done = subprocess.run(
                [*command, f"--gpuperf-devices={devices}"],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
            )
            calls = [
                json.loads(line)
                for path in (folder / "log").glob("*.jsonl")
                for line in path.read_text().splitlines()
            ]
        pairs = [
            (a, b)
            for a, b in itertools.combinations(calls, 2)
            if a[1] != b[1] and a[2] < b[3] and b[2] < a[3]
        ]
        across = sum(a[0] != b[0] for a, b in pairs)
        same = sum(a[0] == b[0] for a, b in pairs)
        rows.append(
            f"| `--gpuperf-devices={devices}` | {len({c[1] for c in calls})} | {len(calls)} | "
            f"{across} | **{same}** | {done.returncode} |"
        )
    return [
        "### Timing intervals with a fake 4-device GPU backend and 4 workers",
        "",
        "16 tests, 4 workers (`-n 4`), every timed kernel call logged (device, process, start, "
        "end).",
        "",
        "| devices | workers that timed | timed calls | overlapping pairs, different devices "
        "| overlapping pairs, same device | exit status |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts and write their Markdown to ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=10, help="runs per mode of the example (default 10)"
    )
    parser.add_argument(
        "-k", dest="select", default=None, help="pytest -k expression for the example runs"
    )
    parser.add_argument(
        "--parts", default="example,locks,overlap", help="comma-separated parts to run"
    )
    parser.add_argument("--output", required=True, type=Path, help="Markdown file to write")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - {"example", "locks", "overlap"}
    if unknown:
        parser.error(
            f"--parts names unknown part(s) {sorted(unknown)}; choose from example, locks, overlap"
        )
    started = time.time()
    lines = [
        "## Scaling out under pytest-xdist",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}",
        f"- Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "",
    ]
    select = ["-k", args.select] if args.select else []
    for part in parts:
        body = {"example": lambda: example(args.runs, select), "locks": locks, "overlap": overlap}[
            part
        ]()
        lines += [*body, ""]
    lines.append(f"Duration: {(time.time() - started) / 60:.1f} min.")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
