"""The ``backend`` fixture in plain ``pytest`` runs: ids, skip reasons, select() and the hook."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import pytest
from test_cupy_backend import cupy_has_device

numba_cuda: Any = importlib.import_module("numba.cuda")
cupy: Any = (
    importlib.import_module("cupy") if importlib.util.find_spec("cupy") is not None else None
)

BUILTIN = ["numpy", "numba", "numba_cuda", "cupy"]
TOY_CONFTEST = """
    from pytest_gpuperf import HostBackend

    class Toy(HostBackend):
        name = "toy"

    def pytest_gpuperf_register_backends(config):
        return [Toy()]
"""


def _simulator_on() -> bool:
    numba: Any = importlib.import_module("numba")
    return bool(numba.config.ENABLE_CUDASIM)


def _ids(result: pytest.RunResult) -> list[str]:
    """The ``PASSED``/``SKIPPED`` node ids of a ``-v`` run, in run order."""
    return [
        line.split(" ")[0].split("::", 1)[1]
        for line in result.outlines
        if "::" in line and line.split(" ")[1:2] in (["PASSED"], ["SKIPPED"], ["FAILED"])
    ]


def test_backend_parametrizes_once_per_builtin_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_x(backend):
            assert backend.name in ("numpy", "numba", "numba_cuda", "cupy")

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest("-v")
    assert _ids(result) == [f"test_x[{name}]" for name in BUILTIN] + ["test_plain"]
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] + outcomes.get("skipped", 0) == 5


def test_backend_ids_combine_with_parametrize(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", [8, 16])
        def test_x(backend, n):
            pass
        """
    )
    result = pytester.runpytest("-v", "--gpuperf-backends=numpy,numba")
    assert sorted(_ids(result)) == sorted(
        f"test_x[{name}-{n}]" for name in ("numpy", "numba") for n in (8, 16)
    )
    result.assert_outcomes(passed=4)


def test_gpu_array_alone_parametrizes_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_x(gpu_array):
            gpu_array.zeros(3, "float32")
        """
    )
    result = pytester.runpytest("-v", "--gpuperf-backends=numba")
    assert _ids(result) == ["test_x[numba]"]
    result.assert_outcomes(passed=1)


def test_users_own_backend_fixture_is_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(params=["a", "b"])
        def backend(request):
            return request.param
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_x(backend):
            assert backend in ("a", "b")

        class TestOwn:
            @pytest.fixture
            def backend(self):
                return "own"

            def test_y(self, backend):
                assert backend == "own"
        """
    )
    result = pytester.runpytest("-v")
    assert _ids(result) == ["test_x[a]", "test_x[b]", "TestOwn::test_y"]
    result.assert_outcomes(passed=3)


def test_override_that_wraps_our_backend_is_still_parametrized(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def backend(backend):
            if backend.name == "numba":
                pytest.skip("wrapped: numba left out")
            return backend
        """
    )
    pytester.makepyfile(
        """
        def test_x(backend):
            assert backend.name == "numpy"
        """
    )
    result = pytester.runpytest("-rs", "--gpuperf-backends=numpy,numba")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * wrapped: numba left out"])


@pytest.mark.skipif(cupy_has_device(), reason="a CUDA device is visible to cupy")
@pytest.mark.skipif(cupy is None, reason="cupy is not installed")
def test_cupy_without_device_skips_with_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(backend):\n    pass\n")
    result = pytester.runpytest("-rs", "--gpuperf-backends=cupy")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_*.py:1: cupy: installed, but no CUDA device is visible "
            "(cudaError*); run on a GPU runner"
        ]
    )


@pytest.mark.skipif(_simulator_on(), reason="numba was imported with NUMBA_ENABLE_CUDASIM=1")
@pytest.mark.skipif(bool(numba_cuda.is_available()), reason="a CUDA device is visible to numba")
def test_numba_cuda_without_driver_or_simulator_skips_with_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(backend):\n    pass\n")
    result = pytester.runpytest("-rs", "--gpuperf-backends=numba_cuda")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * numba_cuda: no CUDA driver or device is visible; "
            "set NUMBA_ENABLE_CUDASIM=1 before numba is imported to run on the simulator*"
        ]
    )


def test_broken_availability_check_skips_instead_of_crashing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from pytest_gpuperf import HostBackend

        class Broken(HostBackend):
            name = "broken"

            def available(self):
                raise RuntimeError("driver exploded")

        def pytest_gpuperf_register_backends(config):
            return [Broken()]
        """
    )
    pytester.makepyfile("def test_x(backend):\n    pass\n")
    result = pytester.runpytest("-rs", "--gpuperf-backends=broken")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * broken: availability check raised *driver exploded*"])


def test_select_picks_the_kernel_and_skips_backends_without_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def numpy_kernel():
            return "numpy kernel"

        def test_x(backend):
            kernel = backend.select(numpy=numpy_kernel)
            assert kernel() == "numpy kernel"
        """
    )
    result = pytester.runpytest("-rs", "--gpuperf-backends=numpy,numba")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED * numba: no kernel for this backend in backend.select() (given: numpy)"]
    )


def test_select_with_unknown_name_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_x(backend):
            backend.select(numpy=len, numbaa=len)
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *TypeError: backend.select() got unknown backend name 'numbaa'; "
            "known backends: numpy, numba, numba_cuda, cupy*"
        ]
    )


def test_hook_adds_a_backend_after_the_builtins(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TOY_CONFTEST)
    pytester.makepyfile(
        """
        import numpy as np

        def test_x(backend, gpu_array):
            a = gpu_array(np.arange(4, dtype=np.int64))
            backend.assert_matches(a * 2, np.arange(0, 8, 2))
        """
    )
    result = pytester.runpytest("-v")
    assert _ids(result) == [f"test_x[{name}]" for name in [*BUILTIN, "toy"]]
    result.stdout.fnmatch_lines(["*::test_x[[]toy[]] PASSED*"])

    only_toy = pytester.runpytest("-v", "--gpuperf-backends=toy")
    assert _ids(only_toy) == ["test_x[toy]"]
    only_toy.assert_outcomes(passed=1)


def test_hook_accepts_a_hand_written_protocol_class(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import numpy

        class ListBackend:
            # Arrays live as nested Python lists: nothing here subclasses HostBackend.
            name = "lists"
            is_gpu = False
            simulated = False
            device = "Python lists"
            xp = numpy

            def available(self):
                return None

            def to_device(self, host):
                return host.tolist()

            def to_host(self, arr):
                return numpy.asarray(arr)

            def synchronize(self):
                pass

            def make_concrete(self, result):
                return result

            def device_timer(self):
                return None

            def device_info(self):
                return {}

        def pytest_gpuperf_register_backends(config):
            return [ListBackend()]
        """
    )
    pytester.makepyfile(
        """
        import numpy as np
        import pytest
        from pytest_gpuperf import Backend

        def double(xs):
            return [2 * x for x in xs]

        @pytest.mark.gpuperf(reference=lambda a: 2 * a)
        def test_x(backend, gpu_array, cuda_sync_timer):
            assert isinstance(backend.impl, Backend)
            a = gpu_array(np.arange(5, dtype=np.int64))
            assert isinstance(a, list)
            cuda_sync_timer(double, a)
        """
    )
    result = pytester.runpytest("-v", "--gpuperf-backends=lists")
    result.stdout.fnmatch_lines(["*::test_x[[]lists[]] PASSED*"])
    result.assert_outcomes(passed=1)


def test_duplicate_backend_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from pytest_gpuperf import HostBackend

        class Dup(HostBackend):
            name = "numba"

        def pytest_gpuperf_register_backends(config):
            return [Dup()]
        """
    )
    pytester.makepyfile("def test_x(backend):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: two backends are registered under the name 'numba'; "
            "give the one from pytest_gpuperf_register_backends another name"
        ]
    )
