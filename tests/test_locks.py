"""The pytest-xdist measurement locks, between threads that each play one worker."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pytest_gpuperf.scaleout.locks import WorkerLocks, sibling_pids

#: How long a thread that must be blocked gets to (wrongly) get through.
GRACE_S = 0.3
#: Generous: only a broken lock takes this long.
DEADLINE_S = 30


def in_thread(body: object) -> tuple[threading.Thread, threading.Event]:
    """Run ``body(entered)`` in a thread; ``entered`` is set when it got its lock."""
    entered = threading.Event()
    thread = threading.Thread(target=body, args=(entered,), daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread, entered


def test_a_cpu_measurement_waits_for_every_running_test(tmp_path: Path) -> None:
    sibling = WorkerLocks(tmp_path, "gw1", None)
    release = threading.Event()

    def measure(entered: threading.Event) -> None:
        me = WorkerLocks(tmp_path, "gw0", None)
        with me.test_running(), me.measuring(cpu_side=True):
            entered.set()
            release.wait(DEADLINE_S)

    with sibling.test_running():
        thread, entered = in_thread(measure)
        assert not entered.wait(GRACE_S)  # the sibling's test is still running
    assert entered.wait(DEADLINE_S)
    # ... and while it measures, no sibling test may start.
    _, started = in_thread(lambda e: _run_test(sibling, e))
    assert not started.wait(GRACE_S)
    release.set()
    thread.join(DEADLINE_S)
    assert started.wait(DEADLINE_S)


def _run_test(locks: WorkerLocks, entered: threading.Event) -> None:
    with locks.test_running():
        entered.set()


def test_the_measuring_worker_gets_its_shared_hold_back(tmp_path: Path) -> None:
    me = WorkerLocks(tmp_path, "gw0", None)
    with me.test_running():
        with me.measuring(cpu_side=True):
            pass
        # Shared again: another worker's exclusive measurement must wait for this test.
        _, entered = in_thread(lambda e: _measure(WorkerLocks(tmp_path, "gw1", None), e))
        assert not entered.wait(GRACE_S)
    assert entered.wait(DEADLINE_S)


def _measure(locks: WorkerLocks, entered: threading.Event, *, cpu_side: bool = True) -> None:
    with locks.measuring(cpu_side=cpu_side):
        entered.set()


def test_gpu_measurements_share_the_host_but_not_a_device(tmp_path: Path) -> None:
    first = WorkerLocks(tmp_path, "gw0", "0")
    with first.test_running(), first.measuring(cpu_side=False):
        other_device = WorkerLocks(tmp_path, "gw1", "1")
        _, entered = in_thread(lambda e: _measure(other_device, e, cpu_side=False))
        assert entered.wait(DEADLINE_S)  # device 1 is free: side by side
        same_device = WorkerLocks(tmp_path, "gw2", "0")
        _, waiting = in_thread(lambda e: _measure(same_device, e, cpu_side=False))
        assert not waiting.wait(GRACE_S)  # device 0 is taken
    assert waiting.wait(DEADLINE_S)


@pytest.mark.parametrize("device", ["GPU-1b2c", "MIG-GPU-1b2c/3/0"])
def test_device_lock_files_have_plain_names(tmp_path: Path, device: str) -> None:
    locks = WorkerLocks(tmp_path, "gw0", device)
    with locks.measuring(cpu_side=False):
        pass
    assert [p.name for p in tmp_path.glob("device-*")] == [
        "device-" + device.replace("/", "_") + ".lock"
    ]


def test_sibling_pids_are_the_other_workers(tmp_path: Path) -> None:
    WorkerLocks(tmp_path, "gw0", None).register_pid(os.getpid())
    WorkerLocks(tmp_path, "gw1", None).register_pid(4242)
    WorkerLocks(tmp_path, "gw2", None).register_pid(99)
    (tmp_path / "pids" / "junk").write_text("not a pid")
    assert sibling_pids(tmp_path) == [99, 4242]
    assert sibling_pids(tmp_path / "missing") == []
