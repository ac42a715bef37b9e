"""``gpu_array`` (GpuArrayFactory): dtypes, copies, hints, device memory and alignment."""

from __future__ import annotations

from typing import Any

import fakeclock_plugin
import numpy as np
import pytest

from pytest_gpuperf import DeviceOutOfMemory, HostBackend
from pytest_gpuperf.fixtures import gpu_array as gpu_array_module
from pytest_gpuperf.fixtures.gpu_array import GpuArrayFactory
from pytest_gpuperf.machine import memory_room


class ToyGpu(HostBackend):
    """A host backend that calls itself a GPU, with a memory limit and a simulator switch."""

    name = "toy"
    is_gpu = True

    def __init__(self, free_bytes: int = 1 << 20, simulated: bool = False) -> None:
        self.free_bytes = free_bytes
        self._simulated = simulated

    @property
    def simulated(self) -> bool:
        return self._simulated

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        if host.nbytes > self.free_bytes:
            raise DeviceOutOfMemory(self.name, host.nbytes, self.free_bytes)
        return host.tolist()  # "device" arrays that are not NumPy arrays


def factory(backend: Any = None) -> tuple[GpuArrayFactory, list[str]]:
    hints: list[str] = []
    return GpuArrayFactory(backend or HostBackend(), hints.append), hints


@pytest.mark.parametrize("method", ["random", "zeros"])
def test_dtype_is_required(method: str) -> None:
    arrays, _ = factory()
    with pytest.raises(TypeError, match=rf"^gpu_array\.{method}: dtype is required, e\.g\. "):
        getattr(arrays, method)(4, None)


def test_unknown_dtype_names_the_fix() -> None:
    arrays, _ = factory()
    with pytest.raises(TypeError, match=r"'floaty' is not a NumPy dtype; use e\.g\. 'float32'"):
        arrays.zeros(4, "floaty")
    with pytest.raises(TypeError, match=r"gpu_array\.random: unsupported dtype <U3"):
        arrays.random(4, "U3")


def test_call_takes_numpy_arrays_only() -> None:
    arrays, _ = factory()
    with pytest.raises(TypeError, match=r"takes a NumPy array .*; got list\. Use gpu_array\(np\."):
        arrays([1.0, 2.0])  # type: ignore[arg-type]


def test_call_copies_and_keeps_the_dtype() -> None:
    arrays, _ = factory()
    host = np.arange(3, dtype=np.int16)
    device = arrays(host)
    host[0] = 99
    assert device.dtype == np.int16
    assert device.tolist() == [0, 1, 2]
    assert arrays.host(device).tolist() == [0, 1, 2]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool", "complex64"])
def test_random_is_seeded_and_reproducible(dtype: str) -> None:
    first = factory()[0].random((3, 5), dtype, seed=7)
    again = factory()[0].random((3, 5), dtype, seed=7)
    other = factory()[0].random((3, 5), dtype, seed=8)
    assert first.dtype == np.dtype(dtype)
    assert first.shape == (3, 5)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_random_value_ranges() -> None:
    arrays, _ = factory()
    floats = arrays.random(1000, "float32")
    ints = arrays.random(1000, np.int64)
    assert floats.min() >= 0.0
    assert floats.max() < 1.0
    assert ints.min() >= 0
    assert ints.max() <= 99
    assert len(np.unique(ints)) > 50


def test_zeros_and_empty_like() -> None:
    arrays, _ = factory()
    zeros = arrays.zeros((2, 3), "float32")
    assert (zeros.shape, zeros.dtype, zeros.any()) == ((2, 3), np.float32, False)
    like = arrays.empty_like(arrays.random(4, "int32"))
    assert (like.shape, like.dtype) == ((4,), np.int32)
    foreign = arrays.empty_like(np.ones((1, 2), dtype=np.complex64))
    assert (foreign.shape, foreign.dtype) == ((1, 2), np.complex64)
    np.testing.assert_array_equal(arrays.host(foreign), np.zeros((1, 2), np.complex64))


def test_host_keeps_the_copy_made_before_the_kernel_ran() -> None:
    arrays, _ = factory()
    device = arrays.random(4, "float64", seed=1)
    before = device.copy()
    device += 1.0  # the kernel mutates its input in place
    np.testing.assert_array_equal(arrays.host(device), before)
    fresh = arrays.host_args((device, 3, "x"))
    np.testing.assert_array_equal(fresh[0], before)
    assert fresh[1:] == (3, "x")
    fresh[0][:] = -1  # a reference that scribbles on its inputs cannot spoil the kept copy
    np.testing.assert_array_equal(arrays.host(device), before)


def test_host_of_a_foreign_array_names_the_fix() -> None:
    arrays, _ = factory()
    with pytest.raises(KeyError, match=r"this array was not made by gpu_array"):
        arrays.host(np.zeros(2))


def test_float64_on_a_gpu_backend_hints() -> None:
    arrays, hints = factory(ToyGpu())
    arrays.zeros(2, "float32")
    assert hints == []
    arrays.zeros(2, "float64")
    arrays.random(2, "complex128")
    assert hints == [
        "gpu_array: float64 on toy: consumer GPUs run float64 many times slower than float32; "
        "use float32 unless the precision is needed",
        "gpu_array: complex128 on toy: consumer GPUs run float64 many times slower than float32; "
        "use float32 unless the precision is needed",
    ]
    host_arrays, host_hints = factory()
    host_arrays.zeros(2, "float64")
    assert host_hints == []


def test_device_out_of_memory_fails_the_test_with_sizes() -> None:
    arrays, _ = factory(ToyGpu(free_bytes=512 * 2**10))
    arrays.zeros(1024, "float32")  # 4 KiB fits
    with pytest.raises(pytest.fail.Exception) as info:
        arrays.zeros((1024, 1024), "float32")
    assert str(info.value) == (
        "gpu_array: toy: out of device memory allocating 4.0 MiB (free device memory: 0.5 MiB); "
        "use a smaller size or a larger GPU (array (1024, 1024) float32)"
    )
    assert info.value.pytrace is False


TOY_GPU_CONFTEST = """
    import numpy as np
    from pytest_gpuperf import DeviceOutOfMemory, HostBackend

    class ToyGpu(HostBackend):
        name = "toygpu"
        is_gpu = True

        def to_device(self, host):
            if host.nbytes > 4096:
                raise DeviceOutOfMemory(self.name, host.nbytes, 4096)
            return host.copy()

    def pytest_gpuperf_register_backends(config):
        return [ToyGpu()]
"""


def test_float64_hint_is_shown_once_per_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TOY_GPU_CONFTEST)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_x(gpu_array, n):
            gpu_array.zeros(n, "float64")
            gpu_array.random(n, "float64")

        def test_single(gpu_array):
            gpu_array.zeros(4, "float32")
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy,toygpu")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        ["*-- gpuperf hints --*", "gpu_array: float64 on toygpu: consumer GPUs run float64 *"]
    )
    assert sum("gpu_array: float64" in line for line in result.outlines) == 1


def test_no_hints_section_without_hints(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TOY_GPU_CONFTEST)
    pytester.makepyfile('def test_x(gpu_array):\n    gpu_array.zeros(4, "float32")\n')
    result = pytester.runpytest("--gpuperf-backends=toygpu")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*gpuperf hints*")


def test_device_out_of_memory_fails_only_that_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TOY_GPU_CONFTEST)
    pytester.makepyfile(
        """
        def test_too_big(gpu_array):
            gpu_array.zeros(1 << 20, "float32")

        def test_small(gpu_array):
            gpu_array.zeros(16, "float32")
        """
    )
    result = pytester.runpytest("--gpuperf-backends=toygpu")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "gpu_array: toygpu: out of device memory allocating 4.0 MiB (free device memory: "
            "0.0 MiB); use a smaller size or a larger GPU (array (1048576,) float32)"
        ]
    )
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_gpu_array_in_a_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np

        def test_host_after_in_place_kernel(backend, gpu_array):
            a = gpu_array.random(5, "float32", seed=2)
            before = gpu_array.host(a).copy()
            a *= 3
            np.testing.assert_array_equal(gpu_array.host(a), before)
            backend.assert_matches(a, 3 * before)

        def test_dtype_required(gpu_array):
            gpu_array.zeros(3, None)
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy,numba")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["E *TypeError: gpu_array.zeros: dtype is required, e.g. dtype='float32'"]
    )


def test_inputs_sit_at_fixed_page_offsets_on_both_sides() -> None:
    """Kernel and reference buffers line up alike, so 4K aliasing can't bias the ratio."""
    from pytest_gpuperf.backends.host import NumpyBackend
    from pytest_gpuperf.fixtures.gpu_array import GpuArrayFactory
    from pytest_gpuperf.measure.alignment import offset_for, page_offset

    factory = GpuArrayFactory(NumpyBackend(), lambda text: None)
    a = factory.random((64, 33), "float32", seed=3)
    out = factory.empty_like(a)
    reference_a, reference_out = factory.host_args((a, out))
    assert [page_offset(x) for x in (a, out)] == [offset_for(0), offset_for(1)]
    assert [page_offset(x) for x in (reference_a, reference_out)] == [offset_for(0), offset_for(1)]
    assert offset_for(0) != offset_for(1)
    np.testing.assert_array_equal(reference_a, a)


class RoomyGpu(HostBackend):
    """A fake GPU whose free memory the test sets; it records every upload."""

    name = "roomy"
    is_gpu = True

    def __init__(self, free_bytes: int | None, simulated: bool = False) -> None:
        self.free_bytes = free_bytes
        self.uploads: list[int] = []
        self._simulated = simulated

    @property
    def simulated(self) -> bool:
        return self._simulated

    def free_device_bytes(self) -> int | None:
        return self.free_bytes

    def to_device(self, host: np.ndarray[Any, Any]) -> Any:
        self.uploads.append(host.nbytes)
        return host.copy()


MIB = 2**20
GIB = 2**30


@pytest.fixture
def host_memory(monkeypatch: pytest.MonkeyPatch) -> dict[str, int | None]:
    """The host's available memory, as the room check reads it (default: plenty)."""
    reading: dict[str, int | None] = {"available": 64 * GIB}
    monkeypatch.setattr(memory_room, "host_available_bytes", lambda: reading["available"])
    return reading


def never_placed(arr: Any, offset: int) -> Any:
    raise AssertionError("gpu_array copied the values before checking the room")


def test_an_array_larger_than_the_device_fails_before_anything_is_allocated(
    monkeypatch: pytest.MonkeyPatch, host_memory: dict[str, int | None]
) -> None:
    """The H200 case: 200 GiB of zeros, 141 GB on the card, 128 GiB of host memory."""
    monkeypatch.setattr(gpu_array_module, "placed_copy", never_placed)
    host_memory["available"] = 120 * GIB
    backend = RoomyGpu(free_bytes=140 * 10**9)
    arrays, _ = factory(backend)
    with pytest.raises(pytest.fail.Exception) as info:
        arrays.zeros(200 * GIB // 4, "float32")
    assert str(info.value) == (
        "gpu_array: roomy: not enough device and host memory for array (53687091200,) float32; "
        "nothing was allocated. device: 200.0 GiB needed + 256.0 MiB headroom, 130.4 GiB free "
        "(short); host: 400.0 GiB needed + 512.0 MiB headroom, 120.0 GiB available (short). "
        "Use a smaller size, e.g. backend.size(real=..., simulated=...), or a GPU with more "
        "free memory, or a machine with more host memory"
    )
    assert info.value.pytrace is False
    assert backend.uploads == []


def _made_by(arrays: GpuArrayFactory, how: str) -> Any:
    """A 4 MiB float32 array, made by each constructor in turn."""
    if how == "call":
        return arrays(np.ones(MIB, dtype=np.float32))
    if how == "random":
        return arrays.random(MIB, "float32", seed=1)
    if how == "zeros":
        return arrays.zeros((1024, 1024), "float32")
    return arrays.empty_like(np.ones((1024, 1024), dtype=np.float32))


CONSTRUCTORS = ["call", "random", "zeros", "empty_like"]


@pytest.mark.parametrize("how", CONSTRUCTORS)
@pytest.mark.usefixtures("host_memory")
def test_every_constructor_checks_the_device(how: str) -> None:
    backend = RoomyGpu(free_bytes=4 * MIB + memory_room.DEVICE_HEADROOM)
    arrays, _ = factory(backend)
    assert _made_by(arrays, how).nbytes == 4 * MIB  # just fits
    backend.free_bytes -= 1
    with pytest.raises(pytest.fail.Exception, match=r"^gpu_array: roomy: not enough device "):
        _made_by(arrays, how)
    assert backend.uploads == [4 * MIB]


@pytest.mark.parametrize(
    ("how", "host_bytes"),
    [("call", 8 * MIB), ("random", 12 * MIB), ("zeros", 8 * MIB), ("empty_like", 8 * MIB)],
)
def test_every_constructor_checks_the_host(
    how: str, host_bytes: int, host_memory: dict[str, int | None]
) -> None:
    """Two host copies of 4 MiB; ``random`` first holds its float64 draws (8 MiB) and 4 MiB."""
    backend = RoomyGpu(free_bytes=GIB)
    arrays, _ = factory(backend)
    host_memory["available"] = host_bytes + memory_room.HOST_HEADROOM
    _made_by(arrays, how)
    host_memory["available"] -= 1
    with pytest.raises(pytest.fail.Exception) as info:
        _made_by(arrays, how)
    assert str(info.value).startswith("gpu_array: roomy: not enough host memory for array ")
    assert f"host: {host_bytes / MIB:.1f} MiB needed + 512.0 MiB headroom" in str(info.value)
    assert "GiB free (enough)" in str(info.value)
    assert len(backend.uploads) == 1


def test_random_with_one_byte_values_counts_its_draws(host_memory: dict[str, int | None]) -> None:
    host_memory["available"] = 0
    arrays, _ = factory(RoomyGpu(free_bytes=GIB))
    with pytest.raises(pytest.fail.Exception, match=r"host: 9\.0 MiB needed \+"):
        arrays.random(MIB, "uint8")  # 8 MiB of int64 draws, then 1 MiB of uint8


@pytest.mark.parametrize(
    "backend", [HostBackend(), RoomyGpu(free_bytes=None, simulated=True)], ids=["cpu", "simulator"]
)
def test_a_backend_in_host_memory_needs_three_host_copies(
    backend: Any, host_memory: dict[str, int | None]
) -> None:
    host_memory["available"] = 0
    arrays, _ = factory(backend)
    with pytest.raises(pytest.fail.Exception) as info:
        arrays.zeros(MIB, "float32")
    assert "device: arrays in host memory; host: 12.0 MiB needed" in str(info.value)


@pytest.mark.usefixtures("host_memory")
def test_a_gpu_without_a_free_memory_reading_is_left_to_to_device() -> None:
    arrays, _ = factory(ToyGpu(free_bytes=512 * 2**10))  # no free_device_bytes: not pre-checked
    with pytest.raises(pytest.fail.Exception, match=r"out of device memory allocating 4\.0 MiB"):
        arrays.zeros((1024, 1024), "float32")


def test_fresh_copies_are_checked_all_at_once(host_memory: dict[str, int | None]) -> None:
    """restore_inputs=True and the re-measure: new copies of all inputs, the old ones still held."""
    backend = RoomyGpu(free_bytes=GIB)
    arrays, _ = factory(backend)
    args = (arrays.zeros(MIB, "float32"), arrays.zeros(MIB, "float32"), 3)
    backend.free_bytes = 8 * MIB + memory_room.DEVICE_HEADROOM
    assert len(arrays.fresh_device_args(args)) == 3
    backend.free_bytes -= 1
    with pytest.raises(pytest.fail.Exception) as info:
        arrays.fresh_device_args(args)
    assert str(info.value).startswith(
        "gpu_array: roomy: not enough device memory for fresh device copies of the inputs "
        "(2 arrays, 8.0 MiB); nothing was allocated. device: 8.0 MiB needed"
    )
    assert len(backend.uploads) == 4
    host_memory["available"] = 8 * MIB + memory_room.HOST_HEADROOM - 1
    with pytest.raises(pytest.fail.Exception, match=r"fresh host copies of the inputs \(2 arrays"):
        arrays.host_args(args)


def test_restorers_check_the_room_at_their_first_call_only(
    host_memory: dict[str, int | None],
) -> None:
    """restore_inputs=True makes copies before every sample; only the first is checked."""
    backend = RoomyGpu(free_bytes=GIB)
    arrays, _ = factory(backend)
    args = (arrays.zeros(MIB, "float32"),)
    fresh_device, fresh_host = arrays.restorers(args)
    assert len(fresh_device()) == 1
    assert len(fresh_host()) == 1
    backend.free_bytes = 0
    host_memory["available"] = 0
    assert len(fresh_device()) == 1  # same size as the last copies, which it replaces
    assert len(fresh_host()) == 1
    with pytest.raises(pytest.fail.Exception, match="not enough device and host memory"):
        arrays.restorers(args)[0]()  # a new pair checks again


def test_complex_random_values_are_the_same_as_before() -> None:
    """``random`` draws complex values one part at a time now; the values did not change."""
    for dtype in ("complex64", "complex128"):
        rng = np.random.default_rng(5)
        before = (rng.random(size=(3, 7)) + 1j * rng.random(size=(3, 7))).astype(dtype)
        np.testing.assert_array_equal(factory()[0].random((3, 7), dtype, seed=5), before)


def test_a_bad_shape_still_gets_numpys_own_error() -> None:
    arrays, _ = factory(RoomyGpu(free_bytes=GIB))
    with pytest.raises(ValueError, match=r"negative dimensions are not allowed"):
        arrays.zeros((2, -3), "float32")
    with pytest.raises(TypeError):
        arrays.zeros(2.5, "float32")  # type: ignore[arg-type]


SHRINKING_GPU_CONFTEST = """
    from pytest_gpuperf import HostBackend

    FREE = {"bytes": 2**30}

    class ShrinkingGpu(HostBackend):
        name = "shrinking"
        is_gpu = True

        def free_device_bytes(self):
            return FREE["bytes"]

        def to_device(self, host):
            return host.copy()

    def pytest_gpuperf_register_backends(config):
        return [ShrinkingGpu()]
"""

SHRINKING_TESTS = """
    import numpy as np
    import pytest
    from conftest import FREE
    from fakeclock_plugin import advance

    def reference(data):
        advance(10_000)
        return data * 2

    def kernel(data):
        advance(5_000)
        FREE["bytes"] = 0  # something else took the device after the first call
        return data * 2

    @pytest.mark.gpuperf(reference=reference)
    def test_restored(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(kernel, gpu_array.zeros(1024, "float32"), restore_inputs=True)
"""


def test_restore_inputs_checks_the_room_of_its_fresh_copies(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester, SHRINKING_GPU_CONFTEST)
    pytester.makepyfile(test_shrinking=SHRINKING_TESTS)
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=shrinking")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "gpu_array: shrinking: not enough device memory for fresh device copies "
            "of the inputs (1 array, 4.0 KiB); nothing was allocated. device: 4.0 KiB needed "
            "+ 256.0 MiB headroom, 0 B free (short); *"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
