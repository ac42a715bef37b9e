"""The Markdown section of the GPU-runner campaign (``gpu_runner.py``), from ``gpu_scoring.py``."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import gpu_scoring as gs
from verdict_scoring import share

PROJECT = Path(__file__).resolve().parent / "gpu_project"


def nominal_ms() -> dict[str, float]:
    """Each modelled kernel's nominal device time, from ``gpu_project/fake_gpu.py``."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import fake_gpu

    return {spec.name: spec.device_ms for spec in fake_gpu.KERNELS}


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _fmt_us(value: float) -> str:
    return f"{value:.0f} µs"


def _header(data: dict[str, Any]) -> list[str]:
    meta = data["meta"]
    histories = " and ".join(str(h) for h in meta["histories"])
    tries = [h["tries"] for h in data.get("history_runs", [])]
    firsts = "; ".join(f"the first {h} make the history of {h}" for h in meta["histories"])
    settings = [
        f"`{option}={meta[key]}`"
        for option, key in (
            ("-k", "select"),
            ("--gpuperf-max-time", "max_time"),
            ("--gpuperf-contention", "contention"),
        )
        if meta.get(key) is not None
    ]
    changed = (
        f"- Not the defaults: {', '.join(settings)} (a smoke test, not a result)."
        if settings
        else "- Every pytest process ran at the plugin's default settings."
    )
    return [
        "## GPU runner without a GPU: the default gate on a fake CUDA backend (H200 model)",
        "",
        f"- Date: {meta['date']}; duration {meta.get('duration_s', 0) / 60:.1f} min; command "
        f"`{meta['command']}` (K={meta['k']} runs per condition and history, histories of "
        f"{histories} saved runs, seed {meta['seed']}); code: {meta['git']}",
        f"- Machine: {meta['machine']}; {meta['versions']}",
        f"- Foreign CPU share: {share(meta.get('foreign_before'))} before, "
        f"{share(meta.get('foreign_after'))} after; load average {meta.get('load_start')} "
        f"at start, {meta.get('load_end')} at end.",
        f"- Gate measured: the installed plugin's default, `gate={gs.DEFAULT_GATE!r}`, at "
        f"tolerance {gs.DEFAULTS['tolerance']:.0%} and {gs.DEFAULTS['false_alarm']:.0%} "
        "false alarms.",
        "- Model (`bench/gpu_project/fake_gpu.py`, from the H200 reports): eight kernels of "
        "0.05-5 ms whose fake CUDA events report their modelled device time (within ±2% "
        "between processes, 0.7% per call), 7-40 µs of launch and sync inside the wall "
        "time, and a busy-wait reference 1x-2x slower depending on the process. A planted "
        "change applies to all eight kernels at once.",
        f"- Histories: {len(tries)} unchanged processes (`--gpuperf-json`, no baseline), "
        f"accepted with `gpuperf accept`: {firsts} (processes run for each: {tries}; one "
        "with a row `accept` refused, as contended, is run again). Protocol: the "
        "`bench/gpu_runner.py` docstring.",
        changed,
        "",
    ]


def _targets(rows: list[tuple[str, int, str, str, str, bool | None]]) -> list[str]:
    lines = [
        "### Targets",
        "",
        "| target | history | threshold | in the runs (the plugin's verdicts) "
        "| (window, run) pairs, replayed | result |",
        "|---|---|---|---|---|---|",
    ]
    for what, size, threshold, runs, pairs, met in rows:
        result = "-" if met is None else ("met" if met else "**MISSED**")
        lines.append(f"| {what} | {size} | {threshold} | {runs} | {pairs} | {result} |")
    return [*lines, ""]


def _per_condition(summaries: dict[tuple[str, int], dict[str, Any]]) -> list[str]:
    lines = [
        "### Per condition, in the runs",
        "",
        "| condition | history | runs | rows | REGRESSED rows (runs with one) "
        "| inconclusive: reference moved / other | contended | improved | re-measured "
        "| detects, median (range) | `time` gate on events, replayed: REGRESSED "
        "| launch+sync, median (range) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, size), s in summaries.items():
        if not s["runs"]:
            continue
        missing = f" ({s['missing']} without a report)" if s["missing"] else ""
        lines.append(
            f"| {name} | {size} | {s['runs']}{missing} | {s['rows']} "
            f"| {s['regressed']} ({s['regressed_runs']}) "
            f"| {s['inconclusive_reference']} / {s['inconclusive_other']} | {s['contended']} "
            f"| {s['improved']} | {s['remeasured']} | {gs._span(s['detectable'], gs._pct)} "
            f"| {s['time_gate']} of {s['time_gate_rows']} "
            f"| {gs._span(s['launch_us'], _fmt_us)} |"
        )
    return [*lines, ""]


def _pairs(pair_rates: dict[int, dict[str, Any]], time_rates: dict[int, dict[str, Any]]) -> list:
    lines = [
        "### Every (history window, run) pair, replayed through the plugin's `judge`",
        "",
        f"| condition | window | default gate (`{gs.DEFAULT_GATE}`) flagged "
        "| default gate inconclusive | `time` gate on events flagged |",
        "|---|---|---|---|---|",
    ]
    for size, counts in pair_rates.items():
        for name, c in counts.items():
            t = time_rates[size][name]
            lines.append(
                f"| {name} | {size} | {gs._rate(c['flagged'], c['pairs'])} "
                f"| {gs._rate(c['inconclusive'], c['pairs'])} "
                f"| {gs._rate(t['flagged'], t['pairs'])} |"
            )
    return [*lines, ""]


def _model(scored: dict[str, Any]) -> list[str]:
    """The model as the unchanged processes measured it, per kernel."""
    unchanged = scored["saved"] + [r for r in scored["runs"] if r["condition"] == gs.UNCHANGED]
    rows = [row for run in unchanged for row in run["rows"] or ()]
    lines = [
        "### The model as measured (every unchanged process)",
        "",
        "| kernel | nominal device time | event median between processes | reference "
        "median between processes (max/min) | launch+sync | speedup |",
        "|---|---|---|---|---|---|",
    ]
    for name, nominal in nominal_ms().items():
        mine = [r for r in rows if r["test"] == name]
        device = [r["device_median_s"] for r in mine if r["device_median_s"]]
        reference = [r["reference_median_s"] for r in mine if r["reference_median_s"]]
        launch = [(r["wall_median_s"] - r["device_median_s"]) * 1e6 for r in mine if device]
        if not device or not reference:
            continue
        lines.append(
            f"| {name} | {nominal:g} ms "
            f"| {(min(device) / (nominal / 1e3) - 1):+.1%} to "
            f"{(max(device) / (nominal / 1e3) - 1):+.1%} "
            f"| {_fmt_ms(min(reference))}-{_fmt_ms(max(reference))} "
            f"({max(reference) / min(reference):.2f}x) "
            f"| {gs._span(launch, _fmt_us)} "
            f"| {statistics.median(r['speedup'][0] for r in mine):.3g}x |"
        )
    return [*lines, ""]


def markdown(data: dict[str, Any], out: Path) -> str:
    """The campaign's Markdown section."""
    meta = data["meta"]
    scored = gs.score(data, out)
    names = meta["conditions"]
    summaries = {
        (name, size): gs.summarize(scored, name, size)
        for name in names
        for size in meta["histories"]
    }
    sizes = meta["histories"]
    pair_rates = {size: gs.pairs(scored, size, gs.DEFAULT_GATE, names) for size in sizes}
    time_rates = {size: gs.pairs(scored, size, "time", names) for size in sizes}
    lines = _header(data)
    lines += _targets(gs.targets(summaries, pair_rates, meta["k"], meta["histories"]))
    lines += _per_condition(summaries)
    lines += _pairs(pair_rates, time_rates)
    lines += _model(scored)
    return "\n".join(lines)
