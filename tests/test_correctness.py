"""Unit and property tests for ``pytest_gpuperf.verdict.correctness``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pytest_gpuperf.verdict import correctness as compare
from pytest_gpuperf.verdict.correctness import (
    MismatchError,
    Tolerance,
    assert_matches,
    default_tolerance,
)

HALF = Tolerance(rtol=1e-3, atol=1e-5)
SINGLE = Tolerance(rtol=1e-5, atol=1e-6)
DOUBLE = Tolerance(rtol=1e-7, atol=1e-9)
EXACT = Tolerance(rtol=0.0, atol=0.0)


def mismatch(actual: Any, expected: Any, **kwargs: Any) -> str:
    """Run ``assert_matches`` expecting a failure and return its message."""
    with pytest.raises(MismatchError) as info:
        assert_matches(actual, expected, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float16, HALF),
        (np.float32, SINGLE),
        (np.complex64, SINGLE),
        (np.float64, DOUBLE),
        (np.complex128, DOUBLE),
        (np.longdouble, DOUBLE),
        (np.clongdouble, DOUBLE),
        ("float32", SINGLE),
        (float, DOUBLE),
        (np.int8, EXACT),
        (np.int32, EXACT),
        (np.uint64, EXACT),
        (int, EXACT),
        (np.bool_, EXACT),
        (object, EXACT),
        (np.str_, EXACT),
        ("datetime64[ns]", EXACT),
    ],
)
def test_default_tolerance(dtype: Any, expected: Tolerance) -> None:
    assert default_tolerance(dtype) == expected


def test_default_tolerance_rejects_non_dtype() -> None:
    with pytest.raises(TypeError, match=r"default_tolerance needs a NumPy dtype, got 'nope'"):
        default_tolerance("nope")


def test_tolerance_is_frozen() -> None:
    with pytest.raises(AttributeError):
        SINGLE.rtol = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("actual", "expected", "kwargs"),
    [
        (np.ones((3, 3), np.float32), np.ones((3, 3), np.float32), {}),
        (np.float32(1.0 + 5e-6), np.float32(1.0), {}),
        (np.array([1.0 + 5e-8]), np.array([1.0]), {}),
        (np.array([1e-10]), np.array([0.0]), {}),
        (np.array([np.nan, np.inf, -np.inf, 1.0]), np.array([np.nan, np.inf, -np.inf, 1.0]), {}),
        (np.array([1 + 1j, np.nan]), np.array([1 + 1j, np.nan]), {}),
        (np.arange(5, dtype=np.int32), np.arange(5, dtype=np.int32), {}),
        (np.array([True, False]), np.array([True, False]), {}),
        (np.zeros((0, 3)), np.zeros((0, 3)), {}),
        (np.array(["a", "b"]), np.array(["a", "b"]), {}),
        (np.array([None, "x", 1], dtype=object), np.array([None, "x", 1], dtype=object), {}),
        ([1.0, 2.0], [1.0, 2.0], {}),
        (np.float64(2.0), 2, {}),
        (2.0, np.float32(2.0), {}),
        (np.array(1.5, dtype=np.float16), np.array(1.5004, dtype=np.float16), {}),
        (np.arange(4, dtype=np.int64), np.arange(4, dtype=np.float64), {"check_dtype": False}),
        (np.array([1.05]), np.array([1.0]), {"rtol": 0.1}),
        (np.array([1.05]), np.array([1.0]), {"atol": 0.1}),
        (np.array([2**62 + 1]), np.array([2**62 + 1]), {}),
    ],
)
def test_passes(actual: Any, expected: Any, kwargs: dict[str, Any]) -> None:
    assert_matches(actual, expected, **kwargs)


def test_value_mismatch_report() -> None:
    expected = np.full((64, 64), 3.0, dtype=np.float32)
    actual = expected.copy()
    actual[2, 7] = 3.5
    actual[5, 5] = 3.1
    actual[9, 1] = 2.9
    lines = mismatch(actual, expected).splitlines()
    assert lines == [
        "result: 3 of 4,096 elements differ (0.07%) beyond rtol=1e-05, atol=1e-06 "
        "(float32 defaults)",
        "max abs error 0.5 at (2, 7): actual 3.5, expected 3.0",
        "max rel error 0.1667 at (2, 7)",
        "first differing indices:",
        "  (2, 7): actual 3.5, expected 3.0",
        "  (5, 5): actual 3.1, expected 3.0",
        "  (9, 1): actual 2.9, expected 3.0",
    ]


def test_at_most_five_indices_are_listed() -> None:
    message = mismatch(np.arange(12.0), np.zeros(12), label="out")
    assert message.startswith("out: 11 of 12 elements differ (91.67%)")
    assert "  (5,): actual 5.0, expected 0.0" in message
    assert "(6,): actual" not in message
    assert "  ... and 6 more" in message
    assert "max abs error 11 at (11,)" in message
    assert "max rel error inf at (1,)" in message


def test_tiny_share_keeps_significant_digits() -> None:
    expected = np.zeros(1_000_000)
    actual = expected.copy()
    actual[123] = 1.0
    assert "1 of 1,000,000 elements differ (0.0001%)" in mismatch(actual, expected)


def test_zero_dim_uses_empty_index() -> None:
    message = mismatch(np.array(1.5), np.array(1.0))
    assert "max abs error 0.5 at (): actual 1.5, expected 1.0" in message
    assert "  (): actual 1.5, expected 1.0" in message


@pytest.mark.parametrize(
    ("actual", "expected", "line"),
    [
        ([1.0, np.nan], [1.0, 2.0], "NaN where expected is finite at (1,)"),
        ([1.0, 2.0], [1.0, np.nan], "no NaN where expected is NaN at (1,)"),
        ([np.inf, 2.0], [1.0, 2.0], "Inf mismatch (position or sign) at (0,)"),
        ([1.0, 2.0], [1.0, -np.inf], "Inf mismatch (position or sign) at (1,)"),
        ([-np.inf, 2.0], [np.inf, 2.0], "Inf mismatch (position or sign) at (0,)"),
        ([np.nan, 2.0], [np.inf, 2.0], "Inf mismatch (position or sign) at (0,)"),
        ([np.inf, 2.0], [np.nan, 2.0], "no NaN where expected is NaN at (0,)"),
    ],
)
def test_nan_and_inf_positions(actual: list[float], expected: list[float], line: str) -> None:
    message = mismatch(np.array(actual), np.array(expected), rtol=1.0, atol=1.0)
    assert line in message.splitlines()
    assert "max abs error" not in message  # no finite element is off


def test_nan_inf_and_value_errors_are_reported_together() -> None:
    expected = np.array([[1.0, np.inf, 0.0, 2.0], [np.nan, -np.inf, 1.0, 1.0]])
    actual = np.array([[1.0, -np.inf, 0.0, np.nan], [1.0, -np.inf, 1.0, 1.5]])
    lines = mismatch(actual, expected).splitlines()
    assert lines[0].startswith("result: 4 of 8 elements differ (50.00%)")
    assert lines[1:4] == [
        "NaN where expected is finite at (0, 3)",
        "no NaN where expected is NaN at (1, 0)",
        "Inf mismatch (position or sign) at (0, 1)",
    ]
    assert "max abs error 0.5 at (1, 3): actual 1.5, expected 1.0" in lines


def test_shape_mismatch() -> None:
    message = mismatch(np.zeros((4, 4)), np.zeros((4, 5)))
    assert message == "result: shape mismatch: actual (4, 4) vs expected (4, 5)"


def test_shape_mismatch_uses_label_and_zero_dim() -> None:
    message = mismatch(np.zeros(3), 0.0, label="kernel out")
    assert message == "kernel out: shape mismatch: actual (3,) vs expected ()"


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (np.zeros(3, np.float64), np.zeros(3, np.float32)),
        (np.float64(0.0), np.zeros((), np.float32)),
        (np.zeros(3, np.float64), np.float32(0.0) + np.zeros(3, np.float32)),
    ],
)
def test_dtype_mismatch(actual: Any, expected: Any) -> None:
    message = mismatch(actual, expected)
    assert "result: dtype mismatch: actual float64 vs expected float32" in message
    assert ".astype('float32')" in message
    assert "check_dtype=False" in message


def test_check_dtype_false_compares_values() -> None:
    assert_matches(np.zeros(3, np.float64), np.zeros(3, np.float32), check_dtype=False)
    message = mismatch(np.ones(3, np.float64), np.zeros(3, np.float32), check_dtype=False)
    assert "3 of 3 elements differ" in message
    assert "(float32 defaults)" in message


@pytest.mark.parametrize("weak", [1, 1.0, 1 + 0j, True])
def test_python_scalars_are_weak(weak: object) -> None:
    assert_matches(np.float32(1.0), weak)
    assert_matches(weak, np.float32(1.0))
    assert_matches(np.ones((), np.int8), weak)


def test_python_scalar_against_numpy_scalar_mismatch() -> None:
    message = mismatch(1.5, np.float32(1.0))
    assert message.startswith("result: 1 of 1 elements differ (100.00%) beyond rtol=1e-05")
    assert "(): actual 1.5, expected 1.0" in message


@pytest.mark.parametrize(
    ("kwargs", "source"),
    [
        ({}, "rtol=1e-07, atol=1e-09 (float64 defaults)"),
        ({"rtol": 1e-3, "atol": 1e-4}, "rtol=0.001, atol=0.0001 (given)"),
        ({"rtol": 1e-3}, "rtol=0.001, atol=1e-09 (rtol given, atol float64 default)"),
        ({"atol": 1e-4}, "rtol=1e-07, atol=0.0001 (atol given, rtol float64 default)"),
        ({"rtol": 0, "atol": 0}, "rtol=0, atol=0 (given)"),
    ],
)
def test_tolerance_source_is_named(kwargs: dict[str, float], source: str) -> None:
    assert source in mismatch(np.array([2.0]), np.array([1.0]), **kwargs)


@pytest.mark.parametrize(
    ("actual", "kwargs", "ok"),
    [
        (1.0009, {"rtol": 1e-3}, True),
        (1.0011, {"rtol": 1e-3}, False),
        (1.0009, {"atol": 1e-3}, True),
        (1.0011, {"atol": 1e-3}, False),
        (1.0015, {"rtol": 1e-3, "atol": 1e-3}, True),
        (1.0, {"rtol": 0.0, "atol": 0.0}, True),
    ],
)
def test_overrides(actual: float, kwargs: dict[str, Any], ok: bool) -> None:
    if ok:
        assert_matches(np.array([actual]), np.array([1.0]), **kwargs)
    else:
        mismatch(np.array([actual]), np.array([1.0]), **kwargs)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1e-3", True])
@pytest.mark.parametrize("name", ["rtol", "atol"])
def test_bad_tolerance_argument(name: str, bad: object) -> None:
    kwargs: dict[str, Any] = {name: bad}
    with pytest.raises(ValueError, match=rf"assert_matches {name} must be a finite number >= 0"):
        assert_matches(np.zeros(1), np.zeros(1), **kwargs)


def test_numpy_number_tolerance_is_accepted() -> None:
    assert_matches(np.array([1.5]), np.array([1.0]), rtol=np.float32(0.5), atol=np.int64(0))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.uint64])
def test_integers_are_exact(dtype: Any) -> None:
    expected = np.arange(6, dtype=dtype)
    actual = expected.copy()
    actual[4] += 1
    message = mismatch(actual, expected)
    name = np.dtype(dtype).name
    assert message.startswith("result: 1 of 6 elements differ (16.67%) under exact comparison")
    assert message.splitlines()[0].endswith(f"for {name}")
    assert "max abs error 1 at (4,): actual 5, expected 4" in message
    assert "  (4,): actual 5, expected 4" in message


def test_large_int64_difference_is_not_lost_to_float() -> None:
    message = mismatch(np.array([2**62 + 1]), np.array([2**62]))
    assert "max abs error 1 at (0,)" in message


def test_integer_with_tolerance_override() -> None:
    assert_matches(np.array([5], np.int32), np.array([4], np.int32), atol=1)
    message = mismatch(np.array([6], np.int32), np.array([4], np.int32), atol=1)
    assert "beyond rtol=0, atol=1 (atol given, rtol int32 default)" in message


def test_bool_mismatch() -> None:
    message = mismatch(np.array([True, False]), np.array([True, True]))
    assert "under exact comparison for bool" in message
    assert "  (1,): actual False, expected True" in message


def test_complex_uses_abs_of_difference() -> None:
    assert_matches(np.array([1 + 1j], np.complex64), np.array([1 + 1.000001j], np.complex64))
    message = mismatch(np.array([3 + 4j]), np.array([0j]), atol=4.9)
    assert "max abs error 5 at (0,)" in message


@pytest.mark.parametrize(
    ("actual", "expected", "fragment"),
    [
        (np.array(["a", "b"]), np.array(["a", "c"]), "  (1,): actual 'b', expected 'c'"),
        (
            np.array([None, {}], dtype=object),
            np.array([1.0, 2.0]),
            "under exact equality for object vs float64",
        ),
        (
            np.array([np.arange(2), np.arange(3)], dtype=object),
            np.array([np.arange(2), np.arange(3) + 1], dtype=object),
            "1 of 2 elements differ",
        ),
        (
            np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"),
            np.array(["2020-01-02", "NaT"], dtype="datetime64[D]"),
            "  (0,): actual 2020-01-01, expected 2020-01-02",
        ),
    ],
)
def test_non_numeric_falls_back_to_equality(actual: Any, expected: Any, fragment: str) -> None:
    assert fragment in mismatch(actual, expected, check_dtype=False)


class _Hostile:
    """An object whose comparison and conversion both blow up."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing")

    def __array__(self, *args: object, **kwargs: object) -> Any:
        raise RuntimeError("no converting")


def test_only_mismatch_error_for_hostile_objects() -> None:
    message = mismatch(_Hostile(), 1)
    assert "could not convert actual value of type _Hostile" in message
    boxed = np.empty(1, dtype=object)
    boxed[0] = _Hostile()
    assert "1 of 1 elements differ" in mismatch(boxed, np.array([1], dtype=object))


def test_import_does_not_import_numpy_or_pytest() -> None:
    # Load the file alone, so the package's __init__ (which may import pytest) stays out of it.
    path = Path(compare.__file__)
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('gpuperf_compare', {str(path)!r})\n"
        "module = sys.modules['gpuperf_compare'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print('numpy' in sys.modules, 'pytest' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


_FLOATS = st.sampled_from([np.float32, np.float64, np.complex64, np.complex128])
_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5)


@settings(database=None, deadline=None)
@given(hnp.arrays(dtype=_FLOATS, shape=_SHAPES))
def test_any_float_array_matches_itself(array: np.ndarray[Any, Any]) -> None:
    assert_matches(array.copy(), array)


@settings(database=None, deadline=None)
@given(hnp.arrays(dtype=hnp.integer_dtypes() | hnp.unsigned_integer_dtypes(), shape=_SHAPES))
def test_any_int_array_matches_itself(array: np.ndarray[Any, Any]) -> None:
    assert_matches(array.copy(), array)


@settings(database=None, deadline=None)
@given(
    expected=hnp.arrays(
        dtype=np.float64,
        shape=_SHAPES,
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    ),
    data=st.data(),
    rtol=st.sampled_from([None, 0.0, 1e-3]),
    atol=st.sampled_from([None, 0.0, 1e-2]),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_one_perturbed_element_always_fails_and_is_named(
    expected: np.ndarray[Any, Any],
    data: st.DataObject,
    rtol: float | None,
    atol: float | None,
    sign: float,
) -> None:
    index = data.draw(st.tuples(*(st.integers(0, side - 1) for side in expected.shape)))
    tol = default_tolerance(expected.dtype)
    allowed = (tol.atol if atol is None else atol) + (tol.rtol if rtol is None else rtol) * abs(
        expected[index]
    )
    actual = expected.copy()
    actual[index] += sign * max(2 * allowed, 1e-3)
    message = mismatch(actual, expected, rtol=rtol, atol=atol)
    assert re.match(rf"result: 1 of {expected.size:,} elements differ", message)
    assert f"  {index}: actual" in message
    assert "max abs error" in message
    assert f" at {index}: " in message
