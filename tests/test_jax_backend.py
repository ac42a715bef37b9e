"""The ``jax`` backend: jax.numpy arrays, results blocked on inside every sample."""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

import numpy as np
import pytest

from pytest_gpuperf.backends import jax_backend
from pytest_gpuperf.backends.jax_backend import JaxBackend

# In-process pytester runs drop modules first imported inside them: import jax here.
jax: Any = importlib.import_module("jax") if importlib.util.find_spec("jax") else None

KERNELS = """
    import numpy as np
    import pytest

    def reference(a, b):
        return np.sqrt(a * a + b * b)

    def jax_kernel(a, b):
        import jax.numpy as jnp
        return jnp.sqrt(a * a + b * b)

    @pytest.mark.gpuperf(reference=reference)
    def test_hypot(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(numpy=reference, jax=jax_kernel)
        a = gpu_array.random(10_000, "float32", seed=1)
        b = gpu_array.random(10_000, "float32", seed=2)
        cuda_sync_timer(kernel, a, b)

    @pytest.mark.gpuperf(reference=reference, output=-1)
    def test_out_argument(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(8, "float32")
        cuda_sync_timer(backend.select(jax=lambda a, b: None), a, gpu_array.zeros(8, "float32"))

    def test_float64(backend, gpu_array):
        gpu_array.random(8, "float64")
"""

# A heavy, asynchronously dispatched computation: the call returns in well under a
# millisecond, the work takes tens. The timer must wait for it in every sample.
SYNC_RULE = """
    import time

    import jax
    import jax.numpy as jnp
    import numpy as np

    heavy = jax.jit(lambda a: jnp.tanh(a @ a @ a).sum())
    # Tens of milliseconds of work on a CPU; a GPU needs larger matrices for that.
    N = 600 if jax.default_backend() == "cpu" else 4096

    def best(func, runs=5):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
        return min(times)

    def test_timer_waits_for_the_work(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random((N, N), "float32")
        m = cuda_sync_timer(heavy, a)
        concrete = best(lambda: heavy(a).block_until_ready())
        dispatch = best(lambda: heavy(a))
        heavy(a).block_until_ready()
        median = m.kernel.summary().median
        print(f"median={median:.6f} concrete={concrete:.6f} dispatch={dispatch:.6f}")
        # The workload is really asynchronous, so timing without the sync would be fast ...
        assert dispatch < 0.5 * concrete
        # ... and the timer, which blocks in every sample, covers the work.
        assert median >= 0.5 * concrete
"""


@pytest.fixture
def impl() -> JaxBackend:
    """An available jax backend (skips when jax is missing)."""
    pytest.importorskip("jax")
    backend = JaxBackend()
    assert backend.available() is None
    return backend


def test_describes_the_default_device(impl: JaxBackend) -> None:
    assert impl.is_gpu is (jax.default_backend() in ("gpu", "cuda", "rocm"))
    assert f"jax {jax.default_backend()}" in impl.device
    assert impl.device_info()["jax_platform"] == jax.default_backend()
    assert impl.device_timer() is None
    assert impl.xp is importlib.import_module("jax.numpy")
    assert impl.default_enabled is False
    assert impl.lazy_families == ("jax",)


@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_round_trip(impl: JaxBackend, dtype: str) -> None:
    host = (np.arange(10) % 3).astype(dtype)
    device = impl.to_device(host)
    assert isinstance(device, jax.Array)
    back = impl.to_host(impl.make_concrete(device))
    assert back.dtype == host.dtype
    np.testing.assert_array_equal(back, host)


def test_make_concrete_blocks_on_a_pytree(impl: JaxBackend) -> None:
    a = impl.to_device(np.ones(4, np.float32))
    result = impl.make_concrete({"x": a * 2, "n": 3})
    assert result["n"] == 3
    assert result["x"].is_ready()


@pytest.mark.parametrize("dtype", ["float64", "int64", "complex128"])
def test_64_bit_input_is_refused_without_x64(impl: JaxBackend, dtype: str) -> None:
    if jax.config.read("jax_enable_x64"):
        pytest.skip("JAX_ENABLE_X64 is on here")
    with pytest.raises(TypeError, match=rf"jax: a {dtype} input would silently become 32-bit"):
        impl.to_device(np.zeros(2, dtype))


def test_jax_kernel_matches_numpy(pytester: pytest.Pytester) -> None:
    pytest.importorskip("jax")
    pytester.makepyfile(KERNELS)
    result = pytester.runpytest("-v", "--gpuperf-backends=numpy,jax")
    result.stdout.fnmatch_lines(
        [
            "*test_hypot?numpy? PASSED*",
            "*test_hypot?jax? PASSED*",
            "*test_out_argument?jax? FAILED*",
            "*test_float64?jax? FAILED*",
            "*jax: *<lambda> returned None, but its arguments are jax.Array values*",
            "*jax: a float64 input would silently become 32-bit*JAX_ENABLE_X64=1*",
        ]
    )
    result.assert_outcomes(passed=3, skipped=1, failed=2)


def test_timer_blocks_on_async_jax_results(pytester: pytest.Pytester) -> None:
    """The sync rule: the measured median covers the work JAX dispatches asynchronously.

    On the CPU, JAX's bounded dispatch queue pushes back on a long series of calls,
    so this check alone would not catch a missing block; the dask backend's sync
    test, where an uncomputed graph does no work at all, is the decisive one.
    """
    pytest.importorskip("jax")
    pytester.makepyfile(SYNC_RULE)
    result = pytester.runpytest(
        "-s", "--gpuperf", "--gpuperf-backends=jax", "--gpuperf-max-time=0.5"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*median=* concrete=* dispatch=*"])


def test_free_device_bytes_is_what_jax_may_still_allocate(
    impl: JaxBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faked device statistics on a GPU; ``None`` on the CPU."""
    if not impl.is_gpu:
        assert impl.free_device_bytes() is None

    class Device:
        def __init__(self, stats: dict[str, int] | None) -> None:
            self.stats = stats

        def memory_stats(self) -> dict[str, int] | None:
            return self.stats

    monkeypatch.setattr(impl, "is_gpu", True)
    stats = {"bytes_limit": 60 * 2**30, "bytes_in_use": 2**30}
    monkeypatch.setattr(jax, "devices", lambda: [Device(stats)])
    assert impl.free_device_bytes() == 59 * 2**30
    monkeypatch.setattr(jax, "devices", lambda: [Device(None)])
    assert impl.free_device_bytes() is None


def test_share_the_gpu_turns_off_preallocation() -> None:
    environ: dict[str, str] = {"PATH": "/bin"}
    assert jax_backend.share_the_gpu(environ) is True
    assert environ == {"PATH": "/bin", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("XLA_PYTHON_CLIENT_PREALLOCATE", "true"),
        ("XLA_PYTHON_CLIENT_MEM_FRACTION", ".30"),
        ("XLA_CLIENT_MEM_FRACTION", ".30"),
        ("XLA_PYTHON_CLIENT_ALLOCATOR", "platform"),
    ],
)
def test_share_the_gpu_keeps_the_users_choice(name: str, value: str) -> None:
    environ = {name: value}
    assert jax_backend.share_the_gpu(environ) is False
    assert environ == {name: value}


def test_available_sets_the_allocator_before_jax_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jax")
    for name in jax_backend.ALLOCATOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert JaxBackend().available() is None
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE")
    monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", ".5")
    assert JaxBackend().available() is None
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in os.environ


def test_this_suite_keeps_jax_from_preallocating() -> None:
    """tests/conftest.py: xdist workers sharing one GPU must not each take 75% of it."""
    assert any(name in os.environ for name in jax_backend.ALLOCATOR_VARIABLES)
