"""pytest entry point: options, hooks and fixtures, each delegating to a module.

Nothing heavy is imported here: numpy, numba and cupy load only when a test
that uses a backend runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from pytest_gpuperf import hookspecs, skips
from pytest_gpuperf.marker import (
    MARKER_HELP,
    MarkerError,
    MarkerSpec,
    declared_backends,
    parse_marker,
)
from pytest_gpuperf.options import Settings, add_options, ignored_line
from pytest_gpuperf.store import keys

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from pytest_gpuperf.backends.base import Backend
    from pytest_gpuperf.backends.registry import BackendRegistry  # noqa: F401
    from pytest_gpuperf.fixtures.backend_handle import BackendHandle
    from pytest_gpuperf.fixtures.gpu_array import GpuArrayFactory
    from pytest_gpuperf.fixtures.sync_timer import SyncTimer
    from pytest_gpuperf.scaleout.xdist_session import XdistController, XdistWorker  # noqa: F401
    from pytest_gpuperf.session import GpuperfSession

settings_key = pytest.StashKey[Settings]()
registry_key = pytest.StashKey["BackendRegistry"]()
session_key = pytest.StashKey["GpuperfSession"]()
hints_key = pytest.StashKey[dict[str, None]]()
spec_key = pytest.StashKey[MarkerSpec | None]()
timer_key = pytest.StashKey["SyncTimer"]()
#: Per test function (its node id without the id suffix): how many id parts precede the backend's.
positions_key = pytest.StashKey[dict[str, int | None]]()
scaleout_key = pytest.StashKey["XdistController | XdistWorker"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--gpuperf`` and the ``gpuperf_*`` ini keys."""
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Add ``pytest_gpuperf_register_backends`` so others can add backends."""
    pluginmanager.add_hookspecs(hookspecs)


def pytest_gpuperf_register_backends(config: pytest.Config) -> Sequence[Backend]:
    """The four built-in backends."""
    from pytest_gpuperf.backends import builtin_backends

    return builtin_backends()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """In a pytest-xdist worker of ``--gpuperf``, keep one CUDA device, before conftests load."""
    from pytest_gpuperf.scaleout.devices import bind_worker

    bind_worker()


#: Set in a fresh process that re-runs some tests of a parent (``fresh_process.CHILD_ENV``).
_CHILD = "GPUPERF_CHILD"


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """In a fresh process a parent started, switch off the reports the parent writes."""
    if _CHILD in os.environ:
        from pytest_gpuperf.fresh_process import quiet_child_outputs

        quiet_child_outputs(config)


def pytest_configure(config: pytest.Config) -> None:
    """Parse the settings once; start a measuring session under ``--gpuperf``."""
    config.addinivalue_line("markers", MARKER_HELP)
    settings = Settings.from_config(config)
    if settings.enabled and _CHILD in os.environ:
        settings = _as_child(config, settings)
    config.stash[settings_key] = settings
    config.stash[hints_key] = {}
    config.stash[positions_key] = {}
    from pytest_gpuperf.backends.numba_cuda import late_simulator_warning

    late = late_simulator_warning()
    if late:
        config.stash[hints_key][late] = None
    if settings.enabled:
        from pytest_gpuperf.session import GpuperfSession

        session = GpuperfSession(config, settings)
        session.hints = config.stash[hints_key]
        config.stash[session_key] = session
        config.pluginmanager.register(session, "gpuperf-session")
        _start_scaleout(config, session)
    from pytest_gpuperf import fault_watch

    measuring = config.stash.get(session_key, None)
    fault_watch.install(config, measuring.hand_over_early if measuring is not None else None)


def _as_child(config: pytest.Config, settings: Settings) -> Settings:
    """A fresh process a parent started: the tests of its plan, none of the parent's reports."""
    from pytest_gpuperf import fresh_process

    plan = fresh_process.child_plan()
    if plan is None:
        return settings
    config.pluginmanager.register(fresh_process.ChildSelection(plan.nodeids), "gpuperf-child")
    return fresh_process.child_settings(settings, plan)


def _start_scaleout(config: pytest.Config, session: GpuperfSession) -> None:
    """Under pytest-xdist: the controller's or the worker's side of measuring in parallel."""
    from pytest_gpuperf.scaleout import xdist_session

    part: xdist_session.XdistController | xdist_session.XdistWorker | None = None
    if session.role == "controller":
        part = xdist_session.XdistController(session, session.settings)
    elif session.role == "worker":
        locks = xdist_session.worker_locks(config)
        if locks is not None:
            session.guard = locks.measuring
            part = xdist_session.XdistWorker(locks)
    if part is not None:
        config.stash[scaleout_key] = part
        config.pluginmanager.register(part, "gpuperf-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close the pytest-xdist side: environment, lock folder, sibling watch."""
    part = config.stash.get(scaleout_key, None)
    if part is not None:
        part.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Collect the backends from the hook and check ``--gpuperf-backends`` against them."""
    from pytest_gpuperf.backends.registry import BackendRegistry

    config = session.config
    found = config.hook.pytest_gpuperf_register_backends(config=config)
    try:
        registry = BackendRegistry(backend for group in reversed(found) for backend in group)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[registry_key] = registry
    settings = config.stash[settings_key]
    unknown = registry.unknown(settings.backends or ())
    if unknown:
        from_cli = config.getoption("gpuperf_backends") is not None
        source = "--gpuperf-backends" if from_cli else "gpuperf_backends (from config file)"
        raise pytest.UsageError(
            f"{source} names unknown backend {unknown[0]!r}; "
            f"known backends: {', '.join(registry.names)}"
        )
    if session_key in config.stash:
        config.stash[session_key].start(registry)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that asks for our ``backend`` fixture once per selected backend.

    A ``gpuperf(backends=...)`` marker narrows the selection: other backends are not
    generated at all, so they are not reported as skipped.
    """
    if "backend" not in metafunc.fixturenames or not _uses_our_backend(metafunc):
        return
    config = metafunc.config
    names = config.stash[registry_key].select(config.stash[settings_key].backends)
    declared = declared_backends(metafunc.definition.get_closest_marker("gpuperf"))
    if declared is not None and not [name for name in names if name in declared]:
        reason = skips.not_generated_reason(declared, names, _backends_source(config))
        skipped = pytest.param(
            None, id=skips.NOT_GENERATED_ID, marks=pytest.mark.skip(reason=reason)
        )
        metafunc.parametrize("backend", [skipped], indirect=True)
        return
    if declared is not None:
        names = [name for name in names if name in declared]
    calls: Sequence[Any] = getattr(metafunc, "_calls", ())
    lengths = {len(getattr(call, "_idlist", ())) for call in calls} or {0}
    position = lengths.pop() if len(lengths) == 1 else None
    config.stash[positions_key][metafunc.definition.nodeid] = position
    metafunc.parametrize("backend", names, ids=names, indirect=True)


def _backends_source(config: pytest.Config) -> str | None:
    """Where the backend selection came from: the option, the ini key, or None (default)."""
    if config.getoption("gpuperf_backends") is not None:
        return "--gpuperf-backends"
    return "gpuperf_backends" if config.stash[settings_key].backends is not None else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Validate the ``gpuperf`` marker; a bad argument fails the test at setup."""
    mark = item.get_closest_marker("gpuperf")
    if mark is None:
        return
    try:
        item.stash[spec_key] = spec = parse_marker(mark)
    except MarkerError as exc:
        raise pytest.fail.Exception(f"{item.nodeid}: {exc}", pytrace=False) from None
    registry = item.config.stash.get(registry_key, None)
    unknown = registry.unknown(spec.backends) if spec and spec.backends and registry else []
    if registry is not None and unknown:
        pytest.fail(
            f"{item.nodeid}: gpuperf(backends=...) names unknown backend {unknown[0]!r}; "
            f"known backends: {', '.join(registry.names)}",
            pytrace=False,
        )
    if spec is not None and spec.sweep is not None:
        from pytest_gpuperf.report.sweep import sweep_problem

        callspec = getattr(item, "callspec", None)
        params = {k: v for k, v in (callspec.params if callspec else {}).items() if k != "backend"}
        problem = sweep_problem(spec.sweep, params)
        if problem:
            pytest.fail(f"{item.nodeid}: {problem}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail a test whose marker names a reference that never got to check anything."""
    yield
    spec = item.stash.get(spec_key, None)
    timer = item.stash.get(timer_key, None)
    if spec is not None and spec.reference is not None and not (timer and timer.called):
        raise pytest.fail.Exception(
            f"{item.nodeid}: marked gpuperf(reference=...), but cuda_sync_timer was never "
            "called, so no kernel was checked; call cuda_sync_timer(kernel, *inputs)",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Tag the skip report of a backend-parametrized test with its backend (xdist keeps it).

    A test that runs on none of the selected backends is tagged with its own name.
    """
    report = yield
    callspec = getattr(item, "callspec", None)
    if report.skipped and callspec is not None and "backend" in callspec.params:
        backend = callspec.params["backend"]
        group = item.nodeid.partition("[")[0] if backend is None else str(backend)
        setattr(report, skips.BACKEND_ATTR, group)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the backend skips by reason, the ignored options, the hints and the GPU faults."""
    config = terminalreporter.config
    lines = skips.skip_lines(
        (backend, reason)
        for report in terminalreporter.stats.get("skipped", [])
        if (backend := getattr(report, skips.BACKEND_ATTR, None))
        and (reason := skips.skip_reason(report.longrepr))
    )
    settings = config.stash.get(settings_key, None)
    ignored = ignored_line(settings) if settings is not None else None
    found: dict[str, None] = config.stash.get(hints_key, {})
    hints = list(found)
    if lines:
        terminalreporter.write_sep("-", "gpuperf skips")
        for line in lines:
            terminalreporter.write_line(line)
    if ignored or hints:
        terminalreporter.write_sep("-", "gpuperf hints")
        for hint in [ignored, *hints] if ignored else hints:
            terminalreporter.write_line(hint)
    from pytest_gpuperf.fault_watch import summary_lines

    faults = summary_lines(terminalreporter.stats)
    if faults:
        terminalreporter.write_sep("-", "gpuperf: GPU faults")
        for line in faults:
            terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    """Add our fingerprint, GPU facts and library versions to pytest-benchmark's machine info."""
    from pytest_gpuperf.report.json_report import gpuperf_machine_info

    session = config.stash.get(session_key, None)
    machine_info["gpuperf"] = gpuperf_machine_info(
        session.results() if session is not None else None,
        config.stash.get(registry_key, None),
        config.stash[settings_key].backends,
    )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> BackendHandle:
    """The array backend this test runs on: numpy, numba, numba_cuda or cupy.

    torch, jax and dask run too when named, e.g. ``--gpuperf-backends=numpy,torch``.

    Tests that ask for it run once per backend (``test_x[numba_cuda]``); a
    backend that cannot run here is skipped with the reason. Use
    ``backend.select(numpy=f, numba=g, ...)`` to pick the kernel and
    ``backend.assert_matches(actual, expected)`` to check a result.
    """
    from pytest_gpuperf.fixtures.backend_handle import BackendHandle

    registry = request.config.stash[registry_key]
    name = getattr(request, "param", None)
    if name is None:
        raise pytest.UsageError("the backend fixture is parametrized by pytest-gpuperf only")
    reason = registry.unavailable_reason(name)
    if reason is not None:
        pytest.skip(reason)
    from pytest_gpuperf.fault_watch import watch_key

    impl = registry.get(name)
    request.config.stash[watch_key].refuse_broken_context(request.node, impl)
    return BackendHandle(impl, registry.names)


@pytest.fixture
def gpu_array(backend: BackendHandle, request: pytest.FixtureRequest) -> GpuArrayFactory:
    """Factory for input arrays on the backend's device that keeps their host copies.

    ``gpu_array(host)``, ``gpu_array.random(shape, dtype, seed)``,
    ``gpu_array.zeros(shape, dtype)``, ``gpu_array.empty_like(arr)``; a dtype is
    always explicit. ``gpu_array.host(arr)`` returns the kept host copy.
    """
    from pytest_gpuperf.fixtures.gpu_array import GpuArrayFactory

    hints = request.config.stash[hints_key]
    return GpuArrayFactory(backend.impl, lambda text: hints.setdefault(text, None))


@pytest.fixture
def cuda_sync_timer(
    backend: BackendHandle, gpu_array: GpuArrayFactory, request: pytest.FixtureRequest
) -> SyncTimer:
    """Run ``kernel(*args)`` and, under ``--gpuperf``, time it correctly.

    ``m = cuda_sync_timer(kernel, a, out)`` synchronizes the device inside every
    sample, keeps the first (compiling) call out of the samples, warms up, and
    samples until the noise target or the time budget. With the ``gpuperf``
    marker it also checks the result against ``reference`` on the host copies
    and gates the speedup. Without ``--gpuperf`` it runs once and times nothing.
    """
    from pytest_gpuperf.fixtures.sync_timer import RunContext, SyncTimer

    config = request.config
    session = config.stash.get(session_key, None)
    settings = config.stash[settings_key]
    item = request.node
    callspec = getattr(item, "callspec", None)
    params: dict[str, Any] = dict(callspec.params) if callspec else {}
    params.pop("backend", None)
    context = RunContext(
        nodeid=item.nodeid,
        test_key=baseline_key(item, backend.name),
        settings=settings,
        params=params,
        history=session.history if session else lambda key, name: None,
        versions=session.versions if session else {},
        priors=session.priors if session else lambda name: {},
        confirm=session.confirm if session else None,
        record=session.record if session else lambda record: None,
        user_properties=item.user_properties,
        **({"guard": session.guard} if session else {}),
    )
    timer = SyncTimer(backend, gpu_array, item.stash.get(spec_key, None), context)
    item.stash[timer_key] = timer
    return timer


def baseline_key(item: pytest.Item, backend_name: str) -> str:
    """The baseline key: the node id without the id part pytest made for ``backend``."""
    callspec = getattr(item, "callspec", None)
    id_parts: Sequence[str] = getattr(callspec, "_idlist", ()) if callspec else ()
    suffix = "[" + "-".join(id_parts) + "]"
    head = item.nodeid.removesuffix(suffix)
    position = item.config.stash.get(positions_key, {}).get(head)
    return keys.baseline_key(item.nodeid, id_parts, position, backend_name)


def _uses_our_backend(metafunc: pytest.Metafunc) -> bool:
    """True when ``backend`` resolves to this plugin's fixture, not a user's own.

    A user's override that itself requests ``backend`` wraps ours, so it counts.
    """
    defs: Sequence[Any] = getattr(metafunc, "_arg2fixturedefs", {}).get("backend") or ()
    ours = getattr(backend, "__wrapped__", backend)
    for fixturedef in reversed(defs):
        if fixturedef.func is ours:
            return True
        if "backend" not in fixturedef.argnames:
            return False
    return False
