"""The time rule: the kernel's own time against its saved band, whatever the reference did.

A plain module: no pytest, no numpy. On a GPU the kernel's CUDA-event time is its
own: the host's CPU, and so the NumPy reference, can't move it. The only machine
excuse for a rise is one NVML shows: the GPU's clocks below those of the saved
runs (throttling is caught before any rule runs). Without events (a CPU row under
``gate="time"``) the wall median is judged the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_gpuperf.verdict.bands import speed
from pytest_gpuperf.verdict.outcome import GateResult, improved_or_ok, inconclusive, regressed
from pytest_gpuperf.verdict.wording import ms, percent, rests_on, widened

if TYPE_CHECKING:
    from pytest_gpuperf.verdict.bands import Bands
    from pytest_gpuperf.verdict.gate_input import GateInput
    from pytest_gpuperf.verdict.history import History

#: A clock this much below the lowest saved one excuses a rise in device time.
CLOCK_DROP = 0.02


def clock_name(bands: Bands) -> str:
    """``CUDA-event`` or ``wall``: the clock the time band was judged on."""
    return "CUDA-event" if bands.time_clock == "events" else "wall"


def judge_time(gate: GateInput, bands: Bands, history: History) -> GateResult:
    """The kernel's own median against the medians in its history (lower is better)."""
    now, found = gate.kernel_time, bands.time
    assert now is not None
    assert found is not None
    clock = clock_name(bands)
    result_bands = {"time": found}
    base_s = 1 / found.center
    moved = now.value / base_s - 1
    if found.below(speed(now)):
        ceiling_s = 1 / found.floor
        measured = (
            f"{ms(now.value)} (95% CI {ms(now.low)}-{ms(now.high)}) vs baseline {ms(base_s)} "
            f"({moved:+.1%})"
        )
        slower = clocks_below(gate, history) if bands.time_clock == "events" else ""
        if slower:
            return inconclusive(
                gate,
                f"{slower}; NVML shows the GPU, not the kernel, slowed down: lock the clocks "
                "(nvidia-smi --lock-gpu-clocks) or let the GPU cool, then re-run",
                f"{gate.where}: the kernel's own {clock} median rose to {measured}",
                bands=result_bands,
                attribution="machine",
            )
        message = (
            f"{gate.where}: the kernel's own {clock} median regressed: {measured}; allowed speed "
            f"loss {percent(gate.tolerance)} (ceiling {ms(ceiling_s)}{widened(found)}). "
            f"{rests_on(found)}If the new speed is intended, accept it with: {gate.accept_command}"
        )
        reason = f"{clock} median {ms(now.value)} is above the ceiling {ms(ceiling_s)}"
        return regressed(message, reason, result_bands)
    change = f"{clock} median {moved:+.1%} vs baseline {ms(base_s)}"
    return improved_or_ok(gate, found.above(speed(now)), change, result_bands)


def clocks_below(gate: GateInput, history: History) -> str:
    """Name a GPU clock that NVML read below every saved run's, else ``""``."""
    for name, now, then in (
        ("SM", gate.sm_mhz, [run.sm_mhz for run in history.runs]),
        ("memory", gate.memory_mhz, [run.memory_mhz for run in history.runs]),
    ):
        saved = [t for t in then if t]
        if now and saved and now < min(saved) * (1 - CLOCK_DROP):
            return (
                f"the GPU's {name} clock ran at {now:.0f} MHz, below the {min(saved):.0f} MHz "
                "of the saved runs"
            )
    return ""
