"""One test's settings: the marker's values over the options, and nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_gpuperf.kernel_settings import resolve_kernel_settings
from pytest_gpuperf.marker import MarkerSpec
from pytest_gpuperf.options import Settings

OPTIONS = Settings(
    tolerance=0.2,
    max_time=3.0,
    noise=0.05,
    flush_l2=True,
    gate="time",
    contention=0.3,
    fail_inconclusive=True,
    false_alarm=0.02,
    memory_tolerance=0.5,
)


def test_without_a_marker_the_options_decide() -> None:
    resolved = resolve_kernel_settings(None, OPTIONS)
    assert (resolved.tolerance, resolved.max_time, resolved.flush_l2, resolved.gate) == (
        0.2,
        3.0,
        True,
        "time",
    )
    assert (resolved.min_speedup, resolved.max_memory) == (None, None)
    assert (resolved.noise, resolved.contention, resolved.false_alarm) == (0.05, 0.3, 0.02)
    assert resolved.fail_inconclusive is True
    assert resolved.memory_tolerance == 0.5


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("tolerance", 0.0),  # zero is a value, not "unset"
        ("max_time", 0.5),
        ("flush_l2", False),  # False is a value too
        ("gate", "both"),
        ("min_speedup", 2.0),
        ("max_memory", 1024),
    ],
)
def test_a_marker_value_overrides_the_option(keyword: str, value: object) -> None:
    spec = MarkerSpec(**{keyword: value})  # type: ignore[arg-type]
    resolved = resolve_kernel_settings(spec, OPTIONS)
    assert getattr(resolved, keyword) == value
    untouched = resolve_kernel_settings(None, OPTIONS)
    others = {f.name for f in dataclasses.fields(resolved)} - {keyword}
    assert {k: getattr(resolved, k) for k in others} == {k: getattr(untouched, k) for k in others}
