"""Command-line options and ini keys, and the frozen settings built from them once.

The parsers themselves are pure and live in :mod:`pytest_gpuperf.parsing`; here their
ValueError becomes the pytest.UsageError that pytest reports with exit status 4.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar, final

import pytest

from pytest_gpuperf import parsing
from pytest_gpuperf.verdict.history import DEFAULT_FALSE_ALARM, DEFAULT_HISTORY

if TYPE_CHECKING:
    from collections.abc import Callable

GPUPERF_HELP = "measure kernels, compute speedups over the NumPy reference and gate them"
BACKENDS_HELP = (
    "comma-separated backends to run, e.g. numba,cupy (default: all registered except "
    "the opt-in torch, jax and dask)"
)
TOLERANCE_HELP = "allowed speedup loss against the baseline, as 10% or 0.1 (default 10%)"
MAX_TIME_HELP = "time budget of one measurement, as 1, 1s or 500ms (default 1s)"
NOISE_HELP = "stop sampling once the speedup interval is this tight, as 2% or 0.02 (default 2%)"
SAVE_HELP = "store this run's speedups as the baselines for this machine"
BASELINE_HELP = "baseline file (default .gpuperf/baselines.json under the rootdir)"
JSON_HELP = "write the run, with raw samples, as pytest-benchmark-compatible JSON"
MARKDOWN_HELP = (
    "write the run's results table (and sweeps, throughput, notes) as Markdown to this path; "
    "under --gpuperf the same text is appended to $GITHUB_STEP_SUMMARY when that is set"
)
FLUSH_L2_HELP = "flush the GPU L2 cache before every sample (cold-cache timing)"
PLOT_HELP = (
    "under --gpuperf, write speedup, sweep and compile-time PNG plots into this folder "
    "(needs matplotlib: pip install 'pytest-gpuperf[plot]')"
)
CONTENTION_HELP = (
    "CPU share used by other processes above which a measurement is contended, "
    "as 15% or 0.15 (default 15%)"
)
MEMORY_TOLERANCE_HELP = (
    "allowed growth of a test's peak memory against its baseline, as 10% or 0.1 "
    "(default: off, peaks are reported but not gated)"
)
FAIL_INCONCLUSIVE_HELP = (
    "fail tests whose verdict is inconclusive: contended, or the reference moved (default: warn)"
)
GATE_HELP = (
    "what the gate judges: auto (a GPU row's CUDA-event time, a CPU row's speedup), "
    "speedup (over the reference, with attribution), time (the kernel's own median "
    "against its history) or both (default auto)"
)
HISTORY_HELP = "accepted runs kept per test and backend in the baseline file (default 10)"
SAVE_RUNS_HELP = (
    "fresh processes one --gpuperf-save records, so the first save already knows how runs "
    "move between processes; the extra ones re-run the saved tests (default 3, or "
    "$GPUPERF_SAVE_RUNS)"
)
#: The environment variable that sets the default of ``--gpuperf-save-runs``.
SAVE_RUNS_ENV = "GPUPERF_SAVE_RUNS"
CONFIRM_HELP = (
    "how a suspected regression is confirmed before it fails: fresh (measured again in "
    "this process, then in a fresh one; default, or $GPUPERF_CONFIRM) or same (in this "
    "process only)"
)
#: The environment variable that sets the default of ``--gpuperf-confirm``.
CONFIRM_ENV = "GPUPERF_CONFIRM"
FALSE_ALARM_HELP = (
    "share of runs of unchanged code the gate may flag, once 3+ runs are saved, "
    "as 1% or 0.01 (default 1%)"
)
DEVICES_HELP = (
    "under pytest-xdist, the CUDA devices the workers are spread over, one per worker in turn, "
    "as 0,1,2,3 or GPU-UUIDs (default: all visible devices)"
)

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _usage_error(parse: Callable[_P, _T]) -> Callable[_P, _T]:
    """A pure parser from :mod:`~pytest_gpuperf.parsing` whose ValueError is a UsageError."""

    @functools.wraps(parse)
    def parse_or_usage_error(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return parse(*args, **kwargs)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None

    return parse_or_usage_error


# The parsers of option values, failing with pytest.UsageError (pytest prints it and exits 4).
parse_fraction = _usage_error(parsing.parse_fraction)
parse_duration = _usage_error(parsing.parse_duration)
parse_scheduler_address = _usage_error(parsing.parse_scheduler_address)
parse_backend_list = _usage_error(parsing.parse_backend_list)
parse_device_list = _usage_error(parsing.parse_device_list)
parse_gate_mode = _usage_error(parsing.parse_gate_mode)
parse_false_alarm = _usage_error(parsing.parse_false_alarm)
parse_history = _usage_error(parsing.parse_history)
parse_save_runs = _usage_error(parsing.parse_save_runs)
parse_confirm_mode = _usage_error(parsing.parse_confirm_mode)
parse_output_path = _usage_error(parsing.parse_output_path)


def ini_flag(config: pytest.Config, ini: str) -> bool:
    """Read a true/false ini key; a bad value is a usage error naming the key and the file."""
    try:
        return bool(config.getini(ini))
    except (ValueError, pytest.UsageError) as exc:
        quoted = re.search(r"'.*'", str(exc))  # pytest: "invalid truth value 'maybe'"
        detail = quoted.group(0) if quoted else str(exc)
        raise pytest.UsageError(
            f"{ini} must be true or false (or yes/no, on/off, 1/0); got {detail[:200]} "
            f"(from config file {config.inipath})"
        ) from None


def _argparse(text: str) -> str:
    """Escape ``%`` for argparse, which %-formats option help (the ini help is printed as is)."""
    return text.replace("%", "%%")


def option_group(parser: pytest.Parser) -> pytest.OptionGroup:
    """The ``gpuperf`` option group: the same one, whichever plugin asks for it first."""
    return parser.getgroup("gpuperf", "GPU kernel correctness and speedup gating")


def add_options(parser: pytest.Parser) -> None:
    """Register the ``gpuperf`` option group and its ini keys."""
    group = option_group(parser)
    group.addoption("--gpuperf", action="store_true", default=False, help=GPUPERF_HELP)
    group.addoption("--gpuperf-backends", metavar="NAMES", default=None, help=BACKENDS_HELP)
    group.addoption(
        "--gpuperf-tolerance", metavar="FRACTION", default=None, help=_argparse(TOLERANCE_HELP)
    )
    group.addoption("--gpuperf-max-time", metavar="SECONDS", default=None, help=MAX_TIME_HELP)
    group.addoption("--gpuperf-noise", metavar="FRACTION", default=None, help=_argparse(NOISE_HELP))
    group.addoption("--gpuperf-save", action="store_true", default=False, help=SAVE_HELP)
    group.addoption("--gpuperf-baseline", metavar="PATH", default=None, help=BASELINE_HELP)
    group.addoption("--gpuperf-json", metavar="PATH", default=None, help=JSON_HELP)
    group.addoption("--gpuperf-markdown", metavar="PATH", default=None, help=MARKDOWN_HELP)
    group.addoption("--gpuperf-plot", metavar="DIR", default=None, help=PLOT_HELP)
    group.addoption("--gpuperf-flush-l2", action="store_true", default=None, help=FLUSH_L2_HELP)
    group.addoption(
        "--gpuperf-contention", metavar="FRACTION", default=None, help=_argparse(CONTENTION_HELP)
    )
    group.addoption(
        "--gpuperf-fail-inconclusive",
        action="store_true",
        default=None,
        help=FAIL_INCONCLUSIVE_HELP,
    )
    group.addoption("--gpuperf-gate", metavar="MODE", default=None, help=GATE_HELP)
    group.addoption(
        "--gpuperf-false-alarm",
        metavar="FRACTION",
        default=None,
        help=_argparse(FALSE_ALARM_HELP),
    )
    parser.addini("gpuperf_backends", BACKENDS_HELP, default=None)
    parser.addini("gpuperf_gate", GATE_HELP, default=None)
    parser.addini("gpuperf_history", HISTORY_HELP, default=None)
    group.addoption("--gpuperf-save-runs", metavar="N", default=None, help=SAVE_RUNS_HELP)
    parser.addini("gpuperf_save_runs", SAVE_RUNS_HELP, default=None)
    group.addoption("--gpuperf-confirm", metavar="MODE", default=None, help=CONFIRM_HELP)
    parser.addini("gpuperf_confirm", CONFIRM_HELP, default=None)
    parser.addini("gpuperf_false_alarm", FALSE_ALARM_HELP, default=None)
    group.addoption("--gpuperf-devices", metavar="DEVICES", default=None, help=DEVICES_HELP)
    parser.addini("gpuperf_backends", BACKENDS_HELP, default=None)
    parser.addini("gpuperf_devices", DEVICES_HELP, default=None)
    parser.addini("gpuperf_tolerance", TOLERANCE_HELP, default=None)
    parser.addini("gpuperf_max_time", MAX_TIME_HELP, default=None)
    parser.addini("gpuperf_noise", NOISE_HELP, default=None)
    parser.addini("gpuperf_baseline", BASELINE_HELP, default=None)
    parser.addini("gpuperf_flush_l2", FLUSH_L2_HELP, type="bool", default=False)
    parser.addini("gpuperf_contention", CONTENTION_HELP, default=None)
    parser.addini("gpuperf_fail_inconclusive", FAIL_INCONCLUSIVE_HELP, type="bool", default=False)
    parser.addini("gpuperf_markdown", MARKDOWN_HELP, default=None)
    parser.addini("gpuperf_plot", PLOT_HELP, default=None)
    parser.addini("gpuperf_memory_tolerance", MEMORY_TOLERANCE_HELP, default=None)


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
    markdown_path: Path | None = None
    plot_dir: Path | None = None
    flush_l2: bool = False
    contention: float = 0.15
    fail_inconclusive: bool = False
    gate: str = "auto"
    history: int = DEFAULT_HISTORY
    #: Processes one ``--gpuperf-save`` records (this one and fresh ones).
    save_runs: int = 3
    #: How a suspected regression is confirmed: ``fresh`` (also in a fresh process) or ``same``.
    confirm: str = "fresh"
    false_alarm: float = DEFAULT_FALSE_ALARM
    #: Where ``baseline_path`` came from, for messages: the option, the ini key or the default.
    baseline_source: str = "the default baseline path"
    #: Output options given without ``--gpuperf``, so ignored (each with its source).
    ignored: tuple[str, ...] = ()
    #: None: memory peaks are reported, not gated (``gpuperf_memory_tolerance``).
    memory_tolerance: float | None = None
    devices: tuple[str, ...] | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Build settings with the precedence CLI, then ini, then environment, then default."""

        def pick(
            option: str, ini: str, parse: Callable[[str, str, str], object], env: str = ""
        ) -> object:
            cli = config.getoption(option)
            if cli is not None:
                return parse(cli, "--" + option.replace("_", "-"), "from command line")
            ini_value = config.getini(ini)
            if ini_value:
                return parse(str(ini_value), ini, "from config file")
            if env and os.environ.get(env):
                return parse(os.environ[env], env, "from the environment")
            return None

        def flag(option: str, ini: str) -> bool:
            cli = config.getoption(option)
            return bool(cli) if cli is not None else ini_flag(config, ini)

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
            "devices": pick("gpuperf_devices", "gpuperf_devices", parse_device_list),
        }
        parsed["gate"] = pick("gpuperf_gate", "gpuperf_gate", parse_gate_mode)
        parsed["false_alarm"] = pick(
            "gpuperf_false_alarm", "gpuperf_false_alarm", parse_false_alarm
        )
        parsed["save_runs"] = pick(
            "gpuperf_save_runs", "gpuperf_save_runs", parse_save_runs, SAVE_RUNS_ENV
        )
        parsed["confirm"] = pick(
            "gpuperf_confirm", "gpuperf_confirm", parse_confirm_mode, CONFIRM_ENV
        )
        history = config.getini("gpuperf_history")
        if history:
            parsed["history"] = parse_history(str(history), "gpuperf_history", "from config file")
        memory_tolerance = config.getini("gpuperf_memory_tolerance")
        if memory_tolerance:
            parsed["memory_tolerance"] = parse_fraction(
                str(memory_tolerance), "gpuperf_memory_tolerance", "from config file", upper=100.0
            )
        values.update({key: value for key, value in parsed.items() if value is not None})
        baseline_cli = config.getoption("gpuperf_baseline")
        baseline_ini = config.getini("gpuperf_baseline")
        baseline = baseline_cli or baseline_ini
        values["baseline_path"] = rootdir / (baseline or ".gpuperf/baselines.json")
        if baseline_cli:
            values["baseline_source"] = "--gpuperf-baseline"
        elif baseline_ini:
            values["baseline_source"] = f"gpuperf_baseline in {config.inipath}"
        json_path = config.getoption("gpuperf_json")
        values["json_path"] = Path(json_path) if json_path else None
        markdown_cli = config.getoption("gpuperf_markdown")
        markdown_ini = config.getini("gpuperf_markdown")
        for path, name, source in (
            (json_path, "--gpuperf-json", "from command line"),
            (markdown_cli, "--gpuperf-markdown", "from command line"),
            (markdown_ini, "gpuperf_markdown", "from config file"),
        ):
            if path:
                parse_output_path(str(path), name, source)
        markdown = Path(markdown_cli) if markdown_cli else None
        values["markdown_path"] = markdown or (rootdir / markdown_ini if markdown_ini else None)
        plot_cli, plot_ini = config.getoption("gpuperf_plot"), config.getini("gpuperf_plot")
        plot_dir = Path(plot_cli) if plot_cli else None
        values["plot_dir"] = plot_dir or (rootdir / plot_ini if plot_ini else None)
        if not values["enabled"]:
            given = {
                "--gpuperf-save": values["save"],
                "--gpuperf-json": json_path,
                "--gpuperf-markdown": markdown_cli,
                "gpuperf_markdown (from config file)": markdown_ini and not markdown_cli,
                "--gpuperf-plot": plot_cli,
                "gpuperf_plot (from config file)": plot_ini and not plot_cli,
            }
            values["ignored"] = tuple(name for name, value in given.items() if value)
        return cls(**values)  # type: ignore[arg-type]


def ignored_line(settings: Settings) -> str | None:
    """One line naming the output options that did nothing because ``--gpuperf`` was off."""
    if not settings.ignored:
        return None
    names = ", ".join(settings.ignored)
    return (
        f"gpuperf: {names} ignored: they need --gpuperf (without it nothing is measured, "
        "so there is nothing to save or report); add --gpuperf to use them"
    )
