"""Facts about the machine a run happened on, and a fingerprint to match baselines by.

Never imports pytest, NumPy, Numba or CuPy: versions come from package metadata.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pytest_gpuperf.backends.registry import BackendRegistry

#: Distributions whose versions matter for kernel timings, in report order.
TRACKED_DISTRIBUTIONS = (
    "numpy",
    "numba",
    "numba-cuda",
    "llvmlite",
    "cupy-cuda12x",
    "pytest-gpuperf",
)

_CPUINFO = "/proc/cpuinfo"


def cpu_model(cpuinfo_path: str = _CPUINFO) -> str:
    """The CPU's marketing name, e.g. ``"AMD EPYC 7B13"``."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name" and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _normalize(name: str) -> str:
    """PEP 503 name normalization, so ``Numba_CUDA`` and ``numba-cuda`` match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def library_versions() -> dict[str, str]:
    """Versions of the tracked libraries and of any ``cupy*`` wheel that is installed.

    Reads package metadata only; nothing is imported. Missing libraries are left out.
    """
    installed: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed.setdefault(_normalize(name), dist.version)
    versions = {name: installed[name] for name in TRACKED_DISTRIBUTIONS if name in installed}
    for name in sorted(installed):
        if name.startswith("cupy") and name not in versions:
            versions[name] = installed[name]
    return versions


def machine_info(gpu_info: Mapping[str, object] | None = None) -> dict[str, object]:
    """Host facts, plus the GPU facts of a backend's ``device_info()`` when given.

    GPU keys never replace a host key of the same name.
    """
    info: dict[str, object] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "system": platform.system(),
    }
    for key, value in (gpu_info or {}).items():
        info.setdefault(key, value)
    return info


def _major(version: object) -> str | None:
    """Major part of ``"12.4"``, ``(12, 4)`` or CUDA's ``12040`` encoding."""
    if version is None or version == "":
        return None
    if isinstance(version, tuple | list):
        return str(version[0]) if version else None
    if isinstance(version, int):
        return str(version // 1000) if version >= 1000 else str(version)
    return str(version).split(".", 1)[0].strip() or None


def fingerprint(info: Mapping[str, object]) -> str:
    """A readable key for "same hardware": CPU model and count, GPU model and cc, CUDA majors.

    Examples: ``"AMD EPYC 7B13 x2 | no GPU"`` and
    ``"AMD EPYC 7B13 x16 | NVIDIA H100 80GB HBM3 cc9.0 | cuda 12/12"``. The CPU count
    matters because ``prange`` speedups scale with it. The hostname, minor
    CUDA versions and the Python patch version are deliberately left out.
    """
    cpu = str(info.get("cpu") or "unknown CPU")
    count = info.get("cpu_count")
    parts = [f"{cpu} x{count}" if count else cpu]
    gpu = info.get("gpu")
    if not gpu:
        parts.append("no GPU")
        return " | ".join(parts)
    cc = info.get("compute_capability")
    parts.append(f"{gpu} cc{cc}" if cc else str(gpu))
    runtime = _major(info.get("cuda_runtime"))
    driver = _major(info.get("cuda_driver"))
    if runtime or driver:
        parts.append(f"cuda {runtime or '?'}/{driver or '?'}")
    return " | ".join(parts)


def gpu_info(registry: BackendRegistry, wanted: tuple[str, ...] | None) -> dict[str, object]:
    """Device facts of the first selected, available, real GPU backend."""
    for name in registry.select(wanted):
        backend = registry.get(name)
        # Availability first: torch and jax learn whether they are on a GPU there.
        if registry.unavailable_reason(name) is None and backend.is_gpu and not backend.simulated:
            try:
                return backend.device_info()
            except Exception:  # facts are optional; never fail a run over them
                continue
    return {}


def clocks_locked(registry: BackendRegistry, wanted: tuple[str, ...] | None) -> bool | None:
    """Whether the first selected, available, real GPU's clocks are locked (NVML), or None."""
    for name in registry.select(wanted):
        backend = registry.get(name)
        if registry.unavailable_reason(name) is None and backend.is_gpu and not backend.simulated:
            from pytest_gpuperf.backends.base import WithDefaults
            from pytest_gpuperf.machine import nvml

            gpu = nvml.device(WithDefaults(backend).pci_bus_id())
            return gpu.clocks_locked() if gpu is not None else None
    return None
