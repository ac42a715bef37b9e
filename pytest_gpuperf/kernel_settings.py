"""One test's settings: its ``gpuperf`` marker over the session's options, resolved once.

The precedence is pytest-timeout's: a marker value overrides the command line, which
overrides the ini file, which overrides the default (the options did the last three).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, final

from pytest_gpuperf.marker import MarkerSpec

if TYPE_CHECKING:
    from pytest_gpuperf.options import Settings

_T = TypeVar("_T")


@final
@dataclass(frozen=True)
class KernelSettings:
    """What measuring and judging one test uses: no code reads the marker and options apart."""

    #: Allowed speedup loss against the baseline.
    tolerance: float
    #: Time budget of one measurement, in seconds.
    max_time: float
    #: Stop sampling once the speedup interval is this tight.
    noise: float
    #: Flush the GPU L2 cache before every sample.
    flush_l2: bool
    #: What the gate judges: ``speedup``, ``time`` or ``both``.
    gate: str
    #: The speedup below which the test fails outright (None: no floor).
    min_speedup: float | None
    #: CPU share of other processes above which a measurement is contended.
    contention: float
    fail_inconclusive: bool
    #: Share of runs of unchanged code the gate may flag.
    false_alarm: float
    #: Cap on a peak, in bytes (None: no cap).
    max_memory: int | None
    #: Allowed growth of a peak over the latest saved run (None: not gated).
    memory_tolerance: float | None


def resolve_kernel_settings(spec: MarkerSpec | None, settings: Settings) -> KernelSettings:
    """Merge a test's marker (``spec``, None when it has none) over the session's settings."""
    marker = spec if spec is not None else MarkerSpec()
    return KernelSettings(
        tolerance=_given(marker.tolerance, settings.tolerance),
        max_time=_given(marker.max_time, settings.max_time),
        noise=settings.noise,
        flush_l2=_given(marker.flush_l2, settings.flush_l2),
        gate=_given(marker.gate, settings.gate),
        min_speedup=marker.min_speedup,
        contention=settings.contention,
        fail_inconclusive=settings.fail_inconclusive,
        false_alarm=settings.false_alarm,
        max_memory=marker.max_memory,
        memory_tolerance=settings.memory_tolerance,
    )


def _given(marker_value: _T | None, option_value: _T) -> _T:
    """The marker's value when it gave one, else the option's."""
    return option_value if marker_value is None else marker_value
