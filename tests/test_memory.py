"""Peak memory: the byte parser, tracemalloc, the device probes on fakes, and the two gates."""

from __future__ import annotations

import tracemalloc
import types
from typing import Any, ClassVar

import numpy as np
import pytest

from pytest_gpuperf.measure import memory
from pytest_gpuperf.measure.memory import (
    MEMORY_SLACK_BYTES,
    CupyPoolProbe,
    MemoryPeaks,
    NumbaCudaProbe,
    TorchPeakProbe,
    host_peak,
    max_memory_failure,
    measure_peaks,
    memory_regression,
)
from pytest_gpuperf.parsing import parse_bytes
from pytest_gpuperf.text import format_bytes

MIB = 2**20


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("512MiB", 512 * MIB),
        ("512 mib", 512 * MIB),
        ("1.5GB", 1_500_000_000),
        ("100kB", 100_000),
        ("2 TiB", 2 * 2**40),
        ("4096", 4096),
        ("7B", 7),
        (1024, 1024),
        (2e9, 2_000_000_000),
    ],
)
def test_parse_bytes_accepts(value: object, expected: int) -> None:
    assert parse_bytes(value, "cap", "from test") == expected


@pytest.mark.parametrize("value", ["", "MiB", "-1MiB", "1 MBps", "1e9", "0", 0, 0.5, True, None])
def test_parse_bytes_rejects_naming_the_value_and_source(value: object) -> None:
    with pytest.raises(ValueError, match=r"^cap must be a positive number of bytes") as info:
        parse_bytes(value, "cap", "from test")
    assert repr(value) in str(info.value)
    assert str(info.value).endswith("(from test)")


@pytest.mark.parametrize(
    ("count", "text"),
    [(None, "-"), (12, "12 B"), (2048, "2 KiB"), (3 * MIB, "3 MiB"), (1.5 * 2**30, "1.5 GiB")],
)
def test_format_bytes(count: float | None, text: str) -> None:
    assert format_bytes(count) == text


def test_host_peak_sees_numpy_and_stops_tracing_again() -> None:
    assert not tracemalloc.is_tracing()

    def call() -> None:
        a = np.ones(4 * MIB, dtype=np.uint8)
        b = a + 1  # a temporary of the same size: the peak holds both
        del a, b

    peak = host_peak(call)
    assert 8 * MIB <= peak < 9 * MIB
    assert not tracemalloc.is_tracing()


def test_host_peak_leaves_tracing_on_when_it_was_on() -> None:
    kept = np.ones(2 * MIB, dtype=np.uint8)
    tracemalloc.start()
    try:
        held = np.ones(3 * MIB, dtype=np.uint8)  # traced before the call: not counted
        peak = host_peak(lambda: np.zeros(MIB, dtype=np.uint8) + 1)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    assert MIB <= peak < 3 * MIB
    del kept, held


class FakeProbe:
    """A device probe that reports a fixed peak, or fails where told."""

    source = "fake pool"

    def __init__(self, peak: int | None = 5 * MIB, fail_start: bool = False) -> None:
        self.peak = peak
        self.fail_start = fail_start
        self.events: list[str] = []

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("no context")
        self.events.append("start")

    def stop(self) -> int | None:
        self.events.append("stop")
        return self.peak


def test_measure_peaks_brackets_the_call_with_the_probe() -> None:
    probe = FakeProbe()
    calls: list[str] = []
    peaks = measure_peaks(lambda: calls.append("call"), probe, is_gpu=True)
    assert probe.events == ["start", "stop"]
    assert calls == ["call"]
    assert peaks.device_peak_bytes == 5 * MIB
    assert peaks.device_source == "fake pool"
    assert peaks.host_peak_bytes is not None
    assert not peaks.simulated


def test_measure_peaks_keeps_going_when_the_probe_fails() -> None:
    peaks = measure_peaks(lambda: None, FakeProbe(fail_start=True), is_gpu=True)
    assert peaks.device_peak_bytes is None
    assert peaks.device_source == (
        "not measured: fake pool failed to start (RuntimeError: no context)"
    )


def test_measure_peaks_labels_the_simulator_and_host_backends() -> None:
    simulated = measure_peaks(lambda: np.ones(MIB, np.uint8), None, is_gpu=True, simulated=True)
    assert simulated.simulated
    assert simulated.device_source.startswith("simulated:")
    assert simulated.device_peak_bytes == simulated.host_peak_bytes
    host = measure_peaks(lambda: None, None, is_gpu=False)
    assert (host.device_peak_bytes, host.device_source) == (None, memory.HOST_BACKEND_SOURCE)
    no_probe = measure_peaks(lambda: None, None, is_gpu=True)
    assert no_probe.device_source == memory.NO_PROBE_SOURCE


def test_a_kernel_that_raises_still_stops_the_probe() -> None:
    probe = FakeProbe()

    def boom() -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        measure_peaks(boom, probe, is_gpu=True)
    assert probe.events == ["start", "stop"]


def test_max_memory_caps_the_device_peak_on_a_gpu() -> None:
    peaks = MemoryPeaks(device_peak_bytes=600 * MIB, host_peak_bytes=MIB, device_source="pool")
    message = max_memory_failure(peaks, 512 * MIB, is_gpu=True, where="t.py::test_k on cupy")
    assert message == (
        "t.py::test_k on cupy: peak device memory of one call is 600 MiB (629,145,600 bytes), "
        "above gpuperf(max_memory=512 MiB) (536,870,912 bytes; measured with pool); allocate "
        "less (reuse an output buffer, free temporaries) or raise gpuperf(max_memory=...)"
    )
    assert max_memory_failure(peaks, 600 * MIB, is_gpu=True, where="w") is None


def test_max_memory_caps_the_host_peak_on_a_cpu_backend() -> None:
    peaks = MemoryPeaks(None, 3 * MIB, memory.HOST_BACKEND_SOURCE)
    message = max_memory_failure(peaks, MIB, is_gpu=False, where="w")
    assert message is not None
    assert "peak host memory of one call is 3 MiB" in message
    assert "tracemalloc" in message


def test_max_memory_never_gates_simulated_or_unmeasured_device_memory() -> None:
    simulated = MemoryPeaks(9 * MIB, 9 * MIB, memory.SIMULATOR_SOURCE, simulated=True)
    assert max_memory_failure(simulated, MIB, is_gpu=True, where="w") is None
    unknown = MemoryPeaks(None, 9 * MIB, memory.NO_PROBE_SOURCE)
    assert max_memory_failure(unknown, MIB, is_gpu=True, where="w") is None


@pytest.mark.parametrize(
    ("now", "baseline", "tolerance", "regressed"),
    [
        (200 * MIB, 100 * MIB, None, False),  # off by default
        (None, 100 * MIB, 0.1, False),  # not measured now
        (200 * MIB, None, 0.1, False),  # no stored peak
        (110 * MIB, 100 * MIB, 0.1, False),  # at the ceiling
        (111 * MIB, 100 * MIB, 0.1, True),
        (100 * MIB + MEMORY_SLACK_BYTES, 100 * MIB, 0.0, False),  # within the slack
        (100 * MIB + MEMORY_SLACK_BYTES + 1, 100 * MIB, 0.0, True),
        (MIB, 0, 0.5, True),  # grew from nothing
        (50 * MIB, 100 * MIB, 0.0, False),  # shrank
    ],
)
def test_memory_regression(
    now: int | None, baseline: int | None, tolerance: float | None, regressed: bool
) -> None:
    assert (memory_regression(now, baseline, tolerance) is not None) is regressed


def test_memory_regression_message_states_peak_baseline_tolerance_and_fix() -> None:
    message = memory_regression(
        150 * MIB, 100 * MIB, 0.1, kind="host", accept_command="pytest --gpuperf-save 'x'"
    )
    assert message == (
        "peak host memory grew to 150 MiB from the baseline's 100 MiB (+50.0%); allowed "
        "tolerance 0.1 (ceiling 110 MiB, gpuperf_memory_tolerance). If the new peak is intended, "
        "accept it with: pytest --gpuperf-save 'x'"
    )


def test_memory_regression_rejects_a_negative_tolerance() -> None:
    with pytest.raises(ValueError, match=r"memory tolerance must be >= 0; got -0\.1"):
        memory_regression(1, 1, -0.1)


# -- device probes on fakes ------------------------------------------------------------------


class FakeHookBase:
    """Stands in for ``cupy.cuda.MemoryHook``: ``with hook`` registers it."""

    registered: ClassVar[list[Any]] = []

    def __enter__(self) -> Any:
        FakeHookBase.registered.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        FakeHookBase.registered.remove(self)


def fake_cupy(synchronized: list[int]) -> Any:
    stream = types.SimpleNamespace(synchronize=lambda: synchronized.append(1))
    cuda = types.SimpleNamespace(MemoryHook=FakeHookBase, get_current_stream=lambda: stream)
    return types.SimpleNamespace(cuda=cuda)


def test_cupy_probe_reports_the_peak_in_use_above_the_start() -> None:
    synced: list[int] = []
    probe = CupyPoolProbe(fake_cupy(synced))
    probe.start()
    (hook,) = FakeHookBase.registered
    hook.malloc_postprocess(device_id=0, size=1000, mem_size=1024, mem_ptr=1, pmem_id=1)
    hook.malloc_postprocess(device_id=0, size=4000, mem_size=4096, mem_ptr=2, pmem_id=2)
    hook.free_postprocess(device_id=0, mem_size=4096, mem_ptr=2, pmem_id=2)
    hook.free_postprocess(device_id=0, mem_size=8192, mem_ptr=0, pmem_id=0)  # an old input
    hook.malloc_postprocess(device_id=0, size=512, mem_size=512, mem_ptr=3, pmem_id=3)
    assert probe.stop() == 1024 + 4096
    assert synced == [1]
    assert FakeHookBase.registered == []


def test_cupy_probe_subclasses_the_real_memory_hook() -> None:
    cupy = pytest.importorskip("cupy")
    probe = CupyPoolProbe()
    assert isinstance(probe.hook, cupy.cuda.MemoryHook)
    probe.hook.malloc_postprocess(device_id=0, size=1, mem_size=512, mem_ptr=1, pmem_id=1)
    assert probe.hook.peak == 512


def test_torch_probe_subtracts_what_was_allocated_before() -> None:
    state = {"allocated": 100, "peak": 100, "resets": 0, "syncs": 0}

    def reset() -> None:
        state["resets"] += 1
        state["peak"] = state["allocated"]

    cuda = types.SimpleNamespace(
        synchronize=lambda: state.__setitem__("syncs", state["syncs"] + 1),
        reset_peak_memory_stats=reset,
        memory_allocated=lambda: state["allocated"],
        max_memory_allocated=lambda: state["peak"],
    )
    probe = TorchPeakProbe(types.SimpleNamespace(cuda=cuda))
    probe.start()
    state["peak"] = 700
    assert probe.stop() == 600
    assert state["resets"] == 1
    assert state["syncs"] == 2


class FakeDefer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> None:
        self.log.append("defer")

    def __exit__(self, *exc: object) -> None:
        self.log.append("resume")


def test_numba_cuda_probe_reads_used_memory_with_frees_deferred() -> None:
    log: list[str] = []
    free = [8 * MIB]
    context = types.SimpleNamespace(get_memory_info=lambda: (free[0], 16 * MIB))
    cuda = types.SimpleNamespace(
        synchronize=lambda: log.append("sync"),
        defer_cleanup=lambda: FakeDefer(log),
        current_context=lambda: context,
    )
    probe = NumbaCudaProbe(cuda)
    probe.start()
    free[0] -= 2 * MIB
    assert probe.stop() == 2 * MIB
    assert log == ["sync", "defer", "sync", "resume"]
