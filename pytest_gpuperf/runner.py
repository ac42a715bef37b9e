"""The ``cuda_sync_timer`` fixture's value: run, check and (under --gpuperf) measure a kernel."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf import contention, timing
from pytest_gpuperf.backends.base import LazyResultError
from pytest_gpuperf.compare import MismatchError, assert_matches
from pytest_gpuperf.gate import GateInput, GateResult, judge
from pytest_gpuperf.junit import junit_properties
from pytest_gpuperf.measurement import Measurement

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import AbstractContextManager

    from pytest_gpuperf.arrays import GpuArrayFactory
    from pytest_gpuperf.baseline import BaselineEntry
    from pytest_gpuperf.handle import BackendHandle
    from pytest_gpuperf.marker import MarkerSpec
    from pytest_gpuperf.options import Settings
    from pytest_gpuperf.throughput import Throughput


class KernelError(Exception):
    """A kernel or reference raised; the message names which, on which backend."""


@final
@dataclass
class TestRecord:
    """One measured test on one backend, as the session reports and saves it."""

    nodeid: str
    test_key: str
    backend: str
    kernel_name: str
    reference_name: str | None
    measurement: Measurement
    gate: GateResult | None
    dtypes: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    bytes_per_call: float | None = None
    flops_per_call: float | None = None
    sweep: str | None = None
    passed: bool = False
    throughput: Throughput | None = None
    #: The backend's ``device`` text (the GPU, or the dask scheduler), for the machine info.
    device: str = ""


@final
@dataclass(frozen=True)
class RunContext:
    """What the timer needs to know about the test and the session."""

    nodeid: str
    test_key: str
    settings: Settings
    params: Mapping[str, Any]
    baseline: Callable[[str, str], BaselineEntry | None]
    versions: Mapping[str, str]
    record: Callable[[TestRecord], None]
    user_properties: list[tuple[str, object]] = field(default_factory=list)
    #: What a measurement holds while it times (under pytest-xdist: the worker locks).
    #: Called with ``cpu_side=True`` for host backends, ``False`` for real GPUs.
    guard: Callable[..., AbstractContextManager[object]] = lambda cpu_side: contextlib.nullcontext()


@final
class SyncTimer:
    """Times ``kernel(*args)`` on the current backend with device work complete.

    Call it once per test: ``m = cuda_sync_timer(kernel, a, out)``.
    """

    def __init__(
        self,
        handle: BackendHandle,
        arrays: GpuArrayFactory,
        spec: MarkerSpec | None,
        context: RunContext,
    ) -> None:
        self._handle = handle
        self._arrays = arrays
        self._spec = spec
        self._context = context
        self._used = False

    @property
    def called(self) -> bool:
        """True once the test has called the timer."""
        return self._used

    @property
    def measuring(self) -> bool:
        """True when this run times kernels (``--gpuperf``), False for correctness only."""
        return self._context.settings.enabled

    def __call__(self, kernel: Callable[..., Any], *args: Any) -> Measurement:
        """Run ``kernel(*args)``, check it against the marker's reference, time it."""
        if self._used:
            raise RuntimeError("cuda_sync_timer measures one kernel per test; split the test")
        self._used = True
        backend = self._handle.impl
        name = timing.describe_callable(kernel)

        def call() -> object:
            return backend.make_concrete(kernel(*args))

        side = timing.TimedCall(call, synchronize=backend.synchronize)
        if self.measuring:
            result, first_call_s = _guarded(side.first_call, name, self._handle.name)
        else:
            result = _guarded(call, name, self._handle.name)
            first_call_s = None
        self._refuse_lazy(result, args, name)
        spec = self._spec
        reference_s = 0.0
        if spec is not None and spec.reference is not None:
            reference_s = self._check(result, args, name)
        if not self.measuring:
            return Measurement(result=result, timed=False, simulated=backend.simulated)
        reference_args = self._arrays.host_args(args)
        measurement = self._measure(call, result, first_call_s, reference_args, reference_s)
        self._report(name, reference_args, measurement)
        return measurement

    def _refuse_lazy(self, result: Any, args: tuple[Any, ...], name: str) -> None:
        """Fail when the (first) result is still lazy: timing it would measure no work."""
        from pytest_gpuperf.lazy import lazy_result_message

        backend = self._handle.impl
        handled = getattr(backend, "lazy_families", ())
        message = lazy_result_message(self._handle.name, name, result, args, handled)
        if message is not None:
            pytest.fail(message, pytrace=False)

    def _check(self, result: Any, args: tuple[Any, ...], name: str) -> float:
        """Compare the kernel's output with the reference's; return the reference's time."""
        spec = self._spec
        assert spec is not None
        assert spec.reference is not None
        actual = result
        if spec.output is not None:
            try:
                actual = args[spec.output]
            except IndexError:
                raise pytest.fail.Exception(
                    f"gpuperf(output={spec.output}) is out of range: the kernel got "
                    f"{len(args)} arguments",
                    pytrace=False,
                ) from None
        elif result is None:
            pytest.fail(
                f"{name} on {self._handle.name} returned None; name the argument it writes "
                "with gpuperf(output=INDEX), e.g. output=-1",
                pytrace=False,
            )
        reference = spec.reference
        fresh = self._arrays.host_args(args)
        start = timing.now_ns() if self.measuring else 0
        expected = _guarded(lambda: reference(*fresh), timing.describe_callable(reference), "host")
        elapsed = (timing.now_ns() - start) * 1e-9 if self.measuring else 0.0
        if expected is None and spec.output is not None:
            expected = fresh[spec.output]
        host_actual = self._handle.to_host(actual)
        label = f"{self._context.nodeid}: {name} on {self._handle.name}"
        try:
            if spec.compare is not None:
                if spec.compare(host_actual, expected) is False:
                    raise AssertionError("it returned False; raise AssertionError instead")
            else:
                import numpy

                assert_matches(
                    host_actual,
                    expected if numpy.isscalar(expected) else numpy.asarray(expected),
                    rtol=spec.rtol,
                    atol=spec.atol,
                    check_dtype=spec.check_dtype,
                    label=label,
                )
        except MismatchError as exc:  # ``from None``: show the report once, not chained twice
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
        except AssertionError as exc:
            message = f"{label}: custom compare failed: {exc}"
            raise pytest.fail.Exception(message, pytrace=False) from None
        return elapsed

    def _measure(
        self,
        call: Callable[[], object],
        result: Any,
        first_call_s: float | None,
        reference_args: tuple[Any, ...],
        reference_s: float,
    ) -> Measurement:
        """Measure, re-measuring once when other processes contend for the CPUs."""
        backend = self._handle.impl
        settings = self._context.settings
        spec = self._spec
        cold = (
            spec.flush_l2 if spec is not None and spec.flush_l2 is not None else settings.flush_l2
        )
        flush = getattr(backend, "flush_l2", None) if cold and backend.is_gpu else None
        config = timing.TimerConfig(
            max_time=spec.max_time if spec is not None and spec.max_time else settings.max_time,
            noise=settings.noise,
            cold_cache=flush is not None,
        )
        timer = None if backend.simulated else backend.device_timer()
        kernel_side = timing.TimedCall(
            call, synchronize=backend.synchronize, device_timer=timer, flush=flush
        )
        reference = spec.reference if spec is not None else None
        reference_side = (
            None
            if reference is None
            else timing.TimedCall(functools.partial(reference, *reference_args))
        )
        attempts = 0
        # A simulated device is never gated: it needs no lock beyond its test's shared hold.
        guard = self._context.guard
        held = contextlib.nullcontext() if backend.simulated else guard(cpu_side=not backend.is_gpu)
        with held:
            while True:
                attempts += 1
                monitor = contention.CpuMonitor()
                monitor.start()
                if reference_side is None:
                    # No estimate from the first call: it includes compilation.
                    kernel, note = timing.measure_single(kernel_side, config)
                    paired = None
                else:
                    paired = timing.measure_paired(
                        kernel_side, reference_side, config, reference_estimate_s=reference_s
                    )
                    kernel, note = paired.kernel, paired.budget_note
                foreign = monitor.stop()
                contended = foreign is not None and foreign > settings.contention
                if not contended or attempts >= 2 or backend.simulated:
                    break
        return Measurement(
            result=result,
            timed=True,
            simulated=backend.simulated,
            first_call_s=first_call_s,
            kernel=kernel,
            reference=paired.reference if paired else None,
            ratios=paired.ratios if paired else (),
            speedup=paired.speedup() if paired else None,
            cache="cold" if flush is not None else "hot",
            foreign_cpu=foreign,
            sibling_cpu=getattr(monitor, "sibling_share", None),
            budget_note=note,
            attempts=attempts,
        )

    def _report(self, name: str, host_args: tuple[Any, ...], measurement: Measurement) -> None:
        """Judge the measurement, hand it to the session, and fail the test on a regression."""
        context, spec, backend = self._context, self._spec, self._handle.name
        reference = spec.reference if spec is not None else None
        gate = None
        if reference is not None or measurement.simulated:
            gate = judge(
                GateInput(
                    test=context.nodeid,
                    backend=backend,
                    reference_name=timing.describe_callable(reference),
                    speedup=measurement.speedup,
                    baseline=context.baseline(context.test_key, backend),
                    tolerance=(
                        spec.tolerance
                        if spec is not None and spec.tolerance is not None
                        else context.settings.tolerance
                    ),
                    min_speedup=spec.min_speedup if spec is not None else None,
                    simulated=measurement.simulated,
                    foreign_cpu=measurement.foreign_cpu,
                    contention_limit=context.settings.contention,
                    fail_inconclusive=context.settings.fail_inconclusive,
                    reference_median_s=measurement.reference_median,
                    versions=context.versions,
                    accept_command=f"pytest --gpuperf --gpuperf-save '{context.nodeid}'",
                )
            )
        arrays = [a for a in host_args if hasattr(a, "dtype") and hasattr(a, "shape")]
        context.record(
            TestRecord(
                nodeid=context.nodeid,
                test_key=context.test_key,
                backend=backend,
                kernel_name=name,
                reference_name=timing.describe_callable(reference) if reference else None,
                measurement=measurement,
                gate=gate,
                dtypes=tuple(str(a.dtype) for a in arrays),
                shapes=tuple(tuple(int(d) for d in a.shape) for a in arrays),
                params=dict(context.params),
                bytes_per_call=_amount(spec.bytes if spec else None, host_args),
                flops_per_call=_amount(spec.flops if spec else None, host_args),
                sweep=spec.sweep if spec else None,
                device=self._handle.device,
            )
        )
        entry = context.baseline(context.test_key, backend)
        context.user_properties.extend(junit_properties(backend, measurement, gate, entry))
        if gate is not None and gate.failed:
            pytest.fail(gate.message, pytrace=False)


def _amount(value: float | Callable[..., float] | None, host_args: tuple[Any, ...]) -> float | None:
    """Resolve a bytes/flops declaration: a number, or a callable of the host inputs."""
    if value is None:
        return None
    return float(value(*host_args)) if callable(value) else float(value)


def _guarded(func: Callable[[], Any], name: str, backend: str) -> Any:
    """Call ``func``; a raised exception becomes a KernelError naming the kernel."""
    try:
        return func()
    except (pytest.fail.Exception, pytest.skip.Exception):
        raise
    except LazyResultError as exc:  # make_concrete could not force the result
        raise pytest.fail.Exception(f"{backend}: {name}: {exc}", pytrace=False) from None
    except Exception as exc:
        raise KernelError(f"{name} on {backend} raised {type(exc).__name__}: {exc}") from exc
