"""Run reports (``--gpuperf-json``) read back: validated entries, compared and accepted.

A plain module: no pytest, no numpy. The ``gpuperf`` command formats what it returns.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard, final

from pytest_gpuperf.measure.statistics import RatioEstimate, median_interval
from pytest_gpuperf.store import safe_json
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.text import printable, short_repr
from pytest_gpuperf.verdict.admission import refusal
from pytest_gpuperf.verdict.gate import GateInput, judge
from pytest_gpuperf.verdict.history import History

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

RUN_FIX = "pass a file written by: pytest --gpuperf --gpuperf-json=PATH"
#: Largest run report read: reports hold every raw sample, so they can be big.
MAX_BYTES = 256 * safe_json.MIB


#: Version of the ``gpuperf`` block inside a run report; newer files are refused.
REPORT_SCHEMA = 1


class RunReportError(Exception):
    """A run report that can't be used; the message names the file and the fix."""


@final
@dataclass(frozen=True)
class Speedup:
    """A speedup with its 95% interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3g}x [{self.low:.3g}-{self.high:.3g}]"


@final
@dataclass(frozen=True)
class RunEntry:
    """One ``benchmarks[]`` item of a run report, as the commands use it."""

    test_key: str
    backend: str
    speedup: Speedup | None
    verdict: str
    passed: bool
    simulated: bool
    kernel_median_s: float | None
    reference_median_s: float | None
    samples: int
    dtypes: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    foreign_cpu: float | None
    #: Other processes used too much of the CPUs (reports before 0.2 say so as "inconclusive").
    contended: bool = False
    kernel_iqr_s: float | None = None
    reference_iqr_s: float | None = None
    kernel_device_median_s: float | None = None
    #: The kernel's per-call CUDA-event times (empty without events).
    device_times_s: tuple[float, ...] = ()
    #: NVML's SM clock (median over the samples) and memory clock, MHz, when read.
    sm_mhz: float | None = None
    memory_mhz: float | None = None


@final
@dataclass(frozen=True)
class Run:
    """A validated run report (``--gpuperf-json``) and its raw data."""

    path: Path
    fingerprint: str
    machine: dict[str, object]
    versions: dict[str, str]
    timestamp: str | None
    entries: tuple[RunEntry, ...]
    raw: dict[str, Any]

    @property
    def commit(self) -> str | None:
        """The git commit the run measured, when the report knows it."""
        info = _object(self.raw.get("commit_info"))
        commit = info.get("id")
        if not isinstance(commit, str) or commit in ("", "unversioned"):
            return None
        return f"{commit}+dirty" if info.get("dirty") is True else commit


def _object(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _field(data: Mapping[str, Any], key: str, ok: Callable[[object], bool], what: str) -> Any:
    """``data[key]`` when ``ok`` accepts it (a missing key reads as None), else ValueError."""
    value = data.get(key)
    if not ok(value):
        raise ValueError(f"{key!r} must be {what}, got {short_repr(value)}")
    return value


def _speedup(value: object, where: str) -> Speedup | None:
    """The entry's speedup; ValueError for a malformed one or one not above 0 (of ``where``)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        _number(value.get(k)) for k in ("value", "low", "high")
    ):
        raise ValueError(
            "'speedup' must be null or an object of numbers value, low, high; "
            f"got {short_repr(value)}"
        )
    if not all(value[k] > 0 for k in ("value", "low", "high")):
        raise ValueError(
            f"'speedup' of {where} must have value, low and high above 0 (it is a ratio of "
            f"two times); got {short_repr(value)}"
        )
    return Speedup(float(value["value"]), float(value["low"]), float(value["high"]))


def _median(stats: object) -> float | None:
    median = _object(stats).get("median")
    return float(median) if _number(median) else None


def _iqr(stats: object) -> float | None:
    iqr = _object(stats).get("iqr")
    return float(iqr) if _number(iqr) and iqr >= 0 else None


def _device_times(info: Mapping[str, Any]) -> tuple[float, ...]:
    times = info.get("device_times_s")
    if not isinstance(times, list) or not all(_number(t) and t > 0 for t in times):
        return ()
    return tuple(float(t) for t in times)


def _clock(info: Mapping[str, Any], key: str) -> float | None:
    value = _object(info.get("clocks")).get(key)
    return float(value) if _number(value) and value > 0 else None


def _device_median(info: Mapping[str, Any]) -> float | None:
    times = info.get("device_times_s")
    if not isinstance(times, list) or not times or not all(_number(t) for t in times):
        return None
    import statistics

    return float(statistics.median(times))


def _entry(item: object) -> RunEntry:
    """Validate one ``benchmarks[]`` item; ValueError says which field is wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"must be an object, got {short_repr(item)}")
    info = _object(item.get("extra_info")).get("gpuperf")
    if not isinstance(info, dict):
        raise ValueError(
            "has no 'extra_info.gpuperf' object (a pytest-benchmark result, not gpuperf's)"
        )
    text = (lambda v: isinstance(v, str) and bool(v), "a non-empty string")
    dtypes = _field(info, "dtypes", lambda v: v is None or isinstance(v, list), "a list") or []
    shapes = _field(info, "shapes", lambda v: v is None or isinstance(v, list), "a list") or []
    ratios = _field(info, "ratios", lambda v: v is None or isinstance(v, list), "a list") or []
    foreign = _field(info, "foreign_cpu", lambda v: v is None or _number(v), "null or a number")
    verdict = str(info.get("verdict") or "")
    contended = info.get("contended")
    if not isinstance(contended, bool):  # reports before "contended" and "attribution"
        contended = verdict == "inconclusive" and not info.get("attribution")
    test_key, backend = _field(info, "test_key", *text), _field(info, "backend", *text)
    return RunEntry(
        test_key=test_key,
        backend=backend,
        # A device row reports its speedup against a pooled reference; the baseline
        # keeps what this run measured against its own.
        speedup=_speedup(
            info.get("same_run_speedup") or info.get("speedup"),
            f"{printable(test_key)} on {printable(backend)}",
        ),
        verdict=verdict,
        passed=info.get("passed") is True,
        simulated=info.get("simulated") is True,
        kernel_median_s=_median(item.get("stats")),
        reference_median_s=_median(info.get("reference_stats")),
        samples=len(ratios),
        dtypes=tuple(str(d) for d in dtypes),
        shapes=tuple(tuple(int(d) for d in s) for s in shapes if isinstance(s, list)),
        foreign_cpu=None if foreign is None else float(foreign),
        contended=contended,
        kernel_iqr_s=_iqr(item.get("stats")),
        reference_iqr_s=_iqr(info.get("reference_stats")),
        kernel_device_median_s=_device_median(info),
        device_times_s=_device_times(info),
        sm_mhz=_clock(info, "sm_mhz_median"),
        memory_mhz=_clock(info, "memory_mhz_after"),
    )


def _read_json(path: Path, fix: str) -> object:
    """The parsed content of a JSON file; RunReportError names the file and the fix."""
    try:
        return safe_json.read_json(path, MAX_BYTES, allow_nan=True)
    except safe_json.JsonFileError as exc:
        if exc.kind == "invalid":
            raise RunReportError(
                f"{path}: {exc}; the file is corrupt or truncated; {fix}"
            ) from None
        if exc.kind == "permission":
            raise RunReportError(f"{path}: {exc}; give this user read access to it") from None
        raise RunReportError(f"{path}: {exc}; {fix}") from None


def load_run(path: Path) -> Run:
    """Read and validate a run report written by ``--gpuperf-json``."""
    raw = _read_json(path, RUN_FIX)
    block = raw.get("gpuperf") if isinstance(raw, dict) else None
    if (
        not isinstance(raw, dict)
        or not isinstance(block, dict)
        or not isinstance(raw.get("benchmarks"), list)
    ):
        raise RunReportError(
            f"{path}: not a gpuperf run report (expected an object with 'gpuperf' and "
            f"'benchmarks' keys); {RUN_FIX}"
        )
    schema = block.get("schema")
    if isinstance(schema, int) and schema > REPORT_SCHEMA:
        raise RunReportError(
            f"{path}: report schema {schema!r} was written by a newer pytest-gpuperf "
            f"(this one reads up to {REPORT_SCHEMA}); upgrade pytest-gpuperf"
        )
    entries = []
    for index, item in enumerate(raw["benchmarks"]):
        try:
            entries.append(_entry(item))
        except (ValueError, TypeError) as exc:
            raise RunReportError(f"{path}: benchmarks[{index}] {exc}; {RUN_FIX}") from None
    facts = _object(_object(raw.get("machine_info")).get("gpuperf"))
    fingerprint = facts.get("fingerprint")
    machine = facts.get("machine")
    versions = facts.get("versions")
    stamp = raw.get("datetime")
    return Run(
        path=path,
        fingerprint=fingerprint if isinstance(fingerprint, str) else "",
        machine=dict(machine) if isinstance(machine, dict) else {},
        versions={str(k): str(v) for k, v in versions.items()}
        if isinstance(versions, dict)
        else {},
        timestamp=stamp if isinstance(stamp, str) else None,
        entries=tuple(entries),
        raw=raw,
    )


_RANK = {"REGRESSED": 0, "inconclusive": 1, "improved": 2, "ok": 3, "added": 4, "removed": 5}


@final
@dataclass(frozen=True)
class Change:
    """One test and backend compared between two runs."""

    test_key: str
    backend: str
    old: Speedup | None
    new: Speedup | None
    verdict: str

    @property
    def change(self) -> float | None:
        """Relative change of the point estimate, or None when one side is missing."""
        return self.new.value / self.old.value - 1 if self.old and self.new else None


def compare_runs(old: Run, new: Run, tolerance: float) -> list[Change]:
    """Match two runs by test and backend and judge each change; regressions first."""
    old_by = {(e.test_key, e.backend): e for e in old.entries}
    new_by = {(e.test_key, e.backend): e for e in new.entries}
    changes = []
    for key in sorted(old_by.keys() | new_by.keys()):
        before, after = old_by.get(key), new_by.get(key)
        verdict = _judge_change(before, after, tolerance)
        changes.append(
            Change(
                *key,
                old=before.speedup if before else None,
                new=after.speedup if after else None,
                verdict=verdict,
            )
        )
    return sorted(changes, key=lambda c: (_RANK.get(c.verdict, 6), c.test_key, c.backend))


def _judge_change(before: RunEntry | None, after: RunEntry | None, tolerance: float) -> str:
    """The verdict on ``after`` with ``before`` as a one-run baseline, by the gate's own rule."""
    if before is None:
        return "added"
    if after is None:
        return "removed"
    if before.simulated or after.simulated:
        return "not compared (simulated)"
    if before.speedup is None or after.speedup is None:
        return "not compared (no speedup)"
    if before.contended or after.contended:
        return "inconclusive"
    try:
        then = _entry_as_baseline(before, "1970-01-01T00:00:00+00:00", {}, None)
    except ValueError:
        return "not compared (no medians)"
    now = after.speedup
    events = bool(after.device_times_s) and then.kernel_device_median_s is not None
    result = judge(
        GateInput(
            test=after.test_key,
            backend=after.backend,
            reference_name="the reference",
            speedup=RatioEstimate(now.value, now.low, now.high),
            history=History((then,)),
            tolerance=tolerance,
            reference_median_s=after.reference_median_s,
            kernel_median_s=after.kernel_median_s,
            kernel_time=median_interval(after.device_times_s) if events else None,
            kernel_clock="events" if events else "wall",
            sm_mhz=after.sm_mhz,
            memory_mhz=after.memory_mhz,
        )
    )
    return result.verdict.value


def skip_reason(entry: RunEntry) -> str | None:
    """Why a run entry must not become a baseline, or None when it may."""
    return refusal(
        simulated=entry.simulated,
        passed=entry.passed,
        verdict=entry.verdict,
        contended=entry.contended,
        foreign_cpu=entry.foreign_cpu,
        has_speedup=entry.speedup is not None,
        has_medians=entry.kernel_median_s is not None and entry.reference_median_s is not None,
    )


def _entry_as_baseline(
    e: RunEntry, stamp: str, versions: dict[str, str], commit: str | None
) -> BaselineEntry:
    """A run entry as a saved run; ValueError when it lacks what a baseline needs."""
    if e.speedup is None:
        raise ValueError("no speedup")
    return BaselineEntry(
        speedup=e.speedup.value,
        ci_low=e.speedup.low,
        ci_high=e.speedup.high,
        kernel_median_s=e.kernel_median_s or 0.0,
        reference_median_s=e.reference_median_s or 0.0,
        samples=e.samples,
        dtypes=e.dtypes,
        shapes=e.shapes,
        versions=versions,
        timestamp=stamp,
        foreign_cpu=e.foreign_cpu or 0.0,
        kernel_iqr_s=e.kernel_iqr_s,
        reference_iqr_s=e.reference_iqr_s,
        kernel_device_median_s=e.kernel_device_median_s,
        commit=commit,
        sm_mhz=e.sm_mhz,
        memory_mhz=e.memory_mhz,
    )


def _timestamp(run: Run) -> str:
    """The run's time, to the second; now when the report has none."""
    try:
        stamp = datetime.datetime.fromisoformat((run.timestamp or "").replace("Z", "+00:00"))
    except ValueError:
        stamp = datetime.datetime.now(datetime.timezone.utc)
    return stamp.isoformat(timespec="seconds")


def baseline_entries(
    run: Run,
) -> tuple[dict[str, dict[str, BaselineEntry]], list[RunEntry], list[tuple[RunEntry, str]]]:
    """The run's trustworthy results as baseline entries (test_key -> backend -> entry).

    Also returns the accepted run entries and the skipped ones with the reason.
    """
    entries: dict[str, dict[str, BaselineEntry]] = {}
    accepted: list[RunEntry] = []
    skipped: list[tuple[RunEntry, str]] = []
    stamp = _timestamp(run)
    for e in run.entries:
        reason = skip_reason(e)
        if reason is None:
            try:
                entry = _entry_as_baseline(e, stamp, run.versions, run.commit)
            except ValueError as exc:
                reason = str(exc)
            else:
                entries.setdefault(e.test_key, {})[e.backend] = entry
                accepted.append(e)
                continue
        skipped.append((e, reason))
    return entries, accepted, skipped
