"""The ``gpuperf_*`` properties a measured test records for ``--junitxml``.

A plain module: no pytest. The timer fixture appends these to ``item.user_properties``,
which pytest's junitxml writes as ``<property name=... value=.../>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_gpuperf.measure.measurement import Measurement
    from pytest_gpuperf.verdict.gate import GateResult
    from pytest_gpuperf.verdict.history import History


def junit_properties(
    backend: str,
    measurement: Measurement,
    gate: GateResult | None,
    history: History | None,
) -> list[tuple[str, object]]:
    """Backend, median, speedup with its interval, baseline, change, verdict, detectable loss.

    Absent values (no reference, no baseline) are left out rather than written empty.
    """
    from pytest_gpuperf.verdict.gate import baseline_speedup

    props: list[tuple[str, object]] = [("gpuperf_backend", backend)]
    if measurement.median is not None:
        props.append(("gpuperf_median_s", measurement.median))
    speed = gate.shown_speedup(measurement.speedup) if gate is not None else measurement.speedup
    if speed is not None:
        props += [
            ("gpuperf_speedup", speed.value),
            ("gpuperf_speedup_low", speed.low),
            ("gpuperf_speedup_high", speed.high),
        ]
    base = baseline_speedup(gate, history)
    if base is not None:
        props.append(("gpuperf_baseline", base))
        if speed is not None:
            props.append(("gpuperf_change", speed.value / base - 1))
    props.append(("gpuperf_verdict", gate.verdict.value if gate is not None else "timed"))
    if gate is not None and gate.detectable is not None:
        props.append(("gpuperf_detectable", gate.detectable))
    return props


def warning_properties(texts: tuple[str, ...]) -> list[tuple[str, object]]:
    """One ``gpuperf_performance_warning`` per distinct performance warning of the test."""
    return [("gpuperf_performance_warning", text) for text in texts]
