"""How much of the machine's CPU other processes used while we were measuring.

A timing taken while something else kept the cores busy is not trustworthy; the
foreign share measured here lets the caller flag or retry such a sample. Under
pytest-xdist the other workers of the same run (the siblings) are counted apart:
their share is reported on its own and never counted as foreign. Never imports
pytest or NumPy.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_PROC_STAT = "/proc/stat"
# Fields of the aggregate "cpu" line: user nice system idle iowait irq softirq steal ...
# Busy = user + nice + system + irq + softirq + steal; idle and iowait are idle.
# (guest time is already counted inside user and nice.)
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def _read_proc_stat(path: str = _PROC_STAT) -> float | None:
    """Busy CPU seconds of all CPUs together since boot, from ``/proc/stat``."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                fields = line.split()
                if fields and fields[0] == "cpu":
                    values = [int(v) for v in fields[1:]]
                    busy = sum(values[i] for i in _BUSY_FIELDS if i < len(values))
                    return busy / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return None


def _read_psutil() -> float | None:
    """Busy CPU seconds of all CPUs together, from psutil when it is installed."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        times = psutil.cpu_times()
    except Exception:
        return None
    names = ("user", "nice", "system", "irq", "softirq", "steal")
    return float(sum(getattr(times, name, 0.0) for name in names))


def read_machine_busy_seconds() -> float | None:
    """Busy CPU seconds of the whole machine since boot, or ``None`` when unknown."""
    busy = _read_proc_stat()
    if busy is None:
        busy = _read_psutil()
    return busy


def read_own_cpu_seconds() -> float:
    """CPU seconds used by this process (all its threads) so far."""
    return time.process_time()


#: The sibling workers' process ids, set in a pytest-xdist worker (None: no siblings).
_sibling_pids: Callable[[], Sequence[int]] | None = None


def watch_siblings(pids: Callable[[], Sequence[int]] | None) -> None:
    """Tell every :class:`CpuMonitor` where to find the sibling workers (None: forget them)."""
    global _sibling_pids
    _sibling_pids = pids


def read_process_cpu_seconds(pid: int, proc: str = "/proc") -> float | None:
    """User plus system CPU seconds of process ``pid`` (all its threads), or None."""
    try:
        with open(f"{proc}/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after "pid (comm)": state is field 3
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError):
        return None


def read_sibling_cpu_seconds() -> dict[int, float] | None:
    """CPU seconds so far of each sibling worker that can be read; None outside xdist."""
    if _sibling_pids is None:
        return None
    found = {}
    for pid in _sibling_pids():
        seconds = read_process_cpu_seconds(pid)
        if seconds is not None:
            found[pid] = seconds
    return found


@final
class CpuMonitor:
    """Measures the foreign share of CPU capacity between :meth:`start` and :meth:`stop`.

    The share is (machine busy CPU seconds - this process's CPU seconds - the
    sibling workers' CPU seconds) divided by (wall seconds x CPU count), clamped
    to 0..1. The siblings' own share is left in :attr:`sibling_share` (None
    outside xdist). ``/proc/stat`` counts in jiffies (usually 10 ms), so
    intervals much shorter than a second read coarsely.
    """

    def __init__(
        self,
        cpu_count: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._cpu_count = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
        self._clock = clock
        self._started = False
        self._busy0: float | None = None
        self._own0 = 0.0
        self._wall0 = 0.0
        self._siblings0: dict[int, float] | None = None
        #: The sibling workers' share of the CPUs over the last interval (None outside xdist).
        self.sibling_share: float | None = None

    def start(self) -> None:
        """Take the starting readings."""
        self._busy0 = read_machine_busy_seconds()
        self._siblings0 = read_sibling_cpu_seconds()
        self._own0 = read_own_cpu_seconds()
        self._wall0 = self._clock()
        self._started = True

    def stop(self) -> float | None:
        """Foreign CPU share over the interval in 0..1, or ``None`` when it cannot be read."""
        if not self._started:
            raise RuntimeError("CpuMonitor.stop() was called before start(); call start() first")
        wall = self._clock() - self._wall0
        busy1 = read_machine_busy_seconds()
        siblings1 = read_sibling_cpu_seconds()
        own1 = read_own_cpu_seconds()
        self._started = False
        self.sibling_share = None
        if wall <= 0 or self._cpu_count <= 0:
            return None
        capacity = wall * self._cpu_count
        siblings = 0.0
        if self._siblings0 is not None and siblings1 is not None:
            # Only workers seen at both ends: one that started or ended in between is unknown.
            siblings = sum(
                siblings1[p] - self._siblings0[p] for p in siblings1 if p in self._siblings0
            )
            self.sibling_share = min(1.0, max(0.0, siblings / capacity))
        if self._busy0 is None or busy1 is None:
            return None
        foreign = (busy1 - self._busy0) - (own1 - self._own0) - siblings
        return min(1.0, max(0.0, foreign / capacity))
