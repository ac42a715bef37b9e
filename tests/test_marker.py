"""Validation of the ``gpuperf`` marker's arguments (``parse_marker``), without a pytest run."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_gpuperf.marker import MARKER_HELP, MarkerError, MarkerSpec, parse_marker


def mark(*args: Any, **kwargs: Any) -> pytest.Mark:
    """A real ``pytest.Mark`` as ``@pytest.mark.gpuperf(*args, **kwargs)`` makes it."""
    return pytest.mark.gpuperf.with_args(*args, **kwargs).mark


def reference(a: Any) -> Any:
    return a


def compare(actual: Any, expected: Any) -> None:
    assert actual == expected


def test_no_mark_gives_no_spec() -> None:
    assert parse_marker(None) is None


def test_empty_mark_gives_the_defaults() -> None:
    assert parse_marker(mark()) == MarkerSpec()
    assert MarkerSpec().check_dtype is True


def test_every_keyword_is_accepted_and_normalized() -> None:
    def nbytes(a: Any) -> float:
        return 8.0

    spec = parse_marker(
        mark(
            reference=reference,
            output=-1,
            rtol=1,
            atol=0,
            check_dtype=False,
            compare=compare,
            min_speedup=2,
            tolerance="5%",
            max_time="500ms",
            flush_l2=True,
            bytes=nbytes,
            flops=1e6,
            sweep="n",
            max_memory="1 MiB",
        )
    )
    assert spec == MarkerSpec(
        reference=reference,
        output=-1,
        rtol=1.0,
        atol=0.0,
        check_dtype=False,
        compare=compare,
        min_speedup=2.0,
        tolerance=0.05,
        max_time=0.5,
        flush_l2=True,
        bytes=nbytes,
        flops=1e6,
        sweep="n",
        max_memory=2**20,
    )
    assert isinstance(spec.rtol, float)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"tolerance": 0.1}, 0.1),
        ({"tolerance": "0%"}, 0.0),
        ({"tolerance": "100%"}, 1.0),
        ({"max_time": 2}, 2.0),
        ({"max_time": "2m"}, 120.0),
        ({"check_dtype": None}, True),
        ({"max_memory": "512MiB"}, 512 * 2**20),
        ({"max_memory": "1.5 GB"}, 1_500_000_000),
        ({"max_memory": 4096}, 4096),
        ({"max_memory": 2e9}, 2_000_000_000),
        ({"max_memory": "64kib"}, 65536),
    ],
)
def test_accepted_forms(kwargs: dict[str, Any], expected: object) -> None:
    spec = parse_marker(mark(**kwargs))
    assert spec is not None
    assert getattr(spec, next(iter(kwargs))) == expected


def test_unknown_keyword_is_named_with_the_known_ones() -> None:
    with pytest.raises(MarkerError) as info:
        parse_marker(mark(reference=reference, rtool=1e-3))
    assert str(info.value) == (
        "gpuperf got unknown keyword 'rtool'; known keywords: reference, output, rtol, atol, "
        "check_dtype, compare, min_speedup, tolerance, max_time, flush_l2, bytes, flops, sweep, "
        "gate, backends, max_memory"
    )


def test_positional_arguments_are_rejected() -> None:
    with pytest.raises(
        MarkerError, match=r"keyword arguments only, e\.g\. gpuperf\(reference=fn\)"
    ):
        parse_marker(mark(reference))


BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"rtol": -1e-3}, "gpuperf(rtol=...) must be a number >= 0; got -0.001"),
    ({"atol": -1}, "gpuperf(atol=...) must be a number >= 0; got -1"),
    ({"rtol": "1e-3"}, "gpuperf(rtol=...) must be a number >= 0; got '1e-3'"),
    ({"atol": True}, "gpuperf(atol=...) must be a number >= 0; got True"),
    ({"rtol": float("nan")}, "gpuperf(rtol=...) must be a number >= 0; got nan"),
    ({"min_speedup": 0}, "gpuperf(min_speedup=...) must be a finite number > 0; got 0"),
    ({"min_speedup": float("inf")}, "gpuperf(min_speedup=...) must be a finite number > 0*"),
    ({"min_speedup": -2}, "gpuperf(min_speedup=...) must be a number >= 0; got -2"),
    (
        {"tolerance": "150%"},
        "gpuperf(tolerance=...) must be a fraction between 0 and 1 written as 10% or 0.1; "
        "got '150%' (from marker)",
    ),
    ({"tolerance": "-5%"}, "gpuperf(tolerance=...) must be a fraction * got '-5%' (from marker)"),
    ({"tolerance": "a bit"}, "gpuperf(tolerance=...) must be a fraction *(from marker)"),
    (
        {"max_time": 0},
        "gpuperf(max_time=...) must be a positive number of seconds with optional ms, s or m "
        "suffix (e.g. 1s or 500ms), at most 86400 s (one day); got 0 (from marker)",
    ),
    ({"max_time": "1h"}, "gpuperf(max_time=...) must be a positive number * got '1h' *"),
    ({"reference": "numpy.add"}, "gpuperf(reference=...) must be a callable; got 'numpy.add'"),
    ({"compare": 1e-6}, "gpuperf(compare=...) must be a callable; got 1e-06"),
    (
        {"output": "last"},
        "gpuperf(output=...) must be the index of the output argument, e.g. output=-1; got 'last'",
    ),
    ({"output": True}, "gpuperf(output=...) must be the index * got True"),
    ({"output": 1.0}, "gpuperf(output=...) must be the index * got 1.0"),
    ({"check_dtype": "no"}, "gpuperf(check_dtype=...) must be True or False; got 'no'"),
    ({"flush_l2": 1}, "gpuperf(flush_l2=...) must be True or False; got 1"),
    ({"bytes": -8}, "gpuperf(bytes=...) must be a number >= 0; got -8"),
    ({"flops": "many"}, "gpuperf(flops=...) must be a number >= 0; got 'many'"),
    (
        {"sweep": "n-size"},
        "gpuperf(sweep=...) must name the size parameter, e.g. sweep='n'; got 'n-size'",
    ),
    ({"sweep": 1024}, "gpuperf(sweep=...) must name the size parameter* got 1024"),
    ({"sweep": ""}, "gpuperf(sweep=...) must name the size parameter* got ''"),
    ({"rtol": float("inf")}, "gpuperf(rtol=...) must be a finite number >= 0; got inf"),
    ({"atol": float("inf")}, "gpuperf(atol=...) must be a finite number >= 0; got inf"),
    ({"bytes": float("inf")}, "gpuperf(bytes=...) must be a finite number >= 0; got inf"),
    ({"max_time": "1" * 400}, "gpuperf(max_time=...) must be a positive number * got '111*"),
    ({"backends": "numpy"}, "gpuperf(backends=...) must be a list of backend names, *"),
    ({"backends": ()}, "gpuperf(backends=...) must be a list of backend names, * got ()"),
    ({"backends": ["numpy", 3]}, "gpuperf(backends=...) must be a list * got ['numpy', 3]"),
    (
        {"backends": ("numpy", "numpy")},
        "gpuperf(backends=...) names 'numpy' twice; got ('numpy', 'numpy')",
    ),
    ({"compare": list(range(1000))}, "gpuperf(compare=...) must be a callable; got [0, 1, *]"),
    (
        {"max_memory": "512 MB/s"},
        "gpuperf(max_memory=...) must be a positive number of bytes, as a number or with a unit "
        "(B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MiB or 2e9; got '512 MB/s' (from marker)",
    ),
    ({"max_memory": 0}, "gpuperf(max_memory=...) must be a positive number of bytes* got 0 *"),
    ({"max_memory": -1}, "gpuperf(max_memory=...) must be a positive number of bytes* got -1 *"),
    ({"max_memory": True}, "gpuperf(max_memory=...) must be a positive number * got True *"),
    ({"max_memory": "x" * 100}, "gpuperf(max_memory=...) * got 'xxxxxxxxx*...*(from marker)"),
]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    BAD_ARGUMENTS,
    ids=[",".join(f"{k}={v!r}" for k, v in kwargs.items())[:40] for kwargs, _ in BAD_ARGUMENTS],
)
def test_bad_argument_names_the_keyword_and_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(MarkerError) as info:
        parse_marker(mark(**kwargs))
    assert len(str(info.value)) < 400  # a huge bad value is shortened
    assert re.fullmatch(re.escape(message).replace(r"\*", ".*"), str(info.value)), str(info.value)


def test_help_line_lists_every_keyword_in_order() -> None:
    signature = MARKER_HELP.split("(", 1)[1].split(")", 1)[0]
    names = [part.split("=")[0].strip() for part in signature.split(",")]
    assert MARKER_HELP.startswith("gpuperf(")
    assert names == list(MarkerSpec.__dataclass_fields__)
