"""The GPU-time, clock and memory sections of the terminal summary, Markdown and JSON.

A plain module: no pytest, no numpy. Rows come from the records' measurements;
each section is empty when no record has what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

from pytest_gpuperf.report.table import format_seconds
from pytest_gpuperf.text import format_bytes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.measure.measurement import Measurement
    from pytest_gpuperf.verdict.record import KernelRecord

#: Which time the speedup and the gate use, said under the GPU-time table.
GATE_TIME_NOTE = (
    "the speedup uses the wall time (host clock, one device synchronize per call); GPU batch "
    "is from CUDA events around queued launches, back to back: the device time that the gate "
    "judges; launch+sync is wall minus batch; GPU isolated is from events around one call on "
    "an idle GPU, as cupyx.profiler.benchmark reports it: it adds the launch latency and the "
    "gaps between one call's kernels"
)


@final
@dataclass(frozen=True)
class GpuTimeRow:
    """One row of the GPU-time table, as text cells."""

    test: str
    backend: str
    wall: str
    gpu: str
    isolated: str
    launch: str
    clocks: str


@final
@dataclass(frozen=True)
class MemoryRow:
    """One row of the memory table, as text cells."""

    test: str
    backend: str
    device: str
    host: str


def clocks_text(m: Measurement) -> str:
    """``1980 MHz, 45 C`` after the run, or how many samples were throttled; ``-`` unknown."""
    clocks = m.clocks
    if clocks is None:
        return "-"
    parts = []
    if clocks.after.sm_mhz is not None:
        top = f"/{clocks.max_sm_mhz}" if clocks.max_sm_mhz else ""
        parts.append(f"SM {clocks.after.sm_mhz}{top} MHz")
    if clocks.after.temperature_c is not None:
        parts.append(f"{clocks.after.temperature_c} C")
    if clocks.throttled_samples:
        state = "THROTTLED" if clocks.throttled else "throttled"
        parts.append(f"{state} {clocks.throttled_samples}/{clocks.checked_samples} samples")
    if clocks.clocks_locked:
        parts.append("locked")
    return ", ".join(parts) or "-"


def gpu_time_rows(records: Sequence[KernelRecord]) -> list[GpuTimeRow]:
    """Rows for the records that have CUDA-event times, in test and backend order."""
    rows = [
        GpuTimeRow(
            r.test_key,
            r.backend,
            format_seconds(m.median),
            format_seconds(m.device_median),
            format_seconds(m.isolated_median),
            format_seconds(m.launch_overhead),
            clocks_text(m),
        )
        for r in records
        if (m := r.measurement).device_median is not None
    ]
    return sorted(rows, key=lambda row: (row.test, row.backend))


def _device_text(m: Measurement) -> str:
    peaks = m.memory
    if peaks is None or peaks.device_peak_bytes is None:
        return "-"
    text = format_bytes(peaks.device_peak_bytes)
    return f"{text} (simulated)" if peaks.simulated else text


def memory_rows(records: Sequence[KernelRecord]) -> list[MemoryRow]:
    """Rows for the records whose memory was measured, in test and backend order."""
    rows = [
        MemoryRow(r.test_key, r.backend, _device_text(m), format_bytes(m.memory.host_peak_bytes))
        for r in records
        if (m := r.measurement).memory is not None
    ]
    return sorted(rows, key=lambda row: (row.test, row.backend))


def memory_notes(records: Sequence[KernelRecord]) -> list[str]:
    """Where each device number came from, once per source, and the host source."""
    sources: dict[str, None] = {}
    for r in records:
        peaks = r.measurement.memory
        if peaks is not None and peaks.device_peak_bytes is not None:
            sources.setdefault(f"device: {peaks.device_source}", None)
    if any(r.measurement.memory is not None for r in records):
        sources.setdefault(
            "host: tracemalloc (Python and NumPy allocations); peaks are above what was in use "
            "when the call started",
            None,
        )
    return list(sources)


def _table(header: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip()
        for cell in [header, *cells]
    ]


GPU_TIME_HEADER = (
    "test", "backend", "wall/call", "GPU batch", "GPU isolated", "launch+sync", "clocks",
)  # fmt: skip
MEMORY_HEADER = ("test", "backend", "device peak", "host peak")


def gpu_time_cells(row: GpuTimeRow) -> tuple[str, ...]:
    """A GPU-time row's cells, in header order."""
    return (row.test, row.backend, row.wall, row.gpu, row.isolated, row.launch, row.clocks)


def memory_cells(row: MemoryRow) -> tuple[str, ...]:
    """A memory row's cells, in header order."""
    return (row.test, row.backend, row.device, row.host)


def gpu_report_lines(records: Sequence[KernelRecord], *, verbose: bool = False) -> list[str]:
    """The terminal's GPU-time and memory sections, each preceded by a blank line.

    The memory section lists the rows with a device peak; ``-v`` lists the host-only
    rows of CPU backends too (the JSON and Markdown reports always hold every row).
    """
    lines: list[str] = []
    times = gpu_time_rows(records)
    if times:
        lines += ["", "gpu time:", *_table(GPU_TIME_HEADER, [gpu_time_cells(r) for r in times])]
        lines.append(f"  {GATE_TIME_NOTE}")
    shown = [
        r
        for r in records
        if verbose or (r.measurement.memory and r.measurement.memory.device_peak_bytes is not None)
    ]
    peaks = memory_rows(shown)
    if peaks:
        lines += ["", "memory (peak of one call):"]
        lines += _table(MEMORY_HEADER, [memory_cells(r) for r in peaks])
        lines += [f"  {note}" for note in memory_notes(shown)]
        hidden = len(memory_rows(records)) - len(peaks)
        if hidden:
            lines.append(f"  {hidden} host-only row(s) of CPU backends: see -v or the reports")
    return lines


def gate_uses(judged_on: str) -> str:
    """Which of the GPU times the verdict compared: ``batch``, ``wall`` or both.

    ``judged_on`` is the verdict's (``CUDA-event time``, ``speedup``, ``wall time``, or
    two of them joined by ``and``); a speedup and a wall time are wall-clock figures.
    """
    uses = ["batch" if "CUDA-event" in part else "wall" for part in judged_on.split(" and ")]
    return " and ".join(dict.fromkeys(uses)) if judged_on else "wall"


def gpu_json(m: Measurement, judged_on: str = "") -> dict[str, Any]:
    """``extra_info.gpuperf`` fields: ``gpu_time``, ``clocks`` and ``memory`` (null when absent).

    ``judged_on`` is what the verdict judged, for ``gpu_time.gate_uses``.
    """
    gpu_time = None
    if m.device_median is not None:
        isolated = m.kernel.isolated_ns if m.kernel is not None else None
        gpu_time = {
            "median_s": m.device_median,
            "wall_median_s": m.median,
            "launch_overhead_s": m.launch_overhead,
            "source": "CUDA events around a batch of queued launches, one synchronize",
            "isolated_median_s": m.isolated_median,
            "isolated_times_s": [ns * 1e-9 for ns in isolated] if isolated else None,
            "isolated_source": "CUDA events around one call on an idle GPU, one per sample",
            "gate_uses": gate_uses(judged_on),
        }
    return {
        "gpu_time": gpu_time,
        "clocks": m.clocks.as_dict() if m.clocks is not None else None,
        "memory": m.memory.as_dict() if m.memory is not None else None,
    }
