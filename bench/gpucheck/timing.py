"""Our timer against ``cupyx.profiler.benchmark``, like with like: isolated GPU time against theirs.

``cupyx.profiler.benchmark`` records a CUDA event, calls the function, records a
second event and waits for it, for every call: the *isolated* GPU time, which
our timer also records (one call per sample on an idle GPU). Ours must agree
with it within :data:`AGREEMENT`. Our *batch* GPU time (queued launches, back
to back) is shown beside them; it is lower by the launch latency and the gaps
between one call's kernels, and is not compared.

The measuring runs in a child process (``python -m gpucheck.timing``, which
prints JSON), so that a hung or crashed CUDA call cannot take the check down.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any

from gpucheck.steps import (
    PYTHON,
    ROOT,
    Budget,
    Context,
    Step,
    last_line,
    module_env,
    out_of_time,
    run,
)

#: Agreement expected between our isolated GPU time and cupyx.profiler.benchmark's.
AGREEMENT = 0.02
#: Elements of the comparison kernels' inputs: large enough for 0.1+ ms on any GPU.
COMPARE_N = 1 << 26
MATMUL_N = 4096
NAME = "cuda_sync_timer vs cupyx.profiler.benchmark"


def comparison_rows(measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kernel: our isolated GPU median against cupyx's, and whether they agree.

    ``measured`` holds, per kernel, ``ours_batch_s``, ``ours_isolated_s``,
    ``ours_wall_s``, ``cupyx_gpu_s`` and ``cupyx_cpu_s`` (medians, seconds).
    """
    rows = []
    for m in measured:
        theirs, isolated, batch = m["cupyx_gpu_s"], m["ours_isolated_s"], m["ours_batch_s"]
        diff = isolated / theirs - 1 if theirs > 0 else float("inf")
        batch_vs_isolated = batch / isolated - 1 if isolated > 0 else float("inf")
        rows.append(
            {
                **m,
                "isolated_diff": diff,
                "batch_vs_isolated": batch_vs_isolated,
                "agrees": abs(diff) <= AGREEMENT,
            }
        )
    return rows


def row_text(r: dict[str, Any]) -> str:
    """One kernel's comparison as a line of the results file."""
    us = 1e6
    return (
        f"{r['kernel']}: isolated GPU ours {r['ours_isolated_s'] * us:.1f} us, cupyx "
        f"{r['cupyx_gpu_s'] * us:.1f} us: {r['isolated_diff']:+.1%} "
        f"{'agrees' if r['agrees'] else 'DISAGREES'}; batch GPU {r['ours_batch_s'] * us:.1f} us "
        f"({r['batch_vs_isolated']:+.1%} against isolated); wall {r['ours_wall_s'] * us:.1f} us, "
        f"cupyx CPU {r['cupyx_cpu_s'] * us:.1f} us"
    )


def compare_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """Time 3 kernels with our timer and with cupyx, in a child process, and compare."""
    if not ctx.gpu:
        return Step(NAME, "skipped", "no CUDA device for CuPy")
    limit = budget.limit(90, keep=keep)
    if limit < 20:
        return out_of_time(NAME, 20, budget)
    done = run([PYTHON, "-m", "gpucheck.timing"], cwd=ROOT, env=module_env(ctx.env), timeout=limit)
    ctx.save_log("compare", done)
    try:
        out = done.output
        measured = json.loads(out[out.index("[") : out.rindex("]") + 1])
    except ValueError:
        tail = done.output.strip().splitlines()[-15:]
        summary = f"{done.exit_text()}: {last_line(done.output)}"
        return Step(NAME, "FAILED", summary, tail, done.seconds)
    rows = comparison_rows(measured)
    agree = sum(r["agrees"] for r in rows)
    outcome = "ok" if agree == len(rows) and rows else "FAILED"
    summary = f"isolated GPU time: {agree} of {len(rows)} within {AGREEMENT:.0%} of cupyx"
    return Step(NAME, outcome, summary, [row_text(r) for r in rows], done.seconds)


def _kernels() -> dict[str, Any]:
    import cupy

    a = cupy.random.random(COMPARE_N, dtype=cupy.float32)
    b = cupy.random.random(COMPARE_N, dtype=cupy.float32)
    m = cupy.random.random((MATMUL_N, MATMUL_N), dtype=cupy.float32)
    return {
        f"add, {COMPARE_N:,} float32": lambda: cupy.add(a, b),
        f"sum, {COMPARE_N:,} float32": lambda: cupy.sum(a),
        f"matmul, {MATMUL_N}x{MATMUL_N} float32": lambda: m @ m,
    }


def measure() -> list[dict[str, Any]]:
    """Each kernel under ``cuda_sync_timer``'s timing core, then under cupyx (on a GPU)."""
    import cupyx.profiler

    from pytest_gpuperf.backends.cupy_backend import CupyBackend
    from pytest_gpuperf.measure import timer as timing

    backend = CupyBackend()
    measured = []
    for label, kernel in _kernels().items():
        side = timing.TimedCall(
            lambda k=kernel: backend.make_concrete(k()),
            synchronize=backend.synchronize,
            device_timer=backend.device_timer(),
            launch=kernel,
        )
        side.first_call()
        samples, _ = timing.measure_single(side, timing.TimerConfig(max_time=2.0))
        batch, isolated = samples.device_summary(), samples.isolated_summary()
        if batch is None or isolated is None:
            raise RuntimeError(f"{label}: the timer recorded no CUDA-event times")
        result = cupyx.profiler.benchmark(kernel, n_repeat=200, n_warmup=10, max_duration=2.0)
        measured.append(
            {
                "kernel": label,
                "ours_batch_s": batch.median,
                "ours_isolated_s": isolated.median,
                "ours_wall_s": samples.summary().median,
                "batch": samples.batch,
                "samples": len(samples.wall_ns),
                "cupyx_gpu_s": float(statistics.median(result.gpu_times[0])),
                "cupyx_cpu_s": float(statistics.median(result.cpu_times)),
            }
        )
    return measured


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=1)
    sys.stdout.write("\n")
