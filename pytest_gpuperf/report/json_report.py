"""The run as JSON: a superset of pytest-benchmark's format, so its ``compare`` reads it."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_gpuperf.report.gpu_sections import gpu_json
from pytest_gpuperf.store.saved_runs import REPORT_SCHEMA
from pytest_gpuperf.verdict.gate import baseline_speedup

if TYPE_CHECKING:
    from pytest_gpuperf.backends.registry import BackendRegistry
    from pytest_gpuperf.measure.timer import Samples
    from pytest_gpuperf.verdict.bands import Band
    from pytest_gpuperf.verdict.record import KernelRecord, RunResults


def _stats(samples: Samples) -> dict[str, Any]:
    """pytest-benchmark's own statistics of the per-call times, raw data included."""
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for ns in samples.wall_ns:
        stats.update(ns * 1e-9)
    result: dict[str, Any] = stats.as_dict()
    result["data"] = list(stats.data)
    result["iterations"] = samples.batch
    return result


def benchmark_entry(record: KernelRecord) -> dict[str, Any] | None:
    """One ``benchmarks[]`` item, or None when the record holds no samples."""
    m = record.measurement
    if m.kernel is None:
        return None
    gate = record.gate
    gpuperf: dict[str, Any] = {
        "test_key": record.test_key,
        "backend": record.backend,
        "kernel": record.kernel_name,
        "reference": record.reference_name,
        "simulated": m.simulated,
        "cache": m.cache,
        "first_call_s": m.first_call_s,
        "foreign_cpu": m.foreign_cpu,
        "sibling_cpu": m.sibling_cpu,
        "attempts": m.attempts,
        "budget_note": m.budget_note,
        "ratios": list(m.ratios),
        "speedup": None,
        "verdict": gate.verdict.value if gate else "timed",
        "verdict_detail": gate.why if gate else "",
        "passed": record.passed,
        "dtypes": list(record.dtypes),
        "shapes": [list(s) for s in record.shapes],
        "bytes_per_call": record.bytes_per_call,
        "flops_per_call": record.flops_per_call,
        "sweep": record.sweep,
        "throughput": record.throughput.as_dict() if record.throughput else None,
        "device_times_s": [ns * 1e-9 for ns in m.kernel.device_ns] if m.kernel.device_ns else None,
        "contended": gate.contended if gate else False,
        "attribution": gate.attribution if gate else "",
        "detectable": gate.detectable if gate else None,
        "history_runs": len(record.history.runs) if record.history else 0,
        "bands": {name: _band_json(b) for name, b in gate.bands.items()} if gate else {},
        "judged_on": gate.judged_on if gate else "",
        "baseline": baseline_speedup(gate, record.history),
        "first_attempt": _first_attempt(record),
        "performance_warnings": list(record.performance_warnings),
        "history": [
            {
                key: getattr(run, key)
                for key in (
                    "speedup",
                    "ci_low",
                    "ci_high",
                    "kernel_median_s",
                    "reference_median_s",
                    "timestamp",
                    "commit",
                )
            }
            for run in (record.history.runs if record.history else ())
        ],
    }
    gpuperf.update(gpu_json(m, gate.judged_on if gate else ""))
    speed = record.speedup
    if speed is not None:
        gpuperf["speedup"] = {"value": speed.value, "low": speed.low, "high": speed.high}
    if m.speedup is not None and speed is not m.speedup:  # a device row's pooled headline
        gpuperf["same_run_speedup"] = {
            "value": m.speedup.value,
            "low": m.speedup.low,
            "high": m.speedup.high,
        }
    if m.reference is not None:
        gpuperf["reference_stats"] = _stats(m.reference)
    name = record.nodeid.rpartition("::")[2]
    return {
        "group": record.test_key,
        "name": name,
        "fullname": record.nodeid,
        "params": {
            "backend": record.backend,
            **{k: _jsonable(v) for k, v in record.params.items()},
        },
        "param": record.backend,
        "extra_info": {"gpuperf": gpuperf},
        "options": {"timer": "perf_counter_ns+device-sync", "max_time": None, "warmup": True},
        "stats": _stats(m.kernel),
    }


def _band_json(found: Band) -> dict[str, Any]:
    """A band as JSON: an infinite value (a flat prior's degrees of freedom) as null."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in dataclasses.asdict(found).items()
    }


def _first_attempt(record: KernelRecord) -> dict[str, Any] | None:
    """The superseded first measurement of a suspected regression, in brief."""
    first = record.first_attempt
    if first is None:
        return None
    speed = first.measurement.speedup
    return {
        "verdict": first.gate.verdict.value,
        "verdict_detail": first.gate.why,
        "speedup": None
        if speed is None
        else {"value": speed.value, "low": speed.low, "high": speed.high},
        "median_s": first.measurement.median,
        "reference_median_s": first.measurement.reference_median,
    }


def build_report(results: RunResults) -> dict[str, Any]:
    """The whole report as a JSON-ready dict."""
    import pytest_benchmark
    from pytest_benchmark.utils import get_commit_info

    machine_info = {
        "node": platform.node(),
        "processor": platform.processor(),
        "machine": platform.machine(),
        "python_implementation": platform.python_implementation(),
        "python_version": platform.python_version(),
        "python_compiler": platform.python_compiler(),
        "release": platform.release(),
        "system": platform.system(),
        "cpu": {"brand_raw": results.machine_info.get("cpu"), "count": os.cpu_count()},
        "gpuperf": gpuperf_machine_info(results, None, None),
    }
    benchmarks = [e for e in map(benchmark_entry, results.records) if e is not None]
    return {
        "machine_info": machine_info,
        "commit_info": get_commit_info(),
        "benchmarks": benchmarks,
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "version": pytest_benchmark.__version__,
        "gpuperf": {"schema": REPORT_SCHEMA, "notes": list(results.notes)},
    }


def gpuperf_machine_info(
    results: RunResults | None,
    registry: BackendRegistry | None,
    wanted: tuple[str, ...] | None,
) -> dict[str, Any]:
    """Our machine facts for pytest-benchmark's ``machine_info``: fingerprint, GPU, versions.

    Under ``--gpuperf`` the facts the run's ``results`` carry are used. Otherwise the GPU is probed
    only when numba.cuda or cupy is already imported, so a plain benchmark run
    imports nothing heavy; ``gpu_probed`` says which happened.
    """
    from pytest_gpuperf.machine import facts

    if results is not None and results.fingerprint:
        return {
            "fingerprint": results.fingerprint,
            "machine": dict(results.machine_info),
            "versions": dict(results.versions),
            "gpu_probed": True,
        }
    probed = registry is not None and any(name in sys.modules for name in ("numba.cuda", "cupy"))
    gpu: dict[str, object] = {}
    if probed and registry is not None:
        gpu = facts.gpu_info(registry, wanted)
    info = facts.machine_info(gpu)
    return {
        "fingerprint": facts.fingerprint(info) if probed else None,
        "machine": info,
        "versions": facts.library_versions(),
        "gpu_probed": probed,
    }


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write a report from :func:`build_report` atomically; WriteError names the path and fix."""
    from pytest_gpuperf.store.atomic import write_atomic

    text = json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
    write_atomic(Path(path), text, what="the JSON report", fix="fix --gpuperf-json")


def _jsonable(value: Any) -> Any:
    """Parameters as JSON values: numbers and strings as they are, others as text."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)
