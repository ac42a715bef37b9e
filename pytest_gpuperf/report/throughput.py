"""Throughput: GB/s and GFLOP/s of a kernel, and its share of the peak memory bandwidth.

A plain module: no pytest. NumPy is imported only to measure the CPU's copy
bandwidth, which happens once per session and only when a test declared bytes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.verdict.record import Throughput

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableSequence, Sequence

    from pytest_gpuperf.verdict.record import KernelRecord

#: Buffer of the CPU copy-bandwidth measurement: well above a laptop's L3, cheap on 2 cores.
COPY_BYTES = 64 * 2**20
#: The best of this many copies counts.
COPY_REPEATS = 4
#: Said when a kernel beats the DRAM peak: its data came from a cache.
CACHE_NOTE = (
    "over 100% of peak: the working set fits in a cache, so memory bandwidth is not the limit"
)


@final
@dataclass(frozen=True)
class Peak:
    """A peak memory bandwidth in bytes/s and where the number came from."""

    bytes_per_s: float
    source: str


def per_second(amount: float | None, median_s: float | None, scale: float = 1e9) -> float | None:
    """``amount`` per call over the median call time, in units of ``scale`` per second."""
    if amount is None or median_s is None or median_s <= 0:
        return None
    return amount / median_s / scale


def gpu_peak_bandwidth(memory_clock_khz: float, bus_width_bits: float) -> float:
    """Theoretical DRAM bandwidth in bytes/s: two transfers per clock over the bus (DDR)."""
    if memory_clock_khz <= 0 or bus_width_bits <= 0:
        raise ValueError(
            f"memory clock and bus width must be positive; got memory_clock_khz="
            f"{memory_clock_khz!r}, bus_width_bits={bus_width_bits!r} (from device_info())"
        )
    return 2.0 * memory_clock_khz * 1e3 * bus_width_bits / 8.0


def gpu_peak(device_info: Mapping[str, object]) -> Peak | None:
    """The GPU's peak from its device attributes, or None when they are missing."""
    clock = device_info.get("memory_clock_khz")
    width = device_info.get("memory_bus_width_bits")
    if not isinstance(clock, (int, float)) or not isinstance(width, (int, float)):
        return None
    if clock <= 0 or width <= 0:
        return None
    bandwidth = gpu_peak_bandwidth(clock, width)
    return Peak(bandwidth, f"GPU {clock / 1e3:g} MHz x {width:g}-bit bus (DDR)")


def copy_bandwidth(
    nbytes: int = COPY_BYTES,
    repeats: int = COPY_REPEATS,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> float:
    """Measured CPU memory bandwidth in bytes/s: best numpy copy, read + write bytes."""
    import numpy as np

    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = clock()
        np.copyto(dst, src)
        best = min(best, (clock() - start) * 1e-9)
    return 2.0 * src.nbytes / max(best, 1e-9)


def cpu_peak(measure: Callable[[], float]) -> Peak:
    """The CPU's peak as a measured copy bandwidth."""
    return Peak(measure(), f"CPU numpy copy of {COPY_BYTES // 2**20} MiB, read + write")


def throughput(
    bytes_per_call: float | None,
    flops_per_call: float | None,
    median_s: float | None,
    peak: Peak | None = None,
) -> Throughput | None:
    """Throughput of one kernel, or None when it declared neither bytes nor flops."""
    if bytes_per_call is None and flops_per_call is None:
        return None
    gb = per_second(bytes_per_call, median_s)
    return Throughput(
        gb_per_s=gb,
        gflop_per_s=per_second(flops_per_call, median_s),
        peak_gb_per_s=peak.bytes_per_s / 1e9 if peak is not None and gb is not None else None,
        peak_source=peak.source if peak is not None and gb is not None else None,
    )


def format_rate(value: float | None) -> str:
    """``12.3``-style text for a rate, ``-`` when unknown."""
    return "-" if value is None else f"{value:.3g}"


def format_percent(value: float | None) -> str:
    """``45.6%``-style text, ``-`` when unknown."""
    return "-" if value is None else f"{value:.1f}%"


@final
@dataclass(frozen=True)
class ThroughputRow:
    """One row of the throughput table, as text cells."""

    test: str
    backend: str
    gb_per_s: str
    gflop_per_s: str
    percent_of_peak: str


def throughput_rows(records: Sequence[KernelRecord]) -> list[ThroughputRow]:
    """Rows for the records that carry a throughput, in test and backend order."""
    rows = [
        ThroughputRow(
            r.test_key,
            r.backend,
            format_rate(t.gb_per_s),
            format_rate(t.gflop_per_s),
            format_percent(t.percent_of_peak),
        )
        for r in records
        if (t := r.throughput) is not None
    ]
    return sorted(rows, key=lambda row: (row.test, row.backend))


def peak_notes(records: Sequence[KernelRecord]) -> list[str]:
    """One line per distinct peak used: ``peak 12.3 GB/s (CPU numpy copy ...)``."""
    seen: dict[str, float] = {}
    for r in records:
        t = r.throughput
        if t is not None and t.peak_source and t.peak_gb_per_s:
            seen.setdefault(t.peak_source, t.peak_gb_per_s)
    notes = [f"peak {gb:.4g} GB/s ({source})" for source, gb in seen.items()]
    if any((r.throughput.percent_of_peak or 0.0) > 100.0 for r in records if r.throughput):
        notes.append(CACHE_NOTE)
    return notes


def throughput_lines(records: Sequence[KernelRecord]) -> list[str]:
    """The terminal's throughput section, empty when no test declared bytes or flops."""
    rows = throughput_rows(records)
    if not rows:
        return []
    header = ("test", "backend", "GB/s", "GFLOP/s", "% of peak")
    cells = [(r.test, r.backend, r.gb_per_s, r.gflop_per_s, r.percent_of_peak) for r in rows]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    lines = ["throughput:"]
    for cell in [header, *cells]:
        lines.append(
            "  " + "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()
        )
    lines.extend("  " + note for note in peak_notes(records))
    return lines


def attach_throughput(
    records: MutableSequence[KernelRecord],
    gpu_backends: frozenset[str],
    device_info: Mapping[str, object],
    measure_cpu: Callable[[], float] | None = None,
) -> None:
    """Replace each record that declared bytes or flops by a copy with its throughput.

    The CPU's copy bandwidth is measured at most once (with ``measure_cpu``,
    default :func:`copy_bandwidth` looked up at call time), and only when a
    record on a CPU backend declared bytes.
    """
    gpu = gpu_peak(device_info)
    cpu: list[Peak] = []
    for index, record in enumerate(records):
        m = record.measurement
        if record.bytes_per_call is None and record.flops_per_call is None:
            continue
        peak: Peak | None
        if m.simulated:
            peak = None
        elif record.backend in gpu_backends:
            peak = gpu
        elif record.bytes_per_call is not None:
            if not cpu:
                cpu.append(cpu_peak(measure_cpu or copy_bandwidth))
            peak = cpu[0]
        else:
            peak = None
        found = throughput(record.bytes_per_call, record.flops_per_call, m.median, peak)
        records[index] = dataclasses.replace(record, throughput=found)
