"""The steps that run the project as a user would: the doctor, the example, the own tests."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from gpucheck.steps import (
    PYTHON,
    ROOT,
    Budget,
    Context,
    Step,
    key_lines,
    last_line,
    out_of_time,
    run,
)

#: Lines of a pytest run worth keeping: outcomes, errors, the summary.
PYTEST_LINES = r"^(FAILED|ERROR|INTERNALERROR)|(passed|failed|error).* in [0-9.]+s"


def doctor_step(env: dict[str, str], budget: Budget) -> tuple[Step, dict[str, Any]]:
    """``gpuperf doctor --json``: the machine's facts, and whether anything is broken."""
    name = "gpuperf doctor"
    limit = budget.limit(90)
    if limit < 10:
        return out_of_time(name, 10, budget), {}
    done = run(
        [PYTHON, "-m", "pytest_gpuperf.cli", "doctor", "--json"], cwd=ROOT, env=env, timeout=limit
    )
    out = done.output
    try:
        report: dict[str, Any] = json.loads(out[out.index("{") : out.rindex("}") + 1])
    except ValueError:
        return Step(name, "FAILED", f"{done.exit_text()}, no JSON", out.splitlines()[-20:]), {}
    lines = [
        f"{c['name']}: {c['status']}: {c['detail']}"
        for c in [*report["backends"], report["simulator"], report["nvml"], report["event_timing"]]
    ]
    for dev in report.get("devices", []):
        lines.append(f"device {dev['index']}: {json.dumps(dev, sort_keys=True)}")
    outcome = "ok" if done.status == 0 else "FAILED"
    broken = ", ".join(report.get("broken", [])) or "nothing"
    summary = f"{done.exit_text()}; broken: {broken}"
    return Step(name, outcome, summary, lines, done.seconds), report


def has_gpu(report: dict[str, Any], env: dict[str, str]) -> bool:
    """True when doctor found CuPy or numba-cuda on a real device.

    Without a doctor's report (not run, or it crashed), ``nvidia-smi -L`` decides.
    """
    if report:
        return any(
            c["name"] in ("cupy", "numba_cuda") and c["status"] == "ok"
            for c in report.get("backends", [])
        )
    if shutil.which("nvidia-smi") is None:
        return False
    listed = run(["nvidia-smi", "-L"], cwd=ROOT, env=env, timeout=20)
    return listed.status == 0 and "GPU " in listed.output


def example_env(env: dict[str, str], gpu: bool) -> dict[str, str]:
    """The environment of an example run: its sources importable, the simulator off a GPU."""
    env = dict(env)
    source = str(ROOT / "example_project" / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    if not gpu:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return env


def example_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """The example project under ``-n 2 --gpuperf``: real numba_cuda and cupy, or the simulator.

    On a GPU both workers share device 0 (``--gpuperf-devices=0``), so they take
    turns on it; off a GPU numba_cuda runs on the simulator and cupy skips.
    """
    gpu = ctx.gpu
    where = "real numba_cuda and cupy" if gpu else "numba_cuda on the simulator, cupy skipped"
    name = f"example project, -n 2 ({where})"
    limit = budget.limit(120, keep=keep)
    if limit < 20:
        return out_of_time(name, 20, budget)
    report = ctx.work / "example.json"
    cmd = [
        PYTHON,
        "-m",
        "pytest",
        "-n",
        "2",
        "--gpuperf",
        "--gpuperf-backends=numpy,numba_cuda,cupy",
        f"--gpuperf-json={report}",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rfEs",
    ]
    if gpu:
        cmd.append("--gpuperf-devices=0")
    if ctx.quick:
        cmd += ["--gpuperf-max-time=50ms", "tests/test_elementwise.py"]
    done = run(cmd, cwd=ROOT / "example_project", env=example_env(ctx.env, gpu), timeout=limit)
    ctx.save_log("example", done)
    lines = []
    if report.is_file():
        lines = _report_rows(report)
        shutil.copyfile(report, ctx.keep / "example.json")
    lines += key_lines(done.output, PYTEST_LINES + r"|^SKIPPED", limit=40)
    outcome = "ok" if done.status == 0 else "FAILED"
    return Step(name, outcome, f"{done.exit_text()}: {last_line(done.output)}", lines, done.seconds)


def _report_rows(report: Path) -> list[str]:
    """One line per measured row of a ``--gpuperf-json`` report."""
    data = json.loads(report.read_text(encoding="utf-8"))
    lines = []
    for bench in data["benchmarks"]:
        info = bench["extra_info"]["gpuperf"]
        speed = info.get("speedup") or {}
        gpu_time = info.get("gpu_time") or {}
        memory = info.get("memory") or {}
        lines.append(
            f"{bench['fullname']}: speedup {speed.get('value', float('nan')):.3g}x, "
            f"{info['verdict']}, wall {bench['stats']['median'] * 1e6:.1f} us, "
            f"GPU batch {_us(gpu_time.get('median_s'))}, "
            f"isolated {_us(gpu_time.get('isolated_median_s'))}, device peak "
            f"{memory.get('device_peak_bytes')}, host peak {memory.get('host_peak_bytes')}"
        )
    return lines


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.1f} us"


def progress_text(output: str) -> str:
    """How far a ``pytest -q`` run got, from its progress lines (``..F.s [ 12%]``)."""
    marks = "".join(
        m.group(1) for line in output.splitlines() if (m := _PROGRESS.match(line.strip()))
    )
    counts = ", ".join(f"{marks.count(c)} {word}" for c, word in _MARKS if c in marks)
    return f"stopped after {len(marks)} test outcomes: {counts or 'none'}"


_PROGRESS = re.compile(r"^([.FEsxX]+)(\s+\[\s*\d+%\])?$")
_MARKS = (
    (".", "passed"), ("F", "failed"), ("E", "errors"), ("s", "skipped"),
    ("x", "xfailed"), ("X", "xpassed"),
)  # fmt: skip


def suite_step(ctx: Context, budget: Budget, keep: float) -> Step:
    """The project's own tests, ``pytest -n 8`` (at most the CPUs), in the time that is left."""
    workers = min(8, os.cpu_count() or 1)
    name = f"the project's own tests, -n {workers}"
    if not ctx.gpu:
        return Step(name, "skipped", "no GPU: CI runs them on the CPU; here they add nothing")
    limit = budget.limit(300, keep=keep)
    if limit < 60:
        return out_of_time(name, 60, budget)
    cmd = [PYTHON, "-m", "pytest", "-n", str(workers), "-q", "-rfE", "-p", "no:cacheprovider"]
    done = run(cmd, cwd=ROOT, env=ctx.env, timeout=limit)
    ctx.save_log("suite", done)
    lines = key_lines(done.output, PYTEST_LINES, limit=60)
    if done.timed_out:
        lines.insert(0, progress_text(done.output))
    outcome = "ok" if done.status == 0 else "FAILED"
    return Step(name, outcome, f"{done.exit_text()}: {last_line(done.output)}", lines, done.seconds)
