"""Command-line options and ini keys, their parsers, and the frozen settings built from them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, final

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

GPUPERF_HELP = "measure kernels, compute speedups over the NumPy reference and gate them"
BACKENDS_HELP = "comma-separated backends to run (default: all registered), e.g. numba,cupy"
TOLERANCE_HELP = "allowed speedup loss against the baseline, as 10% or 0.1 (default 10%)"
MAX_TIME_HELP = "time budget of one measurement, as 1, 1s or 500ms (default 1s)"
NOISE_HELP = "stop sampling once the speedup interval is this tight, as 2% or 0.02 (default 2%)"
SAVE_HELP = "store this run's speedups as the baselines for this machine"
BASELINE_HELP = "baseline file (default .gpuperf/baselines.json under the rootdir)"
JSON_HELP = "write the run, with raw samples, as pytest-benchmark-compatible JSON"
FLUSH_L2_HELP = "flush the GPU L2 cache before every sample (cold-cache timing)"
CONTENTION_HELP = (
    "CPU share used by other processes above which a measurement is contended, "
    "as 15% or 0.15 (default 15%)"
)
FAIL_INCONCLUSIVE_HELP = "fail tests whose measurement stayed contended (default: warn)"

_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m)?\s*$")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, None: 1.0}


def parse_fraction(value: str | float, name: str, source: str, *, upper: float = 1.0) -> float:
    """Parse ``10%`` or ``0.1`` into 0.1; reject negatives and values above ``upper``."""
    text = str(value).strip()
    try:
        fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        fraction = float("nan")
    if not 0.0 <= fraction <= upper:
        raise pytest.UsageError(
            f"{name} must be a fraction between 0 and {upper:g} written as 10% or 0.1; "
            f"got {value!r} ({source})"
        )
    return fraction


def parse_duration(value: str | float, name: str, source: str) -> float:
    """Parse ``1``, ``1s``, ``500ms`` or ``2m`` into seconds (must be positive)."""
    match = _DURATION.match(str(value))
    seconds = float(match["value"]) * _UNIT_SECONDS[match["unit"]] if match else 0.0
    if seconds <= 0:
        raise pytest.UsageError(
            f"{name} must be a positive number of seconds with optional ms, s or m suffix "
            f"(e.g. 1s or 500ms); got {value!r} ({source})"
        )
    return seconds


def parse_backend_list(value: str, name: str, source: str) -> tuple[str, ...]:
    """Split ``numba, cupy`` into names; an empty list is an error."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise pytest.UsageError(
            f"{name} must list at least one backend, e.g. numpy,numba; got {value!r} ({source})"
        )
    return names


def add_options(parser: pytest.Parser) -> None:
    """Register the ``gpuperf`` option group and its ini keys."""
    group = parser.getgroup("gpuperf", "GPU kernel correctness and speedup gating")
    group.addoption("--gpuperf", action="store_true", default=False, help=GPUPERF_HELP)
    group.addoption("--gpuperf-backends", metavar="NAMES", default=None, help=BACKENDS_HELP)
    group.addoption("--gpuperf-tolerance", metavar="FRACTION", default=None, help=TOLERANCE_HELP)
    group.addoption("--gpuperf-max-time", metavar="SECONDS", default=None, help=MAX_TIME_HELP)
    group.addoption("--gpuperf-noise", metavar="FRACTION", default=None, help=NOISE_HELP)
    group.addoption("--gpuperf-save", action="store_true", default=False, help=SAVE_HELP)
    group.addoption("--gpuperf-baseline", metavar="PATH", default=None, help=BASELINE_HELP)
    group.addoption("--gpuperf-json", metavar="PATH", default=None, help=JSON_HELP)
    group.addoption("--gpuperf-flush-l2", action="store_true", default=None, help=FLUSH_L2_HELP)
    group.addoption("--gpuperf-contention", metavar="FRACTION", default=None, help=CONTENTION_HELP)
    group.addoption(
        "--gpuperf-fail-inconclusive",
        action="store_true",
        default=None,
        help=FAIL_INCONCLUSIVE_HELP,
    )
    parser.addini("gpuperf_backends", BACKENDS_HELP, default=None)
    parser.addini("gpuperf_tolerance", TOLERANCE_HELP, default=None)
    parser.addini("gpuperf_max_time", MAX_TIME_HELP, default=None)
    parser.addini("gpuperf_noise", NOISE_HELP, default=None)
    parser.addini("gpuperf_baseline", BASELINE_HELP, default=None)
    parser.addini("gpuperf_flush_l2", FLUSH_L2_HELP, type="bool", default=False)
    parser.addini("gpuperf_contention", CONTENTION_HELP, default=None)
    parser.addini("gpuperf_fail_inconclusive", FAIL_INCONCLUSIVE_HELP, type="bool", default=False)


@final
@dataclass(frozen=True)
class Settings:
    """Every option, parsed and validated once per session."""

    enabled: bool = False
    backends: tuple[str, ...] | None = None
    tolerance: float = 0.10
    max_time: float = 1.0
    noise: float = 0.02
    save: bool = False
    baseline_path: Path = Path(".gpuperf/baselines.json")
    json_path: Path | None = None
    flush_l2: bool = False
    contention: float = 0.15
    fail_inconclusive: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Build settings with the precedence CLI, then ini, then default."""

        def pick(option: str, ini: str, parse: Callable[[str, str, str], object]) -> object:
            cli = config.getoption(option)
            if cli is not None:
                return parse(cli, "--" + option.replace("_", "-"), "from command line")
            ini_value = config.getini(ini)
            if ini_value:
                return parse(str(ini_value), ini, "from config file")
            return None

        def flag(option: str, ini: str) -> bool:
            cli = config.getoption(option)
            return bool(cli) if cli is not None else bool(config.getini(ini))

        rootdir = Path(config.rootpath)
        values: dict[str, object] = {
            "enabled": bool(config.getoption("gpuperf")),
            "save": bool(config.getoption("gpuperf_save")),
            "flush_l2": flag("gpuperf_flush_l2", "gpuperf_flush_l2"),
            "fail_inconclusive": flag("gpuperf_fail_inconclusive", "gpuperf_fail_inconclusive"),
        }
        parsed = {
            "backends": pick("gpuperf_backends", "gpuperf_backends", parse_backend_list),
            "tolerance": pick("gpuperf_tolerance", "gpuperf_tolerance", parse_fraction),
            "max_time": pick("gpuperf_max_time", "gpuperf_max_time", parse_duration),
            "noise": pick("gpuperf_noise", "gpuperf_noise", parse_fraction),
            "contention": pick("gpuperf_contention", "gpuperf_contention", parse_fraction),
        }
        values.update({key: value for key, value in parsed.items() if value is not None})
        baseline = config.getoption("gpuperf_baseline") or config.getini("gpuperf_baseline")
        values["baseline_path"] = rootdir / (baseline or ".gpuperf/baselines.json")
        json_path = config.getoption("gpuperf_json")
        values["json_path"] = Path(json_path) if json_path else None
        return cls(**values)  # type: ignore[arg-type]
