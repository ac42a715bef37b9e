"""The ``cuda_sync_timer`` fixture's value: run, check and (under --gpuperf) measure a kernel."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf import contention, memory_gate, nvml, timing
from pytest_gpuperf.backends.base import LazyResultError
from pytest_gpuperf.compare import MismatchError, assert_matches
from pytest_gpuperf.gate import GateInput, GateResult, Verdict, judge
from pytest_gpuperf.junit import junit_properties
from pytest_gpuperf.marker import MarkerError, resolve_amount
from pytest_gpuperf.measurement import Measurement
from pytest_gpuperf.record import Attempt, TestRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from contextlib import AbstractContextManager

    from pytest_gpuperf.arrays import GpuArrayFactory
    from pytest_gpuperf.handle import BackendHandle
    from pytest_gpuperf.history import History
    from pytest_gpuperf.marker import MarkerSpec
    from pytest_gpuperf.options import Settings


#: Restoring inputs between samples: refresh the kernel's inputs; make fresh host inputs.
Restore = tuple["Callable[[], None]", "Callable[[], tuple[Any, ...]]"]


class KernelError(Exception):
    """A kernel or reference raised; the message names which, on which backend."""


@final
@dataclass(frozen=True)
class RunContext:
    """What the timer needs to know about the test and the session."""

    nodeid: str
    test_key: str
    settings: Settings
    params: Mapping[str, Any]
    history: Callable[[str, str], History | None]
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

    def __call__(
        self, kernel: Callable[..., Any], *args: Any, restore_inputs: bool = False
    ) -> Measurement:
        """Run ``kernel(*args)``, check it against the marker's reference, time it.

        Timed samples reuse the same inputs. For a kernel or reference that changes
        its inputs in place, ``restore_inputs=True`` gives every sample fresh copies
        of the original inputs (made by ``gpu_array``), outside the timed region, and
        times one call per sample.
        """
        if self._used:
            raise RuntimeError("cuda_sync_timer measures one kernel per test; split the test")
        self._used = True
        backend = self._handle.impl
        name = timing.describe_callable(kernel)
        current = list(args)

        def call() -> object:
            return backend.make_concrete(kernel(*current))

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
        restore: Restore | None = None
        if restore_inputs:

            def restore_kernel() -> None:
                current[:] = self._arrays.fresh_device_args(args)

            restore = (restore_kernel, lambda: self._arrays.host_args(args))

        def launch() -> object:
            return kernel(*current)

        first = None
        history = self._context.history(self._context.test_key, self._handle.name)  # read once
        try:
            measurement = self._measure(
                call, launch, result, first_call_s, reference_args, reference_s, restore
            )
            with self._held():  # one more kernel call: not beside another worker's timing
                peaks = _guarded(
                    lambda: memory_gate.measure(self._handle, call), name, self._handle.name
                )
            measurement = dataclasses.replace(measurement, memory=peaks)
            gate = self._judge(measurement, history)
            if gate is not None and gate.verdict is Verdict.REGRESSED:
                # A suspected regression is measured once more, on freshly allocated inputs
                # that hold the original values, before the verdict is final.
                first = Attempt(measurement, gate)
                current[:] = self._arrays.fresh_device_args(args)
                reference_args = self._arrays.host_args(args)
                measurement = self._measure(
                    call, launch, result, first_call_s, reference_args, reference_s, restore
                )
                measurement = dataclasses.replace(measurement, memory=first.measurement.memory)
                gate = _with_first_attempt(self._judge(measurement, history), first)
        except timing.CallFailed as exc:
            raise self._failed_while_timing(exc, name, restore_inputs) from exc.error
        too_big = memory_gate.failure(
            measurement, self._spec, self._context, self._handle
        ) or memory_gate.growth(measurement, history, self._context, self._handle)
        try:
            self._report(name, reference_args, measurement, gate, first, history)
        except pytest.fail.Exception as exc:
            if too_big:  # report both failures, not only the speed one
                raise pytest.fail.Exception(f"{exc.msg}\n{too_big}", pytrace=False) from None
            raise
        if too_big:
            pytest.fail(too_big, pytrace=False)
        return measurement

    def _failed_while_timing(
        self, exc: timing.CallFailed, name: str, restored: bool
    ) -> KernelError:
        """The error for a kernel or reference that raised in a timed sample, not at first."""
        spec = self._spec
        is_kernel = exc.side == "kernel"
        who = name if is_kernel else timing.describe_callable(spec.reference if spec else None)
        where = self._handle.name if is_kernel else "host"
        hint = (
            ""
            if restored
            else "; if it changes its own inputs, pass restore_inputs=True to cuda_sync_timer"
        )
        return KernelError(
            f"{who} on {where} raised {type(exc.error).__name__}: {exc.error} "
            f"(in timed sample {exc.sample}, after the first call had passed{hint})"
        )

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

    def _held(self) -> contextlib.AbstractContextManager[object]:
        """What a measurement holds under pytest-xdist: the host or the device lock.

        A simulated device is never gated: it needs no lock beyond its test's shared hold.
        """
        backend = self._handle.impl
        if backend.simulated:
            return contextlib.nullcontext()
        return self._context.guard(cpu_side=not backend.is_gpu)

    def _measure(
        self,
        call: Callable[[], object],
        launch: Callable[[], object],
        result: Any,
        first_call_s: float | None,
        reference_args: tuple[Any, ...],
        reference_s: float,
        restore: Restore | None = None,
    ) -> Measurement:
        """Measure, re-measuring once when other processes contend or the GPU throttles.

        ``call`` is the kernel call that waits for its result; ``launch`` only
        queues it, for the CUDA-event part of each sample. With ``restore`` (refresh
        the kernel's inputs, make fresh host inputs), every sample of both sides
        starts from the original inputs.
        """
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
            single_calls=restore is not None,
        )
        timer = None if backend.simulated else backend.device_timer()
        watch = None
        if timer is not None and backend.is_gpu:
            pci_bus_id = getattr(backend, "pci_bus_id", None)
            watch = nvml.watch(pci_bus_id() if callable(pci_bus_id) else None)
        kernel_side = timing.TimedCall(
            call,
            synchronize=backend.synchronize,
            device_timer=timer,
            flush=flush,
            prepare=restore[0] if restore else None,
            side="kernel",
            launch=launch,
            watch=watch.sample_throttled if watch is not None else None,
        )
        reference = spec.reference if spec is not None else None
        reference_side = None
        if reference is not None and restore is None:
            reference_side = timing.TimedCall(
                functools.partial(reference, *reference_args), side="reference"
            )
        elif reference is not None and restore is not None:
            fresh = list(reference_args)
            make_fresh = restore[1]

            def refresh() -> None:
                fresh[:] = make_fresh()

            reference_side = timing.TimedCall(
                lambda: reference(*fresh), prepare=refresh, side="reference"
            )
        attempts = 0
        with self._held():
            while True:
                attempts += 1
                if watch is not None:
                    watch.begin()
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
                clocks = watch.end() if watch is not None else None
                contended = foreign is not None and foreign > settings.contention
                throttled = clocks is not None and clocks.throttled
                if not (contended or throttled) or attempts >= 2 or backend.simulated:
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
            clocks=clocks,
        )

    def _judge(self, measurement: Measurement, history: History | None) -> GateResult | None:
        """The verdict on one measurement, against this test's saved runs."""
        context, spec, backend = self._context, self._spec, self._handle.name
        settings = context.settings
        reference = spec.reference if spec is not None else None
        mode = spec.gate if spec is not None and spec.gate else settings.gate
        if reference is None and not measurement.simulated and mode == "speedup":
            return None
        return judge(
            GateInput(
                test=context.nodeid,
                backend=backend,
                reference_name=timing.describe_callable(reference) if reference else "-",
                speedup=measurement.speedup,
                history=history,
                tolerance=(
                    spec.tolerance
                    if spec is not None and spec.tolerance is not None
                    else settings.tolerance
                ),
                min_speedup=spec.min_speedup if spec is not None else None,
                simulated=measurement.simulated,
                foreign_cpu=measurement.foreign_cpu,
                contention_limit=settings.contention,
                fail_inconclusive=settings.fail_inconclusive,
                throttled=measurement.throttled,
                reference_median_s=measurement.reference_median,
                kernel_median_s=measurement.median,
                kernel_time=measurement.kernel_time,
                kernel_clock=measurement.kernel_clock,
                mode=mode,
                false_alarm=settings.false_alarm,
                versions=context.versions,
                accept_command=f"pytest --gpuperf --gpuperf-save {shlex.quote(context.nodeid)}",
            )
        )

    def _report(
        self,
        name: str,
        host_args: tuple[Any, ...],
        measurement: Measurement,
        gate: GateResult | None,
        first: Attempt | None,
        history: History | None,
    ) -> None:
        """Hand the measurement and its verdict to the session; fail the test on a regression."""
        context, spec, backend = self._context, self._spec, self._handle.name
        reference = spec.reference if spec is not None else None
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
                bytes_per_call=_amount(spec.bytes if spec else None, host_args, "bytes"),
                flops_per_call=_amount(spec.flops if spec else None, host_args, "flops"),
                sweep=spec.sweep if spec else None,
                device=self._handle.device,
                history=history,
                first_attempt=first,
            )
        )
        context.user_properties.extend(junit_properties(backend, measurement, gate, history))
        if gate is not None and gate.failed:
            pytest.fail(gate.message, pytrace=False)


def _with_first_attempt(gate: GateResult | None, first: Attempt) -> GateResult | None:
    """The second attempt's verdict, saying what the first one measured."""
    if gate is None:
        return None
    speed = first.measurement.speedup
    measured = f" at {speed.value:.3g}x" if speed is not None else ""
    note = (
        f"re-measured on fresh inputs after attempt 1 was {first.gate.verdict.value}{measured}; "
        "attempt 2 decides"
    )
    message = gate.message
    if gate.failed:
        message = f"{message}\nattempt 1 (first inputs): {first.gate.reason}"
    return dataclasses.replace(gate, notes=(*gate.notes, note), message=message)


def _amount(
    value: float | Callable[..., float] | None, host_args: tuple[Any, ...], key: str
) -> float | None:
    """Resolve a bytes/flops declaration; a bad callable fails the test naming the keyword."""
    try:
        return resolve_amount(value, host_args, key)
    except MarkerError as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None


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
