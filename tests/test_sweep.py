"""Size sweeps: grouping, crossover detection and its wording, and the plugin's sweep report."""

from __future__ import annotations

import json
from typing import Any

import fakeclock_plugin
import pytest

from pytest_gpuperf.report.sweep import (
    SweepPoint,
    SweepSeries,
    crossover,
    describe_crossover,
    sweep_problem,
    sweep_series,
)

#: Reference: 10 ns per element. Kernel: 100 us launch overhead + 2 ns per element,
#: so the speedup is 10n / (100000 + 2n): 0.1x, 0.379x, 1.23x, 4.2x; it crosses 1 at 12,500.
SWEEP_TEST = """
    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(10 * a.size)
        return a * 2

    def overhead(a):
        advance(100_000 + 2 * a.size)
        return a * 2

    @pytest.mark.parametrize("n", [16384, 1024, 262144, 4096])
    @pytest.mark.gpuperf(reference=reference, sweep="n")
    def test_scale(backend, gpu_array, cuda_sync_timer, n):
        a = gpu_array(np.ones(n, dtype=np.float64))
        cuda_sync_timer(backend.select(numpy=reference, numba=overhead), a)
    """


def _point(size: float, low: float, value: float | None = None) -> SweepPoint:
    return SweepPoint(size, value if value is not None else low + 0.1, low, low + 0.2)


@pytest.mark.parametrize(
    ("lows", "expected"),
    [
        ([1.5, 2.0, 3.0], 1024.0),
        ([0.5, 0.9, 1.2, 2.0], 16384.0),
        ([0.5, 1.2, 0.9, 2.0], 65536.0),
        ([0.5, 1.2, 2.0, 0.9], None),
        ([0.5, 0.6, 0.7, 1.0], None),
        ([], None),
    ],
)
def test_crossover_is_the_start_of_the_winning_tail(
    lows: list[float], expected: float | None
) -> None:
    sizes = [1024.0, 4096.0, 16384.0, 65536.0]
    points = [_point(size, low) for size, low in zip(sizes, lows, strict=False)]
    assert crossover(list(reversed(points))) == expected


@pytest.mark.parametrize(
    ("lows", "text"),
    [
        ([0.3, 0.8, 1.4], "numba beats numpy from n = 262,144"),
        ([0.3, 0.8, 0.9], "numba never beats numpy up to n = 262,144"),
        ([1.1, 1.8, 3.0], "numba beats numpy at every size measured (from n = 1,024)"),
        ([0.3, 1.4, 0.9], "numba beats numpy at n = 16,384 but not at the largest, n = 262,144"),
    ],
)
def test_describe_crossover(lows: list[float], text: str) -> None:
    points = tuple(_point(s, low) for s, low in zip([1024.0, 16384.0, 262144.0], lows, strict=True))
    series = SweepSeries("t.py::test_x", "numba", "n", points, crossover(points))
    assert describe_crossover(series) == text


def _item(key: str, backend: str, params: dict[str, Any], speedup: float, sweep: str | None = "n"):
    return {
        "group": key,
        "params": {"backend": backend, **params},
        "extra_info": {
            "gpuperf": {
                "test_key": key,
                "backend": backend,
                "sweep": sweep,
                "speedup": {"value": speedup, "low": speedup * 0.9, "high": speedup * 1.1},
            }
        },
    }


def test_sweep_series_groups_by_test_backend_and_other_params() -> None:
    items = [
        _item("t.py::test_x[float32-65536]", "numba", {"dtype": "float32", "n": 65536}, 3.0),
        _item("t.py::test_x[float32-1024]", "numba", {"dtype": "float32", "n": 1024}, 0.5),
        _item("t.py::test_x[float64-1024]", "numba", {"dtype": "float64", "n": 1024}, 0.4),
        _item("t.py::test_x[float64-65536]", "numba", {"dtype": "float64", "n": 65536}, 0.8),
        _item("t.py::test_x[float32-1024]", "cupy", {"dtype": "float32", "n": 1024}, 2.0),
        _item("t.py::test_y[8]", "numba", {"n": 8}, 5.0, sweep=None),
    ]
    series = sweep_series(items)
    assert [(s.group, s.backend, [p.size for p in s.points]) for s in series] == [
        ("t.py::test_x[float32]", "cupy", [1024.0]),
        ("t.py::test_x[float32]", "numba", [1024.0, 65536.0]),
        ("t.py::test_x[float64]", "numba", [1024.0, 65536.0]),
    ]
    assert [s.crossover for s in series] == [1024.0, 65536.0, None]
    assert series[1].points[1] == SweepPoint(65536.0, 3.0, 2.7, 3.3000000000000003)


def test_sweep_series_keeps_custom_ids_apart_by_params() -> None:
    items = [
        _item("t.py::test_x[small]", "numba", {"n": 10}, 0.5),
        _item("t.py::test_x[large]", "numba", {"n": 1000}, 2.0),
    ]
    (series,) = sweep_series(items)
    assert [p.size for p in series.points] == [10.0, 1000.0]
    assert series.crossover == 1000.0


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"n": 1024, "dtype": "f4"}, None),
        ({"m": 8, "dtype": "f4"}, "names no parameter of this test; its parameters: 'm', 'dtype'"),
        ({}, "names no parameter of this test; its parameters: none"),
        ({"n": "big"}, "needs a number as the size, got 'big'"),
        ({"n": True}, "needs a number as the size, got True"),
    ],
)
def test_sweep_problem(params: dict[str, Any], problem: str | None) -> None:
    found = sweep_problem("n", params)
    assert found == problem if problem is None else problem in (found or "")


def test_sweep_report_shows_speedup_against_size_and_crossover(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_sw=SWEEP_TEST)
    result = pytester.runpytest(
        "--gpuperf", "--gpuperf-backends=numpy,numba", "--gpuperf-json=run.json"
    )
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "sweeps:",
            "  test_sw.py::test_scale [numba] speedup vs n: 1,024: 0.1x, 4,096: 0.379x, "
            "16,384: 1.23x, 262,144: 4.2x — numba beats numpy from n = 16,384",
            "  test_sw.py::test_scale [numpy] speedup vs n: 1,024: 1x, 4,096: 1x, "
            "16,384: 1x, 262,144: 1x — numpy never beats the reference up to n = 262,144",
        ]
    )
    report = json.loads((pytester.path / "run.json").read_text())
    series = {s.backend: s for s in sweep_series(report["benchmarks"])}
    assert series["numba"].group == "test_sw.py::test_scale"
    assert series["numba"].crossover == 16384.0
    assert [p.size for p in series["numba"].points] == [1024.0, 4096.0, 16384.0, 262144.0]
    assert series["numpy"].crossover is None


def test_sweep_naming_a_missing_parameter_fails_at_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("size", [8])
        @pytest.mark.parametrize("dtype", ["float32"])
        @pytest.mark.gpuperf(reference=lambda a: a, sweep="n")
        def test_x(backend, cuda_sync_timer, size, dtype):
            pass
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_x[[]numpy-float32-8[]]: gpuperf(sweep='n') names no parameter of this test; "
            "its parameters: 'dtype', 'size'. Add @pytest.mark.parametrize('n', [[]...[]])*"
        ]
    )


def test_sweep_size_must_be_a_number(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", ["big"])
        @pytest.mark.gpuperf(reference=lambda a: a, sweep="n")
        def test_x(backend, n):
            pass
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gpuperf(sweep='n') needs a number as the size, got 'big'*"])


def test_no_sweep_section_without_sweeps(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(SWEEP_TEST.replace(', sweep="n"', ""))
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=numba")
    result.assert_outcomes(passed=4)
    result.stdout.no_fnmatch_line("sweeps:")
