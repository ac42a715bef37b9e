"""Tables per condition: each method's runs, the baseline-luck pairs, and time per run."""

from __future__ import annotations

from campaign import BENCHMARK, CONDITIONS, GPUPERF, Condition, Run

from results.cells import fmt, median, ms, pct, table
from results.runs import Campaign, count, inconclusive, regressed, select, valid


def _condition_rows(c: Campaign, method: str) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for condition in CONDITIONS:
        groups: list[tuple[str, bool | None]] = [(condition.name, None)]
        if condition.busy == "odd runs":
            groups = [(f"{condition.name}, quiet", False), (f"{condition.name}, busy", True)]
        for label, busy in groups:
            runs = select(c.runs, method, condition.name, busy)
            rows.append(_row(method, condition, label, runs))
    return rows


def _row(method: str, condition: Condition, label: str, runs: list[Run]) -> tuple[object, ...]:
    ok = valid(runs)
    flagged = count(runs, regressed)
    kind = "caught" if condition.should_flag else "false alarm"
    if condition.kernel == "parallel":
        kind = "REGRESSED"
    common = (
        label,
        len(ok),
        f"{flagged} ({kind})",
    )
    timing = (
        fmt(median(r.wall_s for r in ok), ".2f", " s"),
        fmt(median(r.timed_s for r in ok), ".2f", " s"),
        fmt(median(r.rounds for r in ok), ".0f"),
        len(runs) - len(ok),
    )
    if method == GPUPERF:
        speed = median(r.speedup[0] if r.speedup else None for r in ok)
        width = median(
            (r.speedup[2] - r.speedup[1]) / 2 / r.speedup[0] if r.speedup else None for r in ok
        )
        return (
            *common,
            count(runs, inconclusive),
            fmt(speed, ".4g", "x"),
            pct(width),
            pct(median(r.foreign_cpu for r in ok)),
            sum(1 for r in ok if (r.attempts or 1) > 1),
            *timing,
        )
    return (*common, ms(median(r.min_s for r in ok)), *timing)


def conditions_section(c: Campaign) -> list[str]:
    """One table per method: each condition's runs, flags and timings."""
    if not c.runs:
        return []
    timing = ("wall per run", "in timed calls", "rounds", "errors")
    gp_header = (
        "condition",
        "runs",
        "flagged",
        "inconclusive",
        "median speedup",
        "median CI half-width",
        "median foreign CPU",
        "re-measured",
        *timing,
    )
    pb_header = ("condition", "runs", "flagged", "median min", *timing)
    return [
        "## Per condition",
        "",
        "### gpuperf (`--gpuperf`, flagged = verdict REGRESSED)",
        "",
        *table(gp_header, _condition_rows(c, GPUPERF)),
        "",
        "### pytest-benchmark (`--benchmark-compare-fail=min:10%`, flagged = "
        '"Performance has regressed")',
        "",
        *table(pb_header, _condition_rows(c, BENCHMARK)),
        "",
        "Wall per run is the whole pytest process (start-up, Numba cache load, checks); "
        "in timed calls is the time inside the timed calls only (for gpuperf the kernel and "
        "the reference together, the last attempt only).",
        "",
    ]


def pairs_section(c: Campaign) -> list[str]:
    """Every run scored against every quiet unchanged run as its baseline."""
    if not c.pairs:
        return []
    rows = []
    for condition in CONDITIONS:
        if condition.kernel != "serial":
            continue
        gp = c.pairs[GPUPERF][condition.name]
        pb = c.pairs[BENCHMARK][condition.name]
        kind = "caught" if condition.should_flag else "false alarms"
        rows.append(
            (
                condition.name,
                kind,
                f"{gp.flagged}/{gp.pairs} = {pct(gp.rate)} (inconclusive {gp.inconclusive})",
                f"{pb.flagged}/{pb.pairs} = {pct(pb.rate)}",
            )
        )
    gp = c.pairs[GPUPERF]["unchanged"]
    pb = c.pairs[BENCHMARK]["unchanged"]
    return [
        "## Baseline luck: every run against every other quiet unchanged run",
        "",
        "Each run is scored offline against each quiet unchanged run of the same method "
        "(and the saved baseline) as its baseline, never against itself. gpuperf: "
        "`gate.judge` with that run's speedup as the baseline speedup (contended baselines "
        "left out, as `--gpuperf-save` would); pytest-benchmark: its `min:10%` rule. "
        f"Baselines: gpuperf {gp.baselines}, pytest-benchmark {pb.baselines}.",
        "",
        *table(("condition", "counts", "gpuperf", "pytest-benchmark"), rows),
        "",
    ]


def time_section(c: Campaign) -> list[str]:
    """Wall time and time in timed calls per run, for each method."""
    if not c.runs:
        return []
    rows = []
    for method in (GPUPERF, BENCHMARK):
        ok = [r for r in valid(c.runs) if r.method == method]
        rows.append(
            (
                method,
                len(ok),
                fmt(median(r.wall_s for r in ok), ".2f", " s"),
                fmt(median(r.timed_s for r in ok), ".2f", " s"),
                fmt(sum(r.wall_s for r in ok) / 60, ".1f", " min"),
            )
        )
    header = ("method", "runs", "median wall per run", "median in timed calls", "total")
    return ["## Time per run", "", *table(header, rows), ""]
