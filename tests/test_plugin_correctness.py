"""Correctness in plain ``pytest`` runs: the marker's reference, assert_matches, no timing."""

from __future__ import annotations

import fakeclock_plugin
import pytest

HOST = "--gpuperf-backends=numba"


def _fails_once(result: pytest.RunResult, first_line: str) -> None:
    """The report is shown once: no chained copy of it ("During handling ...")."""
    result.stdout.fnmatch_lines([first_line])
    assert len(result.stdout.get_lines_after(first_line)) > 0
    result.stdout.no_fnmatch_line("*During handling of the above exception*")
    # The short summary repeats the first line ("FAILED ... - ..."), untruncated under CI=true.
    report_lines = [line for line in result.outlines if not line.startswith("FAILED ")]
    assert sum(1 for line in report_lines if "elements differ" in line) <= 1


def test_value_mismatch_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def off_by_some(a):
            out = a.copy()
            out[0, 0] += 5.0
            out[1, 2] += 1.0
            return out

        @pytest.mark.gpuperf(reference=np.copy)
        def test_values(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(off_by_some, gpu_array(np.arange(1.0, 13.0).reshape(3, 4)))
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(failed=1)
    first = (
        "*::test_values[[]numba[]]: off_by_some on numba: 2 of 12 elements differ (16.67%) "
        "beyond rtol=1e-07, atol=1e-09 (float64 defaults)"
    )
    result.stdout.fnmatch_lines(
        [
            first,
            "max abs error 5 at (0, 0): actual 6.0, expected 1.0",
            "max rel error 5 at (0, 0)",
            "first differing indices:",
            "  (0, 0): actual 6.0, expected 1.0",
            "  (1, 2): actual 8.0, expected 7.0",
        ]
    )
    _fails_once(result, first)


def test_nan_position_mismatch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def nan_at(i):
            def kernel(a):
                out = a.copy()
                out[i] = np.nan
                return out
            return kernel

        @pytest.mark.gpuperf(reference=nan_at(3))
        def test_nan(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(nan_at(2), gpu_array(np.arange(6, dtype=np.float32)))

        @pytest.mark.gpuperf(reference=nan_at(3))
        def test_same_nan(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(nan_at(3), gpu_array(np.arange(6, dtype=np.float32)))
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_nan[[]numba[]]: nan_at.<locals>.kernel on numba: 2 of 6 elements differ "
            "(33.33%) beyond rtol=1e-05, atol=1e-06 (float32 defaults)",
            "NaN where expected is finite at (2,)",
            "no NaN where expected is NaN at (3,)",
            "first differing indices:",
            "  (2,): actual nan, expected 2.0",
            "  (3,): actual 3.0, expected nan",
        ]
    )


def test_shape_and_dtype_mismatch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def head(a):
            return a[:2]

        def to_float32(a):
            return a.astype(np.float32)

        @pytest.mark.gpuperf(reference=np.copy)
        def test_shape(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(head, gpu_array(np.zeros((3, 2))))

        @pytest.mark.gpuperf(reference=np.copy)
        def test_dtype(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(to_float32, gpu_array(np.arange(4.0)))

        @pytest.mark.gpuperf(reference=np.copy, check_dtype=False)
        def test_dtype_unchecked(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(to_float32, gpu_array(np.arange(4.0)))
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_shape[[]numba[]]: head on numba: shape mismatch: "
            "actual (2, 2) vs expected (3, 2)",
            "*test_dtype[[]numba[]]: to_float32 on numba: dtype mismatch: "
            "actual float32 vs expected float64; cast the result with .astype('float64') "
            "or pass check_dtype=False",
        ],
        consecutive=False,
    )


def test_output_argument_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def add_one(a, out):
            out[:] = a + 1

        def add_two(a, out):
            out[:] = a + 2

        def reference_in_place(a, out):
            np.add(a, 1, out=out)

        @pytest.mark.gpuperf(reference=lambda a, out: a + 1, output=-1)
        def test_right(backend, gpu_array, cuda_sync_timer):
            a = gpu_array.random(8, "float32", seed=1)
            m = cuda_sync_timer(add_one, a, gpu_array.empty_like(a))
            assert m.result is None

        @pytest.mark.gpuperf(reference=reference_in_place, output=1)
        def test_reference_writes_too(backend, gpu_array, cuda_sync_timer):
            a = gpu_array.random(8, "float32", seed=1)
            cuda_sync_timer(add_one, a, gpu_array.zeros(8, "float32"))

        @pytest.mark.gpuperf(reference=lambda a, out: a + 1, output=-1)
        def test_wrong(backend, gpu_array, cuda_sync_timer):
            a = gpu_array(np.zeros(4, dtype=np.int32))
            cuda_sync_timer(add_two, a, gpu_array.empty_like(a))

        @pytest.mark.gpuperf(reference=lambda a, out: a + 1, output=2)
        def test_out_of_range(backend, gpu_array, cuda_sync_timer):
            a = gpu_array(np.zeros(4, dtype=np.int32))
            cuda_sync_timer(add_two, a, gpu_array.empty_like(a))
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_wrong[[]numba[]]: add_two on numba: 4 of 4 elements differ (100.00%) "
            "under exact comparison for int32",
            "*gpuperf(output=2) is out of range: the kernel got 2 arguments",
        ],
        consecutive=False,
    )


def test_kernel_returning_none_without_output_names_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def add_into(a, out):
            out[:] = a + 1

        @pytest.mark.gpuperf(reference=lambda a, out: a + 1)
        def test_x(backend, gpu_array, cuda_sync_timer):
            a = gpu_array(np.arange(3.0))
            cuda_sync_timer(add_into, a, gpu_array.empty_like(a))
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "add_into on numba returned None; name the argument it writes with "
            "gpuperf(output=INDEX), e.g. output=-1"
        ]
    )


def test_kernel_that_raises_names_kernel_and_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def launch(a):
            raise ValueError("bad launch config")

        def reference(a):
            raise ZeroDivisionError("reference broke")

        @pytest.mark.gpuperf(reference=np.copy)
        def test_kernel(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(launch, gpu_array(np.arange(3.0)))

        @pytest.mark.gpuperf(reference=reference)
        def test_reference(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(np.copy, gpu_array(np.arange(3.0)))
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy,numba")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "E *KernelError: launch on numpy raised ValueError: bad launch config",
            "E *KernelError: launch on numba raised ValueError: bad launch config",
            "E *KernelError: reference on host raised ZeroDivisionError: reference broke",
        ],
        consecutive=False,
    )


def test_custom_compare(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def noisy(a):
            return a + 0.01

        def within_a_tenth(actual, expected):
            assert np.all(np.abs(actual - expected) < 0.1), "not within 0.1"

        def within_a_thousandth(actual, expected):
            assert np.all(np.abs(actual - expected) < 0.001), "not within 0.001"

        def allclose(actual, expected):
            return np.allclose(actual, expected, rtol=0, atol=1e-6)

        @pytest.mark.gpuperf(reference=np.copy, compare=within_a_tenth)
        def test_loose(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(noisy, gpu_array(np.arange(4.0)))

        @pytest.mark.gpuperf(reference=np.copy, compare=within_a_thousandth)
        def test_tight(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(noisy, gpu_array(np.arange(4.0)))

        @pytest.mark.gpuperf(reference=np.copy, compare=allclose)
        def test_returns_false(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(noisy, gpu_array(np.arange(4.0)))
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_tight[[]numba[]]: noisy on numba: custom compare failed: not within 0.001*",
            "*test_returns_false[[]numba[]]: noisy on numba: custom compare failed: "
            "it returned False; raise AssertionError instead",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_rtol_and_atol_overrides(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        def slightly_off(a):
            return a * np.float32(1.001)

        def shifted(a):
            return a + np.float32(0.5)

        X = np.arange(1, 5, dtype=np.float32)

        @pytest.mark.gpuperf(reference=np.copy)
        def test_default(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(slightly_off, gpu_array(X))

        @pytest.mark.gpuperf(reference=np.copy, rtol=1e-2)
        def test_rtol(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(slightly_off, gpu_array(X))

        @pytest.mark.gpuperf(reference=np.copy, rtol=0, atol=0.6)
        def test_atol(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(shifted, gpu_array(X))

        @pytest.mark.gpuperf(reference=np.copy, atol=0.4)
        def test_atol_too_small(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(shifted, gpu_array(X))
        """
    )
    result = pytester.runpytest("-v", HOST)
    result.stdout.fnmatch_lines(
        [
            "*::test_default[[]numba[]] FAILED*",
            "*::test_rtol[[]numba[]] PASSED*",
            "*::test_atol[[]numba[]] PASSED*",
            "*::test_atol_too_small[[]numba[]] FAILED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*test_default*: 4 of 4 elements differ (100.00%) "
            "beyond rtol=1e-05, atol=1e-06 (float32 defaults)",
            "*test_atol_too_small*: 4 of 4 elements differ (100.00%) "
            "beyond rtol=1e-05, atol=0.4 (atol given, rtol float32 default)",
        ],
        consecutive=False,
    )


def test_backend_assert_matches(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np

        def test_values(backend):
            backend.assert_matches(np.arange(4), np.array([0, 1, 7, 3]))

        def test_tolerance(backend):
            backend.assert_matches(np.array([1.0, 2.0]), np.array([1.0, 2.001]), rtol=1e-2)

        def test_too_far(backend):
            backend.assert_matches(np.array([1.0, 2.0]), np.array([1.0, 2.001]), atol=1e-4)

        def test_dtype(backend):
            backend.assert_matches(np.zeros(2, np.float32), np.zeros(2))

        def test_dtype_unchecked(backend):
            backend.assert_matches(np.zeros(2, np.float32), np.zeros(2), check_dtype=False)

        def test_shape(backend):
            backend.assert_matches(np.zeros((2, 3)), np.zeros(6))

        def test_scalar(backend):
            backend.assert_matches(np.float64(3.0), 3.0)
        """
    )
    result = pytester.runpytest("-v", HOST)
    result.assert_outcomes(passed=3, failed=4)
    result.stdout.fnmatch_lines(
        [
            "E *MismatchError: numba result: 1 of 4 elements differ (25.00%) "
            "under exact comparison for int64",
            "E *max abs error 5 at (2,): actual 2, expected 7",
            "E *first differing indices:",
            "E *  (2,): actual 2, expected 7",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E *numba result: 1 of 2 elements differ (50.00%) beyond rtol=1e-07, atol=0.0001 "
            "(atol given, rtol float64 default)",
            "E *numba result: dtype mismatch: actual float32 vs expected float64*",
            "E *numba result: shape mismatch: actual (2, 3) vs expected (6,)",
        ],
        consecutive=False,
    )


#: Run with ``--fakeclock-real-clock``: real time, its reads counted.
CLOCK_CONFTEST = """
    import fakeclock_plugin

    def pytest_terminal_summary(terminalreporter):
        terminalreporter.write_line(f"host clock reads: {fakeclock_plugin.clock().reads}")
"""

CLOCK_TESTS = """
    import numpy as np
    import pytest

    def double(a):
        return 2 * a

    @pytest.mark.gpuperf(reference=double)
    def test_right(backend, gpu_array, cuda_sync_timer):
        m = cuda_sync_timer(double, gpu_array(np.arange(4.0)))
        assert m.timed is cuda_sync_timer.measuring

    @pytest.mark.gpuperf(reference=np.copy)
    def test_wrong(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(double, gpu_array(np.arange(4.0)))
"""


def test_plain_run_reads_no_clock_but_checks_correctness(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester, CLOCK_CONFTEST)
    pytester.makepyfile(CLOCK_TESTS)
    result = pytester.runpytest("--fakeclock-real-clock", "--gpuperf-backends=numpy,numba")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*test_wrong[[]numba[]]: double on numba: 3 of 4 elements differ*"]
    )
    result.stdout.fnmatch_lines(["host clock reads: 0"])


def test_gpuperf_run_reads_the_replaced_clock(pytester: pytest.Pytester) -> None:
    """The control for the test above: the replaced clock is the one the timer reads."""
    fakeclock_plugin.makeconftest(pytester, CLOCK_CONFTEST)
    pytester.makepyfile(CLOCK_TESTS)
    result = pytester.runpytest(
        "--fakeclock-real-clock", "--gpuperf", "--gpuperf-backends=numba", "--gpuperf-max-time=20ms"
    )
    result.stdout.fnmatch_lines(["host clock reads: *"])
    reads = int(next(line for line in result.outlines if line.startswith("host clock reads:"))[17:])
    assert reads > 0


def test_marked_test_that_never_calls_the_timer_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        @pytest.mark.gpuperf(reference=np.copy)
        def test_forgot(backend, gpu_array):
            gpu_array(np.arange(4.0))

        @pytest.mark.gpuperf(reference=np.copy)
        def test_called(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(np.copy, gpu_array(np.arange(4.0)))
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_forgot*marked gpuperf(reference=...), but cuda_sync_timer was never called*"]
    )
