"""The option parsers and the settings built from a config (CLI, then ini, then default)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_gpuperf.options import (
    Settings,
    parse_backend_list,
    parse_duration,
    parse_fraction,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10%", 0.10),
        ("0.1", 0.10),
        (" 5 % ", 0.05),
        ("0", 0.0),
        ("0%", 0.0),
        ("100%", 1.0),
        ("1", 1.0),
        (0.25, 0.25),
        (".5", 0.5),
    ],
)
def test_parse_fraction_accepts(value: str | float, expected: float) -> None:
    assert parse_fraction(value, "--gpuperf-tolerance", "from command line") == pytest.approx(
        expected
    )


@pytest.mark.parametrize("value", ["banana", "-5%", "150%", "1.5", "", "%", "nan", "inf", "5%%"])
def test_parse_fraction_rejects(value: str) -> None:
    expected = (
        f"--gpuperf-tolerance must be a fraction between 0 and 1 written as 10% or 0.1; "
        f"got {value!r} (from command line)"
    )
    with pytest.raises(pytest.UsageError, match=f"^{re.escape(expected)}$"):
        parse_fraction(value, "--gpuperf-tolerance", "from command line")


def test_parse_fraction_upper_bound_is_in_the_message() -> None:
    assert parse_fraction("150%", "gpuperf_noise", "from config file", upper=2.0) == 1.5
    with pytest.raises(
        pytest.UsageError, match=r"between 0 and 2 .*got '250%' \(from config file\)"
    ):
        parse_fraction("250%", "gpuperf_noise", "from config file", upper=2.0)


@given(st.integers(min_value=0, max_value=10_000))
def test_parse_fraction_percent_and_decimal_agree(basis_points: int) -> None:
    percent = f"{basis_points / 100}%"
    decimal = str(basis_points / 10_000)
    assert parse_fraction(percent, "x", "test") == pytest.approx(parse_fraction(decimal, "x", "t"))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1", 1.0),
        ("1s", 1.0),
        ("500ms", 0.5),
        ("2m", 120.0),
        (" 3 s ", 3.0),
        (".25", 0.25),
        ("1.5s", 1.5),
        (2, 2.0),
        (0.1, 0.1),
    ],
)
def test_parse_duration_accepts(value: str | float, seconds: float) -> None:
    assert parse_duration(value, "--gpuperf-max-time", "from command line") == pytest.approx(
        seconds
    )


@pytest.mark.parametrize("value", ["0", "0ms", "-1", "1h", "fast", "", "1e3", "s", "1 sec"])
def test_parse_duration_rejects(value: str) -> None:
    expected = (
        "gpuperf_max_time must be a positive number of seconds with optional ms, s or m suffix "
        f"(e.g. 1s or 500ms), at most 86400 s (one day); got {value!r} (from config file)"
    )
    with pytest.raises(pytest.UsageError, match=f"^{re.escape(expected)}$"):
        parse_duration(value, "gpuperf_max_time", "from config file")


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("numba", ("numba",)),
        ("numba, cupy", ("numba", "cupy")),
        (" numpy,,numba, ", ("numpy", "numba")),
        ("cupy,numpy", ("cupy", "numpy")),
    ],
)
def test_parse_backend_list_accepts(value: str, names: tuple[str, ...]) -> None:
    assert parse_backend_list(value, "--gpuperf-backends", "from command line") == names


@pytest.mark.parametrize("value", ["", " ", ",", " , ,"])
def test_parse_backend_list_rejects_an_empty_list(value: str) -> None:
    expected = (
        "gpuperf_backends must list at least one backend, e.g. numpy,numba; "
        f"got {value!r} (from config file)"
    )
    with pytest.raises(pytest.UsageError, match=f"^{re.escape(expected)}$"):
        parse_backend_list(value, "gpuperf_backends", "from config file")


def test_settings_defaults(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPUPERF_SAVE_RUNS")  # the suite's conftest sets it to 1,
    monkeypatch.delenv("GPUPERF_CONFIRM")  # and this one to same
    config = pytester.parseconfig()
    settings = Settings.from_config(config)
    assert settings == Settings(baseline_path=Path(config.rootpath) / ".gpuperf/baselines.json")
    assert settings.enabled is False
    assert settings.backends is None
    assert (settings.gate, settings.save_runs, settings.confirm) == ("auto", 3, "fresh")


def test_settings_cli_beats_ini_beats_default(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        gpuperf_tolerance = 20%
        gpuperf_max_time = 250ms
        gpuperf_backends = numpy
        gpuperf_flush_l2 = true
        gpuperf_baseline = perf/base.json
        """
    )
    from_ini = Settings.from_config(pytester.parseconfig())
    assert (from_ini.tolerance, from_ini.max_time, from_ini.backends) == (0.2, 0.25, ("numpy",))
    assert from_ini.flush_l2 is True
    assert from_ini.noise == Settings().noise
    assert from_ini.baseline_path == pytester.path / "perf/base.json"

    config = pytester.parseconfig(
        "--gpuperf",
        "--gpuperf-tolerance=0.05",
        "--gpuperf-backends=numba,cupy",
        "--gpuperf-noise=1%",
        "--gpuperf-baseline=other.json",
    )
    from_cli = Settings.from_config(config)
    assert from_cli.enabled is True
    assert (from_cli.tolerance, from_cli.backends, from_cli.noise) == (
        0.05,
        ("numba", "cupy"),
        0.01,
    )
    assert from_cli.max_time == 0.25  # not given on the command line: the ini value stays
    assert from_cli.baseline_path == pytester.path / "other.json"


def test_settings_name_the_source_of_a_bad_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngpuperf_noise = loud\n")
    with pytest.raises(
        pytest.UsageError, match=r"^gpuperf_noise .* got 'loud' \(from config file\)$"
    ):
        Settings.from_config(pytester.parseconfig())
    with pytest.raises(
        pytest.UsageError, match=r"^--gpuperf-noise .* got 'quiet' \(from command line\)$"
    ):
        Settings.from_config(pytester.parseconfig("--gpuperf-noise=quiet"))
