"""``numba_cuda`` on Numba's CUDA simulator, run in fresh interpreters (numba reads it once)."""

from __future__ import annotations

import pytest

SIMULATED_TESTS = """
    import numpy as np
    import pytest
    from numba import cuda

    @cuda.jit
    def add_two(a, out):
        i = cuda.grid(1)
        if i < a.size:
            out[i] = a[i] + 2

    @cuda.jit
    def add_two_wrong(a, out):
        i = cuda.grid(1)
        if i < a.size - 1:  # forgets the last element
            out[i] = a[i] + 2

    @cuda.jit
    def scale_3d(a, out):
        i, j, k = cuda.grid(3)
        if i < a.shape[0] and j < a.shape[1] and k < a.shape[2]:
            out[i, j, k] = 3 * a[i, j, k]

    def add_two_reference(a, out):
        return a + 2

    def scale_reference(a, out):
        return 3 * a

    @pytest.mark.gpuperf(reference=add_two_reference, output=-1)
    def test_add_two(backend, gpu_array, cuda_sync_timer):
        assert backend.simulated and backend.device == "CUDA simulator"
        a = gpu_array.random(backend.size(1 << 20, 16), "float32", seed=3)
        out = gpu_array.zeros(a.shape, "float32")
        m = cuda_sync_timer(add_two[1, 16], a, out)
        assert m.simulated and not m.timed

    @pytest.mark.gpuperf(reference=add_two_reference, output=-1)
    def test_add_two_wrong(backend, gpu_array, cuda_sync_timer):
        a = gpu_array(np.arange(8, dtype=np.int32))
        cuda_sync_timer(add_two_wrong[1, 8], a, gpu_array.empty_like(a))

    @pytest.mark.gpuperf(reference=scale_reference, output=-1)
    def test_scale_3d(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random((2, 3, 4), "float32", seed=5)
        out = gpu_array.empty_like(a)
        cuda_sync_timer(scale_3d[(1, 2, 2), (2, 2, 2)], a, out)
        backend.assert_matches(out, 3 * gpu_array.host(a))
"""


def test_cuda_kernels_run_and_are_checked_on_the_simulator(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    pytester.makepyfile(SIMULATED_TESTS)
    result = pytester.runpytest_subprocess("-v", "-rs", "--gpuperf-backends=numba_cuda")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*::test_add_two[[]numba_cuda[]] PASSED*",
            "*::test_add_two_wrong[[]numba_cuda[]] FAILED*",
            "*::test_scale_3d[[]numba_cuda[]] PASSED*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [
            "*test_add_two_wrong[[]numba_cuda[]]: add_two_wrong on numba_cuda: 1 of 8 elements "
            "differ (12.50%) under exact comparison for int32",
            "first differing indices:",
            "  (7,): actual 0, expected 9",
        ]
    )
    result.stdout.no_fnmatch_line("*gpuperf hints*")  # the variable was set in time


def test_simulated_device_memory_is_labelled_and_not_gated(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    pytester.makepyfile(
        SIMULATED_TESTS.replace(
            "@pytest.mark.gpuperf(reference=add_two_reference, output=-1)\n    def test_add_two(",
            "@pytest.mark.gpuperf(reference=add_two_reference, output=-1, max_memory=1)\n"
            "    def test_add_two(",
        ).replace("assert m.simulated and not m.timed", "assert m.simulated and m.timed")
    )
    result = pytester.runpytest_subprocess(
        "--gpuperf", "--gpuperf-backends=numba_cuda", "--gpuperf-max-time=50ms", "-k", "add_two"
    )
    result.assert_outcomes(passed=1, failed=1)  # max_memory=1 byte: never gated when simulated
    result.stdout.fnmatch_lines(
        [
            "memory (peak of one call):",
            "*test_add_two *numba_cuda*(simulated)*",
            "*device: simulated: the CUDA simulator's device arrays are host memory*",
        ]
    )
    result.stdout.no_fnmatch_line("gpu time:")  # no CUDA events on the simulator


def test_late_simulator_variable_gives_a_hint(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    pytester.makeconftest(
        """
        import os

        import numba  # reads its configuration now, with the variable unset

        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # too late
        """
    )
    pytester.makepyfile("def test_x(backend):\n    pass\n")
    result = pytester.runpytest_subprocess("-rs", "--gpuperf-backends=numpy,numba_cuda")
    result.stdout.fnmatch_lines(
        [
            "*-- gpuperf hints --*",
            "NUMBA_ENABLE_CUDASIM=1 is set, but numba was imported before it was set, so the CUDA "
            "simulator is off; set the variable in the shell or CI environment before pytest "
            "starts, not in conftest.py after numba is imported",
        ]
    )
