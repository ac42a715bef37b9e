"""Which CUDA device each pytest-xdist worker measures on, decided without starting CUDA.

A plain module: no pytest, no CUDA library. The controller lists the devices
(``--gpuperf-devices``, else every visible one) and hands them to the workers
through the environment; each worker keeps one, in turn by its worker number,
in ``CUDA_VISIBLE_DEVICES`` before any CUDA library starts in it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping, Sequence

#: The variable CUDA reads, once, when the driver starts in a process.
CUDA_ENV = "CUDA_VISIBLE_DEVICES"
#: Set by the controller for its workers: the devices to spread them over, comma-separated.
WORKER_DEVICES_ENV = "PYTEST_GPUPERF_WORKER_DEVICES"
#: Set by pytest-xdist in each worker: ``gw0``, ``gw1``, ...
XDIST_WORKER_ENV = "PYTEST_XDIST_WORKER"

_GPU_LINE = re.compile(r"^GPU \d+:")


def _nvml_count() -> int | None:
    """The GPU count from NVML (``pip install nvidia-ml-py``), or None without it."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        try:
            return int(pynvml.nvmlDeviceGetCount())
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # no driver: NVML raises its own NVMLError types
        return None


def _nvidia_smi_count() -> int | None:
    """The GPU count from ``nvidia-smi -L``, or None when it is missing or fails."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "-L"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return sum(1 for line in done.stdout.splitlines() if _GPU_LINE.match(line.strip()))


def visible_devices(
    environ: Mapping[str, str] | None = None,
    counters: Sequence[Callable[[], int | None]] = (_nvml_count, _nvidia_smi_count),
) -> tuple[str, ...]:
    """The devices this process may hand out, without initializing CUDA.

    ``CUDA_VISIBLE_DEVICES`` when it is set (its tokens as written; empty means
    none), else ``0 .. N-1`` with N from NVML or ``nvidia-smi -L``; none when
    neither can tell.
    """
    env = os.environ if environ is None else environ
    if CUDA_ENV in env:
        return tuple(token.strip() for token in env[CUDA_ENV].split(",") if token.strip())
    for count in counters:
        found = count()
        if found is not None:
            return tuple(str(index) for index in range(found))
    return ()


def worker_number(worker_id: str) -> int | None:
    """``gw3`` -> 3; None for an id without a trailing number."""
    match = re.search(r"(\d+)$", worker_id)
    return int(match[1]) if match else None


def device_for(worker_id: str, devices: Sequence[str]) -> str | None:
    """The device of a worker: the devices in turn by worker number (``gw4`` of 4 -> the first)."""
    number = worker_number(worker_id)
    if not devices or number is None:
        return None
    return devices[number % len(devices)]


def bind_worker(environ: MutableMapping[str, str] | None = None) -> str | None:
    """In an xdist worker, keep only this worker's device visible; return it (None: no change).

    Reads the list the controller left in :data:`WORKER_DEVICES_ENV`; must run
    before any CUDA library starts in the process.
    """
    env = os.environ if environ is None else environ
    listed = env.get(WORKER_DEVICES_ENV)
    worker = env.get(XDIST_WORKER_ENV)
    if not listed or not worker:
        return None
    device = device_for(worker, listed.split(","))
    if device is not None:
        env[CUDA_ENV] = device
    return device
