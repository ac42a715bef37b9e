"""Score the verdicts campaign (``verdicts.py``) and write its Markdown section.

Each run is scored four ways:

- **new gate**: the plugin's own verdict in that run (speedup gate, history,
  attribution, re-measure before failing);
- **old gate**: the rule before the history: the first saved run as the one
  baseline, REGRESSED when the interval's upper end is below ``baseline x 0.9``,
  no attribution (contended runs are inconclusive in both);
- **time gate**: ``gate="time"`` applied offline to the same run (kernel wall median
  with its order-statistic interval, against the saved medians);
- **pairs**: every window of H consecutive quiet unchanged runs as the history,
  against every run outside it, with the new gate's rule offline (without the
  re-measure, which needs the process).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from pytest_gpuperf.measure.statistics import RatioEstimate, median_interval
from pytest_gpuperf.store.baseline import load_baselines
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.gate import GateInput, judge
from pytest_gpuperf.verdict.history import History

TOLERANCE = 0.10
STATED_FALSE_ALARM = 0.01


def _entry(report: str, node: str) -> dict[str, Any] | None:
    """The benchmark item of ``node``'s test in a run report, flattened for scoring."""
    try:
        data = json.loads(Path(report).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for item in data.get("benchmarks", []):
        info = item.get("extra_info", {}).get("gpuperf", {})
        if info.get("test_key") == node and info.get("speedup"):
            speed = info["speedup"]
            return {
                "verdict": info.get("verdict"),
                "attribution": info.get("attribution") or "",
                "contended": bool(info.get("contended")),
                "detectable": info.get("detectable"),
                "remeasured": info.get("first_attempt") is not None,
                "speedup": RatioEstimate(speed["value"], speed["low"], speed["high"]),
                "kernel_median_s": item["stats"]["median"],
                "kernel_samples": item["stats"]["data"],
                "reference_median_s": (info.get("reference_stats") or {}).get("median"),
                "foreign_cpu": info.get("foreign_cpu"),
            }
    return None


def _as_saved(e: dict[str, Any]) -> BaselineEntry:
    s = e["speedup"]
    return BaselineEntry(
        speedup=s.value,
        ci_low=s.low,
        ci_high=s.high,
        kernel_median_s=e["kernel_median_s"],
        reference_median_s=e["reference_median_s"],
        samples=1,
        dtypes=(),
        shapes=(),
        versions={},
        timestamp="2026-01-01T00:00:00+00:00",
        foreign_cpu=0.0,
    )


def _judge(e: dict[str, Any], history: History, mode: str) -> str:
    """The verdict of ``mode`` for one run against ``history``, offline."""
    return judge(
        GateInput(
            test="t",
            backend="numba",
            reference_name="reference",
            speedup=e["speedup"],
            history=history,
            tolerance=TOLERANCE,
            foreign_cpu=e["foreign_cpu"],
            reference_median_s=e["reference_median_s"],
            kernel_median_s=e["kernel_median_s"],
            kernel_time=median_interval(e["kernel_samples"]),
            mode=mode,
        )
    ).verdict.value


def _old(e: dict[str, Any], first: BaselineEntry) -> str:
    if e["contended"]:
        return "inconclusive"
    return "REGRESSED" if e["speedup"].high < first.speedup * (1 - TOLERANCE) else "ok"


def _spread(values: list[float]) -> float:
    return statistics.stdev(math.log(v) for v in values) if len(values) > 2 else math.nan


def score(data: dict[str, Any], baselines: Path, conditions: Any) -> dict[str, Any]:
    """Every run scored four ways, the pairwise rates and the history's spreads."""
    store = load_baselines(baselines)
    (fingerprint,) = store.fingerprints() or ("",)
    nodes = {c.name: c.node for c in conditions}
    histories = {node: store.history(fingerprint, node, "numba") for node in set(nodes.values())}
    rows: dict[str, list[dict[str, Any]]] = {}
    for run in data.get("runs", []):
        node = nodes[run["condition"]]
        e = _entry(run["report"], node)
        history = histories.get(node)
        if e is None or history is None:
            rows.setdefault(run["condition"], []).append({"error": True, **run})
            continue
        e.update(run)
        e["old"] = _old(e, history.runs[0])
        e["time"] = _judge(e, history, "time")
        rows.setdefault(run["condition"], []).append(e)
    saved = {
        node: [x for x in (_entry(h["report"], node) for h in data.get("history_runs", [])) if x]
        for node in set(nodes.values())
    }
    return {"rows": rows, "histories": histories, "saved": saved}


def pairs(scored: dict[str, Any], node: str, base: str, others: list[str], size: int) -> dict:
    """Windows of ``size`` consecutive quiet unchanged runs against every run outside them."""
    pool = [*scored["saved"][node]]
    pool += [e for e in scored["rows"].get(base, []) if "speedup" in e and not e["busy"]]
    result: dict[str, dict[str, int]] = {}
    windows = [pool[i : i + size] for i in range(max(0, len(pool) - size + 1))]
    for name in [base, *others]:
        runs = pool if name == base else [e for e in scored["rows"].get(name, []) if "speedup" in e]
        counts = {"pairs": 0, "flagged": 0, "inconclusive": 0, "old_pairs": 0, "old_flagged": 0}
        for window in windows:
            history = History(tuple(_as_saved(e) for e in window))
            for e in runs:
                if any(e is w for w in window):
                    continue
                verdict = _judge(e, history, "speedup")
                counts["pairs"] += 1
                counts["flagged"] += verdict == "REGRESSED"
                counts["inconclusive"] += verdict == "inconclusive"
        for single in pool:
            for e in runs:
                if e is not single:
                    counts["old_pairs"] += 1
                    counts["old_flagged"] += _old(e, _as_saved(single)) == "REGRESSED"
        result[name] = counts
    return result


def _count(rows: list[dict[str, Any]], key: str, value: str = "REGRESSED") -> int:
    return sum(1 for r in rows if r.get(key) == value)


def _rate(n: int, d: int) -> str:
    return f"{n}/{d} = {n / d:.1%}" if d else "-"


def markdown(data: dict[str, Any], baselines: Path, conditions: Any) -> str:
    """The campaign's Markdown section."""
    scored = score(data, baselines, conditions)
    meta = data["meta"]
    k, h = meta["k"], meta["history"]
    rows = scored["rows"]
    lines = [
        "## Verdicts across runs: history, attribution, gate modes",
        "",
        f"- Date: {meta['date']}; duration {meta.get('duration_s', 0) / 60:.1f} min; "
        f"command `{meta['command']}` (K={k} runs per condition, history of H={h} saves, "
        f"seed {meta['seed']}); code: {meta['git']}",
        f"- Machine: {meta['machine']}; {meta['versions']}",
        f"- Foreign CPU share: {share(meta.get('foreign_before'))} before, "
        f"{share(meta.get('foreign_after'))} after; load average {meta.get('load_start')} "
        f"at start, {meta.get('load_end')} at end. Nothing else ran during the campaign.",
        "- Protocol: `bench/verdicts.py` docstring. Workload: `bench/RESULTS.md` above; the "
        "bimodal test uses the same kernel against a reference that adds a second `sin` pass "
        "in about half of the processes (drawn per process).",
        "",
        "### Per condition",
        "",
        "| condition | runs | new gate REGRESSED | inconclusive (reference moved / contended) "
        "| re-measured | old gate REGRESSED | time gate REGRESSED | median speedup "
        "| median detects |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in conditions:
        got = [r for r in rows.get(c.name, []) if "speedup" in r]
        errors = len(rows.get(c.name, [])) - len(got)
        detect = [r["detectable"] for r in got if r["detectable"] is not None]
        lines.append(
            f"| {c.name} | {len(got)}{f' ({errors} errors)' if errors else ''} "
            f"| {_count(got, 'verdict')} | {_count(got, 'attribution', 'reference')} / "
            f"{sum(r['contended'] for r in got)} | {sum(r['remeasured'] for r in got)} "
            f"| {_count(got, 'old')} | {_count(got, 'time')} "
            f"| {_median([r['speedup'].value for r in got], 'x')} "
            f"| {_median(detect, '%')} |"
        )
    lines += ["", "### History spread (the saved runs)", ""]
    lines += [
        "| test | runs | speedup spread (SD of log) | kernel median spread | "
        "reference median spread |",
        "|---|---|---|---|---|",
    ]
    for node, history in scored["histories"].items():
        if history is None:
            continue
        runs = history.runs
        lines.append(
            f"| `{node.rpartition('::')[2]}` | {len(runs)} "
            f"| {_spread([r.speedup for r in runs]):.1%} "
            f"| {_spread([r.kernel_median_s for r in runs]):.1%} "
            f"| {_spread([r.reference_median_s for r in runs]):.1%} |"
        )
    serial = pairs(
        scored,
        conditions[0].node,
        "unchanged",
        ["5% slower", "15% slower", "20% slower", "50% slower"],
        h,
    )
    bimodal = pairs(
        scored,
        conditions[6].node,
        "bimodal reference, unchanged",
        ["bimodal reference, 20% slower"],
        h,
    )
    lines += [
        "",
        f"### Every (history window of {h}, run) pair",
        "",
        "| condition | new gate flagged | new gate inconclusive | old gate flagged "
        "(one-run baselines) |",
        "|---|---|---|---|",
    ]
    for name, c in {**serial, **bimodal}.items():
        lines.append(
            f"| {name} | {_rate(c['flagged'], c['pairs'])} | "
            f"{_rate(c['inconclusive'], c['pairs'])} | {_rate(c['old_flagged'], c['old_pairs'])} |"
        )
    lines += ["", *targets(rows, serial, bimodal, k)]
    return "\n".join(lines) + "\n"


def targets(rows: dict[str, list[dict[str, Any]]], serial: dict, bimodal: dict, k: int) -> list:
    """The issue's targets, measured against their thresholds."""

    def got(name: str) -> list[dict[str, Any]]:
        return [r for r in rows.get(name, []) if "speedup" in r]

    def flagged(name: str, key: str = "verdict") -> int:
        return _count(got(name), key)

    quiet = [r for r in got("unchanged") if not r["busy"]]
    fifteen = got("15% slower")
    above = sum(1 for r in fifteen if (r["detectable"] or 0) > 0.15)
    u = serial.get("unchanged", {"flagged": 0, "pairs": 0})
    out = [
        "### Targets",
        "",
        "| target | threshold | new gate | old gate | time gate | result |",
        "|---|---|---|---|---|---|",
        _target(
            "unchanged code, false REGRESSED",
            f"<= 1 in {k}",
            flagged("unchanged"),
            flagged("unchanged", "old"),
            flagged("unchanged", "time"),
            lambda n: n <= 1,
        ),
        _target(
            "5% slower (inside tolerance), flagged",
            f"<= 1 in {k}",
            flagged("5% slower"),
            flagged("5% slower", "old"),
            flagged("5% slower", "time"),
            lambda n: n <= 1,
        ),
        f"| unchanged, all (window, run) pairs | <= 1% | {_rate(u['flagged'], u['pairs'])} | "
        f"{_rate(u['old_flagged'], u['old_pairs'])} | - | "
        f"{'PASS' if u['pairs'] and u['flagged'] <= 0.01 * u['pairs'] else '**MISS**'} |",
        _target(
            "15% slower caught",
            f">= 15 in {k}, or every run says detects > 15%",
            flagged("15% slower"),
            flagged("15% slower", "old"),
            flagged("15% slower", "time"),
            lambda n: n >= 15 * k / 20 or above == len(fifteen),
        ),
        _target(
            "20% slower caught",
            f">= 19 in {k}",
            flagged("20% slower"),
            flagged("20% slower", "old"),
            flagged("20% slower", "time"),
            lambda n: n >= 19 * k / 20,
        ),
        _target(
            "50% slower caught",
            f">= 19 in {k}",
            flagged("50% slower"),
            flagged("50% slower", "old"),
            flagged("50% slower", "time"),
            lambda n: n >= 19 * k / 20,
        ),
        _target(
            "bimodal reference, unchanged: REGRESSED",
            f"0 in {k}",
            flagged("bimodal reference, unchanged"),
            flagged("bimodal reference, unchanged", "old"),
            flagged("bimodal reference, unchanged", "time"),
            lambda n: n == 0,
        ),
        _target(
            "bimodal reference, 20% slower kernel caught",
            f">= 19 in {k}",
            flagged("bimodal reference, 20% slower"),
            flagged("bimodal reference, 20% slower", "old"),
            flagged("bimodal reference, 20% slower", "time"),
            lambda n: n >= 19 * k / 20,
        ),
        "",
        f"- 15% slower: {above} of {len(fifteen)} runs reported a detectable loss above 15% "
        f"(median {_median([r['detectable'] for r in fifteen if r['detectable']], '%')}).",
        f"- Stated false-alarm rate {STATED_FALSE_ALARM:.0%}; realized on quiet unchanged runs: "
        f"{_rate(_count(quiet, 'verdict'), len(quiet))} (plugin, in-run), "
        f"{_rate(u['flagged'], u['pairs'])} over all (window, run) pairs.",
    ]
    return out


def _target(what: str, threshold: str, new: int, old: int, time: int, ok: Any) -> str:
    result = "PASS" if ok(new) else "**MISS**"
    return f"| {what} | {threshold} | {new} | {old} | {time} | {result} |"


def _median(values: list[float], unit: str) -> str:
    if not values:
        return "-"
    m = statistics.median(values)
    return f"{m:.1%}" if unit == "%" else f"{m:.4g}{unit}"


def share(value: float | None) -> str:
    """A CPU share as a percentage, or "unknown"."""
    return "unknown" if value is None else f"{value:.1%}"
