"""Offline scoring against every other quiet unchanged run as the baseline ("baseline luck").

gpuperf: ``gate.judge`` with that run's speedup as the stored baseline speedup.
pytest-benchmark: its ``min:10%`` rule, ``min_now / min_baseline - 1 > 10%``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from campaign import BENCHMARK, CONDITIONS, GPUPERF, Run

from pytest_gpuperf.measure.statistics import RatioEstimate
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.gate import GateInput, Verdict, judge
from pytest_gpuperf.verdict.history import History

TOLERANCE = 0.10
CONTENTION_LIMIT = 0.15


@dataclass(frozen=True)
class PairCounts:
    """Outcomes of one condition's runs scored against every baseline of the pool."""

    baselines: int
    pairs: int
    flagged: int
    inconclusive: int = 0

    @property
    def rate(self) -> float:
        """Share of pairs flagged as a regression."""
        return self.flagged / self.pairs if self.pairs else float("nan")


@dataclass(frozen=True)
class _Base:
    key: str
    speedup: tuple[float, float, float] | None
    min_s: float | None
    kernel_median_s: float | None
    reference_median_s: float | None
    foreign_cpu: float | None


def _pool(runs: list[Run], method: str, saved: dict[str, Any] | None) -> list[_Base]:
    """Quiet unchanged runs that could have been saved, plus the saved baseline itself."""
    pool = [
        _Base(
            f"{r.method}/{r.index}",
            r.speedup,
            r.min_s,
            r.kernel_median_s,
            r.reference_median_s,
            r.foreign_cpu,
        )
        for r in runs
        if r.method == method and r.condition == "unchanged" and not r.busy and r.error is None
    ]
    if saved:
        pool.append(
            _Base(
                "baseline",
                tuple(saved["speedup"]) if saved.get("speedup") else None,
                saved.get("min_s"),
                saved.get("kernel_median_s"),
                saved.get("reference_median_s"),
                saved.get("foreign_cpu"),
            )
        )
    if method == GPUPERF:
        pool = [b for b in pool if b.speedup and (b.foreign_cpu or 0.0) <= CONTENTION_LIMIT]
    else:
        pool = [b for b in pool if b.min_s]
    return pool


def _entry(base: _Base) -> BaselineEntry:
    assert base.speedup is not None
    value, low, high = base.speedup
    return BaselineEntry(
        speedup=value,
        ci_low=min(low, value),
        ci_high=max(high, value),
        kernel_median_s=base.kernel_median_s or 1e-3,
        reference_median_s=base.reference_median_s or 1e-3,
        samples=1,
        dtypes=("float32",),
        shapes=(),
        versions={},
        timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        foreign_cpu=min(1.0, max(0.0, base.foreign_cpu or 0.0)),
    )


def _gpuperf_verdict(run: Run, base: _Base) -> Verdict:
    assert run.speedup is not None
    value, low, high = run.speedup
    result = judge(
        GateInput(
            test="test_workload.py::test_gpuperf_serial",
            backend="numba",
            reference_name="reference",
            speedup=RatioEstimate(value, low, high),
            history=History((_entry(base),)),  # one saved run: the old single-baseline gate
            tolerance=TOLERANCE,
            foreign_cpu=run.foreign_cpu,
            contention_limit=CONTENTION_LIMIT,
            reference_median_s=run.reference_median_s,
        )
    )
    return result.verdict


def score(runs: list[Run], saved: dict[str, Any]) -> dict[str, dict[str, PairCounts]]:
    """Pair counts per method and condition (serial-kernel conditions only)."""
    result: dict[str, dict[str, PairCounts]] = {GPUPERF: {}, BENCHMARK: {}}
    for method in (GPUPERF, BENCHMARK):
        pool = _pool(runs, method, saved.get(method))
        for condition in CONDITIONS:
            if condition.kernel != "serial":
                continue
            pairs = flagged = inconclusive = 0
            for run in runs:
                if run.method != method or run.condition != condition.name or run.error:
                    continue
                for base in pool:
                    if base.key == f"{run.method}/{run.index}" and run.condition == "unchanged":
                        continue
                    if method == GPUPERF:
                        if run.speedup is None:
                            continue
                        verdict = _gpuperf_verdict(run, base)
                        flagged += verdict is Verdict.REGRESSED
                        inconclusive += verdict is Verdict.INCONCLUSIVE
                    else:
                        if run.min_s is None or base.min_s is None:
                            continue
                        flagged += run.min_s / base.min_s * 100 - 100 > TOLERANCE * 100
                    pairs += 1
            result[method][condition.name] = PairCounts(len(pool), pairs, flagged, inconclusive)
    return result
