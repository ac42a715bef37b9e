"""The timer's guard against lazy or asynchronous results: never a fake speedup."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np
import pytest

from pytest_gpuperf.measure.lazy_results import kind, lazy_result_message

# In-process pytester runs drop modules first imported inside them: import these here.
dask: Any = importlib.import_module("dask") if importlib.util.find_spec("dask") else None
dask_array: Any = importlib.import_module("dask.array") if dask is not None else None
jax: Any = importlib.import_module("jax") if importlib.util.find_spec("jax") else None
torch: Any = importlib.import_module("torch") if importlib.util.find_spec("torch") else None

needs_dask = pytest.mark.skipif(dask is None, reason="dask: not installed")


def _generator() -> Any:
    yield 1


@pytest.mark.parametrize(
    "value", [np.ones(3), [1.0, 2.0], (np.ones(2), 3), "text", b"bytes", 3.5, None, {"a": 1}]
)
def test_concrete_values_are_not_lazy(value: object) -> None:
    assert kind(value) is None


@pytest.mark.parametrize(
    ("make", "family", "type_name"),
    [
        (_generator, "iterator", "generator (_generator)"),
        (lambda: map(abs, [1]), "iterator", "iterator (builtins.map)"),
        (lambda: iter([1]), "iterator", "iterator (builtins.list_iterator)"),
    ],
)
def test_iterators_are_lazy(make: Any, family: str, type_name: str) -> None:
    found = kind(make())
    assert found is not None
    assert (found.family, found.type_name) == (family, type_name)
    assert found.advice == "return a list, tuple or array instead"


@needs_dask
def test_dask_collections_are_lazy() -> None:
    arr = kind(dask_array.ones(4))
    assert arr is not None
    assert (arr.family, arr.type_name) == ("dask", "dask.array.Array")
    assert arr.advice == "return a concrete array (call .compute()) or run it on the dask backend"
    delayed = kind(dask.delayed(sum)([1]))
    assert delayed is not None
    assert delayed.family == "dask"


def test_jax_arrays_are_asynchronous() -> None:
    pytest.importorskip("jax")
    found = kind(jax.numpy.ones(3))
    assert found is not None
    assert (found.family, found.type_name) == ("jax", "jax.Array")
    assert "block_until_ready" in found.advice


def test_message_names_backend_kernel_type_and_fix() -> None:
    message = lazy_result_message("numpy", "k", (np.ones(2), _generator()), (), handled=())
    assert message == (
        "numpy: k returned a lazy generator (_generator); it would be timed without "
        "computing, so its speedup would be fake. The numpy backend cannot make it concrete: "
        "return a list, tuple or array instead"
    )


def test_a_family_the_backend_forces_is_accepted() -> None:
    pytest.importorskip("jax")
    result = jax.numpy.ones(3)
    assert lazy_result_message("jax", "k", result, (), handled=("jax",)) is None
    assert lazy_result_message("torch", "k", result, (), handled=()) is not None


@needs_dask
def test_none_with_lazy_arguments_is_refused_even_when_handled() -> None:
    arg = dask_array.ones(4)
    message = lazy_result_message("dask", "k", None, (arg, 3), handled=("dask",))
    assert message is not None
    assert message.startswith("dask: k returned None, but its arguments are dask.array.Array")
    assert lazy_result_message("numpy", "k", None, (np.ones(2),), handled=()) is None


GUARDED = """
    import numpy as np
    import pytest

    def reference(a):
        return a * 2

    def lazy_dask(a):
        import dask.array as da
        return da.from_array(a, chunks=4) * 2

    def computed_dask(a):
        return lazy_dask(a).compute()

    def as_generator(a):
        return (x * 2 for x in a)

    def as_list(a):
        return [x * 2 for x in a]

    @pytest.mark.gpuperf(reference=reference)
    @pytest.mark.parametrize("kernel", [lazy_dask, computed_dask, as_generator, as_list])
    def test_numpy(backend, gpu_array, cuda_sync_timer, kernel):
        cuda_sync_timer(backend.select(numpy=kernel), gpu_array.random(8, "float64"))
"""


@needs_dask
@pytest.mark.parametrize("measure", [False, True], ids=["correctness", "gpuperf"])
def test_lazy_result_fails_and_concrete_passes(pytester: pytest.Pytester, measure: bool) -> None:
    pytester.makepyfile(GUARDED)
    args = ["-v", "--gpuperf-backends=numpy"]
    if measure:
        args += ["--gpuperf", "--gpuperf-max-time=0.1"]
    result = pytester.runpytest(*args)
    result.stdout.fnmatch_lines(
        [
            "*test_numpy?numpy-lazy_dask? FAILED*",
            "*test_numpy?numpy-computed_dask? PASSED*",
            "*test_numpy?numpy-as_generator? FAILED*",
            "*test_numpy?numpy-as_list? PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "numpy: lazy_dask returned a lazy dask.array.Array; it would be timed without "
            "computing, so its speedup would be fake. The numpy backend cannot make it "
            "concrete: return a concrete array (call .compute()) or run it on the dask backend",
        ]
    )
    result.stdout.fnmatch_lines(["numpy: as_generator returned a lazy generator (*"])
    result.assert_outcomes(passed=2, failed=2)


def test_jax_result_on_the_torch_backend_fails(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    pytester.makepyfile(
        """
        def via_jax(a):
            import jax.numpy as jnp
            return jnp.asarray(a.cpu().numpy()) * 2  # .cpu(): on a GPU, a is a CUDA tensor

        def test_x(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(backend.select(torch=via_jax), gpu_array.random(8, "float32"))
        """
    )
    result = pytester.runpytest("--gpuperf-backends=torch")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["torch: via_jax returned a lazy jax.Array; *run it on the jax backend"]
    )


@needs_dask
def test_lazy_write_into_an_argument_fails_on_dask(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def reference(a, out):
            out[:] = a * 2

        def write(a, out):
            out[:] = a * 2

        @pytest.mark.gpuperf(reference=reference, output=-1)
        def test_x(backend, gpu_array, cuda_sync_timer):
            a = gpu_array.random(8, "float64")
            cuda_sync_timer(backend.select(numpy=write, dask=write), a, gpu_array.zeros(8, "f8"))
        """
    )
    result = pytester.runpytest("-v", "--gpuperf-backends=numpy,dask")
    result.stdout.fnmatch_lines(["*test_x?numpy? PASSED*", "*test_x?dask? FAILED*"])
    result.stdout.fnmatch_lines(
        ["dask: write returned None, but its arguments are dask.array.Array values, *"]
    )


def test_lazy_result_error_from_make_concrete_fails_with_its_message(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        from pytest_gpuperf import HostBackend, LazyResultError

        class Picky(HostBackend):
            name = "picky"

            def make_concrete(self, result):
                if isinstance(result, dict):
                    raise LazyResultError("a dict of futures cannot be waited for; return arrays")
                return result

        def pytest_gpuperf_register_backends(config):
            return [Picky()]
        """
    )
    pytester.makepyfile(
        """
        def test_x(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(lambda a: {"a": a}, gpu_array.random(4, "float32"))
        """
    )
    result = pytester.runpytest("--gpuperf-backends=picky")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["picky: *<lambda>: a dict of futures cannot be waited for; return arrays"]
    )
    result.stdout.no_fnmatch_line("*KernelError*")


def test_guard_runs_once_not_per_sample(pytester: pytest.Pytester) -> None:
    """The check looks at the first result only; samples pay nothing for it."""
    pytester.makeconftest(
        """
        import pytest
        import pytest_gpuperf.measure.lazy_results

        CALLS = []

        @pytest.fixture(autouse=True)
        def _count(monkeypatch):
            module = pytest_gpuperf.measure.lazy_results
            real = module.kind
            monkeypatch.setattr(module, "kind", lambda value: CALLS.append(1) or real(value))
            yield
            print(f"KIND CALLS {len(CALLS)}")
        """
    )
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        @pytest.mark.gpuperf(reference=np.negative)
        def test_x(backend, gpu_array, cuda_sync_timer):
            m = cuda_sync_timer(np.negative, gpu_array.random(16, "float64"))
            assert m.kernel.batch * len(m.kernel.wall_ns) >= 100  # calls timed
        """
    )
    result = pytester.runpytest(
        "-s", "--gpuperf", "--gpuperf-backends=numpy", "--gpuperf-max-time=0.1"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*KIND CALLS 1"])
