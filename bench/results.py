"""Turn the raw data of a benchmark run (``bench/out/data.json``) into ``RESULTS.md``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from campaign import BENCHMARK, CONDITIONS, GPUPERF, Condition, Run, run_from_dict
from pairs import PairCounts, score

TIMER_TARGET_NS = 2000.0
INSTALL_TARGET = 0.03
PAIRS_TARGET = 0.01
BUDGET_S = 1.0


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def _fmt(value: float | None, spec: str = ".3g", unit: str = "") -> str:
    return "-" if value is None or math.isnan(value) else f"{value:{spec}}{unit}"


def _ms(value: float | None) -> str:
    return _fmt(None if value is None else value * 1e3, ".3f", " ms")


def _pct(value: float | None) -> str:
    return _fmt(None if value is None else value * 100, ".1f", "%")


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "**MISS**"


def _select(runs: list[Run], method: str, condition: str, busy: bool | None = None) -> list[Run]:
    return [
        r
        for r in runs
        if r.method == method and r.condition == condition and (busy is None or r.busy == busy)
    ]


def _valid(runs: list[Run]) -> list[Run]:
    return [r for r in runs if r.error is None]


def _count(runs: list[Run], pred: Callable[[Run], bool]) -> int:
    return sum(1 for r in _valid(runs) if pred(r))


def _regressed(r: Run) -> bool:
    return r.flagged


def _inconclusive(r: Run) -> bool:
    return r.verdict == "inconclusive"


class Report:
    """Everything derived from the raw data, and the Markdown built from it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.meta: dict[str, Any] = data["meta"]
        self.k: int = self.meta["k"]
        self.runs = [run_from_dict(r) for r in data.get("runs", [])]
        self.pairs = score(self.runs, data.get("baselines") or {}) if self.runs else {}

    # -- figures -------------------------------------------------------------------------

    def _scaled(self, per_20: float) -> float:
        return per_20 * self.k / 20

    def _pairs_false_alarms(self, method: str) -> PairCounts:
        counts = [self.pairs[method][c] for c in ("unchanged", "5% slower")]
        return PairCounts(
            counts[0].baselines,
            sum(c.pairs for c in counts),
            sum(c.flagged for c in counts),
            sum(c.inconclusive for c in counts),
        )

    def targets(self) -> list[tuple[str, str, str, bool | None]]:
        """(target, threshold, measured, pass) rows."""
        rows: list[tuple[str, str, str, bool | None]] = []
        k = self.k
        if self.runs:
            unchanged = _select(self.runs, GPUPERF, "unchanged")
            flagged = _count(unchanged, _regressed)
            rows.append(
                (
                    "false alarms, unchanged code (half with a busy loop)",
                    f"<= 1 in 20 (<= {self._scaled(1):g} of {k})",
                    f"{flagged} of {len(_valid(unchanged))} (inconclusive: "
                    f"{_count([r for r in unchanged if r.busy], _inconclusive)} busy, "
                    f"{_count([r for r in unchanged if not r.busy], _inconclusive)} quiet)",
                    flagged <= self._scaled(1),
                )
            )
            five = _select(self.runs, GPUPERF, "5% slower")
            flagged = _count(five, _regressed)
            rows.append(
                (
                    "false alarms, 5% slower (inside the 10% tolerance)",
                    f"<= 2 in 20 (<= {self._scaled(2):g} of {k})",
                    f"{flagged} of {len(_valid(five))} "
                    f"(inconclusive: {_count(five, _inconclusive)})",
                    flagged <= self._scaled(2),
                )
            )
            pc = self._pairs_false_alarms(GPUPERF)
            rows.append(
                (
                    "false alarms over all baseline pairs (unchanged + 5%)",
                    "<= 1%",
                    f"{pc.flagged} of {pc.pairs} pairs = {_pct(pc.rate)} "
                    f"({pc.baselines} baselines; inconclusive pairs: {pc.inconclusive})",
                    pc.pairs > 0 and pc.rate <= PAIRS_TARGET,
                )
            )
            for name, per_20 in (("15% slower", 15), ("20% slower", 19), ("50% slower", 19)):
                runs = _select(self.runs, GPUPERF, name)
                caught = _count(runs, _regressed)
                rows.append(
                    (
                        f"{name.split()[0]} regression caught",
                        f">= {per_20} in 20 (>= {self._scaled(per_20):g} of {k})",
                        f"{caught} of {len(_valid(runs))} "
                        f"(inconclusive: {_count(runs, _inconclusive)})",
                        caught >= self._scaled(per_20),
                    )
                )
            timed = [r.timed_s for r in _valid(self.runs) if r.method == GPUPERF and r.timed_s]
            if timed:
                rows.append(
                    (
                        "time in timed calls per measurement, all gpuperf runs",
                        f"default budget {BUDGET_S:g} s (one more round may overrun)",
                        f"median {statistics.median(timed):.2f} s, max {max(timed):.2f} s",
                        max(timed) <= BUDGET_S * 1.1,
                    )
                )
            runs = _select(self.runs, GPUPERF, "prange + busy")
            inconclusive = _count(runs, _inconclusive)
            rows.append(
                (
                    "prange kernel + busy loop -> inconclusive, not REGRESSED",
                    f">= 19 in 20 (>= {self._scaled(19):g} of {k})",
                    f"{inconclusive} of {len(_valid(runs))} "
                    f"(REGRESSED: {_count(runs, _regressed)})",
                    inconclusive >= self._scaled(19),
                )
            )
        timer = self.data.get("timer")
        if timer:
            rows.append(
                (
                    "timer overhead per sample (CPU path)",
                    "< 2 µs",
                    f"{timer['overhead_ns']:.0f} ns",
                    timer["overhead_ns"] < TIMER_TARGET_NS,
                )
            )
        install = self.data.get("install")
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
        imports = self.data.get("imports")
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

    # -- sections ------------------------------------------------------------------------

    def header(self) -> list[str]:
        meta = self.meta
        title = "# pytest-gpuperf benchmark results"
        if not meta.get("final"):
            title += " (SMOKE TEST: the numbers mean nothing)"
        lines = [
            title,
            "",
            f"- Date: {meta['date']}; total duration {meta.get('duration_s', 0) / 60:.1f} min",
            f"- Command: `{meta['command']}` (K={self.k} runs per condition and method, "
            f"seed {meta['seed']})",
            f"- Code: {meta['git']}",
            f"- Machine: {meta['machine']}",
            f"- Versions: {meta['versions']}",
            f"- Foreign CPU share before the runs: {_pct(meta.get('foreign_before'))}; "
            f"load average at start {meta.get('load_start')}, at end {meta.get('load_end')}",
        ]
        return [*lines, ""]

    def targets_section(self) -> list[str]:
        rows = [(t, thr, measured, _verdict(ok)) for t, thr, measured, ok in self.targets()]
        return [
            "## Targets (`--gpuperf` at default settings: tolerance 10%, max time 1 s, noise 2%)",
            "",
            *table(("target", "threshold", "measured", "result"), rows),
            "",
        ]

    def protocol_section(self) -> list[str]:
        if not self.runs:
            return []
        saved = self.data.get("baselines") or {}
        gp = saved.get(GPUPERF) or {}
        pb = saved.get(BENCHMARK) or {}
        gp_text = (
            f"speedup {gp['speedup'][0]:.4g}x (foreign CPU {_pct(gp.get('foreign_cpu'))}, "
            f"try {saved.get('gpuperf_tries')})"
            if gp.get("speedup")
            else "NOT SAVED"
        )
        pb_text = f"min {_ms(pb.get('min_s'))}" if pb else "NOT SAVED"
        return [
            "## Protocol",
            "",
            "- Every run is its own pytest process in `bench/project` (its own `pytest.ini`; "
            "the hypothesis and xdist plugins are disabled there for both methods, to cut "
            "start-up time).",
            "- Baselines, once, quiet, unchanged kernels: gpuperf `--gpuperf --gpuperf-save` "
            f"({gp_text}); pytest-benchmark `--benchmark-save` ({pb_text}).",
            "- Runs: gpuperf `--gpuperf --gpuperf-json=...` (flagged = verdict REGRESSED); "
            "pytest-benchmark `--benchmark-compare=0001 --benchmark-compare-fail=min:10% "
            '--benchmark-json=...` (flagged = "Performance has regressed"). Both otherwise at '
            "their defaults (1 s time budget each).",
            f"- {self.k} rounds; each round runs every condition under both methods once, in a "
            "shuffled order, so drift spreads over all of them. Busy loop: a separate "
            '`python -c "while True: pass"` process started 0.3 s before the pytest process '
            "and killed after it.",
            "",
        ]

    def time_section(self) -> list[str]:
        if not self.runs:
            return []
        rows = []
        for method in (GPUPERF, BENCHMARK):
            valid = [r for r in _valid(self.runs) if r.method == method]
            rows.append(
                (
                    method,
                    len(valid),
                    _fmt(_median(r.wall_s for r in valid), ".2f", " s"),
                    _fmt(_median(r.timed_s for r in valid), ".2f", " s"),
                    _fmt(sum(r.wall_s for r in valid) / 60, ".1f", " min"),
                )
            )
        header = ("method", "runs", "median wall per run", "median in timed calls", "total")
        return ["## Time per run", "", *table(header, rows), ""]

    def workload_section(self) -> list[str]:
        cal = self.data.get("calibration")
        if not cal:
            return []
        base_speed = _median(
            r.speedup[0] if r.speedup else None
            for r in _valid(_select(self.runs, GPUPERF, "unchanged", busy=False))
        )
        base_min = _median(
            r.min_s for r in _valid(_select(self.runs, BENCHMARK, "unchanged", busy=False))
        )
        rows = []
        for v in cal["variants"]:
            name = next(c.name for c in CONDITIONS if c.nominal == v["nominal"])
            speed = _median(
                r.speedup[0] if r.speedup else None
                for r in _valid(_select(self.runs, GPUPERF, name))
            )
            low = _median(r.min_s for r in _valid(_select(self.runs, BENCHMARK, name)))
            rows.append(
                (
                    name,
                    f"x{v['nominal']:.2f}",
                    f"{v['extra']} ({v['fraction']:.3f} N)",
                    f"x{v['measured']:.3f}",
                    f"x{base_speed / speed:.3f}" if base_speed and speed else "-",
                    f"x{low / base_min:.3f}" if low and base_min else "-",
                )
            )
        return [
            "## Workload",
            "",
            f"`out = sin(sqrt(a))` over N = {cal['n']} float32 elements: Numba `@njit` kernel "
            f"{_ms(cal['kernel_median_s'])} (prange kernel {_ms(cal['parallel_median_s'])}), "
            f"NumPy reference {_ms(cal['reference_median_s'])} (medians at calibration). "
            "A slowed variant is the same compiled kernel plus a redundant pass over the "
            "first `extra` elements into a scratch buffer.",
            "",
            "Measured slowdown of each variant: at calibration (median of "
            f"{cal['variants'][0]['pairs']} interleaved call pairs, in a separate process), "
            "and "
            "from the runs themselves (median unchanged quiet speedup / median variant speedup "
            "for gpuperf; median variant min / median unchanged quiet min for pytest-benchmark).",
            "",
            *table(
                (
                    "condition",
                    "nominal",
                    "extra elements",
                    "calibration",
                    "gpuperf runs",
                    "pytest-benchmark runs",
                ),
                rows,
            ),
            "",
        ]

    def _condition_rows(self, method: str) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for condition in CONDITIONS:
            groups: list[tuple[str, bool | None]] = [(condition.name, None)]
            if condition.busy == "odd runs":
                groups = [(f"{condition.name}, quiet", False), (f"{condition.name}, busy", True)]
            for label, busy in groups:
                runs = _select(self.runs, method, condition.name, busy)
                rows.append(self._row(method, condition, label, runs))
        return rows

    def _row(
        self, method: str, condition: Condition, label: str, runs: list[Run]
    ) -> tuple[object, ...]:
        valid = _valid(runs)
        flagged = _count(runs, _regressed)
        kind = "caught" if condition.should_flag else "false alarm"
        if condition.kernel == "parallel":
            kind = "REGRESSED"
        common = (
            label,
            len(valid),
            f"{flagged} ({kind})",
        )
        timing = (
            _fmt(_median(r.wall_s for r in valid), ".2f", " s"),
            _fmt(_median(r.timed_s for r in valid), ".2f", " s"),
            _fmt(_median(r.rounds for r in valid), ".0f"),
            len(runs) - len(valid),
        )
        if method == GPUPERF:
            speed = _median(r.speedup[0] if r.speedup else None for r in valid)
            width = _median(
                (r.speedup[2] - r.speedup[1]) / 2 / r.speedup[0] if r.speedup else None
                for r in valid
            )
            return (
                *common,
                _count(runs, _inconclusive),
                _fmt(speed, ".4g", "x"),
                _pct(width),
                _pct(_median(r.foreign_cpu for r in valid)),
                sum(1 for r in valid if (r.attempts or 1) > 1),
                *timing,
            )
        return (*common, _ms(_median(r.min_s for r in valid)), *timing)

    def conditions_section(self) -> list[str]:
        if not self.runs:
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
            *table(gp_header, self._condition_rows(GPUPERF)),
            "",
            "### pytest-benchmark (`--benchmark-compare-fail=min:10%`, flagged = "
            '"Performance has regressed")',
            "",
            *table(pb_header, self._condition_rows(BENCHMARK)),
            "",
            "Wall per run is the whole pytest process (start-up, Numba cache load, checks); "
            "in timed calls is the time inside the timed calls only (for gpuperf the kernel and "
            "the reference together, the last attempt only).",
            "",
        ]

    def pairs_section(self) -> list[str]:
        if not self.pairs:
            return []
        rows = []
        for condition in CONDITIONS:
            if condition.kernel != "serial":
                continue
            gp = self.pairs[GPUPERF][condition.name]
            pb = self.pairs[BENCHMARK][condition.name]
            kind = "caught" if condition.should_flag else "false alarms"
            rows.append(
                (
                    condition.name,
                    kind,
                    f"{gp.flagged}/{gp.pairs} = {_pct(gp.rate)} (inconclusive {gp.inconclusive})",
                    f"{pb.flagged}/{pb.pairs} = {_pct(pb.rate)}",
                )
            )
        gp = self.pairs[GPUPERF]["unchanged"]
        pb = self.pairs[BENCHMARK]["unchanged"]
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

    def overhead_section(self) -> list[str]:
        lines: list[str] = []
        timer = self.data.get("timer")
        if timer:
            lines += [
                "## Timer overhead per sample (CPU path)",
                "",
                f"`TimedCall(noop).sample(1)`: {timer['sample_ns']:.0f} ns per call; bare loop "
                "`t0=perf_counter_ns(); noop(); t1=perf_counter_ns()`: "
                f"{timer['bare_ns']:.0f} ns per iteration; overhead {timer['overhead_ns']:.0f} ns "
                f"(medians of {timer['reps']} interleaved loops of {timer['calls']} calls; "
                f"from the minima: {timer['overhead_min_ns']:.0f} ns).",
                "",
            ]
        install = self.data.get("install")
        if install:
            lines += [
                "## Cost of having the plugin installed",
                "",
                f"A {install['tests']}-test suite that does not use the plugin, "
                f"{install['reps']} interleaved runs each:",
                "",
                *table(
                    ("command", "median wall", "heavy modules imported by the end"),
                    [
                        (
                            "`pytest -q -p no:cacheprovider`",
                            f"{install['with_s']:.3f} s",
                            install["heavy_modules"].get("with") or "none",
                        ),
                        (
                            "`pytest -q -p no:gpuperf -p no:cacheprovider`",
                            f"{install['without_s']:.3f} s",
                            install["heavy_modules"].get("without") or "none",
                        ),
                    ],
                ),
                "",
                f"Ratio {install['ratio']:.3f} ({(install['ratio'] - 1) * 100:+.1f}%). "
                "Both commands load the other installed plugins (pytest-benchmark, hypothesis, "
                "xdist), which are part of the fixed cost.",
                "",
            ]
            if install["problems"]:
                lines += ["Problems: " + "; ".join(install["problems"]), ""]
        imports = self.data.get("imports")
        if imports:
            others = ", ".join(
                f"{name} {us / 1e3:.1f} ms"
                for name, us in imports["other_top_level_modules_us"].items()
            )
            lines += [
                "## Import time of the entry point",
                "",
                f'`python -X importtime -c "import pytest_gpuperf.plugin"` (median of '
                f"{imports['reps']}): pytest_gpuperf modules "
                f"{imports['plugin_total_us'] / 1e3:.1f} ms cumulative, of which pytest itself "
                f"{imports['pytest_us'] / 1e3:.1f} ms. With "
                "pytest imported first (`import pytest; import pytest_gpuperf.plugin`), the "
                f"plugin adds {imports['beyond_pytest_us'] / 1e3:.1f} ms"
                + (f" (other packages it pulls in: {others})" if others else "")
                + ". numpy/numba/cupy imported: "
                + (", ".join(imports["heavy_imported"]) or "none")
                + ".",
                "",
            ]
        return lines

    def notes_section(self) -> list[str]:
        notes = list(self.meta.get("notes", []))
        baselines = self.data.get("baselines") or {}
        if self.runs and not baselines.get(GPUPERF):
            notes.append(
                "The gpuperf baseline could not be saved (contended on every try), so no "
                "gpuperf run was judged against a baseline: its run-level figures are void."
            )
        if not notes:
            return []
        return ["## Notes", "", *(f"- {n}" for n in notes), ""]

    def markdown(self) -> str:
        """The whole RESULTS.md."""
        parts = [
            self.header(),
            self.targets_section(),
            self.protocol_section(),
            self.workload_section(),
            self.conditions_section(),
            self.pairs_section(),
            self.time_section(),
            self.overhead_section(),
            self.notes_section(),
        ]
        return "\n".join(line for part in parts for line in part).rstrip() + "\n"
