"""A fake ``pynvml`` for the NVML tests: one GPU whose readings the test sets."""

from __future__ import annotations

import types
from typing import Any

NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_ID_APP_CLOCK_TARGET = 1
NVML_CLOCK_ID_APP_CLOCK_DEFAULT = 2


class NVMLError(Exception):
    """What pynvml raises."""


class FakeNvml(types.SimpleNamespace):
    """The module: set ``sm_mhz``, ``reasons`` etc. on it to change what NVML reports."""

    def __init__(self, **readings: Any) -> None:
        values: dict[str, Any] = {
            "NVML_CLOCK_SM": NVML_CLOCK_SM,
            "NVML_CLOCK_MEM": NVML_CLOCK_MEM,
            "NVML_TEMPERATURE_GPU": NVML_TEMPERATURE_GPU,
            "NVML_CLOCK_ID_APP_CLOCK_TARGET": NVML_CLOCK_ID_APP_CLOCK_TARGET,
            "NVML_CLOCK_ID_APP_CLOCK_DEFAULT": NVML_CLOCK_ID_APP_CLOCK_DEFAULT,
            "NVMLError": NVMLError,
            "init_error": None,
            "count": 1,
            "bus_ids": ["00000000:65:00.0"],
            "sm_mhz": 1980,
            "max_sm_mhz": 1980,
            "mem_mhz": 2619,
            "max_mem_mhz": 2619,
            "temperature": 45,
            "power_mw": 250_000,
            "reasons": 0,
            "app_target": 1980,
            "app_default": 1980,
            "reads": 0,
        }
        values.update(readings)
        super().__init__(**values)

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise self.init_error

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54.15"

    def nvmlDeviceGetCount(self) -> int:
        return int(self.count)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return str(self.bus_ids[index])

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str) -> str:
        for known in self.bus_ids:
            if known.lower().endswith(bus_id.lower().split(":", 1)[1]):
                return str(known)
        raise NVMLError("Not Found")

    def nvmlDeviceGetName(self, handle: str) -> bytes:
        return b"NVIDIA H200"

    def nvmlDeviceGetClockInfo(self, handle: str, kind: int) -> int:
        self.reads += 1
        return int(self.sm_mhz if kind == NVML_CLOCK_SM else self.mem_mhz)

    def nvmlDeviceGetMaxClockInfo(self, handle: str, kind: int) -> int:
        return int(self.max_sm_mhz if kind == NVML_CLOCK_SM else self.max_mem_mhz)

    def nvmlDeviceGetClock(self, handle: str, kind: int, clock_id: int) -> int:
        target = clock_id == NVML_CLOCK_ID_APP_CLOCK_TARGET
        return int(self.app_target if target else self.app_default)

    def nvmlDeviceGetTemperature(self, handle: str, sensor: int) -> int:
        return int(self.temperature)

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        if self.power_mw is None:
            raise NVMLError("Not Supported")
        return int(self.power_mw)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: str) -> int:
        return int(self.reasons)

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:
        return types.SimpleNamespace(total=141 * 2**30, free=140 * 2**30, used=2**30)
