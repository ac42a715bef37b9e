"""Shard run reports (``--gpuperf-json``) merged into one, and the merged run as Markdown.

A plain module: no pytest, no numpy. CI splits a suite over several jobs or
machines of one runner class; ``gpuperf merge`` makes their reports one report
that ``compare``, ``accept`` and ``plot`` read like any other.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from pytest_gpuperf.report.markdown import table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.store.saved_runs import Run

#: Verdicts that fail a test; ``--fail`` exits 1 when the merged run has one.
FAILING = ("REGRESSED", "BELOW min_speedup")
_RANK = {"REGRESSED": 0, "BELOW min_speedup": 1, "inconclusive": 2, "improved": 3, "new": 4}


class MergeError(Exception):
    """Shards that must not be merged; the message names the files and what to do."""


def _identity(item: dict[str, Any]) -> tuple[str, str]:
    """What makes a result unique: the full node id (with its parameters) and the backend."""
    info = item["extra_info"]["gpuperf"]
    return str(item.get("fullname") or info["test_key"]), str(info["backend"])


def _check_same_machine(runs: Sequence[Run]) -> None:
    fingerprints = {run.fingerprint for run in runs}
    if len(fingerprints) > 1:
        seen = "; ".join(f"{run.path}: {run.fingerprint or 'unknown machine'}" for run in runs)
        raise MergeError(
            f"the shards ran on different machines ({seen}); speedups from different hardware "
            "cannot share one report or one baseline: run every shard on one runner class, or "
            "merge each machine's shards apart"
        )


def _check_same_commit(runs: Sequence[Run]) -> None:
    commits: dict[str, str] = {}
    for run in runs:
        commit = (run.raw.get("commit_info") or {}).get("id")
        if isinstance(commit, str) and commit:
            commits.setdefault(commit, str(run.path))
    if len(commits) > 1:
        seen = "; ".join(f"{path}: {commit[:12]}" for commit, path in commits.items())
        raise MergeError(
            f"the shards ran different commits ({seen}); merge the shards of one CI run only"
        )


def _version_notes(runs: Sequence[Run]) -> list[str]:
    """A note per library whose version differs between shards."""
    notes = []
    for library in sorted({name for run in runs for name in run.versions}):
        found = {run.versions.get(library, "missing"): str(run.path) for run in runs}
        if len(found) > 1:
            seen = ", ".join(f"{version} ({path})" for version, path in found.items())
            notes.append(f"{library} differs between the shards: {seen}")
    return notes


def _latest(runs: Sequence[Run]) -> str | None:
    """The latest shard time, as the report writes it."""
    stamps = []
    for run in runs:
        try:
            stamp = datetime.datetime.fromisoformat((run.timestamp or "").replace("Z", "+00:00"))
        except ValueError:
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=datetime.timezone.utc)
        stamps.append(stamp)
    return max(stamps).isoformat() if stamps else None


def merge_runs(runs: Sequence[Run]) -> tuple[dict[str, Any], list[str]]:
    """One report from shard reports of one machine class and commit, and notes on it.

    MergeError names a file given twice, a result found in two shards, shards of
    different machines or different commits.
    """
    from pytest_gpuperf.store.saved_runs import REPORT_SCHEMA

    if not runs:
        raise MergeError("no shard reports given; pass at least one --gpuperf-json file")
    paths = [run.path.resolve() for run in runs]
    twice = next((p for p in paths if paths.count(p) > 1), None)
    if twice is not None:
        raise MergeError(f"{twice} is given twice; name each shard report once")
    _check_same_machine(runs)
    _check_same_commit(runs)
    owner: dict[tuple[str, str], str] = {}
    benchmarks = []
    for run in runs:
        for item in run.raw["benchmarks"]:
            key = _identity(item)
            if key in owner:
                raise MergeError(
                    f"{key[0]} on {key[1]} is in both {owner[key]} and {run.path}; each test must "
                    "run in exactly one shard: check how the shards split the suite"
                )
            owner[key] = str(run.path)
            benchmarks.append(item)
    benchmarks.sort(key=_identity)
    notes = _version_notes(runs)
    shard_notes = [n for run in runs for n in (run.raw.get("gpuperf") or {}).get("notes") or []]
    first = runs[0].raw
    merged = {
        "machine_info": first.get("machine_info") or {},
        "commit_info": first.get("commit_info") or {},
        "benchmarks": benchmarks,
        "datetime": _latest(runs) or first.get("datetime"),
        "version": first.get("version"),
        "gpuperf": {
            "schema": REPORT_SCHEMA,
            "notes": list(dict.fromkeys([*shard_notes, *notes])),
            "merged_from": [
                {
                    "path": str(run.path),
                    "datetime": run.timestamp,
                    "node": (run.raw.get("machine_info") or {}).get("node"),
                    "benchmarks": len(run.raw["benchmarks"]),
                }
                for run in runs
            ],
        },
    }
    return merged, notes


def failing(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(test, backend, verdict) of every result whose verdict fails its test."""
    found = []
    for item in report["benchmarks"]:
        info = item["extra_info"]["gpuperf"]
        if info.get("verdict") in FAILING:
            found.append(
                (str(item.get("fullname") or info["test_key"]), info["backend"], info["verdict"])
            )
    return found


def _speedup(info: dict[str, Any]) -> str:
    speed = info.get("speedup")
    return f"{speed['value']:.3g}x [{speed['low']:.3g}-{speed['high']:.3g}]" if speed else "-"


def render_markdown(report: dict[str, Any]) -> str:
    """The merged run as Markdown: its shards, one results table, its notes."""
    block = report.get("gpuperf") or {}
    shards = block.get("merged_from") or []
    fingerprint = ((report.get("machine_info") or {}).get("gpuperf") or {}).get("fingerprint")
    lines = ["## gpuperf results (merged)", ""]
    if fingerprint:
        lines += [f"Machine: `{' '.join(str(fingerprint).split())}`", ""]
    lines += [
        f"Merged from {len(shards)} shard report(s): {len(report['benchmarks'])} result(s).",
        "",
    ]
    rows = []
    for item in report["benchmarks"]:
        info = item["extra_info"]["gpuperf"]
        verdict = str(info.get("verdict") or "")
        base = info.get("baseline")
        speed = info.get("speedup")
        change = f"{speed['value'] / base - 1:+.1%}" if speed and base else "-"
        rows.append(
            (
                _RANK.get(verdict, 5),
                f"`{info['test_key']}`",
                info["backend"],
                _speedup(info),
                f"{base:.3g}x" if base else "-",
                change,
                f"**{verdict}**" if verdict in FAILING else verdict,
                info.get("verdict_detail") or "",
            )
        )
    rows.sort(key=lambda row: row[:3])
    if rows:
        header = ("test", "backend", "speedup [95% CI]", "baseline", "change", "verdict", "why")
        lines += table(header, (row[1:] for row in rows))
    else:
        lines.append("No kernel was measured in any shard.")
    notes = block.get("notes") or []
    if notes:
        lines += ["", "### Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"
