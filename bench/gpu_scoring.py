"""Score the GPU-runner campaign (``gpu_runner.py``) and write its Markdown section.

Two scores per condition and history size:

- **in the runs**: the verdict the plugin gave each row of each ``--gpuperf-json``
  report, against the baseline file that ``gpuperf accept`` built (with everything the
  plugin does in the process: its default gate, the re-measure before a REGRESSED);
- **(window, run) pairs**: every window of consecutive unchanged processes (the
  history runs, then the unchanged runs, in the order they ran) as the saved history,
  against every run outside it, each row replayed offline through the plugin's own
  ``judge``: its default gate, and ``gate="time"`` on the CUDA-event samples for
  comparison. A window holds what ``gpuperf accept`` would take from its reports.

The replay fills ``GateInput`` from the report (only the fields the installed
plugin's ``GateInput`` has), with the between-run spread pooled over the window's
tests as the plugin pools it over the baseline file. It has no re-measure: the
in-run verdicts are the ones that decide the targets.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_gpuperf.measure.statistics import RatioEstimate, median_interval
from pytest_gpuperf.options import Settings
from pytest_gpuperf.store.baseline import load_baselines
from pytest_gpuperf.store.saved_runs import RunReportError, baseline_entries, load_run
from pytest_gpuperf.verdict.gate import GateInput, judge
from pytest_gpuperf.verdict.history import History
from pytest_gpuperf.verdict.spread_prior import SpreadPrior, pooled_priors

DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}
#: The gate the plugin applies when nothing chooses one: what the campaign measures.
DEFAULT_GATE = str(DEFAULTS["gate"])
BACKEND = "fakegpu"
UNCHANGED = "unchanged"


def load_rows(report: Path) -> list[dict[str, Any]] | None:
    """The measured rows of a ``--gpuperf-json`` report, flattened; None when unreadable."""
    try:
        data = json.loads(Path(report).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = []
    for item in data.get("benchmarks", []):
        info = item.get("extra_info", {}).get("gpuperf") or {}
        if not info.get("speedup"):
            continue
        device = info.get("device_times_s") or []
        speed = info["speedup"]
        rows.append(
            {
                "test": info["test_key"].rpartition("[")[2].rstrip("]"),
                "test_key": info["test_key"],
                "backend": info["backend"],
                "verdict": info.get("verdict"),
                "first_verdict": (info.get("first_attempt") or {}).get("verdict"),
                "attribution": info.get("attribution") or "",
                "contended": bool(info.get("contended")),
                "detectable": info.get("detectable"),
                "speedup": (speed["value"], speed["low"], speed["high"]),
                "wall_median_s": item["stats"]["median"],
                "device_median_s": statistics.median(device) if device else None,
                "device_times_s": device,
                "reference_median_s": (info.get("reference_stats") or {}).get("median"),
                "foreign_cpu": info.get("foreign_cpu"),
            }
        )
    return rows


def _saved(report: Path) -> dict[str, Any]:
    """What ``gpuperf accept`` would store from ``report``: test_key -> baseline entry."""
    try:
        entries, _, _ = baseline_entries(load_run(report))
    except RunReportError:  # a missing or unreadable report holds no history
        return {}
    return {test: found[BACKEND] for test, found in entries.items() if BACKEND in found}


def offline_verdict(
    row: dict[str, Any],
    history: History,
    mode: str,
    contention: float | None = None,
    priors: Mapping[str, SpreadPrior] | None = None,
) -> str:
    """The installed plugin's verdict on ``row`` against ``history`` under gate ``mode``.

    ``contention`` is the limit the run had (``--gpuperf-contention``; None: the default);
    ``priors`` the spreads pooled over the other tests of the same history window.
    """
    if "_kernel_time" not in row:
        device = row["device_times_s"]
        row["_kernel_time"] = median_interval(device or [row["wall_median_s"]])
    value, low, high = row["speedup"]
    values = {
        "test": row["test_key"],
        "backend": row["backend"],
        "reference_name": "fake_reference",
        "speedup": RatioEstimate(value, low, high),
        "history": history,
        "tolerance": DEFAULTS["tolerance"],
        "false_alarm": DEFAULTS["false_alarm"],
        "contention_limit": DEFAULTS["contention"] if contention is None else contention,
        "foreign_cpu": row["foreign_cpu"],
        "reference_median_s": row["reference_median_s"],
        "kernel_median_s": row["wall_median_s"],
        "kernel_time": row["_kernel_time"],
        "kernel_clock": "events" if row["device_times_s"] else "wall",
        "mode": mode,
        "priors": priors or {},
    }
    known = {f.name for f in dataclasses.fields(GateInput)}
    return str(judge(GateInput(**{k: v for k, v in values.items() if k in known})).verdict.value)


def score(data: dict[str, Any], out: Path) -> dict[str, Any]:
    """Rows and saved entries of every process, and the histories the runs were judged on."""
    saved = [
        {**h, "rows": load_rows(out / h["report"]), "entries": _saved(out / h["report"])}
        for h in data.get("history_runs", [])
    ]
    runs = []
    for run in data.get("runs", []):
        report = out / run["report"]
        entries = _saved(report) if run["condition"] == UNCHANGED else {}
        runs.append({**run, "rows": load_rows(report), "entries": entries})
    tests = {r["test_key"] for h in saved for r in h["rows"] or ()}
    histories: dict[int, dict[str, History]] = {}
    for size in data["meta"]["histories"]:
        path = out / f"baselines-h{size}.json"
        found: dict[str, History] = {}
        if path.exists():
            store = load_baselines(path)
            for fingerprint in store.fingerprints():
                for test in tests:
                    history = store.history(fingerprint, test, BACKEND)
                    if history is not None:
                        found[test] = history
        histories[size] = found
    limit = data["meta"].get("contention")
    return {"saved": saved, "runs": runs, "histories": histories, "contention": limit}


def pairs(scored: dict[str, Any], size: int, mode: str, conditions: list[str]) -> dict[str, Any]:
    """Windows of ``size`` consecutive unchanged processes against every run outside them."""
    pool = scored["saved"] + [r for r in scored["runs"] if r["condition"] == UNCHANGED]
    counts = {name: {"pairs": 0, "flagged": 0, "inconclusive": 0} for name in conditions}
    by_condition = {
        name: pool if name == UNCHANGED else [r for r in scored["runs"] if r["condition"] == name]
        for name in conditions
    }
    for start in range(max(0, len(pool) - size + 1)):
        window = pool[start : start + size]
        tests = {t for run in window for t in run["entries"]}
        histories = {
            t: History(tuple(run["entries"][t] for run in window if t in run["entries"]))
            for t in tests
        }
        priors = pooled_priors(histories.values())
        for name in conditions:
            for run in by_condition[name]:
                if any(run is w for w in window):
                    continue
                for row in run["rows"] or ():
                    history = histories.get(row["test_key"])
                    if history is None:
                        continue
                    verdict = offline_verdict(row, history, mode, scored["contention"], priors)
                    counts[name]["pairs"] += 1
                    counts[name]["flagged"] += verdict == "REGRESSED"
                    counts[name]["inconclusive"] += verdict == "inconclusive"
    return counts


def summarize(scored: dict[str, Any], name: str, size: int) -> dict[str, Any]:
    """The in-run verdicts of one condition and history size."""
    runs = [r for r in scored["runs"] if r["condition"] == name and r["history"] == size]
    rows = [row for r in runs for row in r["rows"] or ()]
    history = scored["histories"].get(size, {})
    priors = pooled_priors(history.values())
    per_test: dict[str, int] = {}
    for row in rows:
        per_test[row["test"]] = per_test.get(row["test"], 0) + (row["verdict"] == "REGRESSED")
    time_gate = sum(
        offline_verdict(row, history[row["test_key"]], "time", scored["contention"], priors)
        == "REGRESSED"
        for row in rows
        if row["test_key"] in history
    )
    detect = [row["detectable"] for row in rows if row["detectable"] is not None]
    launch = [
        (row["wall_median_s"] - row["device_median_s"]) * 1e6
        for row in rows
        if row["device_median_s"] is not None
    ]
    return {
        "runs": len(runs),
        "missing": sum(r["rows"] is None for r in runs),
        "rows": len(rows),
        "regressed": sum(row["verdict"] == "REGRESSED" for row in rows),
        "regressed_runs": sum(
            any(row["verdict"] == "REGRESSED" for row in r["rows"] or ()) for r in runs
        ),
        "per_test": per_test,
        "inconclusive_reference": sum(
            row["verdict"] == "inconclusive" and row["attribution"] == "reference" for row in rows
        ),
        "inconclusive_other": sum(
            row["verdict"] == "inconclusive" and row["attribution"] != "reference" for row in rows
        ),
        "contended": sum(row["contended"] for row in rows),
        "improved": sum(row["verdict"] == "improved" for row in rows),
        "remeasured": sum(row["first_verdict"] is not None for row in rows),
        "detectable": detect,
        "launch_us": launch,
        "time_gate": time_gate,
        "time_gate_rows": sum(row["test_key"] in history for row in rows),
    }


def _rate(n: int, d: int) -> str:
    return f"{n}/{d} = {n / d:.1%}" if d else "-"


def _span(values: list[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "-"
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _caught(s: dict[str, Any]) -> str:
    worst = min(s["per_test"].values(), default=0)
    return f"worst test {worst}/{s['runs']}; rows {s['regressed']}/{s['rows']}"


def targets(
    summaries: dict[tuple[str, int], dict[str, Any]],
    pair_rates: dict[int, dict[str, Any]],
    k: int,
    histories: Iterable[int],
) -> list[tuple[str, int, str, str, str, bool | None]]:
    """(target, history, threshold, in the runs, pairs, met) for each target measured."""
    out: list[tuple[str, int, str, str, str, bool | None]] = []

    def pair_text(size: int, name: str) -> str:
        c = pair_rates.get(size, {}).get(name)
        return _rate(c["flagged"], c["pairs"]) if c else "-"

    for size in histories:

        def got(name: str, size: int = size) -> dict[str, Any] | None:
            s = summaries.get((name, size))
            return s if s and s["runs"] else None

        if s := got(UNCHANGED):
            c = pair_rates.get(size, {}).get(UNCHANGED, {"flagged": 0, "pairs": 0})
            out.append(
                (
                    "unchanged: REGRESSED rows",
                    size,
                    "0",
                    f"{s['regressed']} of {s['rows']} rows",
                    "-",
                    s["regressed"] == 0 and s["rows"] > 0,
                )
            )
            out.append(
                (
                    "unchanged: (window, run) pairs flagged",
                    size,
                    "<= 1%",
                    "-",
                    pair_text(size, UNCHANGED),
                    c["flagged"] <= 0.01 * c["pairs"] if c["pairs"] else None,
                )
            )
        for name, need, threshold in (
            ("kernel +20%", 19 * k / 20, f">= {math.ceil(19 * k / 20)} in {k}, every test"),
            ("kernel +50%", k, f"{k} in {k}, every test"),
        ):
            if s := got(name):
                worst = min(s["per_test"].values(), default=0)
                out.append(
                    (
                        f"{name}: caught",
                        size,
                        threshold,
                        _caught(s),
                        pair_text(size, name),
                        worst >= need and s["rows"] > 0,
                    )
                )
        for name in ("reference 1.6x slower", "reference 1.6x faster"):
            if s := got(name):
                out.append(
                    (
                        f"{name}: REGRESSED rows",
                        size,
                        "0",
                        f"{s['regressed']} of {s['rows']} rows",
                        pair_text(size, name),
                        s["regressed"] == 0 and s["rows"] > 0,
                    )
                )
        if s := got("kernel +10%"):
            pair = pair_text(size, "kernel +10%")
            out.append(("kernel +10%: caught", size, "reported", _caught(s), pair, None))
        if s := got(UNCHANGED):
            out.append(
                (
                    "detectable regression (unchanged rows)",
                    size,
                    "reported",
                    f"median (range) {_span(s['detectable'], _pct)}",
                    "-",
                    None,
                )
            )
    return out
