"""Kernel faults across a test run: a broken GPU environment, a broken CUDA context.

Registered by the plugin in every run (plain ``pytest`` too). The meaning of an
exception comes from :mod:`pytest_gpuperf.measure.kernel_faults`; this module
only reads test reports, tags them, and acts:

- The call report of every test that ran a kernel (``cuda_sync_timer``) on a
  backend says whether its first call failed inside the GPU library. The summary
  says once per backend when at least 2 tests ran and all failed that way. The
  tags travel on the reports, so it works under pytest-xdist too.
- A test whose exception holds a sticky CUDA error marks this process's CUDA
  context (one per device, shared by numba-cuda, CuPy and torch) as broken by that
  test, whether it uses the plugin or not. Every later test on a GPU backend in this
  process then fails at once, in the ``backend`` fixture, with one line that names
  that test. A suite that does not use the plugin hears nothing of it.
- Under pytest-xdist (``--dist load`` or ``worksteal``) the worker that holds the
  broken context ends instead, right after that test's failure is reported and
  before its teardown, and pytest-xdist starts a fresh worker. pytest-xdist
  reports the test a worker was running when it went down as crashed;
  :class:`EndedWorkers` (on the controller) turns that report into the test's
  missing teardown report, so the test's own failure is all that is reported.
"""

from __future__ import annotations

import collections
import os
import sys
from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf.measure import kernel_faults
from pytest_gpuperf.measure.kernel_faults import LibraryFault, StickyError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

    from pytest_gpuperf.backends.base import Backend

#: On the call report of a test that ran a kernel: its backend and what its first call did.
FIRST_CALL_ATTR = "gpuperf_first_call"
#: On the report of the test whose exception broke the CUDA context.
CONTEXT_ATTR = "gpuperf_broke_context"
#: On the report of a later test that failed fast: the node id of the test that broke it.
FAILED_FAST_ATTR = "gpuperf_failed_fast"
#: On xdist's stand-in report for the missing teardown of that test: why the worker ended.
ENDED_ATTR = "gpuperf_worker_ended"
#: ``workerinput`` key: this worker may end itself after a sticky CUDA error.
MAY_END_KEY = "gpuperf_may_end_on_broken_context"
#: Exit status of a worker ended on purpose (any non-zero status reads as a crash to xdist).
ENDED_EXIT = 3
#: pytest-xdist schedulers that drop the test a worker was running when it went down;
#: the others (loadscope, loadfile, loadgroup, each) would run it again, and again.
_ENDABLE_DIST = ("load", "worksteal")

watch_key = pytest.StashKey["FaultWatch"]()
_failed_fast_key = pytest.StashKey[str]()


def install(config: pytest.Config, early_handover: Callable[[pytest.Session], str] | None) -> None:
    """Register the watch; on a pytest-xdist controller, also :class:`EndedWorkers`.

    ``early_handover``: under ``--gpuperf`` in a worker, packs the worker's records
    for a report, so that ending the worker loses none of them.
    """
    watch = FaultWatch(config, early_handover)
    config.stash[watch_key] = watch
    config.pluginmanager.register(watch, "gpuperf-fault-watch")
    if config.pluginmanager.hasplugin("xdist"):
        from pytest_gpuperf.scaleout.roles import distributing

        if distributing(config):
            config.pluginmanager.register(EndedWorkers(config), "gpuperf-ended-workers")


def _backend_param(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("backend") if callspec is not None else None
    return name if isinstance(name, str) else None


def _first_call(backend: str, exc: BaseException | None) -> dict[str, Any]:
    """The tag of a test that ran a kernel: the library fault of its first call, if any."""
    from pytest_gpuperf.fixtures.sync_timer import KernelError

    fault = None
    if exc is not None and not (isinstance(exc, KernelError) and not exc.first_call):
        fault = kernel_faults.library_fault(exc)
    if fault is None:
        return {"backend": backend, "library": ""}
    return {
        "backend": backend,
        "library": fault.library,
        "error": fault.error,
        "via_numpy": fault.via_numpy,
    }


@final
class FaultWatch:
    """This process's view: which test, if any, broke its CUDA context."""

    def __init__(
        self, config: pytest.Config, early_handover: Callable[[pytest.Session], str] | None
    ) -> None:
        self.config = config
        self.early_handover = early_handover
        #: The test whose sticky CUDA error broke this process's context, and the error.
        self.broken: tuple[str, StickyError] | None = None
        self._ending: str | None = None

    def refuse_broken_context(self, item: pytest.Item, backend: Backend) -> None:
        """Fail ``item`` at once when it runs on a GPU and this process's context is broken."""
        if self.broken is None or not backend.is_gpu or backend.simulated:
            return
        nodeid, sticky = self.broken
        item.stash[_failed_fast_key] = nodeid
        pytest.fail(kernel_faults.fail_fast_line(nodeid, sticky, backend.name), pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Tag the reports of backend tests; note a sticky CUDA error and who raised it."""
        report = yield
        backend = _backend_param(item)
        exc = call.excinfo.value if call.excinfo is not None else None
        if call.when == "setup" and _failed_fast_key in item.stash:
            setattr(report, FAILED_FAST_ATTR, item.stash[_failed_fast_key])
        ran = call.when == "call" and not report.skipped
        if backend is not None and ran and "cuda_sync_timer" in getattr(item, "fixturenames", ()):
            setattr(report, FIRST_CALL_ATTR, _first_call(backend, exc))
        if exc is not None and self.broken is None:
            sticky = kernel_faults.sticky_cuda_error(exc)
            if sticky is not None:  # any test may break it; only ours may end the worker
                self._broke(item, report, sticky, ours=backend is not None, when=call.when)
        return report

    def _broke(
        self,
        item: pytest.Item,
        report: pytest.TestReport,
        sticky: StickyError,
        *,
        ours: bool,
        when: str,
    ) -> None:
        """Remember the test that broke the context; in a worker that may end, end it soon."""
        self.broken = (item.nodeid, sticky)
        workerinput: dict[str, Any] = getattr(self.config, "workerinput", {})
        ends = ours and when != "teardown" and workerinput.get(MAY_END_KEY)
        worker = str(workerinput.get("workerid", "")) if ends else ""
        setattr(
            report,
            CONTEXT_ATTR,
            {
                "name": sticky.name,
                "description": sticky.description,
                "error": sticky.error,
                "ended_worker": worker,
                "backend_test": ours,
            },
        )
        if worker:
            self._ending = item.nodeid
            if self.early_handover is not None:
                from pytest_gpuperf.scaleout.shipping import EARLY_ATTR

                setattr(report, EARLY_ATTR, self.early_handover(item.session))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """End this worker before the teardown of the test that broke its CUDA context."""
        if self._ending == item.nodeid:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(ENDED_EXIT)  # no atexit: the libraries' cleanup would meet the dead context


@final
class EndedWorkers:
    """pytest-xdist controller: lets workers end after a sticky error, without a crash report."""

    def __init__(self, config: pytest.Config) -> None:
        restarts = config.getoption("maxworkerrestart", None)
        #: Ending a worker is safe where xdist drops its running test and may start another.
        self.allowed = (
            config.getoption("dist", "no") in _ENDABLE_DIST
            and str(restarts) != "0"
            and not config.getoption("maxfail", 0)
        )
        self._ending: set[tuple[str, str]] = set()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Tell each worker (restarted ones too) whether it may end itself."""
        if self.allowed:
            node.workerinput[MAY_END_KEY] = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note the worker that announced, on this report, that it ends."""
        broke = getattr(report, CONTEXT_ATTR, None)
        if isinstance(broke, dict) and broke.get("ended_worker"):
            self._ending.add((str(broke["ended_worker"]), report.nodeid))

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> Any:
        """A worker we ended is not a crash: its report becomes that test's teardown report.

        The test's failure was reported already. The worker went down before its
        teardown, so pytest-xdist's "crashed while running" report stands in for the
        teardown report that never came, as a passed one: terminal, JUnit XML and
        ``--lf`` then count the test once, as failed. Returns True so that no other
        plugin reruns the test (it would break the next worker's context too).
        """
        node = getattr(report, "node", None)
        worker = str(getattr(node, "workerinput", {}).get("workerid", ""))
        if (worker, crashitem) not in self._ending:
            return None
        report.when = "teardown"
        report.outcome = "passed"
        report.longrepr = None
        setattr(
            report,
            ENDED_ATTR,
            f"pytest-gpuperf ended worker {worker} before this test's teardown: the test "
            "broke the worker's CUDA context",
        )
        return True


def summary_lines(stats: dict[str, list[Any]]) -> list[str]:
    """The run summary's lines on broken GPU environments and broken CUDA contexts."""
    return _lines(report for reports in stats.values() for report in reports)


def _lines(reports: Iterable[Any]) -> list[str]:
    observations: list[tuple[str, LibraryFault | None]] = []
    breaks: dict[str, dict[str, Any]] = {}
    failed_fast: collections.Counter[str] = collections.Counter()
    for report in reports:
        first = getattr(report, FIRST_CALL_ATTR, None)
        if isinstance(first, dict):
            fault = (
                LibraryFault(first["library"], first["error"], bool(first["via_numpy"]))
                if first.get("library")
                else None
            )
            observations.append((str(first["backend"]), fault))
        broke = getattr(report, CONTEXT_ATTR, None)
        if isinstance(broke, dict):
            breaks.setdefault(report.nodeid, broke)
        victim = getattr(report, FAILED_FAST_ATTR, None)
        if isinstance(victim, str):
            failed_fast[victim] += 1
    lines = []
    for backend, faults in kernel_faults.broken_backends(observations).items():
        versions = kernel_faults.library_versions(faults[0].library)
        lines.append(kernel_faults.broken_environment_line(backend, faults, versions))
    for nodeid, broke in breaks.items():
        if not broke.get("backend_test") and not failed_fast[nodeid]:
            continue  # a suite that does not use the plugin hears nothing from it
        sticky = StickyError(broke["name"], broke["description"], broke["error"])
        ended = str(broke.get("ended_worker") or "") or None
        lines.append(kernel_faults.context_summary_line(nodeid, sticky, failed_fast[nodeid], ended))
    return lines
