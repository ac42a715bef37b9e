"""Which measured results may become baselines: one rule for ``--gpuperf-save`` and ``accept``.

A plain module: no pytest, no numpy.
"""

from __future__ import annotations


def refusal(
    *,
    simulated: bool,
    passed: bool,
    verdict: str,
    contended: bool,
    foreign_cpu: float | None,
    has_speedup: bool,
    has_medians: bool,
) -> str | None:
    """Why a result must not become a baseline, or None when it may.

    A result whose speedup fell only because the reference moved may be saved: that
    is how a user accepts the reference's new speed.
    """
    if simulated or verdict == "simulated":
        return "simulated device"
    if not passed:
        return f"the test did not pass (verdict {verdict or 'none'})"
    if contended:
        share = f"{foreign_cpu:.0%}" if foreign_cpu is not None else "too much"
        return f"contended (other processes used {share} of the CPUs)"
    if not has_speedup:
        return "no speedup (no reference to compare with)"
    if not has_medians:
        return "no kernel or reference median"
    return None
