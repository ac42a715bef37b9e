"""Size sweeps: speedup against problem size, and the size from which a backend wins.

A plain module: no pytest, no numpy. It reads the ``benchmarks[]`` items of the
JSON report (or the same dicts built in the session), so the ``gpuperf`` CLI and
the terminal summary share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pytest_gpuperf.verdict.record import KernelRecord


@final
@dataclass(frozen=True)
class SweepPoint:
    """The speedup at one size, with its 95% interval."""

    size: float
    speedup: float
    low: float
    high: float


@final
@dataclass(frozen=True)
class SweepSeries:
    """One backend's speedups over a swept size parameter, sorted by size.

    ``group`` is the test key without the backend and the size parameter, e.g.
    ``"tests/test_sum.py::test_sum"``. ``crossover`` is the smallest size from
    which the backend beats the reference (interval low > 1) at that size and
    every larger one, or None.
    """

    group: str
    backend: str
    param: str
    points: tuple[SweepPoint, ...]
    crossover: float | None


def sweep_problem(sweep: str, params: Mapping[str, Any]) -> str | None:
    """Why ``gpuperf(sweep=...)`` does not fit the test's parameters, or None when it does."""
    names = ", ".join(repr(name) for name in params) or "none"
    if sweep not in params:
        return (
            f"gpuperf(sweep={sweep!r}) names no parameter of this test; its parameters: "
            f"{names}. Add @pytest.mark.parametrize({sweep!r}, [...]) or name one of those"
        )
    if size_of(params[sweep]) is None:
        return (
            f"gpuperf(sweep={sweep!r}) needs a number as the size, got "
            f"{params[sweep]!r}; parametrize {sweep!r} with sizes such as [1024, 65536]"
        )
    return None


def size_of(value: object) -> float | None:
    """A parameter value as a size: a finite real number (not a bool), else None."""
    if isinstance(value, bool):
        return None
    try:
        size = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return size if math.isfinite(size) else None


def crossover(points: Sequence[SweepPoint]) -> float | None:
    """The smallest size from which every point's interval lies above 1, or None."""
    ordered = sorted(points, key=lambda point: point.size)
    found: float | None = None
    for point in reversed(ordered):
        if point.low <= 1.0:
            break
        found = point.size
    return found


def sweep_series(benchmarks: Sequence[Mapping[str, Any]]) -> list[SweepSeries]:
    """Group the report's sweep items into one series per test and backend."""
    grouped: dict[tuple[str, str, str, str], list[tuple[SweepPoint, str]]] = {}
    for item in benchmarks:
        info = (item.get("extra_info") or {}).get("gpuperf") or {}
        param = info.get("sweep")
        params = dict(item.get("params") or {})
        speed = info.get("speedup")
        if not param or param not in params or not speed:
            continue
        size = size_of(params[param])
        if size is None:
            continue
        backend = str(info.get("backend") or params.get("backend") or "")
        test_key = str(info.get("test_key") or item.get("group") or "")
        others = {k: v for k, v in params.items() if k not in (param, "backend")}
        identity = (test_key.partition("[")[0], backend, param, repr(sorted(others.items())))
        point = SweepPoint(size, float(speed["value"]), float(speed["low"]), float(speed["high"]))
        grouped.setdefault(identity, []).append((point, _group_name(test_key, params[param])))
    series = []
    for (_, backend, param, _), entries in grouped.items():
        points = tuple(sorted((point for point, _ in entries), key=lambda p: p.size))
        group = entries[0][1]
        series.append(SweepSeries(group, backend, param, points, crossover(points)))
    return sorted(series, key=lambda s: (s.group, s.backend))


def _group_name(test_key: str, value: object) -> str:
    """The test key with the size parameter's id taken out of its ``[...]`` part."""
    head, bracket, rest = test_key.partition("[")
    if not bracket:
        return test_key
    ids = rest[:-1] if rest.endswith("]") else rest
    own = str(value)
    if ids == own:
        ids = ""
    elif ids.startswith(own + "-"):
        ids = ids[len(own) + 1 :]
    elif ids.endswith("-" + own):
        ids = ids[: -len(own) - 1]
    elif f"-{own}-" in ids:
        ids = ids.replace(f"-{own}-", "-", 1)
    return f"{head}[{ids}]" if ids else head


def format_size(size: float) -> str:
    """``1,024``-style text for a size."""
    return f"{int(size):,}" if size.is_integer() else f"{size:,.6g}"


def describe_points(series: SweepSeries) -> str:
    """``speedup vs n: 1,024: 0.4x, 16,384: 0.9x``."""
    steps = ", ".join(f"{format_size(p.size)}: {p.speedup:.3g}x" for p in series.points)
    return f"speedup vs {series.param}: {steps}"


def describe_crossover(series: SweepSeries, reference: str = "numpy") -> str:
    """Say in words from which size the backend beats the reference."""
    who, param = series.backend, series.param
    if not series.points:
        return f"{who} has no measured sizes"
    largest = format_size(series.points[-1].size)
    if series.crossover is None:
        winning = [p for p in series.points if p.low > 1.0]
        if not winning:
            return f"{who} never beats {reference} up to {param} = {largest}"
        sizes = ", ".join(format_size(p.size) for p in winning)
        return (
            f"{who} beats {reference} at {param} = {sizes} but not at the largest, "
            f"{param} = {largest}"
        )
    start = format_size(series.crossover)
    if series.crossover == series.points[0].size:
        return f"{who} beats {reference} at every size measured (from {param} = {start})"
    return f"{who} beats {reference} from {param} = {start}"


def sweep_lines(benchmarks: Sequence[Mapping[str, Any]], reference: str = "numpy") -> list[str]:
    """Terminal lines: per group and backend, speedup against size and the crossover."""
    lines = []
    for series in sweep_series(benchmarks):
        versus = "the reference" if series.backend == reference else reference
        lines.append(
            f"{series.group} [{series.backend}] {describe_points(series)} — "
            f"{describe_crossover(series, versus)}"
        )
    return lines


def benchmark_items(records: Sequence[KernelRecord]) -> list[dict[str, Any]]:
    """The fields :func:`sweep_series` reads, built from session records (no stats)."""
    items = []
    for record in records:
        speed = record.speedup
        gpuperf = {
            "test_key": record.test_key,
            "backend": record.backend,
            "sweep": record.sweep,
            "speedup": (
                {"value": speed.value, "low": speed.low, "high": speed.high} if speed else None
            ),
        }
        items.append(
            {
                "group": record.test_key,
                "params": {"backend": record.backend, **record.params},
                "extra_info": {"gpuperf": gpuperf},
            }
        )
    return items
