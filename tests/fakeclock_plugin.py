"""Deterministic timings for tests: a fake host clock and an idle (or busy) machine.

As a pytest plugin (inner runs load it from their conftest, written by
:func:`makeconftest`, or with ``-p fakeclock_plugin`` where ``tests/`` or a copy of
this file is on the path), it replaces ``pytest_gpuperf.measure.timer.host_clock_ns`` from
configure to unconfigure with a :class:`FakeClock` that only kernels and references
advance (:func:`advance`, :func:`spend`), and makes the contention readers report an idle
machine, so speedups are exact and no verdict depends on how busy the host is. Knobs:

- ``--fakeclock-tick-ns=N``: every clock read also costs N ns (default 0);
- ``--fakeclock-foreign-cpu=SHARE``: a busy machine: every CPU monitor reports that
  other processes used SHARE (0..1) of the CPUs;
- ``--fakeclock-real-clock``: keep real time (its reads still counted), for real kernels
  on an idle machine.

Unit tests outside pytester use the :func:`fake_clock` fixture (``tests/conftest.py``
imports it). Nothing here imports numpy: in-process pytester runs load this module too,
already imported, so it asks for no assertion rewriting: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import functools
import textwrap
import time
from pathlib import Path
from typing import final

import pytest

from pytest_gpuperf.measure import contention
from pytest_gpuperf.measure import timer as timing

#: What a conftest writes to load this plugin.
LOAD_LINE = 'pytest_plugins = ["fakeclock_plugin"]\n'


@final
class FakeClock:
    """Integer nanoseconds that only :meth:`advance` moves (and ``tick_ns`` per read)."""

    def __init__(self, tick_ns: int = 0) -> None:
        self.now = 0
        self.reads = 0
        self.tick_ns = tick_ns

    def __call__(self) -> int:
        """Read the clock: count the read, add the tick, return the time."""
        self.reads += 1
        self.now += self.tick_ns
        return self.now

    def advance(self, ns: int) -> None:
        """Let ``ns`` nanoseconds pass."""
        self.now += ns


@final
class CountingClock:
    """The real host clock, counting its reads."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> int:
        """Read the real clock and count the read."""
        self.reads += 1
        return time.perf_counter_ns()


@final
class BusyMonitor:
    """A CPU monitor that always reports the same foreign share of the CPUs."""

    def __init__(self, share: float) -> None:
        self.share = share

    def start(self) -> None:
        """Nothing to read at the start."""

    def stop(self) -> float:
        """The fixed foreign share."""
        return self.share


def _idle() -> float:
    return 0.0


def install(
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock | CountingClock,
    foreign_cpu: float | None = None,
) -> None:
    """Make the timer read ``clock`` and the machine idle, or busy at ``foreign_cpu``."""
    monkeypatch.setattr(timing, "host_clock_ns", clock)
    monkeypatch.setattr(contention, "read_machine_busy_seconds", _idle)
    monkeypatch.setattr(contention, "read_own_cpu_seconds", _idle)
    if foreign_cpu is not None:
        monkeypatch.setattr(contention, "CpuMonitor", functools.partial(BusyMonitor, foreign_cpu))


def clock() -> FakeClock | CountingClock:
    """The clock this plugin installed; an error when none is."""
    current = timing.host_clock_ns
    if not isinstance(current, FakeClock | CountingClock):
        raise RuntimeError(
            f"the timer reads {current!r}, not a fake clock; load fakeclock_plugin "
            "(fakeclock_plugin.makeconftest) or use the fake_clock fixture"
        )
    return current


def advance(ns: int) -> None:
    """Let ``ns`` nanoseconds pass on the installed fake clock."""
    current = clock()
    if not isinstance(current, FakeClock):
        raise RuntimeError("--fakeclock-real-clock is on: real time cannot be advanced")
    current.advance(ns)


def spend(seconds: float) -> None:
    """Let ``seconds`` pass on the installed fake clock (whole nanoseconds)."""
    advance(int(seconds * 1e9))


def makeconftest(pytester: pytest.Pytester, source: str = "") -> Path:
    """Write a conftest that loads this plugin, then ``source``; return its path.

    A copy of this module goes next to it, so runs in a subprocess can import it too.
    """
    pytester.makepyfile(fakeclock_plugin=Path(__file__).read_text(encoding="utf-8"))
    return pytester.makeconftest(LOAD_LINE + textwrap.dedent(source))


def pytest_addoption(parser: pytest.Parser) -> None:
    """The knobs: a per-read cost, a busy machine, real time."""
    group = parser.getgroup("fakeclock", "fake clock (tests only)")
    group.addoption(
        "--fakeclock-tick-ns",
        type=int,
        default=0,
        metavar="N",
        help="nanoseconds every read of the fake clock costs (default 0)",
    )
    group.addoption(
        "--fakeclock-foreign-cpu",
        type=float,
        default=None,
        metavar="SHARE",
        help="report that other processes used SHARE (0..1) of the CPUs (default: idle)",
    )
    group.addoption(
        "--fakeclock-real-clock",
        action="store_true",
        help="keep the real host clock (its reads still counted); only the machine is idle",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Install the clock and the machine for the whole run; undo them at its end."""
    if config.getoption("fakeclock_real_clock"):
        chosen: FakeClock | CountingClock = CountingClock()
    else:
        chosen = FakeClock(tick_ns=config.getoption("fakeclock_tick_ns"))
    monkeypatch = pytest.MonkeyPatch()
    config.add_cleanup(monkeypatch.undo)
    install(monkeypatch, chosen, config.getoption("fakeclock_foreign_cpu"))


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fresh fake clock for this test, on an idle machine: advance it with ``.advance(ns)``."""
    fresh = FakeClock()
    install(monkeypatch, fresh)
    return fresh
