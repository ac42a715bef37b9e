"""Who moved: the kernel or the reference, when the speedup between them changed.

A plain module: no pytest, no numpy. The ratio of a CPU row cancels drift that
hits both sides, but not drift that hits one: these rules read the two sides'
own medians against their saved bands to say which side it was.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pytest_gpuperf.verdict.bands import point_speed
from pytest_gpuperf.verdict.wording import change, ms

if TYPE_CHECKING:
    from pytest_gpuperf.verdict.bands import Bands
    from pytest_gpuperf.verdict.gate_input import GateInput
    from pytest_gpuperf.verdict.history import History

#: A reference median that moved by more than this factor since the baseline is named.
REFERENCE_MOVE = 1.25


def moves(gate: GateInput, bands: Bands) -> str:
    """``kernel median 1 ms -> 1.2 ms (+20%), reference ...``: both sides, then and now."""
    parts = []
    for name, then, now in (
        ("kernel", bands.kernel_then, gate.kernel_median_s),
        (f"reference {gate.reference_name}", bands.reference_then, gate.reference_median_s),
    ):
        if now:
            parts.append(f"{name} median {ms(then)} -> {ms(now)} ({change(now / then)})")
    return ", ".join(parts) or "no medians to compare"


def kernel_explains(gate: GateInput, bands: Bands, drop: float) -> bool:
    """True when the kernel's own median rose by at least half of the speedup's ``drop`` (logs)."""
    if not gate.kernel_median_s:
        return True
    rise = math.log(gate.kernel_median_s / bands.kernel_then)
    return rise >= drop / 2


def masked_by_the_reference(gate: GateInput, bands: Bands) -> str:
    """Say so when the speedup held only because the reference slowed down with the kernel.

    Both medians beyond their own saved bands, in the same direction: the ratio can't
    tell machine drift from a kernel regression, so the verdict is not ``ok``.
    """
    kernel_now, reference_now = gate.kernel_median_s, gate.reference_median_s
    if not kernel_now or not reference_now or bands.kernel is None or bands.reference is None:
        return ""
    kernel_slower = bands.kernel.below(point_speed(kernel_now))
    if not (kernel_slower and bands.reference.below(point_speed(reference_now))):
        return ""
    return (
        f"the kernel and the reference both slowed down: {moves(gate, bands)}; the speedup can't "
        "tell machine drift from a kernel regression; gpuperf(gate='both') on a steady runner can"
    )


def reference_note(gate: GateInput, history: History) -> tuple[str, ...]:
    """Name a reference that moved a lot since the latest saved run, even when the verdict holds."""
    now, then = gate.reference_median_s, history.latest.reference_median_s
    if not now or 1 / REFERENCE_MOVE <= now / then <= REFERENCE_MOVE:
        return ()
    return (
        f"the reference {gate.reference_name} itself moved: median {ms(then)} -> {ms(now)} "
        f"({change(now / then)}) since the baseline",
    )
