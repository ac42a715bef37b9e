"""The timing core: samples with device work complete inside each one.

A plain module with no pytest import, unit-tested on the CPU path. Every clock
read goes through :data:`host_clock_ns`, so tests can swap in a fake clock and
make the gate logic deterministic.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, final

from pytest_gpuperf.measure.statistics import (
    RatioEstimate,
    Summary,
    log_ratio_halfwidth,
    ratio_interval,
    summarize,
    t_quantile_95,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_gpuperf.backends.base import DeviceTimer

#: The host clock, in integer nanoseconds. Replace it (module attribute) to inject time.
host_clock_ns: Callable[[], int] = time.perf_counter_ns

_NS = 1e-9


def now_ns() -> int:
    """Read the current host clock (looked up at call time, so it can be replaced)."""
    return host_clock_ns()


class CallFailed(Exception):
    """A call raised while being timed; names the side and the sample it failed in."""

    def __init__(self, side: str, sample: int, error: Exception) -> None:
        super().__init__(f"{side} raised {type(error).__name__} in timed sample {sample}")
        self.side = side
        self.sample = sample
        self.error = error


@final
@dataclass(frozen=True)
class TimerConfig:
    """How long and how precisely to measure."""

    max_time: float = 1.0
    noise: float = 0.02
    min_rounds: int = 10
    max_rounds: int = 2000
    warmup_time: float = 0.05
    min_sample_time: float = 2e-4
    max_batch: int = 10_000
    cold_cache: bool = False
    #: One call per sample, e.g. when inputs are restored before every sample.
    single_calls: bool = False


#: The cold-L2 flush writes at least this much (triton's ``do_bench`` flushes 256 MB).
MIN_FLUSH_BYTES = 256 * 2**20
#: ... and at least this many times the L2, for GPUs whose L2 outgrows that.
FLUSH_L2_MULTIPLE = 2


def flush_buffer_bytes(l2_bytes: int | None) -> int:
    """Size of the cold-L2 flush buffer: ``max(256 MiB, 2 × L2)``.

    Writing exactly the L2's size does not evict all of it: the L2 is split in
    partitions with hashed set indexing and a replacement policy that is not
    strictly LRU, so some old lines survive. Twice the L2 (and never less than
    triton's 256 MB) leaves none in practice, for the cost of one memset per sample,
    which is outside the timing.
    """
    return max(MIN_FLUSH_BYTES, FLUSH_L2_MULTIPLE * int(l2_bytes or 0))


class SampleTimes(NamedTuple):
    """One sample's per-call ns: wall, batch GPU (``device``), isolated GPU (None: no events)."""

    wall: float
    device: float | None
    isolated: float | None


@final
class TimedCall:
    """One side of a measurement: a callable, how to wait for it, how to time it on device.

    With a ``device_timer`` each sample has more than the wall part, which times
    ``batch`` calls of ``call`` (each synchronized) on the host clock, as on the CPU:
    - *batch* GPU time: CUDA events around ``batch`` queued calls of ``launch`` (one
      synchronize at the end), the kernels back to back without launch and
      sync-wake-up gaps; wall minus batch is the launch overhead;
    - *isolated* GPU time: events around one ``launch`` on an idle GPU, as
      ``cupyx.profiler.benchmark`` times each call; it adds the launch latency
      after the start event and the gaps between the kernels of one call. With
      ``batch == 1`` the batch part is exactly that (the wall part's synchronize
      left the GPU idle) and is reused; else one more call, after the wall part,
      is timed so. Events inside the wall part would add their host cost to it.
    ``prepare`` (restoring inputs) and ``flush`` run before each part, outside all
    timings, and ``watch`` after each recorded sample (the throttle check).
    """

    def __init__(
        self,
        call: Callable[[], object],
        *,
        synchronize: Callable[[], None] | None = None,
        device_timer: DeviceTimer | None = None,
        flush: Callable[[], None] | None = None,
        prepare: Callable[[], None] | None = None,
        side: str = "call",
        launch: Callable[[], object] | None = None,
        watch: Callable[[], bool] | None = None,
    ) -> None:
        self.call = call
        self._synchronize = synchronize
        self._device_timer = device_timer
        self._flush = flush
        self._prepare = prepare
        self.side = side
        self.samples_taken = 0
        self._launch = launch if launch is not None else call
        self._watch = watch

    def first_call(self) -> tuple[object, float]:
        """Run once, synchronized, and return the result and its wall time in seconds."""
        start = now_ns()
        result = self.call()
        if self._synchronize is not None:
            self._synchronize()
        return result, (now_ns() - start) * _NS

    def sample(self, batch: int) -> SampleTimes:
        """Time ``batch`` calls; return the per-call wall, batch and isolated GPU ns.

        A call that raises becomes :class:`CallFailed`, naming this side and the sample.
        """
        self.samples_taken += 1
        self._before_part()
        call, clock = self.call, host_clock_ns
        start = clock()
        try:
            for _ in range(batch):
                call()
        except Exception as exc:  # outside the loop: costs nothing per call
            raise CallFailed(self.side, self.samples_taken, exc) from exc
        if self._synchronize is not None:
            self._synchronize()
        wall = (clock() - start) / batch
        timer = self._device_timer
        if timer is None:
            return SampleTimes(wall, None, None)
        isolated = self._timed_launches(timer, 1) if batch > 1 else None
        device = self._timed_launches(timer, batch)
        return SampleTimes(wall, device, device if isolated is None else isolated)

    def _before_part(self) -> None:
        """Restore the inputs and flush the L2 (when asked), outside every timing."""
        if self._prepare is not None:
            self._prepare()
        if self._flush is not None:
            self._flush()

    def _timed_launches(self, timer: DeviceTimer, count: int) -> float:
        """Per-call device ns of ``count`` queued launches between one pair of events."""
        self._before_part()
        launch = self._launch
        timer.start()
        try:
            for _ in range(count):
                launch()
        except Exception as exc:
            raise CallFailed(self.side, self.samples_taken, exc) from exc
        return timer.stop() / count

    def after_sample(self) -> None:
        """Run the throttle check of a recorded sample, when there is one."""
        if self._watch is not None:
            self._watch()


@final
@dataclass(frozen=True)
class Samples:
    """Per-call times of one side, in nanoseconds, and the batch size used.

    ``device_ns`` holds the batch GPU times (events around queued launches) and
    ``isolated_ns`` the isolated ones (events around one call), one per sample each.
    """

    wall_ns: tuple[float, ...]
    device_ns: tuple[float, ...] | None
    batch: int
    isolated_ns: tuple[float, ...] | None = None

    def summary(self) -> Summary:
        """Statistics of the per-call wall times, in seconds."""
        return summarize([ns * _NS for ns in self.wall_ns])

    def device_summary(self) -> Summary | None:
        """Statistics of the per-call batch GPU times, in seconds, when events were used."""
        return summarize([ns * _NS for ns in self.device_ns]) if self.device_ns else None

    def isolated_summary(self) -> Summary | None:
        """Statistics of the isolated GPU times (one call each), in seconds, when measured."""
        return summarize([ns * _NS for ns in self.isolated_ns]) if self.isolated_ns else None


@final
@dataclass(frozen=True)
class PairedSamples:
    """Interleaved samples of kernel and reference, and the per-round speedup ratios."""

    kernel: Samples
    reference: Samples
    ratios: tuple[float, ...]
    budget_note: str | None

    def speedup(self) -> RatioEstimate:
        """The speedup over the reference with its bootstrap 95% interval."""
        return ratio_interval(self.ratios)


class _Recorder:
    """Collects samples of one side."""

    def __init__(self, side: TimedCall, batch: int) -> None:
        self.side = side
        self.batch = batch
        self.wall: list[float] = []
        self.device: list[float] = []
        self.isolated: list[float] = []
        self.has_device = True

    def take(self, count: int) -> float:
        """Take ``count`` samples; return the median per-call wall ns among them."""
        taken = []
        for _ in range(count):
            wall, device, isolated = self.side.sample(self.batch)
            self.side.after_sample()
            taken.append(max(wall, 1e-3))
            if device is None:
                self.has_device = False
            else:
                self.device.append(device)
            if isolated is not None:
                self.isolated.append(isolated)
        self.wall.extend(taken)
        taken.sort()
        return taken[len(taken) // 2]

    def samples(self) -> Samples:
        device = tuple(self.device) if self.has_device and self.device else None
        isolated = tuple(self.isolated) if device is not None and self.isolated else None
        return Samples(tuple(self.wall), device, self.batch, isolated)


def _calibrate(side: TimedCall, config: TimerConfig, estimate_s: float) -> tuple[int, float]:
    """Warm up by time and choose a batch size; return (batch, per-call seconds).

    The warm-up takes at most a tenth of the budget, so a short ``max_time`` is
    not spent before the first round.
    """
    per_call = estimate_s
    warmup = min(config.warmup_time, config.max_time / 10)
    if estimate_s < warmup:
        deadline = now_ns() + warmup / _NS
        per_call = math.inf
        while True:
            wall = side.sample(1).wall
            per_call = min(per_call, wall * _NS)
            if now_ns() >= deadline:
                break
    if config.cold_cache or config.single_calls:
        return 1, per_call
    batch = math.ceil(config.min_sample_time / max(per_call, 1e-9))
    return max(1, min(batch, config.max_batch)), per_call


def measure_single(
    side: TimedCall, config: TimerConfig, *, estimate_s: float = 0.0
) -> tuple[Samples, str | None]:
    """Sample one callable until its noise is under target or the budget is spent."""
    start = now_ns()
    batch, per_call = _calibrate(side, config, estimate_s)
    recorder = _Recorder(side, batch)
    min_rounds, note = _rounds_within_budget(config, per_call * batch, start, ("kernel", per_call))
    rounds = 0
    while rounds < config.max_rounds:
        recorder.take(1)
        rounds += 1
        if rounds < min_rounds:
            continue
        if (now_ns() - start) * _NS >= config.max_time:
            break
        if _relative_halfwidth(recorder.wall) <= config.noise:
            break
    return recorder.samples(), note


def measure_paired(
    kernel: TimedCall,
    reference: TimedCall,
    config: TimerConfig,
    *,
    kernel_estimate_s: float = 0.0,
    reference_estimate_s: float = 0.0,
) -> PairedSamples:
    """Alternate reference and kernel samples and record one speedup ratio per round.

    The slow side takes one sample per round and the fast side several, so a
    1 s reference against a 1 ms kernel does not spend the budget on reference
    calls; the order flips every round so drift hits both sides alike.
    """
    start = now_ns()
    kernel_batch, kernel_call = _calibrate(kernel, config, kernel_estimate_s)
    reference_batch, reference_call = _calibrate(reference, config, reference_estimate_s)
    kernel_rec = _Recorder(kernel, kernel_batch)
    reference_rec = _Recorder(reference, reference_batch)
    kernel_sample = kernel_call * kernel_batch
    reference_sample = reference_call * reference_batch
    kernel_count = _per_round(reference_sample, kernel_sample)
    reference_count = _per_round(kernel_sample, reference_sample)
    round_time = kernel_count * kernel_sample + reference_count * reference_sample
    slowest = max(("kernel", kernel_call), ("reference", reference_call), key=lambda s: s[1])
    min_rounds, note = _rounds_within_budget(config, round_time, start, slowest)
    ratios: list[float] = []
    while len(ratios) < config.max_rounds:
        if len(ratios) % 2 == 0:
            reference_ns = reference_rec.take(reference_count)
            kernel_ns = kernel_rec.take(kernel_count)
        else:
            kernel_ns = kernel_rec.take(kernel_count)
            reference_ns = reference_rec.take(reference_count)
        ratios.append(reference_ns / kernel_ns)
        if len(ratios) < min_rounds:
            continue
        if (now_ns() - start) * _NS >= config.max_time:
            break
        if log_ratio_halfwidth(ratios) <= config.noise:
            break
    return PairedSamples(kernel_rec.samples(), reference_rec.samples(), tuple(ratios), note)


def _per_round(other_sample: float, own_sample: float) -> int:
    """How many samples the faster side takes per round (1 for the slower side)."""
    if own_sample <= 0:
        return 16
    return max(1, min(16, round(other_sample / own_sample)))


def _rounds_within_budget(
    config: TimerConfig, round_time: float, start: int, slowest: tuple[str, float]
) -> tuple[int, str | None]:
    """The minimum number of rounds that fits the budget left, and a note when it cannot.

    ``slowest`` names the slower side and its per-call seconds, so the note can
    say when a single call of it is longer than the whole budget.
    """
    left = config.max_time - (now_ns() - start) * _NS
    fitting = int(left / round_time) if round_time > 0 else config.min_rounds
    if fitting >= config.min_rounds:
        return config.min_rounds, None
    rounds = max(3, fitting)
    fix = "raise --gpuperf-max-time or gpuperf(max_time=...), or shrink the problem"
    side, call_s = slowest
    if call_s > config.max_time:
        return rounds, (
            f"one {side} call takes {call_s:.3g} s, more than the whole {config.max_time:g} s "
            f"budget; measured the minimum of {rounds} rounds ({fix})"
        )
    if fitting >= 3:
        return rounds, f"budget allowed {rounds} of {config.min_rounds} rounds"
    return rounds, (
        f"one round takes {round_time:.3g} s, so {rounds} rounds exceed the "
        f"{config.max_time:g} s budget ({fix})"
    )


def _relative_halfwidth(values: list[float]) -> float:
    """Relative half-width of the 95% t-interval of the mean of ``values``."""
    n = len(values)
    if n < 2:
        return math.inf
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return t_quantile_95(n - 1) * math.sqrt(var / n) / mean if mean > 0 else math.inf


def describe_callable(func: Any) -> str:
    """A short name for a kernel or reference, for messages."""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    return str(name) if name else repr(func)
