"""Clocks, temperature, power and throttling of a GPU through NVML (``pip install '...[nvml]'``).

A plain module: no pytest. ``pynvml`` (from ``nvidia-ml-py``) is imported on
first use, through :func:`load_pynvml`, which tests replace with a fake. NVML
is initialized once per process and left initialized. Every reading is
optional: a missing library, driver or field gives ``None``, never an error.
"""

from __future__ import annotations

import functools
import importlib
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

INSTALL_HINT = "pip install 'pytest-gpuperf[nvml]' (nvidia-ml-py)"
#: A sample is throttled when the SM clock is below this share of its maximum (nvbench's rule).
THROTTLE_RATIO = 0.75
#: A measurement stayed throttled when at least this share of its kernel samples were.
STAYED_THROTTLED = 0.5

#: NVML's clock event ("throttle") reason bits and their names.
REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}
_IDLE = 0x1
_APP_CLOCKS = 0x2


def reason_names(mask: int | None) -> tuple[str, ...]:
    """The names of the bits set in an NVML clock event reason mask."""
    if not mask:
        return ()
    names = [name for bit, name in REASONS.items() if mask & bit]
    unknown = mask & ~sum(REASONS)
    if unknown:
        names.append(f"unknown_0x{unknown:x}")
    return tuple(names)


@final
@dataclass(frozen=True)
class ClockSnapshot:
    """One NVML reading of a GPU; ``None`` where NVML could not say."""

    sm_mhz: int | None = None
    memory_mhz: int | None = None
    temperature_c: int | None = None
    power_w: float | None = None
    reasons: int | None = None

    def throttled(self, max_sm_mhz: int | None) -> bool:
        """True when busy and the SM clock is under :data:`THROTTLE_RATIO` of its maximum."""
        if self.sm_mhz is None or not max_sm_mhz:
            return False
        if self.reasons is not None and self.reasons & _IDLE:
            return False  # an idle GPU drops its clocks; that is not throttling
        return self.sm_mhz < THROTTLE_RATIO * max_sm_mhz


@final
@dataclass(frozen=True)
class Clocks:
    """Clock facts of one GPU measurement: NVML readings before and after, and the verdict.

    ``throttled`` means the measurement stayed throttled: at least half of the
    kernel samples were taken while the SM clock was under 75% of its maximum.
    ``clocks_locked`` is None when NVML cannot tell.
    """

    before: ClockSnapshot
    after: ClockSnapshot
    max_sm_mhz: int | None
    throttled: bool
    clocks_locked: bool | None
    throttled_samples: int = 0
    checked_samples: int = 0
    #: The median of the SM clock read after each sample (MHz), what the gate compares.
    sm_mhz_median: float | None = None

    @property
    def throttle_reasons(self) -> tuple[str, ...]:
        """The reason names seen before or after, in NVML's bit order."""
        return reason_names((self.before.reasons or 0) | (self.after.reasons or 0))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``extra_info.gpuperf.clocks``."""
        return {
            "sm_mhz_before": self.before.sm_mhz,
            "sm_mhz_after": self.after.sm_mhz,
            "memory_mhz_before": self.before.memory_mhz,
            "memory_mhz_after": self.after.memory_mhz,
            "max_sm_mhz": self.max_sm_mhz,
            "temperature_c_before": self.before.temperature_c,
            "temperature_c_after": self.after.temperature_c,
            "power_w_before": self.before.power_w,
            "power_w_after": self.after.power_w,
            "throttle_reasons": list(self.throttle_reasons),
            "throttled": self.throttled,
            "throttled_samples": self.throttled_samples,
            "checked_samples": self.checked_samples,
            "sm_mhz_median": self.sm_mhz_median,
            "clocks_locked": self.clocks_locked,
            "throttle_rule": f"SM clock under {THROTTLE_RATIO:.0%} of its maximum",
        }


def stayed_throttled(flags: Sequence[bool]) -> bool:
    """True when at least :data:`STAYED_THROTTLED` of the checked samples were throttled."""
    return bool(flags) and sum(flags) >= STAYED_THROTTLED * len(flags)


def load_pynvml() -> Any:
    """``pynvml``, imported on first use (replace this function to inject a fake)."""
    return importlib.import_module("pynvml")


@final
@dataclass
class _State:
    """The process's NVML connection: the module, or why there is none."""

    module: Any = None
    error: str | None = None
    devices: dict[str, NvmlDevice | None] = field(default_factory=dict)


_STATE: _State | None = None


def reset() -> None:
    """Forget the NVML connection (tests; a later call connects again)."""
    global _STATE
    _STATE = None


def _connect() -> _State:
    """Import pynvml and call ``nvmlInit`` once; remember a failure as its reason."""
    global _STATE
    if _STATE is not None:
        return _STATE
    state = _State()
    try:
        module = load_pynvml()
    except ImportError:
        state.error = f"pynvml is not installed; {INSTALL_HINT}"
    else:
        try:
            module.nvmlInit()
        except Exception as exc:
            state.error = f"nvmlInit failed ({_error_text(exc)}); no NVIDIA driver is loaded"
        else:
            state.module = module
    _STATE = state
    return state


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def status() -> tuple[bool, str]:
    """Whether NVML is reachable, and the driver version or the reason it is not."""
    state = _connect()
    if state.module is None:
        return False, state.error or "NVML is not reachable"
    try:
        version = _text(state.module.nvmlSystemGetDriverVersion())
        count = int(state.module.nvmlDeviceGetCount())
    except Exception as exc:
        return False, f"NVML answered with an error ({_error_text(exc)})"
    return True, f"driver {version}, {count} device(s)"


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def device(pci_bus_id: str | None) -> NvmlDevice | None:
    """The NVML device at ``pci_bus_id`` (or the only one, when no id is given), cached."""
    state = _connect()
    if state.module is None:
        return None
    key = pci_bus_id or ""
    if key not in state.devices:
        state.devices[key] = _open(state.module, pci_bus_id)
    return state.devices[key]


def _open(module: Any, pci_bus_id: str | None) -> NvmlDevice | None:
    try:
        if pci_bus_id:
            handle = module.nvmlDeviceGetHandleByPciBusId(pci_bus_id)
        elif int(module.nvmlDeviceGetCount()) == 1:
            handle = module.nvmlDeviceGetHandleByIndex(0)
        else:
            return None  # several GPUs and no bus id: better no facts than another GPU's
    except Exception:
        return None
    return NvmlDevice(module, handle)


@final
class NvmlDevice:
    """Readings of one GPU; each returns None for what NVML does not report."""

    def __init__(self, module: Any, handle: Any) -> None:
        self._nvml = module
        self._handle = handle
        self._max_sm: int | None = None

    def _read(self, func: Callable[[], Any]) -> Any:
        try:
            return func()
        except Exception:
            return None

    def _int(self, func: Callable[[], Any]) -> int | None:
        value = self._read(func)
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    def _sm_mhz(self) -> int | None:
        nvml, handle = self._nvml, self._handle
        return self._int(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))

    def snapshot(self) -> ClockSnapshot:
        """SM and memory clocks, temperature, power and the clock event reasons now."""
        nvml, handle = self._nvml, self._handle
        power_mw = self._read(lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        return ClockSnapshot(
            sm_mhz=self._sm_mhz(),
            memory_mhz=self._int(lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_MEM)),
            temperature_c=self._int(
                lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
            ),
            power_w=None if power_mw is None else float(power_mw) / 1000.0,
            reasons=self._reasons(),
        )

    def _reasons(self) -> int | None:
        nvml, handle = self._nvml, self._handle
        # The event-reason getter replaced the throttle-reason one in newer drivers.
        for name in (
            "nvmlDeviceGetCurrentClocksEventReasons",
            "nvmlDeviceGetCurrentClocksThrottleReasons",
        ):
            func: Callable[[Any], Any] | None = getattr(nvml, name, None)
            value = None if func is None else self._int(functools.partial(func, handle))
            if value is not None:
                return value
        return None

    def max_sm_mhz(self) -> int | None:
        """The SM clock's maximum (boost) in MHz."""
        if self._max_sm is None:
            nvml, handle = self._nvml, self._handle
            self._max_sm = self._int(
                lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM)
            )
        return self._max_sm

    def throttled_now(self) -> bool:
        """Two cheap readings: is the SM clock under 75% of its maximum while busy?"""
        return self.sm_reading()[0]

    def sm_reading(self) -> tuple[bool, int | None]:
        """Whether the GPU is throttled now, and the SM clock (MHz) that tells."""
        now = ClockSnapshot(sm_mhz=self._sm_mhz(), reasons=self._reasons())
        return now.throttled(self.max_sm_mhz()), now.sm_mhz

    def clocks_locked(self) -> bool | None:
        """True when application clocks differ from their default or limit the clocks now.

        NVML has no getter for ``nvidia-smi --lock-gpu-clocks``; this reads the
        application-clock target against its default and the
        ``applications_clocks_setting`` event reason. None when neither is readable.
        """
        nvml, handle = self._nvml, self._handle

        def app_clock(clock_id_name: str) -> int | None:
            clock_id = getattr(nvml, clock_id_name)
            return self._int(lambda: nvml.nvmlDeviceGetClock(handle, nvml.NVML_CLOCK_SM, clock_id))

        target = app_clock("NVML_CLOCK_ID_APP_CLOCK_TARGET")
        default = app_clock("NVML_CLOCK_ID_APP_CLOCK_DEFAULT")
        reasons = self._reasons()
        if reasons is not None and reasons & _APP_CLOCKS:
            return True
        if target is not None and default is not None:
            return target != default
        return None if reasons is None else False

    def facts(self) -> dict[str, Any]:
        """Name, clocks, memory, temperature and power, for ``gpuperf doctor``."""
        nvml, handle = self._nvml, self._handle
        snap = self.snapshot()
        memory = self._read(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        return {
            "name": self._read(lambda: _text(nvml.nvmlDeviceGetName(handle))),
            "sm_mhz": snap.sm_mhz,
            "max_sm_mhz": self.max_sm_mhz(),
            "memory_mhz": snap.memory_mhz,
            "max_memory_mhz": self._int(
                lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_MEM)
            ),
            "memory_total_bytes": None if memory is None else int(memory.total),
            "temperature_c": snap.temperature_c,
            "power_w": snap.power_w,
            "throttle_reasons": list(reason_names(snap.reasons)),
            "clocks_locked": self.clocks_locked(),
        }


@final
class ClockWatch:
    """NVML readings around one measurement and a throttle check after each sample."""

    def __init__(self, gpu: NvmlDevice) -> None:
        self._gpu = gpu
        self._before = ClockSnapshot()
        self.flags: list[bool] = []
        #: The SM clock read after each sample, MHz.
        self.sm_mhz: list[int] = []

    def begin(self) -> None:
        """Read the clocks before the measurement."""
        self._before = self._gpu.snapshot()
        self.flags = []
        self.sm_mhz = []

    def sample_throttled(self) -> bool:
        """Check the clock after a sample (outside its timing) and remember the flag."""
        flag, sm_mhz = self._gpu.sm_reading()
        self.flags.append(flag)
        if sm_mhz is not None:
            self.sm_mhz.append(sm_mhz)
        return flag

    def end(self) -> Clocks:
        """Read the clocks after the measurement and judge whether it stayed throttled."""
        return Clocks(
            before=self._before,
            after=self._gpu.snapshot(),
            max_sm_mhz=self._gpu.max_sm_mhz(),
            throttled=stayed_throttled(self.flags),
            clocks_locked=self._gpu.clocks_locked(),
            throttled_samples=sum(self.flags),
            checked_samples=len(self.flags),
            sm_mhz_median=statistics.median(self.sm_mhz) if self.sm_mhz else None,
        )


def watch(pci_bus_id: str | None) -> ClockWatch | None:
    """A :class:`ClockWatch` for the GPU at ``pci_bus_id``, or None without NVML."""
    gpu = device(pci_bus_id)
    return None if gpu is None else ClockWatch(gpu)
