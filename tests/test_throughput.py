"""Throughput: GB/s, GFLOP/s and % of peak, the peaks themselves, and the reports."""

from __future__ import annotations

import json
from typing import Any

import fakeclock_plugin
import pytest

from pytest_gpuperf.measure.measurement import Measurement
from pytest_gpuperf.measure.timer import Samples
from pytest_gpuperf.report import throughput as tp
from pytest_gpuperf.verdict.record import KernelRecord


@pytest.mark.parametrize(
    ("amount", "median_s", "expected"),
    [
        (16e6, 1e-3, 16.0),
        (2e9, 0.5, 4.0),
        (None, 1e-3, None),
        (1e6, None, None),
        (1e6, 0.0, None),
    ],
)
def test_per_second(amount: float | None, median_s: float | None, expected: float | None) -> None:
    assert tp.per_second(amount, median_s) == expected


@pytest.mark.parametrize(
    ("clock_khz", "bits", "gb_per_s"),
    [
        (1_215_000, 5120, 1555.2),  # A100 40GB: 1215 MHz HBM2, 5120-bit bus
        (2_619_000, 5120, 3352.32),  # H100 SXM: 2619 MHz HBM3, 5120-bit bus
        (1_000_000, 256, 64.0),
    ],
)
def test_gpu_peak_is_double_data_rate_over_the_bus(
    clock_khz: int, bits: int, gb_per_s: float
) -> None:
    assert tp.gpu_peak_bandwidth(clock_khz, bits) / 1e9 == pytest.approx(gb_per_s)
    peak = tp.gpu_peak({"memory_clock_khz": clock_khz, "memory_bus_width_bits": bits})
    assert peak is not None
    assert peak.bytes_per_s / 1e9 == pytest.approx(gb_per_s)


@pytest.mark.parametrize(
    "info",
    [{}, {"memory_clock_khz": 1_000_000}, {"memory_clock_khz": 0, "memory_bus_width_bits": 256}],
)
def test_gpu_peak_needs_both_attributes(info: dict[str, object]) -> None:
    assert tp.gpu_peak(info) is None


def test_gpu_peak_bandwidth_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match=r"memory_clock_khz=0.*from device_info"):
        tp.gpu_peak_bandwidth(0, 256)


def test_percent_of_peak() -> None:
    peak = tp.Peak(1555.2e9, "A100")
    t = tp.throughput(bytes_per_call=777.6e6, flops_per_call=2e6, median_s=1e-3, peak=peak)
    assert t is not None
    assert t.gb_per_s == pytest.approx(777.6)
    assert t.gflop_per_s == pytest.approx(2.0)
    assert t.percent_of_peak == pytest.approx(50.0)
    assert t.as_dict() == {
        "gb_per_s": t.gb_per_s,
        "gflop_per_s": t.gflop_per_s,
        "peak_gb_per_s": pytest.approx(1555.2),
        "peak_source": "A100",
        "percent_of_peak": pytest.approx(50.0),
    }


def test_flops_only_has_no_peak() -> None:
    t = tp.throughput(None, 4e9, 2.0, tp.Peak(1e9, "x"))
    assert t == tp.Throughput(gb_per_s=None, gflop_per_s=2.0)
    assert t.percent_of_peak is None
    assert tp.throughput(None, None, 1.0) is None


def test_copy_bandwidth_counts_read_and_write() -> None:
    ticks = iter([0, 4_000_000, 10_000_000, 12_000_000, 20_000_000, 23_000_000])
    measured = tp.copy_bandwidth(nbytes=8 * 2**20, repeats=3, clock=lambda: next(ticks))
    assert measured == pytest.approx(2 * 8 * 2**20 / 2e-3)  # best of 4, 2 and 3 ms


def _record(backend: str, *, bytes_: float | None, flops: float | None, sim: bool = False):
    samples = Samples(wall_ns=(1e6, 1e6, 1e6), device_ns=None, batch=1)  # 1 ms median
    m = Measurement(result=None, timed=True, simulated=sim, kernel=samples)
    return KernelRecord(
        nodeid=f"t.py::test_x[{backend}]",
        test_key="t.py::test_x",
        backend=backend,
        kernel_name="k",
        reference_name="ref",
        measurement=m,
        gate=None,
        dtypes=(),
        shapes=(),
        bytes_per_call=bytes_,
        flops_per_call=flops,
    )


def test_attach_measures_the_cpu_once_and_uses_device_facts_for_gpus() -> None:
    calls: list[int] = []

    def measure() -> float:
        calls.append(1)
        return 10e9

    records = [
        _record("numpy", bytes_=4e6, flops=None),
        _record("numba", bytes_=5e6, flops=1e6),
        _record("cupy", bytes_=32e6, flops=None),
        _record("numba_cuda", bytes_=1e6, flops=None, sim=True),
        _record("other", bytes_=None, flops=None),
    ]
    info = {"memory_clock_khz": 1_000_000, "memory_bus_width_bits": 256}
    tp.attach_throughput(records, frozenset({"cupy", "numba_cuda"}), info, measure)
    assert calls == [1]
    numpy_t, numba_t, cupy_t, sim_t, none_t = (r.throughput for r in records)
    assert numpy_t is not None
    assert numpy_t.percent_of_peak == pytest.approx(40.0)
    assert numba_t is not None
    assert numba_t.percent_of_peak == pytest.approx(50.0)
    assert numba_t.gflop_per_s == pytest.approx(1.0)
    assert cupy_t is not None
    assert cupy_t.percent_of_peak == pytest.approx(50.0)  # 32 of 64 GB/s
    assert sim_t == tp.Throughput(gb_per_s=1.0, gflop_per_s=None)
    assert none_t is None


def test_attach_skips_the_copy_without_cpu_bytes() -> None:
    def measure() -> float:
        raise AssertionError("no CPU record declared bytes; nothing to measure")

    records = [_record("numba", bytes_=None, flops=3e6), _record("cupy", bytes_=1e6, flops=None)]
    tp.attach_throughput(records, frozenset({"cupy"}), {}, measure)
    assert [r.throughput for r in records] == [
        tp.Throughput(gb_per_s=None, gflop_per_s=3.0),
        tp.Throughput(gb_per_s=1.0, gflop_per_s=None),
    ]


def test_throughput_lines() -> None:
    records = [_record("numba", bytes_=5e6, flops=1e6)]
    tp.attach_throughput(records, frozenset(), {}, lambda: 20e9)
    assert tp.throughput_lines(records) == [
        "throughput:",
        "  test          backend  GB/s  GFLOP/s  % of peak",
        "  t.py::test_x  numba    5     1        25.0%",
        "  peak 20 GB/s (CPU numpy copy of 64 MiB, read + write)",
    ]
    assert tp.throughput_lines([_record("numba", bytes_=None, flops=None)]) == []


def test_beating_the_peak_is_explained_as_cache() -> None:
    records = [_record("numba", bytes_=30e6, flops=None)]  # 30 GB/s against a 20 GB/s peak
    tp.attach_throughput(records, frozenset(), {}, lambda: 20e9)
    assert tp.peak_notes(records) == [
        "peak 20 GB/s (CPU numpy copy of 64 MiB, read + write)",
        tp.CACHE_NOTE,
    ]


FAKE_GPU_CONFTEST = """
    from pytest_gpuperf import HostBackend

    class FakeGpu(HostBackend):
        name = "fakegpu"
        is_gpu = True

        def device_info(self):
            return {"gpu": "Fake GPU", "memory_clock_khz": 1_000_000, "memory_bus_width_bits": 256}

    def pytest_gpuperf_register_backends(config):
        return [FakeGpu()]
"""

#: 2 MiB moved and 131,072 flops per call; a fake clock at 2 ms per kernel call.
THROUGHPUT_TEST = """
    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(8_000_000)
        return a * 2

    def kernel(a):
        advance(2_000_000)
        return a * 2

    @pytest.mark.gpuperf(reference=reference, bytes=lambda a: 2 * a.nbytes, flops=lambda a: a.size)
    def test_scale(backend, gpu_array, cuda_sync_timer):
        a = gpu_array(np.ones(2**17, dtype=np.float64))
        cuda_sync_timer(backend.select(numba=kernel, fakegpu=kernel), a)
"""


@pytest.fixture
def fixed_cpu_peak(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the CPU's copy bandwidth 100 GB/s and count how often it is measured."""
    calls: list[int] = []

    def fake() -> float:
        calls.append(1)
        return 100e9

    monkeypatch.setattr(tp, "copy_bandwidth", fake)
    return calls


def test_throughput_in_terminal_and_json(
    pytester: pytest.Pytester, fixed_cpu_peak: list[int]
) -> None:
    fakeclock_plugin.makeconftest(pytester, FAKE_GPU_CONFTEST)
    pytester.makepyfile(test_tp=THROUGHPUT_TEST)
    result = pytester.runpytest(
        "--gpuperf", "--gpuperf-backends=numba,fakegpu", "--gpuperf-json=run.json"
    )
    result.assert_outcomes(passed=2)
    assert fixed_cpu_peak == [1]
    # 2 MiB per 2 ms call = 1.05 GB/s: 1.6% of the GPU's 64 GB/s, 1.0% of the CPU's 100 GB/s.
    result.stdout.fnmatch_lines(
        [
            "throughput:",
            "  test*backend*GB/s*GFLOP/s*% of peak",
            "  test_tp.py::test_scale  fakegpu  1.05  0.0655   1.6%",
            "  test_tp.py::test_scale  numba    1.05  0.0655   1.0%",
            "  peak 100 GB/s (CPU numpy copy of 64 MiB, read + write)",
            "  peak 64 GB/s (GPU 1000 MHz x 256-bit bus (DDR))",
        ]
    )
    report = json.loads((pytester.path / "run.json").read_text())
    found: dict[str, Any] = {
        b["params"]["backend"]: b["extra_info"]["gpuperf"]["throughput"]
        for b in report["benchmarks"]
    }
    assert found["fakegpu"]["peak_gb_per_s"] == pytest.approx(64.0)
    assert found["fakegpu"]["gb_per_s"] == pytest.approx(2 * 2**20 / 2e-3 / 1e9)
    assert found["numba"]["gflop_per_s"] == pytest.approx(2**17 / 2e-3 / 1e9)
    assert found["numba"]["percent_of_peak"] == pytest.approx(100 * 2 * 2**20 / 2e-3 / 100e9)


def test_no_copy_measured_without_declared_bytes(
    pytester: pytest.Pytester, fixed_cpu_peak: list[int]
) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        @pytest.mark.gpuperf(reference=lambda a: a * 2, max_time="50ms")
        def test_scale(backend, gpu_array, cuda_sync_timer):
            a = gpu_array(np.ones(8, dtype=np.float64))
            cuda_sync_timer(backend.select(numba=lambda a: a * 2), a)
        """
    )
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=numba", "--gpuperf-json=r.json")
    result.assert_outcomes(passed=1)
    assert fixed_cpu_peak == []
    result.stdout.no_fnmatch_line("throughput:")
    (bench,) = json.loads((pytester.path / "r.json").read_text())["benchmarks"]
    assert bench["extra_info"]["gpuperf"]["throughput"] is None
