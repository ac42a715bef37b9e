"""``gpuperf doctor``: what this machine can time, and what is broken.

Never imports pytest. It imports the GPU libraries (that is its job), each in a
guard. A check's status is one of:

- ``ok``: works;
- ``simulator``: ``numba_cuda`` runs on Numba's CUDA simulator (correctness only);
- ``unavailable``: not installed, or no GPU or driver here; a fact, not a fault;
- ``broken``: an installed library fails to import, a GPU that NVML sees is
  invisible to a backend, a tiny kernel fails or returns wrong values
  (:mod:`~pytest_gpuperf.machine.launch_checks`), or CUDA events disagree with the
  wall clock.

The exit status is 1 when any check is broken, else 0.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.machine import event_check, facts, launch_checks, nvml

if TYPE_CHECKING:
    pass

GPU_INSTALL = "pip install 'pytest-gpuperf[cuda12]'"


@final
@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    fix: str = ""


@final
@dataclass
class Report:
    """Everything ``gpuperf doctor`` found."""

    backends: list[Check] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    simulator: Check = field(default_factory=lambda: Check("simulator", "unavailable", ""))
    nvml: Check = field(default_factory=lambda: Check("nvml", "unavailable", ""))
    event_timing: Check = field(default_factory=lambda: Check("event timing", "unavailable", ""))

    def checks(self) -> list[Check]:
        """Every check, in report order."""
        return [*self.backends, self.simulator, self.nvml, self.event_timing]

    @property
    def broken(self) -> list[Check]:
        """The checks that found something broken."""
        return [check for check in self.checks() if check.status == "broken"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``gpuperf doctor --json``."""
        data = asdict(self)
        data["ok"] = not self.broken
        data["broken"] = [check.name for check in self.broken]
        return data


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _import(module: str) -> tuple[Any, str | None]:
    """The module, or None and why it failed (None, None when it is not installed)."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        return None, None
    try:
        return importlib.import_module(module), None
    except Exception as exc:
        return None, _error(exc)


def _nvml_gpus() -> int:
    """How many GPUs NVML sees (0 without NVML)."""
    reachable, detail = nvml.status()
    if not reachable:
        return 0
    try:
        return int(detail.split(", ")[1].split(" ")[0])
    except (IndexError, ValueError):
        return 0


def _host_check(name: str, module: str) -> Check:
    lib, error = _import(module)
    if error is not None:
        return Check(
            name,
            "broken",
            f"{module} is installed but fails to import ({error})",
            f"reinstall it: pip install --force-reinstall {module}",
        )
    if lib is None:
        return Check(name, "unavailable", f"{module} is not installed", f"pip install {module}")
    return Check(name, "ok", f"{module} {getattr(lib, '__version__', '?')}")


def _no_device(name: str, detail: str, gpus: int) -> Check:
    """Unavailable without a GPU; broken when NVML sees one that the library does not."""
    if gpus:
        return Check(
            name,
            "broken",
            f"{detail}, but NVML sees {gpus} GPU(s)",
            f"the library cannot reach the driver: {GPU_INSTALL} (CUDA 12 libraries)",
        )
    return Check(name, "unavailable", detail, f"run on a GPU runner with {GPU_INSTALL}")


def numba_cuda_check(gpus: int) -> Check:
    """``numba_cuda``: simulator, device, or why neither."""
    if importlib.util.find_spec("numba") is None:
        return Check("numba_cuda", "unavailable", "numba is not installed", GPU_INSTALL)
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return Check(
            "numba_cuda",
            "simulator",
            "NUMBA_ENABLE_CUDASIM=1: kernels run on the "
            "CUDA simulator (correctness only, never timed)",
        )
    cuda, error = _import("numba.cuda")
    if error is not None:
        return Check("numba_cuda", "broken", f"numba.cuda fails to import ({error})", GPU_INSTALL)
    try:
        available = bool(cuda.is_available())
    except Exception as exc:
        return Check(
            "numba_cuda", "broken", f"numba.cuda.is_available() raised ({_error(exc)})", GPU_INSTALL
        )
    if not available:
        return _no_device(
            "numba_cuda", "installed, no CUDA driver or device (driver missing)", gpus
        )
    return Check("numba_cuda", "ok", f"device: {cuda.get_current_device().name!s}")


def cupy_check(gpus: int) -> Check:
    """``cupy``: a device, or why not."""
    cupy, error = _import("cupy")
    if error is not None:
        return Check(
            "cupy",
            "broken",
            f"cupy is installed but fails to import ({error})",
            "reinstall the cupy-cudaXXx wheel that matches your CUDA",
        )
    if cupy is None:
        return Check("cupy", "unavailable", "cupy is not installed", GPU_INSTALL)
    try:
        available = bool(cupy.is_available())
    except Exception as exc:  # CuPy before 14 raises where 14 says False (no driver)
        detail = f"cupy {cupy.__version__} installed, no device ({_error(exc)})"
        return _no_device("cupy", detail, gpus)
    if not available:
        return _no_device("cupy", f"cupy {cupy.__version__} installed, no device", gpus)
    return Check(
        "cupy", "ok", f"cupy {cupy.__version__}, {cupy.cuda.runtime.getDeviceCount()} device(s)"
    )


def _opt_in_checks() -> list[Check]:
    """torch, jax and dask: only those that are installed."""
    from pytest_gpuperf.backends.dask_backend import DaskBackend
    from pytest_gpuperf.backends.jax_backend import JaxBackend
    from pytest_gpuperf.backends.torch_backend import TorchBackend

    checks = []
    for backend, module in (
        (TorchBackend(), "torch"),
        (JaxBackend(), "jax"),
        (DaskBackend(), "dask"),
    ):
        if importlib.util.find_spec(module) is None:
            continue
        reason = backend.available()
        if reason is None:
            checks.append(Check(backend.name, "ok", backend.device))
        else:
            status = "broken" if "failed to import" in reason else "unavailable"
            checks.append(Check(backend.name, status, reason))
    return checks


def cuda_versions() -> dict[str, str]:
    """CUDA driver and runtime versions, from CuPy or numba-cuda, where a driver answers."""
    versions: dict[str, str] = {}
    cupy, _ = _import("cupy")
    if cupy is not None:
        runtime = cupy.cuda.runtime
        for key, read in (
            ("cuda_driver", runtime.driverGetVersion),
            ("cuda_runtime", runtime.runtimeGetVersion),
        ):
            try:
                value = int(read())
            except Exception:
                continue
            if value:
                versions[key] = f"{value // 1000}.{(value % 1000) // 10}"
    return versions


def device_facts() -> list[dict[str, Any]]:
    """Each CUDA device: name, compute capability, memory, clocks, L2 (CuPy, then NVML)."""
    cupy, _ = _import("cupy")
    if cupy is None:
        return []
    try:
        if not cupy.is_available():
            return []
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return []
    devices = []
    for index in range(count):
        props = cupy.cuda.runtime.getDeviceProperties(index)
        name = props["name"]
        facts: dict[str, Any] = {
            "index": index,
            "name": name.decode(errors="replace") if isinstance(name, bytes) else str(name),
            "compute_capability": f"{props['major']}.{props['minor']}",
            "memory_bytes": int(props["totalGlobalMem"]),
            "sm_clock_mhz": int(props["clockRate"]) // 1000,
            "memory_clock_mhz": int(props["memoryClockRate"]) // 1000,
            "l2_cache_bytes": int(props["l2CacheSize"]),
        }
        try:
            bus = str(cupy.cuda.Device(index).pci_bus_id)
        except Exception:
            bus = None
        gpu = nvml.device(bus) if bus else None
        if gpu is not None:
            facts["nvml"] = gpu.facts()
        devices.append(facts)
    return devices


def event_timing_check(report: Report) -> Check:
    """Run the spin kernel on CuPy when it has a device (CUDA C through NVRTC)."""
    cupy = next((c for c in report.backends if c.name == "cupy"), None)
    if cupy is None or cupy.status != "ok":
        return Check("event timing", "unavailable", "no CUDA device for CuPy to run the check on")
    try:
        launch, synchronize, timer = event_check.cupy_spin()
        ok, detail = event_check.check_event_timing(
            launch, synchronize, timer, expected_s=event_check.SPIN_S
        )
    except Exception as exc:
        return Check(
            "event timing",
            "broken",
            f"the spin kernel failed ({_error(exc)})",
            "CuPy cannot compile or run kernels: pip install 'cupy-cuda12x[ctk]'",
        )
    if ok:
        return Check("event timing", "ok", detail)
    fix = "CUDA events do not time the kernel; check the driver and the library"
    return Check("event timing", "broken", detail, fix)


def simulator_check() -> Check:
    """The simulator's state: variable set, and whether numba read it."""
    wanted = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if not wanted:
        return Check(
            "simulator",
            "unavailable",
            "off (NUMBA_ENABLE_CUDASIM is not 1)",
            "set NUMBA_ENABLE_CUDASIM=1 before Python starts to check numba_cuda "
            "kernels without a GPU",
        )
    numba, error = _import("numba")
    if error is not None or numba is None:
        return Check(
            "simulator",
            "broken",
            f"NUMBA_ENABLE_CUDASIM=1 but numba fails ({error})",
            "pip install numba numba-cuda",
        )
    if not numba.config.ENABLE_CUDASIM:
        return Check(
            "simulator",
            "broken",
            "NUMBA_ENABLE_CUDASIM=1 but numba did not read it",
            "set it before Python starts",
        )
    return Check("simulator", "simulator", "on: numba_cuda kernels run on the CUDA simulator")


def nvml_check() -> Check:
    """Whether NVML answers (clocks, throttling, temperature)."""
    reachable, detail = nvml.status()
    if reachable:
        return Check("nvml", "ok", detail)
    fix = nvml.INSTALL_HINT if "not installed" in detail else "needs an NVIDIA driver"
    return Check("nvml", "unavailable", detail, fix)


def launched(check: Check) -> Check:
    """A GPU backend that looks usable must also run a tiny kernel and get it right."""
    if check.status not in ("ok", "simulator"):
        return check
    result = launch_checks.launch(check.name, simulated=check.status == "simulator")
    if result is None:  # no GPU kernel to launch: a host backend, or torch without CUDA
        return check
    if not result.ok:
        return Check(check.name, "broken", result.detail, result.fix)
    return Check(check.name, check.status, f"{check.detail}; {result.detail}", check.fix)


def diagnose() -> Report:
    """Run every check."""
    gpus = _nvml_gpus()
    report = Report(nvml=nvml_check(), simulator=simulator_check())
    backends = [numba_cuda_check(gpus), cupy_check(gpus), *_opt_in_checks()]
    report.backends = [
        _host_check("numpy", "numpy"),
        _host_check("numba", "numba"),
        *(launched(check) for check in backends),
    ]
    report.versions = {**facts.library_versions(), **cuda_versions()}
    report.devices = device_facts()
    report.event_timing = event_timing_check(report)
    return report


def render(report: Report) -> list[str]:
    """The report as text lines."""
    lines = ["backends:"]
    lines += [_line(check) for check in report.backends]
    lines.append("versions:")
    lines += [f"  {name} {version}" for name, version in report.versions.items()]
    lines.append("devices:" if report.devices else "devices: none visible")
    for dev in report.devices:
        lines.append(
            f"  [{dev['index']}] {dev['name']} (cc {dev['compute_capability']}), "
            f"{dev['memory_bytes'] / 2**30:.1f} GiB, SM {dev['sm_clock_mhz']} MHz, memory "
            f"{dev['memory_clock_mhz']} MHz, L2 {dev['l2_cache_bytes'] / 2**20:g} MiB"
        )
        if "nvml" in dev:
            facts = dev["nvml"]
            lines.append(
                f"      now: SM {facts['sm_mhz']}/{facts['max_sm_mhz']} MHz, "
                f"{facts['temperature_c']} C, {facts['power_w']} W, clocks locked: "
                f"{facts['clocks_locked']}, reasons: {', '.join(facts['throttle_reasons']) or '-'}"
            )
    lines.append("checks:")
    lines += [_line(report.simulator), _line(report.nvml), _line(report.event_timing)]
    broken = report.broken
    lines.append(
        f"BROKEN: {', '.join(check.name for check in broken)}"
        if broken
        else "nothing broken: what is unavailable here needs a GPU or an install"
    )
    return lines


def _line(check: Check) -> str:
    fix = f" -> {check.fix}" if check.fix and check.status != "ok" else ""
    return f"  {check.name}: {check.status}: {check.detail}{fix}"
