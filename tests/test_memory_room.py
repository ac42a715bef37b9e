"""The room check ``gpu_array`` runs before allocating: device free memory, host available memory.

Every memory reading here is faked; no test allocates more than a few bytes.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from pytest_gpuperf import DeviceOutOfMemory
from pytest_gpuperf.machine import memory_room
from pytest_gpuperf.machine.memory_room import (
    DEVICE_HEADROOM,
    HOST_HEADROOM,
    HostOutOfMemory,
    Need,
    check,
    host_peak_bytes,
)

GIB = 2**30
MIB = 2**20


def constant(value: int | None) -> types.FunctionType:
    return lambda: value  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("count", "text"),
    [(12, "12 B"), (4096, "4.0 KiB"), (256 * MIB, "256.0 MiB"), (1000 * GIB, "1,000.0 GiB")],
)
def test_size_text(count: int, text: str) -> None:
    assert memory_room.size_text(count) == text


@pytest.mark.parametrize(
    ("array", "made", "on_host", "peak"),
    [
        (100, 100, False, 200),  # zeros on a GPU: the copy handed over and the kept copy
        (100, 100, True, 300),  # ... a CPU backend holds a third
        (100, 300, False, 300),  # random float32: 8-byte draws plus the converted array
        (100, 900, True, 900),  # random uint8: the draws dominate
    ],
)
def test_host_peak_bytes(array: int, made: int, on_host: bool, peak: int) -> None:
    assert host_peak_bytes(array, made, on_host) == peak


def test_a_request_that_fits_passes() -> None:
    need = Need(GIB, 2 * GIB, "array (268435456,) float32")
    check("cupy", need, constant(GIB + DEVICE_HEADROOM), constant(2 * GIB + HOST_HEADROOM))


def test_the_device_short_by_one_byte_of_its_headroom_fails() -> None:
    need = Need(GIB, 0, "array (268435456,) float32")
    with pytest.raises(DeviceOutOfMemory) as info:
        check("cupy", need, constant(GIB + DEVICE_HEADROOM - 1), constant(None))
    assert (info.value.backend, info.value.requested_bytes) == ("cupy", GIB)
    assert info.value.free_bytes == GIB + DEVICE_HEADROOM - 1


def test_the_h200_case_names_both_sides_and_the_fix() -> None:
    """200 GiB of zeros on a 141 GB card, 128 GiB of host memory: both sides are short."""
    need = Need(200 * GIB, 400 * GIB, "array (53687091200,) float32")
    with pytest.raises(DeviceOutOfMemory) as info:
        check("cupy", need, constant(140 * 10**9), constant(120 * GIB))
    assert str(info.value) == (
        "cupy: not enough device and host memory for array (53687091200,) float32; nothing was "
        "allocated. device: 200.0 GiB needed + 256.0 MiB headroom, 130.4 GiB free (short); "
        "host: 400.0 GiB needed + 512.0 MiB headroom, 120.0 GiB available (short). "
        "Use a smaller size, e.g. backend.size(real=..., simulated=...), or a GPU with more free "
        "memory, or a machine with more host memory"
    )


def test_only_the_host_short_raises_host_out_of_memory() -> None:
    need = Need(8 * MIB, 16 * MIB, "array (2097152,) float32")
    with pytest.raises(HostOutOfMemory) as info:
        check("numba_cuda", need, constant(80 * GIB), constant(100 * MIB))
    assert str(info.value) == (
        "numba_cuda: not enough host memory for array (2097152,) float32; nothing was allocated. "
        "device: 8.0 MiB needed + 256.0 MiB headroom, 80.0 GiB free (enough); "
        "host: 16.0 MiB needed + 512.0 MiB headroom, 100.0 MiB available (short). "
        "Use a smaller size, e.g. backend.size(real=..., simulated=...), or a machine with more "
        "host memory"
    )
    assert (info.value.requested_bytes, info.value.available_bytes) == (16 * MIB, 100 * MIB)


def test_a_backend_in_host_memory_is_checked_on_the_host_only() -> None:
    asked: list[str] = []

    def device_free() -> int:
        asked.append("device")
        return 0

    with pytest.raises(HostOutOfMemory, match=r"device: arrays in host memory; host: 3\.0 GiB"):
        check("numpy", Need(0, 3 * GIB, "array", in_host_memory=True), device_free, constant(GIB))
    with pytest.raises(HostOutOfMemory, match=r"device: nothing to hold; host: 3\.0 GiB"):
        check("cupy", Need(0, 3 * GIB, "fresh host copies"), device_free, constant(GIB))
    assert asked == []


def test_memory_that_cannot_be_read_is_not_checked() -> None:
    check("toy", Need(500 * GIB, 1000 * GIB, "array"), constant(None), constant(None))
    unknown = r"host: 1,000\.0 GiB needed, available memory unknown \(not checked\)"
    with pytest.raises(DeviceOutOfMemory, match=unknown):
        check("toy", Need(500 * GIB, 1000 * GIB, "array"), constant(GIB), constant(None))


def test_meminfo_available(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       24576000 kB\nMemFree:         1000000 kB\n"
        "MemAvailable:   20000000 kB\nBuffers:          100000 kB\n",
        encoding="ascii",
    )
    assert memory_room._meminfo_available(str(meminfo)) == 20_000_000 * 1024
    meminfo.write_text("MemTotal:       24576000 kB\n", encoding="ascii")  # a kernel before 3.14
    assert memory_room._meminfo_available(str(meminfo)) is None
    assert memory_room._meminfo_available(str(tmp_path / "missing")) is None


@pytest.fixture
def fresh_reader() -> object:
    """Forget which reader was picked, before and after the test."""
    memory_room._host_reader.cache_clear()
    yield
    memory_room._host_reader.cache_clear()


@pytest.mark.usefixtures("fresh_reader")
def test_host_memory_comes_from_psutil_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("psutil")
    fake.virtual_memory = lambda: types.SimpleNamespace(available=12345)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "psutil", fake)
    monkeypatch.setattr(memory_room, "_meminfo_available", constant(999))
    assert memory_room.host_available_bytes() == 12345


@pytest.mark.usefixtures("fresh_reader")
def test_host_memory_comes_from_proc_meminfo_without_psutil(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil raises ImportError
    monkeypatch.setattr(memory_room, "_meminfo_available", constant(999))
    assert memory_room.host_available_bytes() == 999


@pytest.mark.usefixtures("fresh_reader")
def test_a_failing_psutil_reads_as_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> object:
        raise OSError("no /proc here")

    fake = types.ModuleType("psutil")
    fake.virtual_memory = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "psutil", fake)
    assert memory_room.host_available_bytes() is None


def test_this_machine_reports_its_host_memory() -> None:
    """The control: on Linux, with or without psutil, the reading is a positive number."""
    if not Path(memory_room.MEMINFO).exists() and "psutil" not in sys.modules:
        pytest.skip("neither /proc/meminfo nor psutil here")
    available = memory_room.host_available_bytes()
    assert available is not None
    assert available > 0
