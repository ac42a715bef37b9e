"""NVML readings, throttle flags and clock locks, on a fake pynvml (and the real one, no driver)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
from fake_nvml import FakeNvml, NVMLError

from pytest_gpuperf.machine import nvml
from pytest_gpuperf.machine.nvml import ClockSnapshot, reason_names, stayed_throttled


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNvml]:
    module = FakeNvml()
    nvml.reset()
    monkeypatch.setattr(nvml, "load_pynvml", lambda: module)
    yield module
    nvml.reset()


def test_reason_names_in_bit_order_with_unknown_bits() -> None:
    assert reason_names(0) == ()
    assert reason_names(None) == ()
    assert reason_names(0x1 | 0x40) == ("gpu_idle", "hw_thermal_slowdown")
    assert reason_names(0x4 | 0x10000) == ("sw_power_cap", "unknown_0x10000")


@pytest.mark.parametrize(
    ("sm", "reasons", "throttled"),
    [
        (1980, 0, False),
        (1500, 0, False),  # 75.8%: not under 75%
        (1480, 0, True),  # 74.7%
        (700, 0x1, False),  # idle, not throttled
        (700, 0x40, True),
        (None, 0x40, False),  # no clock reading: no verdict
    ],
)
def test_a_snapshot_is_throttled_under_75_percent_of_the_max_while_busy(
    sm: int | None, reasons: int, throttled: bool
) -> None:
    assert ClockSnapshot(sm_mhz=sm, reasons=reasons).throttled(1980) is throttled
    assert ClockSnapshot(sm_mhz=sm, reasons=reasons).throttled(None) is False


@pytest.mark.parametrize(
    ("flags", "stayed"),
    [([], False), ([True], True), ([True, False], True), ([True, False, False], False)],
)
def test_stayed_throttled_needs_half_the_samples(flags: list[bool], stayed: bool) -> None:
    assert stayed_throttled(flags) is stayed


def test_status_and_snapshot_from_a_reachable_nvml(fake: FakeNvml) -> None:
    assert nvml.status() == (True, "driver 550.54.15, 1 device(s)")
    gpu = nvml.device("0000:65:00.0")
    assert gpu is not None
    assert gpu.snapshot() == ClockSnapshot(
        sm_mhz=1980, memory_mhz=2619, temperature_c=45, power_w=250.0, reasons=0
    )
    assert nvml.device("0000:65:00.0") is gpu  # cached


def test_a_field_nvml_does_not_support_reads_as_none(fake: FakeNvml) -> None:
    fake.power_mw = None
    gpu = nvml.device(None)
    assert gpu is not None
    assert gpu.snapshot().power_w is None


def test_unknown_bus_id_or_several_gpus_without_one_give_no_device(fake: FakeNvml) -> None:
    assert nvml.device("0000:01:00.0") is None
    fake.count = 2
    fake.bus_ids.append("00000000:66:00.0")
    assert nvml.device(None) is None


def test_missing_pynvml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError("No module named 'pynvml'")

    nvml.reset()
    monkeypatch.setattr(nvml, "load_pynvml", missing)
    try:
        assert nvml.status() == (
            False,
            "pynvml is not installed; pip install 'pytest-gpuperf[nvml]' (nvidia-ml-py)",
        )
        assert nvml.watch(None) is None
    finally:
        nvml.reset()


def test_no_driver_is_a_reason_not_an_error(fake: FakeNvml) -> None:
    fake.init_error = NVMLError("Driver Not Loaded")
    reachable, detail = nvml.status()
    assert not reachable
    assert detail == "nvmlInit failed (NVMLError: Driver Not Loaded); no NVIDIA driver is loaded"
    assert nvml.device(None) is None


def test_real_pynvml_without_a_driver_is_unreachable() -> None:
    if importlib.util.find_spec("pynvml") is None:
        pytest.skip("nvidia-ml-py is not installed")
    nvml.reset()
    try:
        reachable, detail = nvml.status()
    finally:
        nvml.reset()
    if reachable:
        pytest.skip(f"this machine has an NVIDIA driver: {detail}")
    assert detail.startswith("nvmlInit failed (")


@pytest.mark.parametrize(
    ("target", "default", "reasons", "locked"),
    [
        (1980, 1980, 0, False),
        (1410, 1980, 0, True),  # application clocks set below the default
        (1980, 1980, 0x2, True),  # the applications-clocks reason limits the clock
    ],
)
def test_clocks_locked(
    fake: FakeNvml, target: int, default: int, reasons: int, locked: bool
) -> None:
    fake.app_target, fake.app_default, fake.reasons = target, default, reasons
    gpu = nvml.device(None)
    assert gpu is not None
    assert gpu.clocks_locked() is locked


def test_watch_flags_throttled_samples_and_judges_the_measurement(fake: FakeNvml) -> None:
    watch = nvml.watch("0000:65:00.0")
    assert watch is not None
    watch.begin()
    for sm in (1980, 1400, 1300, 1900):
        fake.sm_mhz = sm
        watch.sample_throttled()
    fake.sm_mhz, fake.reasons, fake.temperature = 1350, 0x20, 88
    clocks = watch.end()
    assert (clocks.throttled_samples, clocks.checked_samples) == (2, 4)
    assert clocks.throttled
    assert clocks.before.sm_mhz == 1980
    assert clocks.after.sm_mhz == 1350
    assert clocks.throttle_reasons == ("sw_thermal_slowdown",)
    info = clocks.as_dict()
    assert info["temperature_c_after"] == 88
    assert info["throttle_rule"] == "SM clock under 75% of its maximum"
    assert info["clocks_locked"] is False
    watch.begin()  # a second attempt starts with no flags
    fake.sm_mhz = 1980
    watch.sample_throttled()
    assert not watch.end().throttled


def test_the_per_sample_check_reads_only_the_sm_clock(fake: FakeNvml) -> None:
    gpu = nvml.device(None)
    assert gpu is not None
    gpu.max_sm_mhz()
    before = fake.reads
    gpu.throttled_now()
    assert fake.reads == before + 1


def test_facts_for_the_doctor(fake: FakeNvml) -> None:
    gpu = nvml.device(None)
    assert gpu is not None
    facts = gpu.facts()
    assert facts["name"] == "NVIDIA H200"
    assert facts["max_sm_mhz"] == 1980
    assert facts["memory_total_bytes"] == 141 * 2**30
    assert facts["clocks_locked"] is False
