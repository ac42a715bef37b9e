"""pytest-gpuperf: check GPU kernels against NumPy and gate their speedup in CI."""

from __future__ import annotations

from pytest_gpuperf.backends.base import Backend, DeviceOutOfMemory, DeviceTimer, LazyResultError
from pytest_gpuperf.backends.host import HostBackend
from pytest_gpuperf.measure.measurement import Measurement
from pytest_gpuperf.verdict.correctness import MismatchError, assert_matches, default_tolerance
from pytest_gpuperf.verdict.stochastic import within_standard_errors

__all__ = [
    "Backend",
    "DeviceOutOfMemory",
    "DeviceTimer",
    "HostBackend",
    "LazyResultError",
    "Measurement",
    "MismatchError",
    "assert_matches",
    "default_tolerance",
    "within_standard_errors",
]
