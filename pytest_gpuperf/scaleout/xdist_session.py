"""``pytest -n N --gpuperf``: the pytest-xdist side of the measuring session.

The controller lists the devices, makes the shared lock folder, hands both to
its workers through the environment (they inherit it), and gathers the records
each worker packs at its end. A worker keeps one device, holds the shared locks
(:mod:`pytest_gpuperf.scaleout.locks`) and measures and judges as a single run does.
The classes here are registered only when pytest-xdist distributes the run.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf.measure import contention
from pytest_gpuperf.scaleout import devices, shipping
from pytest_gpuperf.scaleout.locks import LOCK_DIR_ENV, WorkerLocks, sibling_pids

if TYPE_CHECKING:
    from collections.abc import Generator

    from pytest_gpuperf.options import Settings
    from pytest_gpuperf.session import GpuperfSession

#: The ``config.workeroutput`` key of a worker's packed records.


@final
class XdistController:
    """The controller's hooks: set the workers up, take their records, keep report order."""

    def __init__(self, session: GpuperfSession, settings: Settings) -> None:
        self.session = session
        self.devices = settings.devices or devices.visible_devices()
        self.lock_dir = Path(tempfile.mkdtemp(prefix="pytest-gpuperf-"))
        #: Workers ended on purpose that sent their records on a test report.
        self.handed_over_early: set[str] = set()
        self._saved = {name: os.environ.get(name) for name in _HANDED_DOWN}
        os.environ[LOCK_DIR_ENV] = str(self.lock_dir)
        if self.devices:
            os.environ[devices.WORKER_DEVICES_ENV] = ",".join(self.devices)
        else:
            os.environ.pop(devices.WORKER_DEVICES_ENV, None)
        shown = ", ".join(self.devices) if self.devices else "none visible"
        session.notes.append(
            f"pytest-xdist: CUDA devices {shown}, one per worker in turn; GPU measurements on "
            "different devices overlap, CPU-side measurements run one at a time with the other "
            "workers paused"
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember the order calls finished in; take the records of a worker ended early."""
        if report.when == "call":
            self.session.order.setdefault(report.nodeid, len(self.session.order))
        early = report.__dict__.pop(shipping.EARLY_ATTR, None)  # before other plugins see it
        if isinstance(early, str):
            worker = str(getattr(report, "worker_id", "?"))
            self.handed_over_early.add(worker)
            self._absorb(worker, base64.b64decode(early))

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """Take the records a worker packed; a worker that died is named in the notes."""
        worker = str(getattr(node, "workerinput", {}).get("workerid", "?"))
        output = getattr(node, "workeroutput", None) or {}
        if worker in self.handed_over_early:
            return
        if shipping.OUTPUT_KEY not in output:
            why = error or "no records"
            self.session.notes.append(
                f"worker {worker} ended without handing over its measurements ({why}); they are "
                "missing from the report and the baselines"
            )
            return
        self._absorb(worker, output[shipping.OUTPUT_KEY])

    def _absorb(self, worker: str, data: object) -> None:
        """Hand one worker's packed records to the session; unreadable ones become a note."""
        try:
            payload = shipping.unpack(data)
        except shipping.ShippingError as exc:
            self.session.notes.append(f"worker {worker}: measurements unreadable: {exc}")
            return
        self.session.absorb(payload)

    def close(self) -> None:
        """Give the environment back and remove the lock folder."""
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(self.lock_dir, ignore_errors=True)


_HANDED_DOWN = (LOCK_DIR_ENV, devices.WORKER_DEVICES_ENV)


@final
class XdistWorker:
    """A worker's hooks: every test holds the host lock shared while it runs."""

    def __init__(self, locks: WorkerLocks) -> None:
        self.locks = locks

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        """Hold the host lock shared from setup to teardown."""
        with self.locks.test_running():
            return (yield)

    def close(self) -> None:
        """Stop counting siblings apart."""
        contention.watch_siblings(None)


def worker_locks(config: pytest.Config) -> WorkerLocks | None:
    """This worker's locks, from the folder its controller made; None without one."""
    folder = os.environ.get(LOCK_DIR_ENV)
    workerinput = getattr(config, "workerinput", None)
    if not folder or workerinput is None or not Path(folder).is_dir():
        return None
    device = (
        os.environ.get(devices.CUDA_ENV) if os.environ.get(devices.WORKER_DEVICES_ENV) else None
    )
    locks = WorkerLocks(Path(folder), str(workerinput.get("workerid", "gw?")), device)
    with contextlib.suppress(OSError):
        locks.register_pid()
    contention.watch_siblings(lambda: sibling_pids(locks.folder))
    return locks
