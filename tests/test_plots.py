"""The plots: real PNG files of the expected size, with one series per backend."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import fakeclock_plugin
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import ErrorbarContainer
from run_reports import FAKE_RUN_ARGS, bench, fake_project, report

from pytest_gpuperf.report import plots


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's signature and IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", head[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def errorbars(fig: object) -> list[ErrorbarContainer]:
    (ax,) = fig.axes  # type: ignore[attr-defined]
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def sweep_report() -> dict[str, object]:
    """numba crosses over at n = 10,000; numpy stays at 1x; a second test sweeps too."""
    items = []
    for n, numba in ((100, 0.2), (10_000, 2.0), (1_000_000, 9.0)):
        for backend, value in (("numpy", 1.0), ("numba", numba)):
            items.append(
                bench(
                    f"s.py::test_sum[{n}]",
                    backend,
                    speedup=(value, value * 0.9, value * 1.1),
                    sweep="n",
                    params={"n": n},
                )
            )
    for n in (10, 20):
        items.append(bench(f"s.py::test_dot[{n}]", "numba", sweep="n", params={"n": n}))
    return report(*items)


# -- speedup.png --------------------------------------------------------------------------


def test_speedup_figure_has_one_series_per_backend_and_the_baselines() -> None:
    fig = plots.speedup_figure(
        report(
            bench("t.py::test_a", "cupy", speedup=(20.0, 18.0, 22.0), baseline=25.0),
            bench("t.py::test_a", "numba", speedup=(4.0, 3.0, 5.0), baseline=4.5),
            bench("t.py::test_a", "numpy", speedup=(1.0, 0.95, 1.05)),
            bench("t.py::test_b", "numba", speedup=(2.0, 1.5, 2.5), baseline=2.2),
            bench("t.py::test_c", "numba", speedup=None, verdict="timed"),
        )
    )
    assert fig is not None
    bars = errorbars(fig)
    assert [c.get_label() for c in bars] == ["numpy", "numba", "cupy"]
    numba = bars[1]
    assert list(numba.lines[0].get_ydata()) == [4.0, 2.0]
    (whiskers,) = numba.lines[2]
    (low_a, high_a), (low_b, high_b) = (seg[:, 1] for seg in whiskers.get_segments())
    assert (low_a, high_a, low_b, high_b) == (3.0, 5.0, 1.5, 2.5)
    (ax,) = fig.axes
    (marks,) = [line for line in ax.lines if line.get_label() == "baseline"]
    assert sorted(marks.get_ydata()) == [2.2, 4.5, 25.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["test_a", "test_b"]
    assert ax.get_yscale() == "log"


def test_given_baselines_replace_the_reports_own() -> None:
    data = report(bench("t.py::test_a", "numba", baseline=9.0), bench("t.py::test_b", "numba"))
    fig = plots.speedup_figure(data, baselines={("t.py::test_b", "numba"): 1.5})
    assert fig is not None
    (marks,) = [line for line in fig.axes[0].lines if line.get_label() == "baseline"]
    assert list(marks.get_ydata()) == [1.5]


def test_no_baseline_draws_no_baseline_marks() -> None:
    fig = plots.speedup_figure(report(bench("t.py::test_a", "numba")))
    assert fig is not None
    assert [line.get_label() for line in fig.axes[0].lines if line.get_label() == "baseline"] == []


def test_speedup_figure_needs_a_speedup() -> None:
    assert plots.speedup_figure(report(bench("t.py::test_a", "numba", speedup=None))) is None


# -- sweep-<test>.png ---------------------------------------------------------------------


def test_sweep_figure_marks_the_crossover_and_parity() -> None:
    figures = plots.sweep_figures(sweep_report())
    assert sorted(figures) == ["s.py::test_dot", "s.py::test_sum"]
    fig = figures["s.py::test_sum"]
    bars = errorbars(fig)
    assert sorted(c.get_label() for c in bars) == ["numba", "numpy"]
    numba = next(c for c in bars if c.get_label() == "numba")
    assert list(numba.lines[0].get_xdata()) == [100, 10_000, 1_000_000]
    (ax,) = fig.axes
    verticals = [line for line in ax.lines if len(set(line.get_xdata())) == 1]
    assert [line.get_xdata()[0] for line in verticals] == [10_000]
    assert verticals[0].get_label() == "numba wins from 10,000"
    parity = [line for line in ax.lines if list(line.get_ydata()) == [1, 1]]
    assert len(parity) == 1
    assert (ax.get_xscale(), ax.get_xlabel()) == ("log", "size (n)")
    assert len(errorbars(figures["s.py::test_dot"])) == 1


# -- compile.png --------------------------------------------------------------------------


def test_compile_figure_plots_first_call_against_median_per_backend() -> None:
    fig = plots.compile_figure(
        report(
            bench("t.py::test_a", "numba", first_call_s=0.4, median=1e-3),
            bench("t.py::test_b", "numba", first_call_s=0.2, median=2e-3),
            bench("t.py::test_a", "numpy", first_call_s=1e-3, median=1e-3),
            bench("t.py::test_c", "cupy", first_call_s=None),
        )
    )
    assert fig is not None
    (ax,) = fig.axes
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [c.get_label() for c in dots] == ["numpy", "numba"]
    assert dots[1].get_offsets().tolist() == [[1e-3, 0.4], [2e-3, 0.2]]
    assert sorted(t.get_text() for t in ax.texts) == ["test_a", "test_b"]  # compile-heavy only
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")


# -- writing ------------------------------------------------------------------------------


def test_write_plots_writes_pngs_of_the_documented_size(tmp_path: Path) -> None:
    data = sweep_report()
    written = plots.write_plots(data, tmp_path / "out")
    names = ["speedup.png", "sweep-test_dot.png", "sweep-test_sum.png", "compile.png"]
    assert written == [tmp_path / "out" / name for name in names]
    height = round(plots.HEIGHT_IN * plots.DPI)
    assert png_size(written[1]) == (800, height)
    assert png_size(written[3]) == (800, height)
    # 5 tests x 2 backends: 3.5 + 5 * (0.4 + 0.3 * 2) = 8.5 inches
    assert png_size(written[0]) == (850, height)


def test_a_wide_run_gets_a_wider_speedup_plot(tmp_path: Path) -> None:
    wide = (
        bench(f"t.py::test_{i}", b, first_call_s=None) for i in range(20) for b in ("numba", "cupy")
    )
    data = report(*wide)
    (speedup,) = plots.write_plots(data, tmp_path)
    assert png_size(speedup) == (2350, 450)


def test_sweeps_of_same_named_tests_keep_their_module(tmp_path: Path) -> None:
    data = report(
        *(
            bench(
                f"{module}.py::test_s[{n}]", "numba", sweep="n", params={"n": n}, first_call_s=None
            )
            for module in ("a", "b")
            for n in (1, 2)
        )
    )
    names = [p.name for p in plots.write_plots(data, tmp_path)]
    assert names == ["speedup.png", "sweep-a.py_test_s.png", "sweep-b.py_test_s.png"]


def test_nothing_to_plot_writes_nothing(tmp_path: Path) -> None:
    data = report(bench("t.py::test_a", "numba", speedup=None, first_call_s=None))
    assert plots.write_plots(data, tmp_path / "out") == []


def test_missing_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(plots.PlotError, match=r"pip install 'pytest-gpuperf\[plot\]'"):
        plots.write_plots(report(bench("t.py::test_a", "numba")), tmp_path)


def test_an_unusable_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(plots.PlotError, match=f"{blocker}: cannot write the plots"):
        plots.write_plots(report(bench("t.py::test_a", "numba")), blocker)


# -- the plugin option --------------------------------------------------------------------


def test_gpuperf_plot_writes_the_plots_of_a_real_run(pytester: pytest.Pytester) -> None:
    fake_project(pytester)
    first = pytester.runpytest_subprocess(*FAKE_RUN_ARGS, "--gpuperf-plot=figs", "--gpuperf-save")
    first.assert_outcomes(passed=8)
    first.stdout.fnmatch_lines(["wrote 3 plot(s) to figs"])
    figs = pytester.path / "figs"
    assert sorted(p.name for p in figs.iterdir()) == [
        "compile.png",
        "speedup.png",
        "sweep-test_sweep.png",
    ]
    assert {png_size(p) for p in figs.iterdir()} == {(800, 450)}

    # Second run: the folder from the ini file, and the baselines just saved.
    pytester.makeini("[pytest]\ngpuperf_plot = ini-figs\n")
    second = pytester.runpytest_subprocess(*FAKE_RUN_ARGS, "--gpuperf-json=run.json")
    second.assert_outcomes(passed=8)
    assert png_size(pytester.path / "ini-figs" / "speedup.png") == (800, 450)
    data = json.loads((pytester.path / "run.json").read_text())
    infos = [item["extra_info"]["gpuperf"] for item in data["benchmarks"]]
    stored = {(i["test_key"], i["backend"]): i["baseline"] for i in infos}
    assert stored[("test_fake.py::test_add", "numba")] == pytest.approx(4.0, rel=1e-3)
    speedup = plots.speedup_figure(data)
    assert speedup is not None
    assert [c.get_label() for c in errorbars(speedup)] == ["numpy", "numba"]
    (marks,) = [line for line in speedup.axes[0].lines if line.get_label() == "baseline"]
    assert len(marks.get_ydata()) == 8
    sweep = plots.sweep_figures(data)["test_fake.py::test_sweep"]
    assert sorted(c.get_label() for c in errorbars(sweep)) == ["numba", "numpy"]
    (ax,) = sweep.axes
    crossover = [line.get_xdata()[0] for line in ax.lines if line.get_label().startswith("numba")]
    assert crossover == [100_000]


def test_gpuperf_plot_without_matplotlib_is_a_note(pytester: pytest.Pytester) -> None:
    fake_project(pytester)
    fakeclock_plugin.makeconftest(pytester, "import sys\n\nsys.modules['matplotlib'] = None\n")
    result = pytester.runpytest_subprocess(*FAKE_RUN_ARGS, "--gpuperf-plot=figs", "-k", "add")
    result.assert_outcomes(passed=2)
    note = "install the plot extra: pip install 'pytest-gpuperf[plot]'"
    assert [line for line in result.outlines if line.startswith("plots NOT written: ")] == [
        f"plots NOT written: matplotlib is not installed; {note}"
    ]
    assert not (pytester.path / "figs").exists()


def test_gpuperf_plot_is_in_the_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--gpuperf-plot=DIR*", "*gpuperf_plot (string)*"])


def with_history(item: dict[str, object], speedups: list[float], floor: float) -> dict[str, object]:
    """``item`` with saved runs and the speedup band the run was judged by."""
    info = item["extra_info"]["gpuperf"]  # type: ignore[index]
    info["history"] = [
        {"speedup": s, "ci_low": s, "ci_high": s, "kernel_median_s": 1e-3 / s} for s in speedups
    ]
    info["bands"] = {"speedup": {"floor": floor, "center": sum(speedups) / len(speedups)}}
    return item


def test_history_figure_draws_saved_runs_this_run_and_the_floor(tmp_path: Path) -> None:
    data = report(
        with_history(bench("t.py::test_a", "numba", speedup=(2.0, 1.9, 2.1)), [2.1, 1.9, 2.0], 1.8),
        with_history(bench("t.py::test_a", "cupy", speedup=(9.0, 8.5, 9.5)), [10.0, 9.5], 9.0),
        bench("t.py::test_b", "numba"),  # no history: no figure
    )
    figures = plots.history_figures(data)
    assert list(figures) == ["t.py::test_a"]
    speed_ax, time_ax = figures["t.py::test_a"].axes
    assert [line.get_label() for line in speed_ax.get_lines() if line.get_marker() == "o"] == [
        "numba",
        "cupy",
    ]
    numba = speed_ax.get_lines()[0]
    assert list(numba.get_xdata()) == [1, 2, 3, 4]
    assert list(numba.get_ydata()) == [2.1, 1.9, 2.0, 2.0]  # the saved runs, then this run
    floors = [line.get_ydata()[0] for line in speed_ax.get_lines() if line.get_linestyle() == ":"]
    assert floors == [1.8, 9.0]
    assert len(time_ax.get_lines()) == 2
    written = plots.write_plots(data, tmp_path)
    assert tmp_path / "history-test_a.png" in written
    assert png_size(tmp_path / "history-test_a.png") == (800, 450)
