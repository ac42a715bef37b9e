"""A suspected regression measured again: on fresh inputs in-process, then in a fresh process.

A plain module: no pytest, no numpy. On a CPU a kernel's time can move between
processes by more than any tolerance, with unchanged code: where the JIT put the
code and the allocator the arrays, which cores Numba's threads got. On a 2-core
VM a ``prange`` kernel took 320 µs in some processes and 500 µs in others. Inside
one process that can't be told from a regression; across processes it can, since
a slower kernel is slower in every process. So a verdict that stays REGRESSED
after the re-measure in its own process is measured once more in a fresh process
(:mod:`pytest_gpuperf.confirm`), judged against the same saved runs:

- REGRESSED there too: the regression stands, and the message says both agreed;
- not REGRESSED there: ``inconclusive`` (slower in this process only), which
  fails only under ``--gpuperf-fail-inconclusive``;
- the fresh process could not judge it (it failed, ran out of time, or gave no
  row): the regression stands, and the message says why it was not confirmed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from pytest_gpuperf.verdict.outcome import GateResult, Verdict

if TYPE_CHECKING:
    from pytest_gpuperf.verdict.record import Attempt


@final
@dataclass(frozen=True)
class FreshRun:
    """What the fresh process measured and decided for the same test and backend."""

    verdict: str
    speedup: float | None
    kernel_median_s: float | None


def _measured(fresh: FreshRun) -> str:
    """``0.51x, kernel median 1.15 ms`` from what the fresh process measured."""
    parts = []
    if fresh.speedup is not None:
        parts.append(f"{fresh.speedup:.3g}x")
    if fresh.kernel_median_s is not None:
        parts.append(f"kernel median {fresh.kernel_median_s * 1e3:.3g} ms")
    return ", ".join(parts) or "no figures"


def after_fresh_process(
    gate: GateResult, fresh: FreshRun | str, *, fail_inconclusive: bool
) -> GateResult:
    """The final verdict of a REGRESSED ``gate`` once a fresh process measured the test.

    ``fresh`` is that process's row, or why there is none.
    """
    if gate.verdict is not Verdict.REGRESSED:
        return gate
    if isinstance(fresh, str):
        note = f"not confirmed in a fresh process: {fresh}"
        return dataclasses.replace(
            gate, notes=(*gate.notes, note), message=f"{gate.message}\n{note}"
        )
    if fresh.verdict == Verdict.REGRESSED.value:
        note = f"a fresh process measured it REGRESSED too ({_measured(fresh)})"
        return dataclasses.replace(
            gate, notes=(*gate.notes, note), message=f"{gate.message}\n{note}"
        )
    reason = (
        f"slower in this process only: a fresh process measured {_measured(fresh)} "
        f"(verdict {fresh.verdict}); this run was {gate.reason}. The kernel's time moves "
        "between processes here: saved runs from more processes widen its band"
    )
    message = ""
    if fail_inconclusive:
        message = (
            f"{gate.message.splitlines()[0]}\n{reason}; --gpuperf-fail-inconclusive turns this "
            "into a failure"
        )
    return dataclasses.replace(
        gate,
        verdict=Verdict.INCONCLUSIVE,
        failed=fail_inconclusive,
        reason=reason,
        message=message,
        attribution="process",
    )


def after_second_attempt(gate: GateResult | None, first: Attempt) -> GateResult | None:
    """The verdict of the in-process re-measure on fresh inputs, saying what attempt 1 measured."""
    if gate is None:
        return None
    speed = first.measurement.speedup
    measured = f" at {speed.value:.3g}x" if speed is not None else ""
    note = (
        f"re-measured on fresh inputs after attempt 1 was {first.gate.verdict.value}{measured}; "
        "attempt 2 decides"
    )
    message = gate.message
    if gate.failed:
        message = f"{message}\nattempt 1 (first inputs): {first.gate.reason}"
    return dataclasses.replace(gate, notes=(*gate.notes, note), message=message)
