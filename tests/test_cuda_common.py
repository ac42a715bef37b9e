"""The helpers the CUDA backends share, and each backend's use of them, with fake libraries."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import pytest

from pytest_gpuperf.backends import cuda_common
from pytest_gpuperf.backends.cupy_backend import CupyBackend
from pytest_gpuperf.backends.numba_cuda import NumbaCudaBackend
from pytest_gpuperf.backends.torch_backend import TorchBackend
from pytest_gpuperf.measure.timer import MIN_FLUSH_BYTES

MiB = 2**20


@pytest.mark.parametrize(("name", "text"), [(b"NVIDIA H100", "NVIDIA H100"), ("A100", "A100")])
def test_name_text(name: object, text: str) -> None:
    assert cuda_common.name_text(name) == text


@pytest.mark.parametrize(
    ("parts", "bus_id"),
    [((0, 0x65, 0), "00000000:65:00.0"), ((1, 0x3, 0x1F), "00000001:03:1F.0")],
)
def test_pci_bus_id(parts: tuple[int, int, int], bus_id: str) -> None:
    assert cuda_common.pci_bus_id(*parts) == bus_id


def test_free_bytes() -> None:
    assert cuda_common.free_bytes(lambda: (5 * MiB, 80 * MiB)) == 5 * MiB

    def no_driver() -> tuple[int, int]:
        raise RuntimeError("no driver")

    assert cuda_common.free_bytes(no_driver) is None


def test_device_facts_leave_out_what_cannot_be_read() -> None:
    def unknown() -> object:
        raise AttributeError("not in this binding")

    facts = cuda_common.device_facts({"gpu": lambda: "X", "l2": unknown, "cc": lambda: "9.0"})
    assert facts == {"gpu": "X", "cc": "9.0"}


class FakeEvent:
    """A CUDA event that logs what is done to it."""

    def __init__(self, log: list[tuple[str, ...]], name: str) -> None:
        self.log = log
        self.name = name

    def record(self, stream: object = None) -> None:
        self.log.append(("record", self.name, str(stream)))

    def synchronize(self) -> None:
        self.log.append(("synchronize", self.name))

    def elapsed_time(self, end: FakeEvent) -> float:
        self.log.append(("elapsed", self.name, end.name))
        return 1.5


def test_event_timer_records_waits_and_converts_to_ns() -> None:
    log: list[tuple[str, ...]] = []
    timer = cuda_common.EventTimer(
        FakeEvent(log, "start"),
        FakeEvent(log, "end"),
        record=lambda event: event.record("stream"),
        elapsed_ms=lambda start, end: start.elapsed_time(end),
    )
    timer.start()
    assert log == [("record", "start", "stream")]
    assert timer.stop() == 1.5e6
    assert log[1:] == [
        ("record", "end", "stream"),
        ("synchronize", "end"),
        ("elapsed", "start", "end"),
    ]


@pytest.mark.parametrize(
    ("l2", "size"), [(None, MIN_FLUSH_BYTES), (0, MIN_FLUSH_BYTES), (200 * MiB, 400 * MiB)]
)
def test_flush_buffer_is_made_once_at_twice_the_l2(l2: int | None, size: int) -> None:
    made: list[int] = []
    reads: list[int | None] = []
    flush = cuda_common.FlushBuffer()

    def l2_bytes() -> int | None:
        reads.append(l2)
        return l2

    first = flush.buffer(lambda n: made.append(n) or f"buffer of {n}", l2_bytes)
    again = flush.buffer(lambda n: made.append(n) or "another", l2_bytes)
    assert first == again == f"buffer of {size}"
    assert made == [size]
    assert reads == [l2]
    assert [flush.next_byte() for _ in range(4)] == [1, 0, 1, 0]


class FakeBuffer:
    def __init__(self, size: int, log: list[tuple[str, ...]]) -> None:
        self.size = size
        self.log = log

    def fill(self, value: int) -> None:
        self.log.append(("fill", str(value)))

    def zero_(self) -> None:
        self.log.append(("zero",))


def fake_cupy(log: list[tuple[str, ...]]) -> Any:
    stream = types.SimpleNamespace(synchronize=lambda: log.append(("stream sync",)))
    runtime = types.SimpleNamespace(
        getDevice=lambda: 0, getDeviceProperties=lambda device: {"l2CacheSize": 200 * MiB}
    )
    cuda = types.SimpleNamespace(
        Event=lambda: FakeEvent(log, "event"),
        get_current_stream=lambda: stream,
        get_elapsed_time=lambda start, end: 2.0,
        runtime=runtime,
    )
    return types.SimpleNamespace(
        cuda=cuda, uint8="uint8", empty=lambda size, dtype: FakeBuffer(size, log)
    )


def test_cupy_backend_times_and_flushes_through_the_helpers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[tuple[str, ...]] = []
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(log))
    backend = CupyBackend()
    timer = backend.device_timer()
    assert timer is not None
    timer.start()
    assert timer.stop() == 2.0e6
    assert [entry[0] for entry in log] == ["record", "record", "synchronize"]
    log.clear()
    backend.flush_l2()
    backend.flush_l2()
    assert log == [("fill", "1"), ("stream sync",), ("fill", "0"), ("stream sync",)]
    assert backend._flush.buffer(lambda n: None, lambda: None).size == 400 * MiB


def fake_torch(log: list[tuple[str, ...]]) -> Any:
    props = types.SimpleNamespace(
        L2_cache_size=60 * MiB, pci_domain_id=0, pci_bus_id=0x65, pci_device_id=0
    )
    cuda = types.SimpleNamespace(
        Event=lambda enable_timing: FakeEvent(log, "event"),
        current_device=lambda: 0,
        get_device_properties=lambda device: props,
        synchronize=lambda: log.append(("torch sync",)),
    )
    return types.SimpleNamespace(
        cuda=cuda, uint8="uint8", empty=lambda size, dtype, device: FakeBuffer(size, log)
    )


def test_torch_backend_times_and_flushes_through_the_helpers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[tuple[str, ...]] = []
    monkeypatch.setitem(sys.modules, "torch", fake_torch(log))
    backend = TorchBackend()
    assert backend.device_timer() is None  # on the CPU until available() finds a GPU
    backend.is_gpu = True
    timer = backend.device_timer()
    assert timer is not None
    timer.start()
    assert timer.stop() == 1.5e6
    assert [entry[0] for entry in log] == ["record", "record", "synchronize", "elapsed"]
    log.clear()
    backend.flush_l2()
    backend.flush_l2()
    assert log == [("zero",), ("torch sync",), ("zero",), ("torch sync",)]
    assert backend._flush.buffer(lambda n: None, lambda: None).size == MIN_FLUSH_BYTES
    assert backend.pci_bus_id() == "00000000:65:00.0"


def test_numba_cuda_backend_times_and_flushes_through_the_helpers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cuda: Any = importlib.import_module("numba.cuda")
    try:
        driver: Any = importlib.import_module("numba.cuda.cudadrv.driver")
    except Exception as exc:  # pragma: no cover - depends on the numba-cuda install
        pytest.skip(f"numba's driver module does not import here: {exc}")
    log: list[tuple[str, ...]] = []
    device = types.SimpleNamespace(
        L2_CACHE_SIZE=50 * MiB, PCI_DOMAIN_ID=0, PCI_BUS_ID=0x65, PCI_DEVICE_ID=0
    )
    monkeypatch.setattr(NumbaCudaBackend, "simulated", False)
    monkeypatch.setattr(cuda, "event", lambda timing: FakeEvent(log, "event"), raising=False)
    monkeypatch.setattr(cuda, "event_elapsed_time", lambda s, e: 3.0, raising=False)
    monkeypatch.setattr(cuda, "get_current_device", lambda: device, raising=False)
    monkeypatch.setattr(cuda, "synchronize", lambda: log.append(("cuda sync",)), raising=False)
    monkeypatch.setattr(
        cuda, "device_array", lambda size, dtype: FakeBuffer(size, log), raising=False
    )
    monkeypatch.setattr(
        driver,
        "device_memset",
        lambda buf, value, size: log.append(("memset", str(value), str(size))),
        raising=False,
    )
    backend = NumbaCudaBackend()
    timer = backend.device_timer()
    assert timer is not None
    timer.start()
    assert timer.stop() == 3.0e6
    assert log == [("record", "event", "0"), ("record", "event", "0"), ("synchronize", "event")]
    log.clear()
    backend.flush_l2()
    backend.flush_l2()
    size = str(MIN_FLUSH_BYTES)
    assert log == [("memset", "1", size), ("cuda sync",), ("memset", "0", size), ("cuda sync",)]
    assert backend.pci_bus_id() == "00000000:65:00.0"
