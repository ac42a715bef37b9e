"""A GPU runner without a GPU: a fake CUDA backend whose kernels follow the H200's figures.

Registered as the ``fakegpu`` backend by this project's ``conftest.py``. It is a real
backend to the plugin: ``is_gpu=True``, ``simulated=False``, host arrays, and a
``device_timer()`` whose fake CUDA events report each kernel's *modelled* device time.
The kernels are busy-waits on the host standing in for kernels on a device:

- a launch busy-waits its launch cost and queues the kernel on a fake stream, whose
  timeline advances by the kernel's device time; ``synchronize()`` busy-waits until
  the stream is idle, then its wake-up cost. So a synchronized call's wall time is
  launch + device time + wake-up, as on a GPU, and the events around queued launches
  report the device time alone (the sum of the queued kernels' modelled times);
- the NumPy reference is a busy-wait too, on the host, at a speed drawn per process.

The figures come from ``../shared/gpu/H200-2026-11-30.md`` and its raw reports
``h200-2026-11-30-runs/geo*.json`` (five fresh processes of one unchanged kernel):

- device time between processes: CuPy event medians 642-667 µs (±2% around 652 µs),
  numba-cuda 4450-4517 µs (±0.8%). Model: ±1.5% per process, shared by every kernel
  of the process (the GPU's state), times ±0.5% per kernel and process: within ±2%;
- device time within a process: interquartile range 0.4-2% of the median. Model:
  each call's time is lognormal with sigma 0.7% (an IQR of about 1%);
- launch + sync inside the wall time: CuPy 8-27 µs (wall median minus event median).
  Model: 7-40 µs per synchronized call, drawn per kernel and process, 40% launch and
  60% wake-up. The plugin times a kernel under 0.2 ms in batches of queued calls with
  one synchronize, so the per-call difference it reports for those is smaller, as on
  a GPU;
- the reference: the same NumPy call took 1.18-2.45 ms between processes, and two
  tests of one process measured it at 1.59 and 2.75 ms. Model: a factor drawn per
  process (log-uniform 1-1.6) times one per test and process (log-uniform 1-1.25), so
  1x-2x in all; within a process each call is lognormal with sigma 8% (the H200's
  reference IQR was 3-28% of its median).

The planted changes come from the environment: ``GPUBENCH_KERNEL_FACTOR`` (every
kernel's device time times this), ``GPUBENCH_REFERENCE_FACTOR`` (every reference call
times this), and ``GPUBENCH_SEED`` seeds the per-process draws and the sample noise.
"""

from __future__ import annotations

import functools
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from pytest_gpuperf import HostBackend

SEED_VAR = "GPUBENCH_SEED"
KERNEL_FACTOR_VAR = "GPUBENCH_KERNEL_FACTOR"
REFERENCE_FACTOR_VAR = "GPUBENCH_REFERENCE_FACTOR"

#: Per process, shared by all kernels: uniform within ±DEVICE_PROCESS_SPREAD.
DEVICE_PROCESS_SPREAD = 0.015
#: Per kernel and process, on top: uniform within ±DEVICE_KERNEL_SPREAD.
DEVICE_KERNEL_SPREAD = 0.005
#: Lognormal sigma of one call's device time within a process.
DEVICE_CALL_SIGMA = 0.007
#: Launch + sync-wake-up cost per call, drawn per kernel and process (ns).
OVERHEAD_NS = (7_000, 40_000)
#: Share of the overhead spent launching (the rest is the synchronize's wake-up).
LAUNCH_SHARE = 0.4
#: The reference's slowness, log-uniform per process, then per test and process.
REFERENCE_PROCESS = (1.0, 1.6)
REFERENCE_TEST = (1.0, 1.25)
#: Lognormal sigma of one reference call within a process.
REFERENCE_CALL_SIGMA = 0.08
#: Elements in the arrays the kernels get: small, so the real NumPy work is negligible.
ELEMENTS = 64
#: The fake device's PCI bus id: matches no real GPU, so NVML reads no real clocks.
NO_SUCH_BUS = "FFFFFFFF:FF:FF.0"
DEVICE_NAME = "bench fake GPU (H200 model)"


@dataclass(frozen=True)
class KernelSpec:
    """One modelled kernel: its nominal device time and its reference's time at factor 1."""

    name: str
    device_ms: float
    reference_ms: float


#: Eight kernels from 0.05 to 5 ms; the 0.65 ms one is the H200's CuPy kernel.
KERNELS = (
    KernelSpec("k0050us", 0.05, 0.15),
    KernelSpec("k0100us", 0.10, 0.25),
    KernelSpec("k0200us", 0.20, 0.60),
    KernelSpec("k0400us", 0.40, 0.90),
    KernelSpec("k0650us", 0.65, 1.20),
    KernelSpec("k1200us", 1.20, 3.00),
    KernelSpec("k2500us", 2.50, 5.00),
    KernelSpec("k5000us", 5.00, 10.0),
)
BY_NAME = {spec.name: spec for spec in KERNELS}

#: The host clock the busy-waits and the fake stream read (tests may replace it).
clock_ns = time.perf_counter_ns


def spin_until(deadline_ns: float) -> None:
    """Busy-wait until the host clock reaches ``deadline_ns``."""
    while clock_ns() < deadline_ns:
        pass


def spin(ns: float) -> None:
    """Busy-wait for ``ns`` nanoseconds."""
    spin_until(clock_ns() + ns)


class FakeStream:
    """One CUDA stream: kernels run back to back on its timeline, after their launch."""

    def __init__(self) -> None:
        self.idle_at = 0.0
        #: Modelled device time of every kernel queued so far, in ns.
        self.queued_ns = 0.0
        #: The wake-up cost of a synchronize, set by the last launch.
        self.wake_ns = 0.0

    def launch(self, device_ns: float, launch_ns: float, wake_ns: float) -> None:
        """Spend the launch cost on the host, then queue ``device_ns`` of device work."""
        spin(launch_ns)
        self.idle_at = max(float(clock_ns()), self.idle_at) + device_ns
        self.queued_ns += device_ns
        self.wake_ns = wake_ns

    def wait(self) -> None:
        """Block until every queued kernel has finished (no wake-up cost)."""
        spin_until(self.idle_at)

    def synchronize(self) -> None:
        """``cudaStreamSynchronize``: wait for the queue, then the host thread's wake-up."""
        self.wait()
        spin(self.wake_ns)


class FakeEventTimer:
    """CUDA events around queued launches: the device time of the kernels between them."""

    def __init__(self, stream: FakeStream) -> None:
        self._stream = stream
        self._mark = 0.0

    def start(self) -> None:
        """Record the start event."""
        self._mark = self._stream.queued_ns

    def stop(self) -> float:
        """Record the end event, wait for it, return the device time in between (ns)."""
        self._stream.wait()
        return self._stream.queued_ns - self._mark


def _log_uniform(rng: random.Random, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return math.exp(rng.uniform(math.log(low), math.log(high)))


@dataclass(frozen=True)
class Draw:
    """What one process drew for one kernel: its speed factors and overheads."""

    device_factor: float
    reference_factor: float
    launch_ns: float
    wake_ns: float


class Model:
    """The per-process state of the fake runner: draws, planted factors, the stream."""

    def __init__(self, seed: int, kernel_factor: float, reference_factor: float) -> None:
        self.seed = seed
        self.kernel_factor = kernel_factor
        self.reference_factor = reference_factor
        self.stream = FakeStream()
        process = random.Random(f"process:{seed}")
        self.device_process = 1 + process.uniform(-DEVICE_PROCESS_SPREAD, DEVICE_PROCESS_SPREAD)
        self.reference_process = _log_uniform(process, REFERENCE_PROCESS)
        self._device_noise = random.Random(f"device-noise:{seed}")
        self._reference_noise = random.Random(f"reference-noise:{seed}")
        self.draws = {spec.name: self._draw(spec.name) for spec in KERNELS}

    @classmethod
    def from_environment(cls) -> Model:
        """The model of this process, as the campaign's environment sets it."""
        return cls(
            int(os.environ.get(SEED_VAR, "0")),
            float(os.environ.get(KERNEL_FACTOR_VAR, "1")),
            float(os.environ.get(REFERENCE_FACTOR_VAR, "1")),
        )

    def _draw(self, name: str) -> Draw:
        rng = random.Random(f"kernel:{self.seed}:{name}")
        device = self.device_process * (
            1 + rng.uniform(-DEVICE_KERNEL_SPREAD, DEVICE_KERNEL_SPREAD)
        )
        reference = self.reference_process * _log_uniform(rng, REFERENCE_TEST)
        overhead = rng.uniform(*OVERHEAD_NS)
        return Draw(device, reference, overhead * LAUNCH_SHARE, overhead * (1 - LAUNCH_SHARE))

    def device_ns(self, name: str) -> float:
        """One call's device time: nominal x planted x drawn x sample noise."""
        nominal = BY_NAME[name].device_ms * 1e6
        noise = self._device_noise.lognormvariate(0.0, DEVICE_CALL_SIGMA)
        return nominal * self.kernel_factor * self.draws[name].device_factor * noise

    def reference_ns(self, name: str) -> float:
        """One reference call's host time: nominal x planted x drawn x sample noise."""
        nominal = BY_NAME[name].reference_ms * 1e6
        noise = self._reference_noise.lognormvariate(0.0, REFERENCE_CALL_SIGMA)
        return nominal * self.reference_factor * self.draws[name].reference_factor * noise

    def launch(self, name: str) -> None:
        """Launch kernel ``name`` on the stream (asynchronous, as on a GPU)."""
        draw = self.draws[name]
        self.stream.launch(self.device_ns(name), draw.launch_ns, draw.wake_ns)


@functools.cache
def model() -> Model:
    """This process's model (read from the environment once)."""
    return Model.from_environment()


def fake_kernel(x: Any, out: Any, name: str) -> None:
    """``out = x + 1`` on the host, launched as kernel ``name`` on the fake device."""
    out[...] = x + 1
    model().launch(name)


def fake_reference(x: Any, out: Any, name: str) -> None:
    """The reference of kernel ``name``: the same result after a busy-wait on the host."""
    spin(model().reference_ns(name))
    out[...] = x + 1


class FakeGpuBackend(HostBackend):
    """The ``fakegpu`` backend: host arrays, a fake stream and fake CUDA events."""

    name = "fakegpu"
    is_gpu = True

    @property
    def device(self) -> str:
        """The fake device's name."""
        return DEVICE_NAME

    def synchronize(self) -> None:
        """Wait for the fake stream, as ``cudaStreamSynchronize`` does."""
        model().stream.synchronize()

    def device_timer(self) -> FakeEventTimer:
        """Fake CUDA events on the fake stream: they report modelled device time."""
        return FakeEventTimer(model().stream)

    def device_info(self) -> dict[str, Any]:
        """Facts for the machine fingerprint: a GPU model of its own, never a real one."""
        return {"gpu": DEVICE_NAME, "compute_capability": "9.0"}

    def pci_bus_id(self) -> str:
        """A bus id no real GPU has, so NVML reads nothing on a machine with a GPU."""
        return NO_SUCH_BUS
