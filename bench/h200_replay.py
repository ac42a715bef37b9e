"""Replay the H200 run reports through today's gate: every history window, every other run.

The five ``--gpuperf-json`` reports in ``../shared/gpu/h200-2026-11-30-runs/`` are fresh
processes of the same unchanged kernels on an NVIDIA H200 (numba_cuda and cupy rows with
CUDA-event samples). This script takes every window of 1 and of 3 reports as the saved
history and judges every other report against it, unchanged and with a slowdown planted
offline (every CUDA-event and wall sample of the kernel scaled by 1.2 or 1.5; the
reference left as it was measured), under the default gate and under ``gate="speedup"``.
It is a replay of measured data, not a new measurement: the planted slowdown is exact,
which a real slower kernel is not.

    .venv/bin/python bench/h200_replay.py [RUNS_DIR]
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections import Counter
from pathlib import Path

from pytest_gpuperf.measure.statistics import RatioEstimate, median_interval
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.store.saved_runs import Run, baseline_entries, load_run
from pytest_gpuperf.verdict.gate import GateInput, judge
from pytest_gpuperf.verdict.history import History
from pytest_gpuperf.verdict.spread_prior import pooled_priors

RUNS = Path(__file__).resolve().parents[2] / "shared" / "gpu" / "h200-2026-11-30-runs"
FACTORS = (1.0, 1.2, 1.5)


def histories(saved: list[Run]) -> dict[tuple[str, str], History]:
    """(test, backend) -> the runs of ``saved`` as ``gpuperf accept`` stores them."""
    found: dict[tuple[str, str], list[BaselineEntry]] = {}
    for run in saved:
        entries, _, _ = baseline_entries(run)
        for key, backends in entries.items():
            for backend, entry in backends.items():
                found.setdefault((key, backend), []).append(entry)
    return {k: History(tuple(v)) for k, v in found.items()}


def replay(runs: list[Run], window: int) -> Counter[tuple[str, float, str]]:
    """(gate, factor, verdict) -> count, over every window of ``window`` saved reports."""
    counts: Counter[tuple[str, float, str]] = Counter()
    for saved in itertools.combinations(range(len(runs)), window):
        found = histories([runs[i] for i in saved])
        by_backend: dict[str, list[History]] = {}
        for (_, backend), history in found.items():
            by_backend.setdefault(backend, []).append(history)
        for index in set(range(len(runs))) - set(saved):
            for e in runs[index].entries:
                key = (e.test_key, e.backend)
                if key not in found or not e.device_times_s or e.speedup is None:
                    continue
                for factor in FACTORS:
                    s = e.speedup
                    gate = GateInput(
                        test=e.test_key,
                        backend=e.backend,
                        reference_name="reference",
                        speedup=RatioEstimate(s.value / factor, s.low / factor, s.high / factor),
                        history=found[key],
                        tolerance=0.10,
                        reference_median_s=e.reference_median_s,
                        kernel_median_s=(e.kernel_median_s or 0.0) * factor,
                        kernel_time=median_interval([t * factor for t in e.device_times_s]),
                        kernel_clock="events",
                        priors=pooled_priors(by_backend[e.backend]),
                        sm_mhz=e.sm_mhz,
                        memory_mhz=e.memory_mhz,
                    )
                    for mode in ("auto", "speedup"):
                        verdict = judge(dataclasses.replace(gate, mode=mode)).verdict.value
                        counts[(mode, factor, verdict)] += 1
    return counts


def main(argv: list[str]) -> int:
    """Print the replay's table as Markdown."""
    folder = Path(argv[0]) if argv else RUNS
    runs = [load_run(path) for path in sorted(folder.glob("geo*.json"))]
    print('| saved reports | planted | default gate REGRESSED | `gate="speedup"` REGRESSED |')
    print("|---|---|---|---|")
    for window in (1, 3):
        counts = replay(runs, window)
        for factor in FACTORS:
            cells = []
            for mode in ("auto", "speedup"):
                total = sum(v for (m, f, _), v in counts.items() if m == mode and f == factor)
                hit = counts[(mode, factor, "REGRESSED")]
                cells.append(f"{hit} of {total}")
            planted = "none" if factor == 1.0 else f"kernel +{factor - 1:.0%}"
            print(f"| {window} | {planted} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
