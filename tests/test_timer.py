"""Unit tests for the sampler, on a fake clock that only the timed calls move."""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING

import pytest
from fakeclock_plugin import FakeClock

from pytest_gpuperf.measure import timer as timing
from pytest_gpuperf.measure.statistics import log_ratio_halfwidth
from pytest_gpuperf.measure.timer import TimedCall, TimerConfig, measure_paired, measure_single

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class Side:
    """A fake kernel or reference: advances the clock and logs each call."""

    def __init__(self, clock: FakeClock, name: str, ns: int | Iterator[int], log: list[str]):
        self.clock = clock
        self.name = name
        self.durations = ns if not isinstance(ns, int) else itertools.repeat(ns)
        self.log = log
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.log.append(self.name)
        self.clock.advance(next(self.durations))
        return self.name


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    """The fake clock plugin's clock, under the short name these tests use."""
    return fake_clock


def _config(**overrides: float | int | bool) -> TimerConfig:
    """Defaults, with a short warm-up: the fake calls are cheap but not free."""
    return TimerConfig(**{"warmup_time": 1e-4, **overrides})


def _side(clock: FakeClock, ns: int | Iterator[int], name: str = "kernel") -> Side:
    return Side(clock, name, ns, [])


def test_now_ns_reads_the_replaceable_clock(clock: FakeClock) -> None:
    clock.advance(42)
    assert timing.now_ns() == 42
    assert clock.reads == 1


def test_first_call_is_timed_apart_from_the_samples(clock: FakeClock) -> None:
    durations = itertools.chain([1_000_000_000], itertools.repeat(1_000))
    kernel = _side(clock, durations)
    side = TimedCall(kernel)
    result, first_s = side.first_call()
    assert result == "kernel"
    assert first_s == pytest.approx(1.0)
    samples, note = measure_single(side, _config())
    assert note is None
    assert max(samples.wall_ns) == pytest.approx(1_000)
    assert min(samples.wall_ns) == pytest.approx(1_000)


def test_first_call_waits_for_the_device(clock: FakeClock) -> None:
    synced: list[int] = []

    def synchronize() -> None:
        synced.append(1)
        clock.advance(2_000)

    _, first_s = TimedCall(_side(clock, 500), synchronize=synchronize).first_call()
    assert synced == [1]
    assert first_s == pytest.approx(2.5e-6)


def test_warm_up_runs_by_time_and_stays_out_of_the_samples(clock: FakeClock) -> None:
    kernel = _side(clock, itertools.chain(itertools.repeat(10_000, 10), itertools.repeat(1_000)))
    config = _config(warmup_time=1e-3, min_sample_time=1e-9)
    samples, _ = measure_single(TimedCall(kernel), config)
    assert set(samples.wall_ns) == {1_000.0}
    assert samples.batch == 1
    assert kernel.calls - len(samples.wall_ns) == 10 + 900  # 1 ms of warm-up calls


def test_warm_up_leaves_most_of_a_short_budget(clock: FakeClock) -> None:
    kernel = _side(clock, 1_000)
    reference = _side(clock, 5_000, "reference")
    config = TimerConfig(max_time=0.05, warmup_time=0.05)
    paired = measure_paired(TimedCall(kernel), TimedCall(reference), config)
    assert paired.budget_note is None
    assert clock.now * 1e-9 < config.max_time
    # Each side warmed up for a tenth of the budget: 5 ms of 1 us and 5 us calls.
    assert kernel.calls - len(paired.kernel.wall_ns) * paired.kernel.batch == 5_000
    assert reference.calls - len(paired.reference.wall_ns) * paired.reference.batch == 1_000


def test_a_long_estimate_skips_the_warm_up(clock: FakeClock) -> None:
    reference = _side(clock, 60_000_000, "reference")
    config = _config(warmup_time=0.05, min_rounds=3, max_time=100.0)
    paired = measure_paired(
        TimedCall(_side(clock, 1_000)), TimedCall(reference), config, reference_estimate_s=0.06
    )
    assert reference.calls == len(paired.reference.wall_ns) == len(paired.ratios)


def test_short_calls_are_batched_up_to_the_minimum_sample_time(clock: FakeClock) -> None:
    config = _config(warmup_time=1e-3)
    samples, _ = measure_single(TimedCall(_side(clock, 100)), config)
    min_sample_ns = round(config.min_sample_time * 1e9)
    assert samples.batch > 1
    assert samples.batch * 100 >= min_sample_ns
    assert (samples.batch - 1) * 100 < min_sample_ns
    assert set(samples.wall_ns) == {100.0}  # per-call times, not per-batch
    assert samples.summary().median == pytest.approx(100e-9)


def test_batch_is_capped(clock: FakeClock) -> None:
    config = _config(max_batch=7, min_sample_time=1e-3)
    samples, _ = measure_single(TimedCall(_side(clock, 10_000)), config)
    assert samples.batch == 7


def test_stops_at_the_noise_target_after_min_rounds(clock: FakeClock) -> None:
    config = _config(min_rounds=10)
    samples, note = measure_single(TimedCall(_side(clock, 1_000)), config)
    assert note is None
    assert len(samples.wall_ns) == config.min_rounds  # no noise: done at the minimum


def test_paired_stops_once_the_interval_is_tight(clock: FakeClock) -> None:
    rng = random.Random(7)
    kernel = _side(clock, (rng.randint(800, 1_200) for _ in itertools.count()))
    reference = _side(clock, 5_000, "reference")
    config = _config(noise=0.03, min_rounds=10, min_sample_time=1e-9, max_time=100.0)
    paired = measure_paired(TimedCall(kernel), TimedCall(reference), config)
    ratios = list(paired.ratios)
    assert config.min_rounds < len(ratios) < config.max_rounds
    assert log_ratio_halfwidth(ratios) <= config.noise
    assert log_ratio_halfwidth(ratios[:-1]) > config.noise  # it did not stop late


def test_stops_when_the_budget_is_spent(clock: FakeClock) -> None:
    rng = random.Random(1)
    durations = (rng.randint(1_000_000, 3_000_000) for _ in itertools.count())
    config = _config(max_time=0.5, noise=0.0, min_sample_time=1e-9)
    start = clock.now
    samples, note = measure_single(TimedCall(_side(clock, durations)), config)
    elapsed = (clock.now - start) * 1e-9
    assert note is None  # ~2 ms per round fits the minimum rounds easily
    assert config.min_rounds < len(samples.wall_ns) < config.max_rounds
    assert config.max_time <= elapsed < config.max_time + 0.003


def test_stops_at_max_rounds(clock: FakeClock) -> None:
    rng = random.Random(2)
    durations = (rng.randint(1_000, 3_000) for _ in itertools.count())
    config = _config(max_time=100.0, noise=0.0, min_sample_time=1e-9, max_rounds=25)
    samples, _ = measure_single(TimedCall(_side(clock, durations)), config)
    assert len(samples.wall_ns) == 25


def test_reference_longer_than_the_budget_says_so(clock: FakeClock) -> None:
    kernel = _side(clock, 1_000)
    reference = _side(clock, 2_000_000_000, "reference")
    config = _config(max_time=1.0)
    paired = measure_paired(TimedCall(kernel), TimedCall(reference), config)
    assert len(paired.ratios) == 3
    assert paired.budget_note is not None
    assert "one reference call takes 2 s" in paired.budget_note
    assert "1 s budget" in paired.budget_note
    assert "--gpuperf-max-time" in paired.budget_note


def test_kernel_longer_than_the_budget_says_so(clock: FakeClock) -> None:
    samples, note = measure_single(TimedCall(_side(clock, 3_000_000_000)), _config())
    assert len(samples.wall_ns) == 3
    assert note is not None
    assert "one kernel call takes 3 s" in note


def test_budget_for_some_rounds_is_noted(clock: FakeClock) -> None:
    # 0.2 s per call, 1 s budget: about 4 of the 10 rounds fit after the warm-up call.
    samples, note = measure_single(TimedCall(_side(clock, 200_000_000)), _config())
    assert note == "budget allowed 4 of 10 rounds"
    assert len(samples.wall_ns) == 4


def test_slow_reference_gets_one_sample_per_round_and_few_calls(clock: FakeClock) -> None:
    log: list[str] = []
    kernel = Side(clock, "kernel", 1_000, log)
    reference = Side(clock, "reference", 1_000_000, log)
    paired = measure_paired(TimedCall(kernel), TimedCall(reference), _config())
    rounds = len(paired.ratios)
    assert paired.budget_note is None
    assert paired.reference.batch == 1
    assert len(paired.reference.wall_ns) == rounds  # one reference sample per round
    assert len(paired.kernel.wall_ns) > 2 * rounds  # the kernel fills the round
    assert kernel.calls > 100 * reference.calls
    assert set(paired.ratios) == {1_000.0}


def test_order_alternates_every_round(clock: FakeClock) -> None:
    log: list[str] = []
    config = _config(min_sample_time=1e-9, min_rounds=6)
    kernel = Side(clock, "kernel", 1_000, log)
    reference = Side(clock, "reference", 1_000, log)
    paired = measure_paired(TimedCall(kernel), TimedCall(reference), config)
    assert len(paired.ratios) == 6
    measured = log[-12:]  # batch 1 and one sample per side per round
    firsts = [measured[i] for i in range(0, 12, 2)]
    assert firsts == ["reference", "kernel"] * 3
    assert all(measured[i] != measured[i + 1] for i in range(0, 12, 2))


def test_paired_speedup_is_exact_on_the_fake_clock(clock: FakeClock) -> None:
    kernel = _side(clock, 1_000)
    reference = _side(clock, 5_000, "reference")
    paired = measure_paired(TimedCall(kernel), TimedCall(reference), _config())
    speedup = paired.speedup()
    assert (speedup.low, speedup.value, speedup.high) == pytest.approx((5.0, 5.0, 5.0))
    assert paired.kernel.summary().median == pytest.approx(1e-6)
    assert paired.reference.summary().median == pytest.approx(5e-6)


def _flushing(clock: FakeClock, counter: list[int]) -> Callable[[], None]:
    def flush() -> None:
        counter.append(clock.now)
        clock.advance(1_000_000)  # a costly flush that must not land in any sample

    return flush


def test_cold_cache_flushes_before_every_sample_outside_the_timing(clock: FakeClock) -> None:
    flushes: list[int] = []
    kernel = _side(clock, 1_000)
    side = TimedCall(kernel, flush=_flushing(clock, flushes))
    samples, _ = measure_single(side, _config(cold_cache=True))
    assert samples.batch == 1
    assert set(samples.wall_ns) == {1_000.0}
    assert len(flushes) == kernel.calls  # one flush per call, warm-up included
    assert len(samples.wall_ns) >= 10


def test_cold_cache_in_paired_mode_only_flushes_the_kernel(clock: FakeClock) -> None:
    flushes: list[int] = []
    kernel = _side(clock, 1_000)
    reference = _side(clock, 5_000, "reference")
    side = TimedCall(kernel, flush=_flushing(clock, flushes))
    paired = measure_paired(side, TimedCall(reference), _config(cold_cache=True))
    assert paired.kernel.batch == 1
    assert len(flushes) == kernel.calls
    assert set(paired.ratios) == {5.0}


class FakeDeviceTimer:
    """Reports a fixed device time per sample."""

    def __init__(self, ns: float) -> None:
        self.ns = ns
        self.started = 0

    def start(self) -> None:
        self.started += 1

    def stop(self) -> float:
        return self.ns


def test_device_times_are_per_call(clock: FakeClock) -> None:
    timer = FakeDeviceTimer(ns=8_000.0)
    samples, _ = measure_single(
        TimedCall(_side(clock, 100), device_timer=timer), _config(min_sample_time=1e-6)
    )
    assert samples.batch == 10
    assert samples.device_ns is not None
    assert set(samples.device_ns) == {800.0}
    summary = samples.device_summary()
    assert summary is not None
    assert summary.median == pytest.approx(800e-9)


def test_no_device_times_without_a_device_timer(clock: FakeClock) -> None:
    samples, _ = measure_single(TimedCall(_side(clock, 1_000)), _config())
    assert samples.device_ns is None
    assert samples.device_summary() is None


def test_synchronize_is_inside_the_sample(clock: FakeClock) -> None:
    side = TimedCall(_side(clock, 1_000), synchronize=lambda: clock.advance(500))
    samples, _ = measure_single(side, _config(min_sample_time=1e-9))
    assert set(samples.wall_ns) == {1_500.0}


@pytest.mark.parametrize(
    ("func", "expected"),
    [(len, "len"), (FakeClock.advance, "FakeClock.advance"), (3, "3")],
)
def test_describe_callable(func: object, expected: str) -> None:
    assert timing.describe_callable(func) == expected


class LoggingTimer:
    """A device timer that logs start/stop and reports the fake clock's span."""

    def __init__(self, clock: FakeClock, log: list[str]) -> None:
        self.clock = clock
        self.log = log
        self.began = 0

    def start(self) -> None:
        self.log.append("start")
        self.began = self.clock.now

    def stop(self) -> float:
        self.log.append("stop")
        return float(self.clock.now - self.began)


def test_device_part_times_queued_launches_apart_from_the_wall_part(clock: FakeClock) -> None:
    log: list[str] = []
    call = Side(clock, "call", 1_500, log)  # launch + kernel + sync wake-up
    launch = Side(clock, "launch", 1_000, log)  # the kernel back to back on the GPU
    side = TimedCall(
        call,
        synchronize=lambda: log.append("sync"),
        device_timer=LoggingTimer(clock, log),
        launch=launch,
    )
    wall, device, _ = side.sample(3)
    assert log[:9] == ["call", "call", "call", "sync", "start", "launch", "stop", "start", "launch"]
    assert log[9:] == ["launch", "launch", "stop"]
    assert (wall, device) == (1_500.0, 1_000.0)


class IdleGpuTimer(LoggingTimer):
    """Events on a GPU that is idle at ``start``: the first launch after it waits 300 ns.

    That wait stands for the host's launch latency (and, for a call of several
    kernels, the gaps between them), which queued launches hide.
    """

    def __init__(self, clock: FakeClock, log: list[str]) -> None:
        super().__init__(clock, log)
        self.idle = False

    def start(self) -> None:
        super().start()
        self.idle = True

    def launch(self) -> None:
        self.log.append("launch")
        self.clock.advance(1_000 + (300 if self.idle else 0))
        self.idle = False


def test_isolated_time_is_one_call_on_an_idle_gpu_after_the_wall_part(clock: FakeClock) -> None:
    log: list[str] = []
    events = IdleGpuTimer(clock, log)
    side = TimedCall(
        Side(clock, "call", 1_500, log),
        synchronize=lambda: log.append("sync"),
        device_timer=events,
        launch=events.launch,
    )
    times = side.sample(3)
    assert log == [
        *("call", "call", "call", "sync"),  # the wall part: its clock holds no event
        *("start", "launch", "stop"),  # isolated: one call, the GPU idle after the sync
        *("start", "launch", "launch", "launch", "stop"),  # batch: queued, back to back
    ]
    assert times.wall == 1_500.0
    assert times.isolated == 1_300.0  # the launch latency, once per call
    assert times.device == 1_100.0  # the same latency, shared by the batch


def test_a_one_call_sample_reuses_its_batch_part_as_the_isolated_time(clock: FakeClock) -> None:
    log: list[str] = []
    events = IdleGpuTimer(clock, log)
    side = TimedCall(
        Side(clock, "call", 1_500, log),
        synchronize=lambda: log.append("sync"),
        device_timer=events,
        launch=events.launch,
    )
    assert side.sample(1) == (1_500.0, 1_300.0, 1_300.0)
    assert log == ["call", "sync", "start", "launch", "stop"]  # no extra call


def test_samples_hold_one_isolated_time_per_sample(clock: FakeClock) -> None:
    log: list[str] = []
    events = IdleGpuTimer(clock, log)
    side = TimedCall(Side(clock, "call", 1_500, log), device_timer=events, launch=events.launch)
    samples, _ = measure_single(side, _config(min_sample_time=5e-6))
    assert samples.batch == 4
    assert samples.isolated_ns is not None
    assert samples.device_ns is not None
    assert len(samples.isolated_ns) == len(samples.device_ns) == len(samples.wall_ns)
    assert set(samples.isolated_ns) == {1_300.0}
    assert set(samples.device_ns) == {1_075.0}
    assert set(samples.wall_ns) == {1_500.0}
    isolated = samples.isolated_summary()
    assert isolated is not None
    assert isolated.median == pytest.approx(1.3e-6)


def test_host_sides_have_no_isolated_time(clock: FakeClock) -> None:
    samples, _ = measure_single(TimedCall(_side(clock, 1_000)), _config())
    assert samples.isolated_ns is None
    assert samples.isolated_summary() is None


def test_cold_cache_flushes_before_each_part(clock: FakeClock) -> None:
    log: list[str] = []
    side = TimedCall(
        Side(clock, "call", 1_000, log),
        device_timer=LoggingTimer(clock, log),
        flush=lambda: (log.append("flush"), clock.advance(50_000)),  # type: ignore[func-returns-value]
        launch=Side(clock, "launch", 800, log),
    )
    wall, device, isolated = side.sample(1)
    assert log == ["flush", "call", "flush", "start", "launch", "stop"]
    assert isolated == device
    assert (wall, device) == (1_000.0, 800.0)


def test_the_throttle_watch_runs_after_each_recorded_sample_only(clock: FakeClock) -> None:
    checks: list[int] = []
    kernel = _side(clock, 1_000)
    side = TimedCall(kernel, watch=lambda: checks.append(clock.now) is None)
    samples, _ = measure_single(side, _config(min_sample_time=1e-9))
    assert len(checks) == len(samples.wall_ns)  # not during the warm-up
    assert kernel.calls > len(samples.wall_ns)


def test_cpu_sides_call_only_the_kernel(clock: FakeClock) -> None:
    log: list[str] = []
    side = TimedCall(Side(clock, "call", 1_000, log), launch=Side(clock, "launch", 1, log))
    assert side.sample(2) == (1_000.0, None, None)
    assert log == ["call", "call"]


@pytest.mark.parametrize(
    ("l2", "expected"),
    [
        (None, 256 * 2**20),
        (0, 256 * 2**20),
        (6 * 2**20, 256 * 2**20),  # a T4: triton's 256 MB
        (50 * 2**20, 256 * 2**20),  # an H100
        (200 * 2**20, 400 * 2**20),  # a larger future L2: twice it
    ],
)
def test_flush_buffer_is_large_enough_to_evict(l2: int | None, expected: int) -> None:
    assert timing.flush_buffer_bytes(l2) == expected
