"""Tests for the foreign-CPU-share monitor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_gpuperf import contention
from pytest_gpuperf.contention import CpuMonitor


def _feed(monkeypatch: pytest.MonkeyPatch, busy: list[float | None], own: list[float]) -> None:
    busy_it = iter(busy)
    own_it = iter(own)
    monkeypatch.setattr(contention, "read_machine_busy_seconds", lambda: next(busy_it))
    monkeypatch.setattr(contention, "read_own_cpu_seconds", lambda: next(own_it))


@pytest.mark.parametrize(
    ("busy_delta", "own_delta", "cpus", "wall", "expected"),
    [
        (1.0, 0.2, 2, 1.0, 0.4),  # other processes used 0.8 s of 2 cpu-seconds
        (0.2, 0.2, 2, 1.0, 0.0),  # all the busy time was ours
        (0.1, 0.5, 4, 1.0, 0.0),  # own > busy (rounding) clamps to 0
        (9.0, 0.0, 2, 1.0, 1.0),  # more than the capacity clamps to 1
        (3.0, 1.0, 8, 0.5, 0.5),
    ],
)
def test_share(
    monkeypatch: pytest.MonkeyPatch,
    busy_delta: float,
    own_delta: float,
    cpus: int,
    wall: float,
    expected: float,
) -> None:
    _feed(monkeypatch, [100.0, 100.0 + busy_delta], [5.0, 5.0 + own_delta])
    ticks = iter([10.0, 10.0 + wall])
    monitor = CpuMonitor(cpu_count=cpus, clock=lambda: next(ticks))
    monitor.start()
    assert monitor.stop() == pytest.approx(expected)


@pytest.mark.parametrize("busy", [[None, 5.0], [5.0, None], [None, None]])
def test_unknown_busy_gives_none(monkeypatch: pytest.MonkeyPatch, busy: list[float | None]) -> None:
    _feed(monkeypatch, busy, [0.0, 0.1])
    ticks = iter([0.0, 1.0])
    monitor = CpuMonitor(cpu_count=2, clock=lambda: next(ticks))
    monitor.start()
    assert monitor.stop() is None


def test_zero_wall_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    _feed(monkeypatch, [1.0, 2.0], [0.0, 0.0])
    monitor = CpuMonitor(cpu_count=2, clock=lambda: 3.0)
    monitor.start()
    assert monitor.stop() is None


def test_stop_before_start_names_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"before start\(\); call start\(\) first"):
        CpuMonitor().stop()


def test_reader_falls_back_to_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contention, "_read_proc_stat", lambda: None)
    monkeypatch.setattr(contention, "_read_psutil", lambda: None)
    assert contention.read_machine_busy_seconds() is None


def test_proc_stat_parsing(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 10 50 1000 40 5 5 30 7 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n")
    hz = os.sysconf("SC_CLK_TCK")
    assert contention._read_proc_stat(str(stat)) == pytest.approx(200 / hz)


def test_real_reading_is_a_share() -> None:
    monitor = CpuMonitor()
    monitor.start()
    sum(i * i for i in range(200_000))
    share = monitor.stop()
    if share is None:
        pytest.skip("no /proc/stat and no psutil on this machine")
    assert 0.0 <= share <= 1.0
