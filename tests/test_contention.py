"""Tests for the foreign-CPU-share monitor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_gpuperf.measure import contention
from pytest_gpuperf.measure.contention import CpuMonitor


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


# -- sibling workers under pytest-xdist ----------------------------------------------------


def _siblings(monkeypatch: pytest.MonkeyPatch, readings: list[dict[int, float]]) -> None:
    """Sibling workers whose CPU seconds read as ``readings`` at start and at stop."""
    it = iter(readings)
    monkeypatch.setattr(contention, "read_sibling_cpu_seconds", lambda: next(it))


def test_sibling_workers_are_not_foreign(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine was busy 1.5 s over 1 s on 2 CPUs: 0.2 s ours, 1.0 s a sibling's, 0.3 s foreign.
    _feed(monkeypatch, [100.0, 101.5], [5.0, 5.2])
    _siblings(monkeypatch, [{11: 3.0, 12: 7.0}, {11: 4.0, 12: 7.0}])
    ticks = iter([0.0, 1.0])
    monitor = CpuMonitor(cpu_count=2, clock=lambda: next(ticks))
    monitor.start()
    assert monitor.stop() == pytest.approx(0.15)
    assert monitor.sibling_share == pytest.approx(0.5)


def test_a_sibling_seen_at_one_end_only_counts_as_foreign(monkeypatch: pytest.MonkeyPatch) -> None:
    _feed(monkeypatch, [100.0, 101.0], [5.0, 5.0])
    _siblings(monkeypatch, [{11: 3.0}, {12: 1.0}])  # 11 ended, 12 started in between
    ticks = iter([0.0, 1.0])
    monitor = CpuMonitor(cpu_count=2, clock=lambda: next(ticks))
    monitor.start()
    assert monitor.stop() == pytest.approx(0.5)
    assert monitor.sibling_share == 0.0


def test_outside_xdist_there_is_no_sibling_share(monkeypatch: pytest.MonkeyPatch) -> None:
    _feed(monkeypatch, [100.0, 101.0], [5.0, 5.0])
    monkeypatch.setattr(contention, "_sibling_pids", None)
    ticks = iter([0.0, 1.0])
    monitor = CpuMonitor(cpu_count=2, clock=lambda: next(ticks))
    monitor.start()
    assert monitor.stop() == pytest.approx(0.5)
    assert monitor.sibling_share is None


def test_sibling_seconds_are_read_from_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contention, "_sibling_pids", None)
    contention.watch_siblings(lambda: [os.getpid(), 2**22 + 7])  # a live pid and no such pid
    try:
        found = contention.read_sibling_cpu_seconds()
    finally:
        contention.watch_siblings(None)
    assert found is not None
    assert list(found) == [os.getpid()]
    assert found[os.getpid()] >= 0.0


def test_process_seconds_parse_a_name_with_spaces_and_parens(tmp_path: Path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    (tmp_path / "42").mkdir()
    fields = ["S", "1", *["0"] * 9, str(3 * ticks), str(ticks), *["0"] * 30]
    (tmp_path / "42" / "stat").write_text(f"42 (py (x) y) {' '.join(fields)}\n")
    assert contention.read_process_cpu_seconds(42, proc=str(tmp_path)) == pytest.approx(4.0)
    assert contention.read_process_cpu_seconds(43, proc=str(tmp_path)) is None
