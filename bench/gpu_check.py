"""The device check: doctor, the example project on real GPUs, and our timer against CuPy's.

Run by ``bench/gpu_check.sh`` (which installs ``.[cuda12,nvml]`` first), from the
repository root. Each step that needs a GPU is skipped, and said to be, when there
is none; ``--no-gpu`` runs the CPU-only form that the tests use (the example
project on the simulator, a reduced set). It writes ``GPU_RESULTS.md`` into
``$OUT`` when that is set, else into ``bench/``, and exits 1 when a step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Agreement expected between our GPU time and cupyx.profiler.benchmark's.
AGREEMENT = 0.05
#: Elements of the comparison kernels' inputs: large enough for 0.1+ ms on any GPU.
COMPARE_N = 1 << 26
MATMUL_N = 4096


@dataclass
class Step:
    """One step of the check: its name, outcome (ok, FAILED, skipped) and text."""

    name: str
    outcome: str
    summary: str
    details: list[str] = field(default_factory=list)


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run a command; return its exit status and output (status 124 on timeout)."""
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return 124, out + f"\n(timed out after {timeout:g} s)"
    return done.returncode, done.stdout + done.stderr


def doctor_step(env: dict[str, str]) -> tuple[Step, dict[str, Any]]:
    """``gpuperf doctor --json``: the machine's facts, and whether anything is broken."""
    status, out = run(
        [sys.executable, "-m", "pytest_gpuperf.cli", "doctor", "--json"],
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    try:
        report: dict[str, Any] = json.loads(out[out.index("{") :])
    except ValueError:
        return Step("gpuperf doctor", "FAILED", f"exit {status}, no JSON", out.splitlines()), {}
    lines = [
        f"{c['name']}: {c['status']}: {c['detail']}"
        for c in [*report["backends"], report["simulator"], report["nvml"], report["event_timing"]]
    ]
    for dev in report.get("devices", []):
        lines.append(f"device {dev['index']}: {json.dumps(dev, sort_keys=True)}")
    outcome = "ok" if status == 0 else "FAILED"
    broken = ", ".join(report.get("broken", [])) or "nothing"
    return Step("gpuperf doctor", outcome, f"exit {status}; broken: {broken}", lines), report


def has_gpu(report: dict[str, Any]) -> bool:
    """True when doctor found CuPy or numba-cuda on a real device."""
    return any(
        c["name"] in ("cupy", "numba_cuda") and c["status"] == "ok"
        for c in report.get("backends", [])
    )


def example_step(env: dict[str, str], gpu: bool, quick: bool, work: Path) -> Step:
    """The example project under ``--gpuperf``: real numba_cuda and cupy, or the simulator."""
    report = work / "example.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--gpuperf",
        "--gpuperf-backends=numpy,numba_cuda,cupy",
        f"--gpuperf-json={report}",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rs",
    ]
    env = dict(env)
    # The example package imports from its source tree, installed or not.
    source = str(ROOT / "example_project" / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    if not gpu:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    if quick:
        cmd += ["--gpuperf-max-time=50ms", "tests/test_elementwise.py"]
    status, out = run(cmd, cwd=ROOT / "example_project", env=env, timeout=150)
    tail = out.strip().splitlines()[-1:] or ["(no output)"]
    lines = []
    if report.is_file():
        data = json.loads(report.read_text(encoding="utf-8"))
        for bench in data["benchmarks"]:
            info = bench["extra_info"]["gpuperf"]
            speed = info.get("speedup") or {}
            gpu_time = (info.get("gpu_time") or {}).get("median_s")
            memory = info.get("memory") or {}
            lines.append(
                f"{bench['fullname']}: speedup {speed.get('value', float('nan')):.3g}x, "
                f"{info['verdict']}, wall {bench['stats']['median'] * 1e6:.1f} us, GPU "
                f"{'-' if gpu_time is None else f'{gpu_time * 1e6:.1f} us'}, device peak "
                f"{memory.get('device_peak_bytes')}, host peak {memory.get('host_peak_bytes')}"
            )
    lines += [line for line in out.splitlines() if line.startswith("SKIPPED")]
    where = "real numba_cuda and cupy" if gpu else "numba_cuda on the simulator, cupy skipped"
    outcome = "ok" if status == 0 else "FAILED"
    return Step(f"example project ({where})", outcome, f"exit {status}: {tail[0]}", lines)


def comparison_rows(
    ours: dict[str, tuple[float, float]], theirs: dict[str, tuple[float, float]]
) -> list[dict[str, Any]]:
    """Per kernel: our GPU and wall medians against cupyx's, and whether the GPU times agree."""
    rows = []
    for name in ours:
        our_gpu, our_wall = ours[name]
        their_gpu, their_cpu = theirs[name]
        diff = our_gpu / their_gpu - 1 if their_gpu > 0 else float("inf")
        rows.append(
            {
                "kernel": name,
                "ours_gpu_s": our_gpu,
                "ours_wall_s": our_wall,
                "cupyx_gpu_s": their_gpu,
                "cupyx_cpu_s": their_cpu,
                "gpu_diff": diff,
                "agrees": abs(diff) <= AGREEMENT,
            }
        )
    return rows


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


def compare_step(gpu: bool) -> Step:
    """``cuda_sync_timer``'s timing core against ``cupyx.profiler.benchmark`` on 3 kernels."""
    name = "cuda_sync_timer vs cupyx.profiler.benchmark"
    if not gpu:
        return Step(name, "skipped", "no CUDA device for CuPy")
    try:
        import cupyx.profiler

        from pytest_gpuperf.backends.cupy_backend import CupyBackend
        from pytest_gpuperf.measure import timer as timing

        backend = CupyBackend()
        ours: dict[str, tuple[float, float]] = {}
        theirs: dict[str, tuple[float, float]] = {}
        for label, kernel in _kernels().items():
            side = timing.TimedCall(
                lambda k=kernel: backend.make_concrete(k()),
                synchronize=backend.synchronize,
                device_timer=backend.device_timer(),
                launch=kernel,
            )
            side.first_call()
            samples, _ = timing.measure_single(side, timing.TimerConfig(max_time=2.0))
            device = samples.device_summary()
            assert device is not None
            ours[label] = (device.median, samples.summary().median)
            result = cupyx.profiler.benchmark(kernel, n_repeat=50, n_warmup=5)
            theirs[label] = (
                float(statistics.median(result.gpu_times[0])),
                float(statistics.median(result.cpu_times)),
            )
    except Exception as exc:
        return Step(name, "FAILED", f"{type(exc).__name__}: {exc}")
    rows = comparison_rows(ours, theirs)
    lines = [
        f"{r['kernel']}: ours GPU {r['ours_gpu_s'] * 1e6:.1f} us "
        f"(wall {r['ours_wall_s'] * 1e6:.1f} us), "
        f"cupyx GPU {r['cupyx_gpu_s'] * 1e6:.1f} us (CPU {r['cupyx_cpu_s'] * 1e6:.1f} us): "
        f"{r['gpu_diff']:+.1%} {'agrees' if r['agrees'] else 'DISAGREES'}"
        for r in rows
    ]
    agree = sum(r["agrees"] for r in rows)
    outcome = "ok" if agree == len(rows) else "FAILED"
    return Step(name, outcome, f"{agree} of {len(rows)} within {AGREEMENT:.0%}", lines)


def render(steps: list[Step], gpu: bool, seconds: float) -> str:
    """``GPU_RESULTS.md``."""
    mode = "on a GPU" if gpu else "WITHOUT a GPU (the steps that need one were skipped)"
    lines = [
        "# GPU check results",
        "",
        f"Written by `bench/gpu_check.sh` {mode}, in {seconds:.0f} s, on "
        f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}.",
        "",
        "| step | outcome | summary |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {s.name} | {s.outcome} | {s.summary.replace('|', '/')} |" for s in steps]
    for step in steps:
        if step.details:
            lines += ["", f"## {step.name}", "", "```text", *step.details, "```"]
    skipped = [s.name for s in steps if s.outcome == "skipped"]
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the steps, write the results file, exit 1 when a step failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-gpu", action="store_true", help="CPU-only form (what tests run)")
    parser.add_argument("--quick", action="store_true", help="one example test file, 50 ms budget")
    args = parser.parse_args(argv)
    start = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    steps = []
    doctor, report = doctor_step(env)
    steps.append(doctor)
    gpu = has_gpu(report) and not args.no_gpu
    with tempfile.TemporaryDirectory() as work:
        steps.append(example_step(env, gpu, args.quick, Path(work)))
    steps.append(compare_step(gpu))
    out_dir = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "GPU_RESULTS.md"
    text = render(steps, gpu, time.monotonic() - start)
    tmp = target.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    print(text)
    print(f"wrote {target}")
    return 1 if any(s.outcome == "FAILED" for s in steps) else 0


if __name__ == "__main__":
    sys.exit(main())
