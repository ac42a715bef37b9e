"""Figures of a run report: speedups with intervals and baselines, size sweeps, compile times.

A plain module: no pytest. matplotlib is imported inside the functions and draws
with its Agg canvas (no display, no change to pyplot's global backend). Every
figure has a fixed pixel size, so the PNG files are comparable between runs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_gpuperf.report.sweep import format_size, sweep_series

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MISSING_MATPLOTLIB = (
    "matplotlib is not installed; install the plot extra: pip install 'pytest-gpuperf[plot]'"
)
#: Pixels per inch of every figure; a figure is HEIGHT_IN * DPI pixels high.
DPI = 100
HEIGHT_IN = 4.5
MIN_WIDTH_IN = 8.0
MAX_WIDTH_IN = 60.0
_ORDER = ("numpy", "numba", "numba_cuda", "cupy")
_LABEL_CHARS = 40
#: A first call this many times the steady-state median gets the test's name on the plot.
COMPILE_HEAVY = 10.0


class PlotError(Exception):
    """matplotlib is missing or the output folder is unusable; the message says the fix."""


def _gpuperf(item: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = item.get("extra_info")
    info = extra.get("gpuperf") if isinstance(extra, dict) else None
    return info if isinstance(info, dict) else {}


def _positive(value: object) -> float | None:
    """A finite number > 0 (what a log axis can show), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value > 0 else None


def _or_nan(values: Sequence[object]) -> list[float]:
    """Plottable values: anything that is not a positive finite number becomes NaN (a gap)."""
    return [v if (v := _positive(value)) is not None else math.nan for value in values]


def _backends(names: Sequence[str]) -> list[str]:
    """The distinct backends, built-ins in their usual order first."""
    unique = set(names)
    return [n for n in _ORDER if n in unique] + sorted(unique - set(_ORDER))


def _short(test_key: str) -> str:
    """The test's name without its module, cut to a readable length."""
    name = test_key.rpartition("::")[2] or test_key
    return name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 3] + "..."


def _figure(width_in: float = MIN_WIDTH_IN, *, bottom: float = 0.13) -> tuple[Figure, Axes]:
    """A figure on the Agg canvas with one axes and room for a legend on the right."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError(MISSING_MATPLOTLIB) from None
    width = min(max(width_in, MIN_WIDTH_IN), MAX_WIDTH_IN)
    fig = Figure(figsize=(width, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.9 / width, right=1 - 2.6 / width, bottom=bottom, top=0.9)
    return fig, fig.add_subplot()


def _legend(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def _baseline_of(info: Mapping[str, Any]) -> float | None:
    """The baseline speedup the report carries: a number or ``{"speedup": ...}``."""
    value = info.get("baseline")
    return _positive(value.get("speedup") if isinstance(value, dict) else value)


def speedup_figure(
    report: Mapping[str, Any], baselines: Mapping[tuple[str, str], float] | None = None
) -> Figure | None:
    """Speedup per test and backend with 95% whiskers and the baseline marked; None if none.

    ``baselines`` maps (test_key, backend) to a speedup; without it the report's own
    ``extra_info.gpuperf.baseline`` values are used.
    """
    rows: list[tuple[str, str, float, float, float, float | None]] = []
    for item in report.get("benchmarks") or []:
        info = _gpuperf(item)
        speed = info.get("speedup")
        if not isinstance(speed, dict):
            continue
        value, low, high = (_positive(speed.get(k)) for k in ("value", "low", "high"))
        if value is None or low is None or high is None:
            continue
        key, backend = str(info.get("test_key")), str(info.get("backend"))
        base = baselines.get((key, backend)) if baselines is not None else _baseline_of(info)
        rows.append((key, backend, value, low, high, base))
    if not rows:
        return None
    tests = list(dict.fromkeys(row[0] for row in rows))  # in run order
    column = {test: number for number, test in enumerate(tests)}
    backends = _backends([row[1] for row in rows])
    fig, ax = _figure(3.5 + len(tests) * (0.4 + 0.3 * len(backends)), bottom=0.3)
    step = 0.8 / len(backends)
    marks_x: list[float] = []
    marks_y: list[float] = []
    for number, backend in enumerate(backends):
        offset = -0.4 + step * (number + 0.5)
        mine = [row for row in rows if row[1] == backend]
        xs = [column[row[0]] + offset for row in mine]
        ys = [row[2] for row in mine]
        whiskers = [
            [max(row[2] - row[3], 0.0) for row in mine],
            [max(row[4] - row[2], 0.0) for row in mine],
        ]
        ax.errorbar(xs, ys, yerr=whiskers, fmt="o", capsize=3, label=backend)
        for x, row in zip(xs, mine, strict=True):
            if row[5] is not None:
                marks_x.append(x)
                marks_y.append(row[5])
    if marks_x:
        ax.plot(
            marks_x,
            marks_y,
            linestyle="none",
            marker="_",
            markersize=14,
            mew=2,
            color="black",
            zorder=3,
            label="baseline",
        )
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(tests)))
    ax.set_xticklabels([_short(t) for t in tests], rotation=30, ha="right", fontsize="small")
    ax.set_xlim(-0.6, len(tests) - 0.4)
    ax.set_ylabel("speedup over the reference (x)")
    ax.set_title("speedup per test and backend (95% CI; 1x = reference)")
    _legend(ax)
    return fig


def sweep_figures(report: Mapping[str, Any]) -> dict[str, Figure]:
    """One figure per swept test: speedup against size, one series per backend."""
    groups: dict[str, list[Any]] = {}
    for series in sweep_series(list(report.get("benchmarks") or [])):
        if all(_positive(p.speedup) for p in series.points) and series.points:
            groups.setdefault(series.group, []).append(series)
    figures: dict[str, Figure] = {}
    for group, members in groups.items():
        order = _backends([series.backend for series in members])  # same colours as speedup.png
        members.sort(key=lambda series: order.index(series.backend))
        fig, ax = _figure()
        for series in members:
            sizes = [p.size for p in series.points]
            ys = [p.speedup for p in series.points]
            whiskers = [
                [max(p.speedup - p.low, 0.0) for p in series.points],
                [max(p.high - p.speedup, 0.0) for p in series.points],
            ]
            bars = ax.errorbar(sizes, ys, yerr=whiskers, fmt="o-", capsize=3, label=series.backend)
            if series.crossover is not None:
                ax.axvline(
                    series.crossover,
                    color=bars.lines[0].get_color(),
                    linestyle=":",
                    label=f"{series.backend} wins from {format_size(series.crossover)}",
                )
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"size ({members[0].param})")
        ax.set_ylabel("speedup over the reference (x)")
        ax.set_title(_short(group))
        _legend(ax)
        figures[group] = fig
    return figures


def compile_figure(report: Mapping[str, Any]) -> Figure | None:
    """First-call (compile) time against steady-state median per test and backend."""
    points: dict[str, list[tuple[float, float, str]]] = {}
    for item in report.get("benchmarks") or []:
        info = _gpuperf(item)
        stats = item.get("stats")
        first = _positive(info.get("first_call_s"))
        median = _positive(stats.get("median")) if isinstance(stats, dict) else None
        if first is not None and median is not None:
            backend = str(info.get("backend"))
            points.setdefault(backend, []).append((median, first, str(info.get("test_key"))))
    if not points:
        return None
    fig, ax = _figure()
    for backend in _backends(list(points)):
        mine = points[backend]
        ax.scatter([p[0] for p in mine], [p[1] for p in mine], label=backend)
        for median, first, key in mine:
            if first > COMPILE_HEAVY * median:  # name only the tests whose first call stands out
                ax.annotate(_short(key), (median, first), fontsize=6, alpha=0.7)
    values = [v for mine in points.values() for p in mine for v in p[:2]]
    low, high = min(values) / 2, max(values) * 2
    diagonal = "first call = steady state"
    ax.plot([low, high], [low, high], color="grey", linestyle=":", linewidth=1, label=diagonal)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steady-state median per call (s)")
    ax.set_ylabel("first call, compile included (s)")
    ax.set_title("compile cost: first call against steady state")
    _legend(ax)
    return fig


def history_figures(report: Mapping[str, Any]) -> dict[str, Figure]:
    """Per test: speedup and kernel median over the saved runs and this run, with the floor."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for item in report.get("benchmarks") or []:
        info = _gpuperf(item)
        if isinstance(info.get("history"), list) and info["history"]:
            groups.setdefault(str(info.get("test_key")), []).append(item)
    figures: dict[str, Figure] = {}
    for group, items in groups.items():
        fig, speed_ax = _figure(bottom=0.12)
        speed_ax.set_position((0.11, 0.56, 0.56, 0.34))
        time_ax = fig.add_axes((0.11, 0.12, 0.56, 0.34), sharex=speed_ax)
        order = _backends([str(_gpuperf(i).get("backend")) for i in items])
        for item in sorted(items, key=lambda i: order.index(str(_gpuperf(i).get("backend")))):
            info = _gpuperf(item)
            runs = [r for r in info["history"] if isinstance(r, dict)]
            now = info.get("speedup")
            stats = item.get("stats")
            speeds = [r.get("speedup") for r in runs]
            speeds.append(now.get("value") if isinstance(now, dict) else None)
            times = [r.get("kernel_median_s") for r in runs]
            times.append(stats.get("median") if isinstance(stats, dict) else None)
            xs = list(range(1, len(runs) + 2))
            label = str(info.get("backend"))
            line = speed_ax.plot(xs, _or_nan(speeds), "o-", label=label)[0]
            time_ax.plot(xs, _or_nan(times), "o-", color=line.get_color())
            band = (info.get("bands") or {}).get("speedup")
            floor = _positive(band.get("floor")) if isinstance(band, dict) else None
            if floor is not None:
                speed_ax.axhline(floor, color=line.get_color(), linestyle=":", linewidth=1)
        speed_ax.set_yscale("log")
        time_ax.set_yscale("log")
        speed_ax.set_ylabel("speedup (x)")
        time_ax.set_ylabel("kernel median (s)")
        time_ax.set_xlabel("saved runs, oldest first; the last point is this run (dotted: floor)")
        speed_ax.set_title(f"history: {_short(group)}")
        _legend(speed_ax)
        figures[group] = fig
    return figures


def _file_names(groups: Sequence[str], prefix: str = "sweep") -> dict[str, str]:
    """``<prefix>-<test>.png`` per group; the module joins the name when two tests share one."""

    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or prefix

    short = {group: slug(group.rpartition("::")[2]) for group in groups}
    clashes = {name for name in short.values() if list(short.values()).count(name) > 1}
    return {g: f"{prefix}-{slug(g) if short[g] in clashes else short[g]}.png" for g in groups}


def write_plots(
    report: Mapping[str, Any],
    out_dir: Path,
    *,
    baselines: Mapping[tuple[str, str], float] | None = None,
) -> list[Path]:
    """Write ``speedup.png``, ``sweep-<test>.png``, ``history-<test>.png`` and ``compile.png``.

    Returns the paths written.
    """
    _figure()  # fail early, with the fix, when matplotlib is missing
    figures: list[tuple[str, Figure | None]] = [("speedup.png", speedup_figure(report, baselines))]
    sweeps = sweep_figures(report)
    names = _file_names(list(sweeps))
    figures += [(names[group], fig) for group, fig in sweeps.items()]
    histories = history_figures(report)
    names = _file_names(list(histories), "history")
    figures += [(names[group], fig) for group, fig in histories.items()]
    figures.append(("compile.png", compile_figure(report)))
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, fig in figures:
            if fig is not None:
                fig.savefig(out_dir / name, format="png")
                written.append(out_dir / name)
    except OSError as exc:
        raise PlotError(
            f"{out_dir}: cannot write the plots ({exc}); pass a writable folder"
        ) from None
    return written
