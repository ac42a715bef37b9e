"""Calibrate the workload in this process: the array size and the slowed variants.

The kernel is tuned to about 1 ms; each slowed variant adds a redundant pass over
``extra`` elements, and ``extra`` is adjusted until the measured slowdown (kernel
time of the variant over the unchanged kernel, interleaved pairs) is the nominal one.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

PROJECT = Path(__file__).resolve().parent / "project"
NOMINAL_RATIOS = (1.05, 1.15, 1.20, 1.50)


@dataclass(frozen=True)
class Variant:
    """One slowed variant: its nominal and measured slowdown and the extra pass length."""

    nominal: float
    extra: int
    fraction: float
    measured: float
    pairs: int


@dataclass(frozen=True)
class Calibration:
    """The workload as calibrated for this run."""

    n: int
    kernel_median_s: float
    parallel_median_s: float
    reference_median_s: float
    variants: tuple[Variant, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict`."""
        variants = tuple(Variant(**v) for v in data["variants"])
        return cls(**{**data, "variants": variants})

    def extra_for(self, nominal: float) -> int:
        """The redundant pass length of the variant with this nominal slowdown."""
        if nominal == 1.0:
            return 0
        return next(v.extra for v in self.variants if v.nominal == nominal)


def kernels() -> ModuleType:
    """The workload module of the bench project (``bench/project/bench_kernels.py``)."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import bench_kernels

    return bench_kernels


def _time_call(func: Any, args: tuple[Any, ...]) -> float:
    start = time.perf_counter_ns()
    func(*args)
    return (time.perf_counter_ns() - start) * 1e-9


def median_call_s(func: Any, args: tuple[Any, ...], reps: int) -> float:
    """Median wall time of ``reps`` single calls (after one warm-up call)."""
    func(*args)
    return statistics.median(_time_call(func, args) for _ in range(reps))


def slowdown(n: int, extra: int, pairs: int) -> float:
    """Median over interleaved pairs of t(variant) / t(unchanged), order flipped every pair."""
    bk = kernels()
    a, out, scratch = bk.host_inputs(n)
    base_args = (a, out, scratch, 0)
    slow_args = (a, out, scratch, extra)
    bk.serial(*base_args)
    ratios = []
    for i in range(pairs):
        if i % 2:
            slow = _time_call(bk.serial, slow_args)
            base = _time_call(bk.serial, base_args)
        else:
            base = _time_call(bk.serial, base_args)
            slow = _time_call(bk.serial, slow_args)
        ratios.append(slow / base)
    return statistics.median(ratios)


def calibrate(target_s: float = 1e-3, pairs: int = 200, log: Any = print) -> Calibration:
    """Choose N for a ~``target_s`` kernel, then the extra pass of each variant."""
    bk = kernels()
    probe = 100_000
    a, out, scratch = bk.host_inputs(probe)
    per_element = median_call_s(bk.serial, (a, out, scratch, 0), 50) / probe
    n = max(16_384, min(8_388_608, round(target_s / per_element / 1024) * 1024))
    a, out, scratch = bk.host_inputs(n)
    args = (a, out, scratch, 0)
    kernel_s = median_call_s(bk.serial, args, 100)
    parallel_s = median_call_s(bk.parallel, args, 100)
    reference_s = median_call_s(bk.reference, args, 100)
    log(f"calibrate: N={n}, kernel {kernel_s * 1e3:.3f} ms, reference {reference_s * 1e3:.3f} ms")
    half = slowdown(n, n // 2, pairs)
    per_extra = max((half - 1) / (n // 2), 1e-12)
    variants = []
    for nominal in NOMINAL_RATIOS:
        extra = max(1, min(n, round((nominal - 1) / per_extra)))
        measured = slowdown(n, extra, pairs)
        for _ in range(2):
            if abs(measured - nominal) <= 0.005 or measured <= 1:
                break
            extra = max(1, min(n, round(extra * (nominal - 1) / (measured - 1))))
            measured = slowdown(n, extra, pairs)
        log(
            f"calibrate: x{nominal:.2f} -> extra {extra} ({extra / n:.3f} N), "
            f"measured x{measured:.3f}"
        )
        variants.append(Variant(nominal, extra, extra / n, measured, pairs))
    return Calibration(n, kernel_s, parallel_s, reference_s, tuple(variants))


def main() -> None:
    """Calibrate in a fresh process; the calibration as JSON on the last stdout line."""
    calibration = calibrate(log=lambda text: print(text, file=sys.stderr, flush=True))
    print(json.dumps(calibration.to_dict()))


if __name__ == "__main__":
    main()
