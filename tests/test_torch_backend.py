"""The ``torch`` backend: tensors on cpu (cuda when visible), opt-in, checked against NumPy."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np
import pytest

from pytest_gpuperf.backends.torch_backend import TorchBackend

# In-process pytester runs drop modules first imported inside them, and torch
# cannot be imported twice: import it here, when it is installed. dask.array too: first
# imported inside a run, it left importlib.metadata finding no entry points afterwards, so
# the next in-process run in this process started without the plugin.
torch: Any = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
dask_array: Any = (
    importlib.import_module("dask.array") if importlib.util.find_spec("dask") else None
)

KERNELS = """
    import numpy as np
    import pytest

    def reference(a, b):
        return np.sqrt(a * a + b * b)

    def torch_kernel(a, b):
        import torch
        return torch.sqrt(a * a + b * b)

    def wrong_kernel(a, b):
        import torch
        return torch.sqrt(a * a + b * b) + 1e-3

    @pytest.mark.gpuperf(reference=reference)
    def test_hypot(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(numpy=reference, torch=torch_kernel)
        a = gpu_array.random(100_000, "float32", seed=1)
        b = gpu_array.random(100_000, "float32", seed=2)
        m = cuda_sync_timer(kernel, a, b)
        if backend.name == "torch":
            import torch
            assert isinstance(m.result, torch.Tensor)

    @pytest.mark.gpuperf(reference=reference)
    def test_wrong(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(torch=wrong_kernel)
        cuda_sync_timer(kernel, gpu_array.random(64, "float32"), gpu_array.random(64, "float32"))
"""


@pytest.fixture
def impl() -> TorchBackend:
    """An available torch backend (skips when torch is missing)."""
    pytest.importorskip("torch")
    backend = TorchBackend()
    assert backend.available() is None
    return backend


def test_device_follows_cuda_availability(impl: TorchBackend) -> None:
    assert impl.is_gpu is bool(torch.cuda.is_available())
    expected = "cuda" if impl.is_gpu else "cpu"
    assert impl.to_device(np.zeros(2, np.float32)).device.type == expected
    if not impl.is_gpu:
        assert impl.device.startswith("CPU (")
        assert impl.device_timer() is None
        assert impl.device_info() == {
            "torch_device": "cpu",
            "torch_threads": torch.get_num_threads(),
        }


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool"])
def test_round_trip_keeps_values_and_dtype(impl: TorchBackend, dtype: str) -> None:
    host = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    tensor = impl.to_device(host)
    assert isinstance(tensor, torch.Tensor)
    back = impl.to_host(impl.make_concrete(tensor.clone()))
    assert back.dtype == host.dtype
    np.testing.assert_array_equal(back, host)


def test_to_device_copies(impl: TorchBackend) -> None:
    host = np.ones(4, np.float32)
    tensor = impl.to_device(host)
    host[:] = 7
    assert float(tensor.sum()) == 4.0


def test_to_device_names_an_unsupported_dtype(impl: TorchBackend) -> None:
    with pytest.raises(TypeError, match=r"torch: cannot hold a <U1 array .*use a dtype torch"):
        impl.to_device(np.array(["a", "b"]))


def test_to_host_accepts_non_tensors(impl: TorchBackend) -> None:
    np.testing.assert_array_equal(impl.to_host(3.5), np.asarray(3.5))
    assert impl.xp is torch
    assert impl.default_enabled is False


def test_torch_kernel_matches_numpy_and_is_opt_in(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytester.makepyfile(KERNELS)
    default = pytester.runpytest("-v", "-k", "hypot")
    default.stdout.no_fnmatch_line("*test_hypot?torch?*")
    chosen = pytester.runpytest("-v", "--gpuperf-backends=numpy,torch")
    chosen.stdout.fnmatch_lines(
        [
            "*test_hypot?numpy? PASSED*",
            "*test_hypot?torch? PASSED*",
            "*test_wrong?numpy? SKIPPED*",
            "*test_wrong?torch? FAILED*",
            "*wrong_kernel on torch*",
        ]
    )
    chosen.assert_outcomes(passed=2, skipped=1, failed=1)


def test_torch_is_measured_saved_and_gated(pytester: pytest.Pytester) -> None:
    """Save then gate; a 100% tolerance keeps the verdict independent of this machine's noise."""
    pytest.importorskip("torch")
    pytester.makepyfile(KERNELS)
    args = ["-k", "hypot", "--gpuperf", "--gpuperf-backends=numpy,torch", "--gpuperf-max-time=0.2"]
    args += ["--gpuperf-contention=100%", "--gpuperf-tolerance=100%"]
    saved = pytester.runpytest(*args, "--gpuperf-save")
    saved.assert_outcomes(passed=2)
    saved.stdout.fnmatch_lines(["*saved 2 baseline(s)*"])
    gated = pytester.runpytest(*args)
    gated.assert_outcomes(passed=2)
    torch_line = next(line for line in gated.outlines if "test_hypot" in line and " torch " in line)
    assert "no baseline" not in torch_line
    assert torch_line.split()[1] == "torch"


THREE_BACKENDS = """
    import numpy as np
    import pytest

    def reference(a):
        return np.exp(-a * a).sum()

    def torch_kernel(a):
        import torch
        return torch.exp(-a * a).sum()

    def dask_kernel(a):
        import dask.array as da
        return da.exp(-a * a).sum()

    @pytest.mark.gpuperf(reference=reference, rtol=1e-9)
    def test_gaussian_sum(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(numpy=reference, torch=torch_kernel, dask=dask_kernel)
        cuda_sync_timer(kernel, gpu_array.random(200_000, "float64"))
"""


def test_numpy_torch_and_dask_are_measured_saved_and_gated(pytester: pytest.Pytester) -> None:
    """``--gpuperf --gpuperf-backends=numpy,torch,dask``: save, then gate against the save."""
    pytest.importorskip("torch")
    pytest.importorskip("dask.array")
    pytester.makepyfile(THREE_BACKENDS)
    args = ["--gpuperf", "--gpuperf-backends=numpy,torch,dask", "--gpuperf-max-time=0.3"]
    args += ["--gpuperf-contention=100%", "--gpuperf-tolerance=100%", "--gpuperf-json=run.json"]
    saved = pytester.runpytest(*args, "--gpuperf-save")
    saved.assert_outcomes(passed=3)
    saved.stdout.fnmatch_lines(["*saved 3 baseline(s)*"])
    gated = pytester.runpytest(*args)
    gated.assert_outcomes(passed=3)
    for name in ("numpy", "torch", "dask"):
        line = next(line for line in gated.outlines if f" {name} " in line and "gaussian" in line)
        assert "no baseline" not in line, line
    import json

    report = json.loads((pytester.path / "run.json").read_text())
    assert sorted(b["params"]["backend"] for b in report["benchmarks"]) == [
        "dask",
        "numpy",
        "torch",
    ]


def test_to_device_takes_read_only_and_strided_arrays(impl: TorchBackend) -> None:
    frozen = np.arange(6, dtype=np.float32)
    frozen.setflags(write=False)  # torch.from_numpy would warn about sharing it
    np.testing.assert_array_equal(impl.to_host(impl.to_device(frozen)), frozen)
    strided = np.arange(12, dtype=np.int64)[::-3]
    np.testing.assert_array_equal(impl.to_host(impl.to_device(strided)), strided)


def test_free_device_bytes_counts_the_cached_blocks(
    impl: TorchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faked CUDA readings: free memory plus what the caching allocator holds unused."""
    if not impl.is_gpu:
        assert impl.free_device_bytes() is None
    monkeypatch.setattr(impl, "is_gpu", True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (3 * 2**30, 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda: 2 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda: 2**30)
    assert impl.free_device_bytes() == 4 * 2**30
