"""Run the workload under both tools, one pytest process per run, and collect the outcomes.

gpuperf: ``pytest --gpuperf --gpuperf-json=...`` against a baseline saved once with
``--gpuperf-save``. pytest-benchmark: ``--benchmark-compare=0001
--benchmark-compare-fail=min:10%`` against a baseline saved once with
``--benchmark-save``. Both at their default settings otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workload import PROJECT, Calibration

GPUPERF = "gpuperf"
BENCHMARK = "pytest-benchmark"
METHODS = (GPUPERF, BENCHMARK)
NODES = {
    (GPUPERF, "serial"): "test_workload.py::test_gpuperf_serial",
    (GPUPERF, "parallel"): "test_workload.py::test_gpuperf_parallel",
    (BENCHMARK, "serial"): "test_workload.py::test_benchmark_serial",
    (BENCHMARK, "parallel"): "test_workload.py::test_benchmark_parallel",
}
REGRESSED_TEXT = "Performance has regressed"
RUN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Condition:
    """One experimental condition: which kernel, how much slower, and CPU contention."""

    name: str
    nominal: float
    kernel: str = "serial"
    busy: str = "never"  # "never", "odd runs" or "always"
    should_flag: bool = False

    def busy_for(self, index: int) -> bool:
        """Whether run ``index`` of this condition has a busy loop on the other core."""
        return self.busy == "always" or (self.busy == "odd runs" and index % 2 == 1)


CONDITIONS = (
    Condition("unchanged", 1.0, busy="odd runs"),
    Condition("5% slower", 1.05),
    Condition("15% slower", 1.15, should_flag=True),
    Condition("20% slower", 1.20, should_flag=True),
    Condition("50% slower", 1.50, should_flag=True),
    Condition("prange + busy", 1.0, kernel="parallel", busy="always"),
)


@dataclass
class Run:
    """The outcome of one pytest process."""

    method: str
    condition: str
    index: int
    busy: bool
    rc: int
    wall_s: float
    flagged: bool
    verdict: str | None = None
    speedup: tuple[float, float, float] | None = None
    foreign_cpu: float | None = None
    attempts: int | None = None
    rounds: int | None = None
    min_s: float | None = None
    kernel_median_s: float | None = None
    reference_median_s: float | None = None
    timed_s: float | None = None
    error: str | None = None


@dataclass
class Paths:
    """Where the raw data of a campaign goes."""

    out: Path

    @property
    def runs(self) -> Path:
        return self.out / "runs"

    @property
    def gpuperf_baseline(self) -> Path:
        return self.out / "gpuperf-baselines.json"

    @property
    def benchmark_storage(self) -> Path:
        return self.out / "benchmark-storage"


def _environment(n: int, extra: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    env["GPUPERF_BENCH_N"] = str(n)
    env["GPUPERF_BENCH_EXTRA"] = str(extra)
    return env


@contextlib.contextmanager
def busy_loop(enabled: bool) -> Iterator[None]:
    """A ``while True: pass`` process on another core for the duration of the block."""
    if not enabled:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def pytest_process(
    args: list[str], env: dict[str, str], log: Path, cwd: Path = PROJECT
) -> tuple[int, str, float]:
    """Run ``pytest -q ARGS`` in ``cwd``; return the exit code, the output and the wall time."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        rc, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, output = -1, f"timed out after {RUN_TIMEOUT_S} s: {exc}"
    wall = time.perf_counter() - start
    log.write_text(output, encoding="utf-8")
    return rc, output, wall


def _timed_s(stats: dict[str, Any]) -> float:
    return float(stats["total"]) * int(stats.get("iterations") or 1)


def gpuperf_outcome(report: Path, test: str = "test_gpuperf_") -> dict[str, Any]:
    """The fields of a ``--gpuperf-json`` report that the benchmark scores (first ``test*``)."""
    data = json.loads(report.read_text(encoding="utf-8"))
    bench = next(
        b
        for b in data["benchmarks"]
        if "gpuperf" in b.get("extra_info", {}) and b["name"].startswith(test)
    )
    info = bench["extra_info"]["gpuperf"]
    speed = info.get("speedup")
    reference = info.get("reference_stats") or {}
    timed = _timed_s(bench["stats"]) + (_timed_s(reference) if reference else 0.0)
    return {
        "verdict": info.get("verdict"),
        "speedup": (speed["value"], speed["low"], speed["high"]) if speed else None,
        "foreign_cpu": info.get("foreign_cpu"),
        "attempts": info.get("attempts"),
        "rounds": len(info.get("ratios") or ()),
        "min_s": bench["stats"]["min"],
        "kernel_median_s": bench["stats"]["median"],
        "reference_median_s": reference.get("median"),
        "timed_s": timed,
    }


def benchmark_outcome(report: Path) -> dict[str, Any]:
    """The fields of a ``--benchmark-json`` report that the benchmark scores."""
    data = json.loads(report.read_text(encoding="utf-8"))
    stats = data["benchmarks"][0]["stats"]
    return {
        "rounds": stats["rounds"],
        "min_s": stats["min"],
        "kernel_median_s": stats["median"],
        "timed_s": _timed_s(stats),
    }


def run_once(
    paths: Paths, method: str, condition: Condition, index: int, calibration: Calibration
) -> Run:
    """One pytest process of ``method`` under ``condition``."""
    tag = f"{method}-{condition.name.replace(' ', '_').replace('%', 'pct')}-{index:02d}"
    report = paths.runs / f"{tag}.json"
    node = NODES[(method, condition.kernel)]
    if method == GPUPERF:
        args = [node, "--gpuperf", f"--gpuperf-baseline={paths.gpuperf_baseline}"]
        args.append(f"--gpuperf-json={report}")
    else:
        args = [node, f"--benchmark-storage=file://{paths.benchmark_storage}"]
        args += ["--benchmark-compare=0001", "--benchmark-compare-fail=min:10%"]
        args.append(f"--benchmark-json={report}")
    env = _environment(calibration.n, calibration.extra_for(condition.nominal))
    busy = condition.busy_for(index)
    with busy_loop(busy):
        rc, output, wall = pytest_process(args, env, paths.runs / f"{tag}.log")
    run = Run(method, condition.name, index, busy, rc, wall, flagged=False)
    try:
        parse = gpuperf_outcome if method == GPUPERF else benchmark_outcome
        for key, value in parse(report).items():
            setattr(run, key, value)
    except (OSError, ValueError, KeyError, IndexError, StopIteration) as exc:
        run.error = f"no usable report ({type(exc).__name__}: {exc}); rc={rc}"
    if method == GPUPERF:
        run.flagged = run.verdict == "REGRESSED"
    else:
        run.flagged = REGRESSED_TEXT in output
    if run.error is None and rc not in (0, 1):
        run.error = f"pytest exited with {rc}"
    return run


def save_baselines(
    paths: Paths, calibration: Calibration, tries: int = 3, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Record both tools' baselines on the unchanged kernels (quiet); retry a contended save."""
    env = _environment(calibration.n, 0)
    gpuperf_nodes = [NODES[(GPUPERF, "serial")], NODES[(GPUPERF, "parallel")]]
    result: dict[str, Any] = {"gpuperf": None, "pytest-benchmark": None, "gpuperf_tries": 0}
    for attempt in range(1, tries + 1):
        paths.gpuperf_baseline.unlink(missing_ok=True)
        report = paths.out / "baseline-gpuperf.json"
        args = [*gpuperf_nodes, "--gpuperf", "--gpuperf-save", "--gpuperf-save-runs=1"]
        args += [f"--gpuperf-baseline={paths.gpuperf_baseline}", f"--gpuperf-json={report}"]
        rc, _, wall = pytest_process(args, env, paths.out / "baseline-gpuperf.log")
        result["gpuperf_tries"] = attempt
        saved = paths.gpuperf_baseline.is_file() and _saved_count(paths.gpuperf_baseline) == 2
        log(f"baseline gpuperf try {attempt}: rc={rc}, {wall:.1f} s, saved={saved}")
        if saved:
            result["gpuperf"] = gpuperf_outcome(report, "test_gpuperf_serial")
            break
        time.sleep(5)
    storage = paths.benchmark_storage
    args = [NODES[(BENCHMARK, "serial")], NODES[(BENCHMARK, "parallel")]]
    args += [f"--benchmark-storage=file://{storage}", "--benchmark-save=baseline"]
    rc, _, wall = pytest_process(args, env, paths.out / "baseline-benchmark.log")
    saved_files = sorted(storage.glob("*/0001_baseline.json"))
    log(f"baseline pytest-benchmark: rc={rc}, {wall:.1f} s, saved={bool(saved_files)}")
    if saved_files:
        data = json.loads(saved_files[0].read_text(encoding="utf-8"))
        serial = next(b for b in data["benchmarks"] if b["name"] == "test_benchmark_serial")
        result["pytest-benchmark"] = {"min_s": serial["stats"]["min"]}
    return result


def _saved_count(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    return sum(
        len(backends)
        for machine in data.get("machines", {}).values()
        for backends in machine.get("tests", {}).values()
    )


def plan(k: int, seed: int) -> list[tuple[int, Condition, str]]:
    """Every (index, condition, method) run, shuffled within each round so drift hits all."""
    rng = random.Random(seed)
    order: list[tuple[int, Condition, str]] = []
    for index in range(k):
        round_ = [(index, c, m) for c in CONDITIONS for m in METHODS]
        rng.shuffle(round_)
        order.extend(round_)
    return order


def run_all(
    paths: Paths,
    calibration: Calibration,
    k: int,
    seed: int,
    save: Callable[[list[Run]], None],
    log: Callable[[str], None] = print,
) -> list[Run]:
    """Run the whole plan, saving the runs after each one so a partial campaign is usable."""
    runs: list[Run] = []
    todo = plan(k, seed)
    start = time.perf_counter()
    for done, (index, condition, method) in enumerate(todo, 1):
        run = run_once(paths, method, condition, index, calibration)
        runs.append(run)
        save(runs)
        elapsed = time.perf_counter() - start
        eta = elapsed / done * (len(todo) - done)
        what = run.verdict or ("REGRESSED" if run.flagged else "ok")
        log(
            f"[{done}/{len(todo)} {elapsed:4.0f}s eta {eta:4.0f}s] {method:16s} "
            f"{condition.name:14s} #{index:02d}{' busy' if run.busy else '     '} "
            f"{run.wall_s:4.1f}s {what}{' ERROR ' + run.error if run.error else ''}"
        )
    return runs


def run_to_dict(run: Run) -> dict[str, Any]:
    """Plain JSON data."""
    return asdict(run)


def run_from_dict(data: dict[str, Any]) -> Run:
    """Inverse of :func:`run_to_dict`."""
    speed = data.get("speedup")
    return Run(**{**data, "speedup": tuple(speed) if speed else None})
