"""The targets table: each goal of the benchmark, its threshold, what was measured, PASS/MISS."""

from __future__ import annotations

import statistics

from campaign import GPUPERF
from pairs import PairCounts

from results.cells import pct, table, verdict
from results.runs import Campaign, count, inconclusive, regressed, select, valid

TIMER_TARGET_NS = 2000.0
INSTALL_TARGET = 0.03
PAIRS_TARGET = 0.01
BUDGET_S = 1.0

Row = tuple[str, str, str, bool | None]


def _scaled(c: Campaign, per_20: float) -> float:
    return per_20 * c.k / 20


def _pairs_false_alarms(c: Campaign, method: str) -> PairCounts:
    counts = [c.pairs[method][name] for name in ("unchanged", "5% slower")]
    return PairCounts(
        counts[0].baselines,
        sum(n.pairs for n in counts),
        sum(n.flagged for n in counts),
        sum(n.inconclusive for n in counts),
    )


def targets(c: Campaign) -> list[Row]:
    """(target, threshold, measured, pass) rows."""
    return [*(_alarm_rows(c) if c.runs else []), *_cost_rows(c)]


def _alarm_rows(c: Campaign) -> list[Row]:
    rows: list[Row] = []
    k = c.k
    unchanged = select(c.runs, GPUPERF, "unchanged")
    flagged = count(unchanged, regressed)
    rows.append(
        (
            "false alarms, unchanged code (half with a busy loop)",
            f"<= 1 in 20 (<= {_scaled(c, 1):g} of {k})",
            f"{flagged} of {len(valid(unchanged))} (inconclusive: "
            f"{count([r for r in unchanged if r.busy], inconclusive)} busy, "
            f"{count([r for r in unchanged if not r.busy], inconclusive)} quiet)",
            flagged <= _scaled(c, 1),
        )
    )
    five = select(c.runs, GPUPERF, "5% slower")
    flagged = count(five, regressed)
    rows.append(
        (
            "false alarms, 5% slower (inside the 10% tolerance)",
            f"<= 2 in 20 (<= {_scaled(c, 2):g} of {k})",
            f"{flagged} of {len(valid(five))} (inconclusive: {count(five, inconclusive)})",
            flagged <= _scaled(c, 2),
        )
    )
    pc = _pairs_false_alarms(c, GPUPERF)
    rows.append(
        (
            "false alarms over all baseline pairs (unchanged + 5%)",
            "<= 1%",
            f"{pc.flagged} of {pc.pairs} pairs = {pct(pc.rate)} "
            f"({pc.baselines} baselines; inconclusive pairs: {pc.inconclusive})",
            pc.pairs > 0 and pc.rate <= PAIRS_TARGET,
        )
    )
    for name, per_20 in (("15% slower", 15), ("20% slower", 19), ("50% slower", 19)):
        runs = select(c.runs, GPUPERF, name)
        caught = count(runs, regressed)
        rows.append(
            (
                f"{name.split()[0]} regression caught",
                f">= {per_20} in 20 (>= {_scaled(c, per_20):g} of {k})",
                f"{caught} of {len(valid(runs))} (inconclusive: {count(runs, inconclusive)})",
                caught >= _scaled(c, per_20),
            )
        )
    timed = [r.timed_s for r in valid(c.runs) if r.method == GPUPERF and r.timed_s]
    if timed:
        rows.append(
            (
                "time in timed calls per measurement, all gpuperf runs",
                f"default budget {BUDGET_S:g} s (one more round may overrun)",
                f"median {statistics.median(timed):.2f} s, max {max(timed):.2f} s",
                max(timed) <= BUDGET_S * 1.1,
            )
        )
    runs = select(c.runs, GPUPERF, "prange + busy")
    undecided = count(runs, inconclusive)
    rows.append(
        (
            "prange kernel + busy loop -> inconclusive, not REGRESSED",
            f">= 19 in 20 (>= {_scaled(c, 19):g} of {k})",
            f"{undecided} of {len(valid(runs))} (REGRESSED: {count(runs, regressed)})",
            undecided >= _scaled(c, 19),
        )
    )
    return rows


def _cost_rows(c: Campaign) -> list[Row]:
    rows: list[Row] = []
    timer = c.data.get("timer")
    if timer:
        rows.append(
            (
                "timer overhead per sample (CPU path)",
                "< 2 µs",
                f"{timer['overhead_ns']:.0f} ns",
                timer["overhead_ns"] < TIMER_TARGET_NS,
            )
        )
    install = c.data.get("install")
    if install:
        rows.append(
            (
                f"{install['tests']}-test suite, plugin installed vs -p no:gpuperf",
                "within 3%",
                f"{(install['ratio'] - 1) * 100:+.1f}% "
                f"({(install['with_s'] - install['without_s']) * 1e3:+.0f} ms)",
                install["ratio"] <= 1 + INSTALL_TARGET and not install["problems"],
            )
        )
    imports = c.data.get("imports")
    if imports:
        heavy = imports["heavy_imported"]
        rows.append(
            (
                "import pytest_gpuperf.plugin loads no numpy/numba/cupy",
                "none imported",
                ", ".join(heavy) if heavy else "none",
                not heavy,
            )
        )
    return rows


def targets_section(c: Campaign) -> list[str]:
    """The targets table under its heading."""
    rows = [(t, thr, measured, verdict(ok)) for t, thr, measured, ok in targets(c)]
    return [
        "## Targets (`--gpuperf` at default settings: tolerance 10%, max time 1 s, noise 2%)",
        "",
        *table(("target", "threshold", "measured", "result"), rows),
        "",
    ]
