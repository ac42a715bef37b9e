"""Locks that keep pytest-xdist workers from timing on top of each other.

A plain module: no pytest. The workers of one run share a folder (made by the
controller) that holds:

- ``host.db``: a reader/writer lock (filelock's SQLite ``ReadWriteLock``, which
  makes new readers wait behind a waiting writer). Every test a worker runs holds
  it shared; a CPU-side measurement (a host backend) drops its shared hold and
  takes it exclusively, so while it times, no sibling runs anything: no compile,
  no correctness check, no other measurement. A simulated device is never gated
  and takes nothing more than its test's shared hold.
- ``device-<id>.lock``: one file lock per CUDA device, held while a real GPU
  measurement times, so two workers never time on one device at once. GPU
  measurements on different devices run side by side.
- ``pids/<worker>``: each worker's process id, so the contention monitor can tell
  the siblings' CPU use from that of processes outside the run.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Set by the controller for its workers: the folder that holds the shared locks.
LOCK_DIR_ENV = "PYTEST_GPUPERF_LOCK_DIR"


def _safe(name: str) -> str:
    """A device token as a file name (UUIDs hold ``/`` in MIG names)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


@final
class WorkerLocks:
    """One worker's handles on the shared locks; see the module docstring for the protocol."""

    def __init__(self, folder: Path, worker: str, device: str | None) -> None:
        from filelock import FileLock, ReadWriteLock

        self.folder = Path(folder)
        self.worker = worker
        self.device = device
        self._host = ReadWriteLock(self.folder / "host.db", is_singleton=False)
        self._device = FileLock(self.folder / f"device-{_safe(device)}.lock") if device else None
        self._shared = False

    def register_pid(self, pid: int | None = None) -> None:
        """Leave this worker's process id where its siblings' monitors look."""
        pids = self.folder / "pids"
        pids.mkdir(exist_ok=True)
        (pids / _safe(self.worker)).write_text(str(pid or os.getpid()), encoding="ascii")

    @contextlib.contextmanager
    def test_running(self) -> Iterator[None]:
        """Hold the host lock shared while one test runs (setup, call and teardown)."""
        self._host.acquire_read()
        self._shared = True
        try:
            yield
        finally:
            self._shared = False
            self._host.release()

    @contextlib.contextmanager
    def measuring(self, *, cpu_side: bool) -> Iterator[None]:
        """Hold what one measurement needs: the host exclusively, or this worker's device."""
        if not cpu_side:
            with self._device if self._device is not None else contextlib.nullcontext():
                yield
            return
        shared = self._shared
        if shared:  # the lock cannot change mode while held: drop the shared hold first
            self._host.release()
            self._shared = False
        self._host.acquire_write()
        try:
            yield
        finally:
            self._host.release()
            if shared:
                self._host.acquire_read()
                self._shared = True


def sibling_pids(folder: Path, own_pid: int | None = None) -> list[int]:
    """Process ids the other workers of this run registered (never this process's)."""
    own = own_pid or os.getpid()
    found = []
    with contextlib.suppress(OSError):
        for path in (Path(folder) / "pids").iterdir():
            with contextlib.suppress(OSError, ValueError):
                pid = int(path.read_text(encoding="ascii").strip())
                if pid != own:
                    found.append(pid)
    return sorted(found)
