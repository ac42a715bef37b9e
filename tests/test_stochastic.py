"""Unit, property and plugin tests for ``pytest_gpuperf.verdict.stochastic``."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pytest_gpuperf
from pytest_gpuperf.verdict.stochastic import (
    WithinStandardErrors,
    batch_estimate,
    within_standard_errors,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_subnormal=False)
batches = st.lists(finite, min_size=2, max_size=50)


def failure(check: WithinStandardErrors, actual: Any, expected: Any = None) -> str:
    """Run a check expecting it to fail and return its message."""
    with pytest.raises(AssertionError) as info:
        check(actual, expected)
    return str(info.value)


def test_exported_from_the_package() -> None:
    assert "within_standard_errors" in pytest_gpuperf.__all__
    assert pytest_gpuperf.within_standard_errors is within_standard_errors


def test_batch_estimate_is_the_mean_and_its_standard_error() -> None:
    est = batch_estimate([1.0, 2.0, 3.0, 4.0])
    assert est.mean == 2.5
    assert est.batches == 4
    assert est.standard_error == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


@pytest.mark.parametrize("seed", range(20))
def test_unbiased_monte_carlo_pi_passes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.random((2, 64, 256))
    estimates = 4 * np.count_nonzero(x * x + y * y <= 1, axis=1) / 256
    within_standard_errors(5, target=math.pi)(estimates, None)


def test_biased_estimate_fails_with_distance_in_standard_errors() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((2, 64, 256))
    estimates = 4 * np.count_nonzero(x * x + y * y <= 1.1, axis=1) / 256  # wrong radius
    message = failure(within_standard_errors(5, target=math.pi), estimates)
    assert message.startswith("the mean of 64 batch estimates is 3.358")
    assert "from the target 3.14159" in message
    assert "standard errors (SE " in message
    assert "allowed: 5 standard errors" in message


def test_constant_estimates_off_target_fail_even_when_close() -> None:
    message = failure(within_standard_errors(target=math.pi), np.full(8, np.float32(math.pi)))
    assert "every batch gave the same value, so the standard error is 0" in message


def test_constant_estimates_on_target_pass() -> None:
    within_standard_errors(target=2.0)(np.full(8, 2.0), None)


def test_without_target_compares_with_the_reference_in_quadrature() -> None:
    actual = np.array([1.0, 3.0] * 8)  # mean 2, SE 1.033 / 4 = 0.258
    reference = np.array([1.5, 3.5] * 8)  # mean 2.5, same SE
    within_standard_errors(2)(actual, reference)  # 0.5 apart, combined SE 0.365: 1.37 SE
    message = failure(within_standard_errors(1), actual, reference)
    assert "from the reference's mean 2.5 (SE 0.258, 16 batches)" in message
    assert "1.37 standard errors" in message


def test_a_scalar_reference_counts_as_exact() -> None:
    actual = np.array([1.0, 3.0] * 8)
    within_standard_errors(2)(actual, np.float64(2.4))
    message = failure(within_standard_errors(1), actual, 2.4)
    assert "from the reference's value 2.4" in message


@pytest.mark.parametrize("actual", [3.14, [3.14], np.array([[3.1]])])
def test_fewer_than_two_batches_is_an_error_that_says_what_to_return(actual: Any) -> None:
    message = failure(within_standard_errors(target=math.pi), actual)
    assert "needs at least 2 batch estimates in the kernel's result" in message
    assert "Return one estimate per batch" in message


def test_nan_estimates_fail() -> None:
    message = failure(within_standard_errors(target=1.0), [1.0, math.nan, 1.0])
    assert message == (
        "within_standard_errors: 1 of 3 batch estimates in the kernel's result are NaN or Inf"
    )


def test_non_numeric_result_fails() -> None:
    message = failure(within_standard_errors(target=1.0), ["a", "b"])
    assert "the kernel's result is not an array of numbers" in message


@pytest.mark.parametrize("k", [0, -1, math.inf, math.nan, True, "5"])
def test_bad_k_is_rejected_with_its_value(k: Any) -> None:
    with pytest.raises(ValueError, match=r"k=\.\.\.\) must be a finite number > 0, e\.g\. 5"):
        within_standard_errors(k)
    with pytest.raises(ValueError, match=re.escape(repr(k))):
        within_standard_errors(k)


@pytest.mark.parametrize("target", [math.nan, math.inf, "pi", False])
def test_bad_target_is_rejected(target: Any) -> None:
    with pytest.raises(ValueError, match=r"target=\.\.\.\) must be a finite number"):
        within_standard_errors(target=target)


@given(batches)
def test_passes_at_its_own_mean(values: list[float]) -> None:
    mean = batch_estimate(values).mean
    within_standard_errors(1e-9, target=mean)(values, None)


@given(batches, st.floats(min_value=0.5, max_value=20))
def test_fails_beyond_k_standard_errors(values: list[float], k: float) -> None:
    est = batch_estimate(values)
    # The 1% margin must stand above float rounding near the mean (e.g. identical batches
    # whose spread is only rounding noise).
    if 0.01 * k * est.standard_error <= 8 * math.ulp(abs(est.mean) + k * est.standard_error):
        return
    target = est.mean + 1.01 * k * est.standard_error
    if target == est.mean:  # the shift vanished in rounding
        return
    with pytest.raises(AssertionError):
        within_standard_errors(k, target=target)(values, None)


@given(
    batches, finite, st.floats(min_value=0.1, max_value=10), st.floats(min_value=0.1, max_value=10)
)
def test_a_larger_k_never_turns_a_pass_into_a_failure(
    values: list[float], target: float, k: float, extra: float
) -> None:
    try:
        within_standard_errors(k, target=target)(values, None)
    except AssertionError:
        return
    within_standard_errors(k + extra, target=target)(values, None)


def test_compare_in_a_marker_reports_test_and_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import math
        import numpy as np
        import pytest
        from pytest_gpuperf import within_standard_errors

        def pi_numpy(n, per, seed):
            x, y = np.random.default_rng(seed).random((2, n, per))
            return 4 * np.count_nonzero(x * x + y * y <= 1, axis=1) / per

        def pi_biased(n, per, seed):
            return pi_numpy(n, per, seed) + 0.5

        @pytest.mark.gpuperf(reference=pi_numpy, compare=within_standard_errors(target=math.pi))
        def test_pi(backend, cuda_sync_timer):
            cuda_sync_timer(backend.select(numpy=pi_numpy), 64, 256, 1)

        @pytest.mark.gpuperf(reference=pi_numpy, compare=within_standard_errors(target=math.pi))
        def test_pi_biased(backend, cuda_sync_timer):
            cuda_sync_timer(backend.select(numpy=pi_biased), 64, 256, 1)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--gpuperf-backends=numpy")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_pi_biased*pi_biased on numpy: custom compare failed: the mean of 64 batch "
            "estimates is 3.6*, * from the target 3.14159: * standard errors *",
        ]
    )
