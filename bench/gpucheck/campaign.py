"""The planted-slowdown campaign: does each gate catch a kernel made 20% and 50% slower?

The kernel of ``bench/gpu_campaign`` does more work, with the same result, when
``GPU_CAMPAIGN_WORK`` rises, so the slowdown is planted in the kernel alone. Each
run is a fresh ``pytest --gpuperf`` process of its three tests, one per gate
(``gate="speedup"``, ``gate="time"``, and no ``gate=``: the default):

1. save: 3 unchanged runs (1 for the quick stand-in), each report then stored
   with ``gpuperf accept``;
2. rounds of unchanged, +20% and +50%, as many as the time allows (at most 3),
   each judged against the saved runs.

The change measured is the kernel's batch GPU time (the wall time where there
are no CUDA events) against the geometric mean of the saved runs'. On a GPU it
runs numba_cuda and cupy; without one, a tiny CPU stand-in on the ``numba``
backend runs the same plumbing, and its verdicts are not judged.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gpucheck.steps import (
    PYTHON,
    ROOT,
    Budget,
    Context,
    Finished,
    Step,
    last_line,
    out_of_time,
    run,
)

PROJECT = ROOT / "bench" / "gpu_campaign"
CONDITIONS = (("unchanged", 1.0), ("+20%", 1.2), ("+50%", 1.5))
#: Test name -> the gate it is judged under, as the table heads it.
GATES = {
    "test_gate_speedup": 'gate="speedup"',
    "test_gate_time": 'gate="time"',
    "test_gate_default": "default gate",
}


@dataclass(frozen=True)
class Setup:
    """Where and how big the campaign runs."""

    label: str
    backends: str
    size: int
    reps: int
    max_time: str
    max_rounds: int
    judged: bool
    saved_runs: int = 3


ON_GPU = Setup("real numba_cuda and cupy", "numba_cuda,cupy", 1 << 22, 4096, "0.4", 3, True)
STAND_IN = Setup(
    "CPU stand-in: the numba backend on wall time, tiny; the plumbing only, not a GPU result",
    "numba",
    4096,
    64,
    "0.05",
    1,
    False,
)
#: The stand-in under ``--quick``: one saved run, the least that exercises the plumbing.
QUICK_STAND_IN = dataclasses.replace(STAND_IN, saved_runs=1)


@dataclass(frozen=True)
class Row:
    """One test on one backend in one run: its verdict and kernel time."""

    test: str
    backend: str
    verdict: str
    seconds: float
    clock: str


def read_rows(report: Path) -> list[Row]:
    """The rows of a ``--gpuperf-json`` report."""
    data = json.loads(report.read_text(encoding="utf-8"))
    rows = []
    for bench in data["benchmarks"]:
        info = bench["extra_info"]["gpuperf"]
        batch = (info.get("gpu_time") or {}).get("median_s")
        test = bench["fullname"].rpartition("::")[2].partition("[")[0]
        seconds, clock = (batch, "GPU batch") if batch else (bench["stats"]["median"], "wall")
        rows.append(Row(test, info["backend"], info["verdict"], float(seconds), clock))
    return rows


def saved_times(saved: list[list[Row]]) -> dict[tuple[str, str], float]:
    """Per (test, backend): the geometric mean of the saved runs' kernel times."""
    logs: dict[tuple[str, str], list[float]] = {}
    for rows in saved:
        for r in rows:
            logs.setdefault((r.test, r.backend), []).append(math.log(r.seconds))
    return {key: math.exp(sum(v) / len(v)) for key, v in logs.items()}


@dataclass(frozen=True)
class Judged:
    """One row of a judged run, with its condition, round and measured change."""

    condition: str
    round: int
    row: Row
    change: float | None


def judge_run(
    condition: str, index: int, rows: list[Row], saved: dict[tuple[str, str], float]
) -> list[Judged]:
    """A judged run's rows, each with its change against the saved runs."""
    judged = []
    for r in rows:
        before = saved.get((r.test, r.backend))
        change = r.seconds / before - 1 if before else None
        judged.append(Judged(condition, index, r, change))
    return judged


def table(judged: list[Judged]) -> list[str]:
    """Condition x gate: each cell the verdict and the kernel's measured change."""
    head = ["condition", "backend", "round", *GATES.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    keys: dict[tuple[str, str, int], dict[str, Judged]] = {}
    for j in judged:
        keys.setdefault((j.condition, j.row.backend, j.round), {})[j.row.test] = j
    order = [name for name, _ in CONDITIONS]
    for (condition, backend, index), by_test in sorted(
        keys.items(), key=lambda item: (order.index(item[0][0]), item[0][1], item[0][2])
    ):
        cells = []
        for test in GATES:
            j = by_test.get(test)
            change = "" if j is None or j.change is None else f" ({j.change:+.1%})"
            cells.append("-" if j is None else f"{j.row.verdict}{change}")
        lines.append(f"| {condition} | {backend} | {index} | " + " | ".join(cells) + " |")
    return lines


def caught(judged: list[Judged]) -> list[str]:
    """Per condition and gate: how many rows were REGRESSED."""
    lines = []
    for condition, _ in CONDITIONS:
        rows = [j for j in judged if j.condition == condition]
        if not rows:
            continue
        counts = []
        for test, gate in GATES.items():
            mine = [j for j in rows if j.row.test == test]
            hits = sum(j.row.verdict == "REGRESSED" for j in mine)
            counts.append(f"{gate} {hits} of {len(mine)}")
        lines.append(f"{condition}: REGRESSED under " + ", ".join(counts))
    return lines


def default_gate_holds(judged: list[Judged]) -> tuple[bool, str]:
    """Whether the default gate passed every unchanged row and caught every slowed one."""
    misses = [
        f"{j.condition} {j.row.backend} round {j.round}: {j.row.verdict}"
        for j in judged
        if j.row.test == "test_gate_default"
        and (j.row.verdict == "REGRESSED") != (j.condition != "unchanged")
    ]
    if misses:
        return False, "the default gate was wrong on " + "; ".join(misses)
    return True, "the default gate passed every unchanged row and caught every slowed one"


def _pytest(setup: Setup, report: Path, baseline: Path) -> list[str]:
    """One campaign run: its backends and budget, the campaign's baselines, a JSON report."""
    return [
        PYTHON,
        "-m",
        "pytest",
        "-q",
        "--gpuperf",
        f"--gpuperf-backends={setup.backends}",
        f"--gpuperf-max-time={setup.max_time}",
        f"--gpuperf-baseline={baseline}",
        f"--gpuperf-json={report}",
    ]


def _one_run(
    setup: Setup, env: dict[str, str], work: float, report: Path, baseline: Path, timeout: float
) -> Finished:
    env = {
        **env,
        "GPU_CAMPAIGN_SIZE": str(setup.size),
        "GPU_CAMPAIGN_REPS": str(setup.reps),
        "GPU_CAMPAIGN_WORK": str(work),
    }
    return run(_pytest(setup, report, baseline), cwd=PROJECT, env=env, timeout=timeout)


def campaign_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """Save 3 runs, then judge unchanged, +20% and +50% runs under each gate."""
    env = ctx.env
    setup = ON_GPU if ctx.gpu else QUICK_STAND_IN if ctx.quick else STAND_IN
    name = f"planted-slowdown campaign ({setup.label})"
    limit = budget.limit(150, keep=keep)
    if limit < 45:
        return out_of_time(name, 45, budget)
    deadline = time.monotonic() + limit
    folder = ctx.work / "campaign"
    folder.mkdir(parents=True, exist_ok=True)
    baseline = folder / "baselines.json"
    saved: list[list[Row]] = []
    slowest = 0.0
    for index in range(setup.saved_runs):
        report = folder / f"saved-{index}.json"
        done = _one_run(setup, env, 1.0, report, baseline, deadline - time.monotonic())
        if not report.is_file():
            return _broken(name, f"saved run {index + 1}", done)
        saved.append(read_rows(report))
        slowest = max(slowest, done.seconds)
    for index in range(setup.saved_runs):
        report = folder / f"saved-{index}.json"
        cmd = [PYTHON, "-m", "pytest_gpuperf.cli", "accept", "--baseline", str(baseline)]
        done = run([*cmd, str(report)], cwd=folder, env=env, timeout=60)
        if done.status != 0:
            return _broken(name, f"gpuperf accept of saved run {index + 1}", done)
    reference = saved_times(saved)
    judged: list[Judged] = []
    rounds = 0
    while rounds < setup.max_rounds and deadline - time.monotonic() > 3.5 * slowest:
        rounds += 1
        for condition, factor in CONDITIONS:
            report = folder / f"round-{rounds}-{condition.strip('+%')}.json"
            done = _one_run(setup, env, factor, report, baseline, deadline - time.monotonic())
            if not report.is_file():
                return _broken(name, f"round {rounds}, {condition}", done)
            judged += judge_run(condition, rounds, read_rows(report), reference)
            slowest = max(slowest, done.seconds)
    if not judged:
        summary = f"no time left for a round after the saves ({slowest:.0f} s per run)"
        return Step(name, "FAILED", summary)
    clock = judged[0].row.clock
    lines = [
        f"{setup.saved_runs} saved run(s), {rounds} round(s); the change is the kernel's "
        f"{clock} time against the saved runs' geometric mean",
        "",
        *table(judged),
        "",
        *caught(judged),
    ]
    seconds = limit - (deadline - time.monotonic())
    archive = shutil.make_archive(str(ctx.keep / "campaign-reports"), "gztar", folder)
    lines.append(f"\nEvery run's JSON report: {Path(archive).name}.")
    if not setup.judged:
        summary = f"{rounds} round(s) ran; verdicts not judged (no GPU)"
        return Step(name, "ok", summary, lines, seconds, markdown=True)
    holds, why = default_gate_holds(judged)
    return Step(name, "ok" if holds else "FAILED", why, lines, seconds, markdown=True)


def _broken(name: str, what: str, done: Finished) -> Step:
    """The record of a campaign that stopped: which run, and how it ended."""
    tail = done.output.strip().splitlines()[-15:]
    summary = f"{what} wrote no report: {done.exit_text()}: {last_line(done.output)}"
    return Step(name, "FAILED", summary, tail, done.seconds)
