"""Performance warnings recorded around a kernel's calls, and terminal escapes stripped."""

from __future__ import annotations

import importlib.util
import warnings

import numba.core.errors
import pytest

from pytest_gpuperf.measure.perf_warnings import (
    PerformanceWarnings,
    is_performance_warning,
    warning_text,
)
from pytest_gpuperf.text import plain_text


def _category(name: str, module: str, base: type[Warning] = UserWarning) -> type[Warning]:
    category = type(name, (base,), {})
    category.__module__ = module
    return category


NUMBA_CUDA = _category("NumbaPerformanceWarning", "numba.cuda.core.errors")
CUPY = _category("PerformanceWarning", "cupy._util", RuntimeWarning)


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (numba.core.errors.NumbaPerformanceWarning, True),
        (NUMBA_CUDA, True),
        (CUPY, True),
        (_category("Narrower", "mylib", NUMBA_CUDA), True),  # a subclass counts
        (_category("PerformanceWarning", "pandas.errors"), False),  # not a GPU library's
        (_category("NumbaPerformanceWarning", "mylib"), False),
        (numba.core.errors.NumbaWarning, False),
        (UserWarning, False),
    ],
)
def test_recognised_by_class_name_and_package(category: type[Warning], expected: bool) -> None:
    assert is_performance_warning(category) is expected


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="cupy is not installed")
def test_cupys_own_class_is_recognised() -> None:
    import cupy._util

    assert is_performance_warning(cupy._util.PerformanceWarning)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("\x1b[1mGrid size 2\x1b[0m", "Grid size 2"),
        ("\x1b[38;5;196mred\x1b[K and \x1b[1;31mbold\x1b[m", "red and bold"),
        ("a\x1b]0;title\x07b", "ab"),  # OSC ended by BEL
        ("\x1b]8;;https://x.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC ended by ESC \
        ("tab\tand newline\n stay", "tab\tand newline\n stay"),
        ("no escapes", "no escapes"),
    ],
)
def test_plain_text_strips_csi_and_osc_sequences(text: str, plain: str) -> None:
    assert plain_text(text) == plain


def test_warning_text_is_one_plain_line_of_bounded_length() -> None:
    assert warning_text(NUMBA_CUDA, "\x1b[1mGrid size 2\n  at x.py:3\x1b[0m") == (
        "NumbaPerformanceWarning: Grid size 2 at x.py:3"
    )
    long = warning_text(CUPY, "x" * 1000)
    assert len(long) < 330
    assert long.endswith("...")


def test_recorded_once_instead_of_raised_and_others_unchanged() -> None:
    seen = PerformanceWarnings()
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("error")
        before = list(warnings.filters)
        with seen.recording():
            for _ in range(100):
                warnings.warn(NUMBA_CUDA("\x1b[1mGrid size 2\x1b[0m"), stacklevel=1)
            warnings.warn(CUPY("slow path"), stacklevel=1)
            with pytest.raises(UserWarning, match="not a performance warning"):
                warnings.warn("not a performance warning", stacklevel=1)
        assert warnings.filters == before  # restored
        with pytest.raises(NUMBA_CUDA):  # outside the recording: an error again
            warnings.warn(NUMBA_CUDA("Grid size 2"), stacklevel=1)
    assert seen.texts == ("NumbaPerformanceWarning: Grid size 2", "PerformanceWarning: slow path")
    # handed on once each, without the escapes, to the display that was in place
    assert [(m.category, str(m.message)) for m in log] == [
        (NUMBA_CUDA, "Grid size 2"),
        (CUPY, "slow path"),
    ]


def test_an_ignore_filter_still_ignores_them() -> None:
    seen = PerformanceWarnings()
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="Grid size")
        with seen.recording():
            warnings.warn(NUMBA_CUDA("Grid size 2"), stacklevel=1)
            warnings.warn(NUMBA_CUDA("Host array used in CUDA kernel"), stacklevel=1)
    assert seen.texts == ("NumbaPerformanceWarning: Host array used in CUDA kernel",)
    assert len(log) == 1


def test_filters_keep_their_other_entries_as_they_were() -> None:
    """Python's own entries hold a module name as a plain string, not a pattern."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        entry = ("default", None, DeprecationWarning, "__main__", 0)
        warnings.filters.insert(0, entry)  # type: ignore[attr-defined]
        with PerformanceWarnings().recording():
            assert entry in warnings.filters
            assert warnings.filters[-2] == entry  # its performance twin stands before it
