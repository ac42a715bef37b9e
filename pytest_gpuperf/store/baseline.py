"""The baseline store: per-machine speedup histories in one JSON file, locked, written atomically.

Layout (plain JSON, sorted keys, indent 2)::

    {"schema": 2,
     "machines": {"<fingerprint>": {
         "machine": {...},
         "tests": {"<test_key>": {"<backend>": {"runs": [<entry>, ...]}}}}}}

``runs`` holds the last accepted runs, oldest first. A schema 1 file (one entry
where ``{"runs": [...]}`` now stands) reads as a one-run history and is written
back as schema 2 on the next save, losing nothing.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast, final

import filelock

from pytest_gpuperf.store import atomic, safe_json
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.text import short_repr
from pytest_gpuperf.verdict.history import DEFAULT_HISTORY, History
from pytest_gpuperf.verdict.spread_prior import SpreadPrior, pooled_priors

SCHEMA_VERSION = 2
LOCK_TIMEOUT_S = 60.0
#: Largest baseline file read (an entry takes about 600 bytes).
MAX_BYTES = 64 * safe_json.MIB
#: Written into a ``.gpuperf/`` folder that has no ``.gitignore``: lock and temp files stay out
#: of version control, the baselines go in.
GITIGNORE = (
    "# Written by pytest-gpuperf: its lock and temporary files; commit the baselines only.\n"
    "*.lock\n"
    ".*.tmp\n"
)
#: The default path's source, for messages.
DEFAULT_SOURCE = "the default baseline path"

_RESTORE = "restore it from version control, or delete it and re-record with --gpuperf-save"


class BaselineError(Exception):
    """A baseline file that can't be read or written; the message names the file and the fix."""


@final
@dataclass(frozen=True)
class Baselines:
    """The validated content of a baseline file, keyed by machine fingerprint."""

    machines: dict[str, dict[str, object]] = field(default_factory=dict, hash=False)

    def has_machine(self, fingerprint: str) -> bool:
        """Tell whether the file holds baselines for this machine."""
        return fingerprint in self.machines

    def history(self, fingerprint: str, test_key: str, backend: str) -> History | None:
        """Return the accepted runs of one test and backend on one machine, or None."""
        data = self._tests(fingerprint).get(test_key, {}).get(backend)
        if data is None:
            return None
        return _history(data, where=f"{fingerprint}/{test_key}/{backend}")

    def lookup(self, fingerprint: str, test_key: str, backend: str) -> BaselineEntry | None:
        """Return the latest accepted run for one test and backend on one machine, or None."""
        found = self.history(fingerprint, test_key, backend)
        return found.latest if found is not None else None

    def machine_info(self, fingerprint: str) -> dict[str, object]:
        """Return a copy of the stored description of a machine ({} when unknown)."""
        slot = self.machines.get(fingerprint, {})
        return copy.deepcopy(cast("dict[str, object]", slot.get("machine", {})))

    def fingerprints(self) -> list[str]:
        """Return the known machine fingerprints, sorted."""
        return sorted(self.machines)

    def iter_histories(self) -> Iterator[tuple[str, str, str, History]]:
        """Yield (fingerprint, test_key, backend, history) for every entry, sorted."""
        for fingerprint in self.fingerprints():
            tests = self._tests(fingerprint)
            for test_key in sorted(tests):
                for backend, data in sorted(tests[test_key].items()):
                    where = f"{fingerprint}/{test_key}/{backend}"
                    yield fingerprint, test_key, backend, _history(data, where=where)

    def priors(self, fingerprint: str, backend: str) -> Mapping[str, SpreadPrior]:
        """The between-run spreads pooled over one machine's tests of one backend."""
        tests = self._tests(fingerprint)
        histories = [
            _history(tests[key][backend], where=f"{fingerprint}/{key}/{backend}")
            for key in sorted(tests)
            if backend in tests[key]
        ]
        return pooled_priors(histories)

    def iter_entries(self) -> Iterator[tuple[str, str, str, BaselineEntry]]:
        """Yield (fingerprint, test_key, backend, latest run) for every entry, sorted."""
        for fingerprint, test_key, backend, found in self.iter_histories():
            yield fingerprint, test_key, backend, found.latest

    def _tests(self, fingerprint: str) -> dict[str, dict[str, object]]:
        slot = self.machines.get(fingerprint, {})
        return cast("dict[str, dict[str, object]]", slot.get("tests", {}))


def _history(data: object, *, where: str) -> History:
    """A stored ``{"runs": [...]}`` as a History; ValueError names where and what is wrong."""
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(data, dict) or sorted(data) != ["runs"] or not isinstance(runs, list):
        raise ValueError(f"{where}: must be an object {{'runs': [...]}}, got {short_repr(data)}")
    if not runs:
        raise ValueError(f"{where}: 'runs' must hold at least one run, got []")
    return History(
        tuple(
            BaselineEntry.from_dict(run, where=f"{where}.runs[{i}]") for i, run in enumerate(runs)
        )
    )


def _upgraded(slot: dict[str, object]) -> dict[str, object]:
    """A schema 1 machine slot with each entry wrapped as a one-run history."""
    tests = cast("dict[str, dict[str, object]]", slot["tests"])
    return {
        **slot,
        "tests": {
            key: {backend: {"runs": [entry]} for backend, entry in backends.items()}
            for key, backends in tests.items()
        },
    }


def _object(value: object, path: Path, where: str, fix: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise BaselineError(
            f"{path}: {where} must be a JSON object, got {short_repr(value)}; {fix}"
        )
    return cast("dict[str, object]", value)


def _keys(value: dict[str, object], expected: list[str], path: Path, where: str, fix: str) -> None:
    if sorted(value) != expected:
        raise BaselineError(
            f"{path}: {where} must hold exactly the keys {expected!r}, got "
            f"{short_repr(sorted(value))}; {fix}"
        )


def _restore_advice(source: str) -> str:
    """The fix for a damaged file: first check the path, then restore or re-record."""
    if source == DEFAULT_SOURCE:
        return _RESTORE
    return f"check that {source} names your baseline file; if it does, {_RESTORE}"


def _read_error(path: Path, exc: safe_json.JsonFileError, source: str) -> BaselineError:
    """The error for a file that can't be read or parsed, with the fix that fits the cause."""
    if exc.kind == "directory":
        fix = f"point {source} at a baseline file, e.g. {path / 'baselines.json'}"
    elif exc.kind == "permission":
        fix = (
            f"give this user read and write access to it (e.g. chmod u+rw {path}), "
            f"or point {source} elsewhere"
        )
    elif exc.kind == "unreadable":
        fix = f"check the file and {source}"
    elif exc.kind in ("too large", "too deep"):
        fix = f"this is not a baseline file pytest-gpuperf wrote; {_restore_advice(source)}"
    else:
        fix = f"the file is corrupt or truncated; {_restore_advice(source)}"
    return BaselineError(f"{path}: {exc} (from {source}); {fix}")


def load_baselines(path: Path, source: str = DEFAULT_SOURCE) -> Baselines:
    """Read and validate a baseline file; a missing file gives empty baselines.

    ``source`` says where the path came from (``--gpuperf-baseline``), for messages.
    """
    try:
        raw = safe_json.read_json(path, MAX_BYTES)
    except safe_json.JsonFileError as exc:
        if exc.kind == "missing":
            return Baselines()
        raise _read_error(path, exc, source) from None
    fix = _restore_advice(source)
    top = _object(raw, path, "the top level", fix)
    schema = top.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise BaselineError(
            f"{path}: missing or unknown 'schema' {short_repr(schema)} (expected "
            f"{SCHEMA_VERSION}); this is not a pytest-gpuperf baseline file; {fix}"
        )
    if schema > SCHEMA_VERSION:
        raise BaselineError(
            f"{path}: schema {schema!r} was written by a newer pytest-gpuperf "
            f"(this one reads up to {SCHEMA_VERSION}); upgrade pytest-gpuperf"
        )
    _keys(top, ["machines", "schema"], path, "the top level", fix)
    machines: dict[str, dict[str, object]] = {}
    for fp, slot_raw in _object(top["machines"], path, "'machines'", fix).items():
        name = f"machines[{short_repr(fp)}]"
        slot = _object(slot_raw, path, name, fix)
        _keys(slot, ["machine", "tests"], path, name, fix)
        _object(slot["machine"], path, f"{name}.machine", fix)
        for key, backends in _object(slot["tests"], path, f"{name}.tests", fix).items():
            _object(backends, path, f"{name}.tests[{short_repr(key)}]", fix)
        if schema == 1:
            slot = _upgraded(slot)
        for key, backends in cast("dict[str, dict[str, object]]", slot["tests"]).items():
            for backend, data in backends.items():
                where = f"{name}.tests[{short_repr(key)}][{short_repr(backend)}]"
                try:
                    _history(data, where=where)
                except ValueError as exc:
                    raise BaselineError(f"{path}: {exc}; fix the value or {fix}") from None
        machines[fp] = slot
    return Baselines(machines)


def _write_gitignore(folder: Path) -> None:
    """Keep the lock and temp files out of git: a ``.gitignore`` in ``.gpuperf/``, never replaced.

    Only a folder named ``.gpuperf`` (the default) gets one; elsewhere the folder may be
    the project's own, and its ignore rules are the user's.
    """
    if folder.name != ".gpuperf":
        return
    with contextlib.suppress(OSError):  # FileExistsError: the user's file stays as it is
        fd = os.open(folder / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(GITIGNORE)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the baseline file's lock (`<path>.lock`, beside a symlink's target) for the block."""
    target = atomic.target_of(path)
    lock_path = f"{target}.lock"
    _write_gitignore(target.parent)
    lock = filelock.FileLock(lock_path, timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BaselineError(
            f"{path}: timed out after {LOCK_TIMEOUT_S:g} s waiting for the lock {lock_path}; "
            "another pytest-gpuperf run is writing baselines: wait for it, or delete the "
            "lock file if no run is active"
        ) from None
    except OSError as exc:
        raise BaselineError(
            f"{path}: cannot create or open the lock file {lock_path} ({exc}); make "
            f"{target.parent} writable for this user, or remove a lock file another user left"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _write_atomic(path: Path, machines: Mapping[str, object]) -> None:
    """Replace the file in one step: write a sibling temp file, fsync it, os.replace it."""
    try:
        content = {"schema": SCHEMA_VERSION, "machines": machines}
        text = json.dumps(content, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise BaselineError(
            f"{path}: refusing to write data that is not plain JSON ({exc}); pass only "
            "strings, finite numbers, booleans, None, lists and dicts"
        ) from None
    try:
        atomic.write_atomic(
            path,
            text,
            what="the baseline file",
            fix=f"check that {path.parent} is writable and has free space",
        )
    except atomic.WriteError as exc:
        raise BaselineError(str(exc)) from exc


def save_baselines(
    path: Path,
    fingerprint: str,
    machine_info: Mapping[str, object],
    entries: Mapping[str, Mapping[str, BaselineEntry]],
    *,
    history: int = DEFAULT_HISTORY,
) -> None:
    """Append `entries` (test_key -> backend -> run) to their histories for one machine.

    Each history keeps its newest ``history`` runs; everything else in the file stays.
    """
    if history < 1:
        raise ValueError(f"history must keep at least 1 run; got {history!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BaselineError(f"{path}: cannot create {path.parent} ({exc}); fix the path") from exc
    with _locked(path):
        machines = load_baselines(path).machines
        slot = machines.setdefault(fingerprint, {"machine": {}, "tests": {}})
        slot["machine"] = dict(machine_info)
        tests = cast("dict[str, dict[str, object]]", slot["tests"])
        for test_key, backends in entries.items():
            stored = tests.setdefault(test_key, {})
            for backend, entry in backends.items():
                runs = cast("dict[str, list[object]]", stored.get(backend, {"runs": []}))["runs"]
                stored[backend] = {"runs": [*runs, entry.to_dict()][-history:]}
        _write_atomic(path, machines)


def prune_machine(path: Path, fingerprint: str) -> int:
    """Remove one machine's baselines from the file; return how many entries went with it."""
    if path.is_dir():
        raise BaselineError(
            f"{path}: is a directory, not a baseline file; pass the file, e.g. "
            f"{path / 'baselines.json'}"
        )
    if not path.is_file():
        raise BaselineError(f"{path}: no baseline file here; pass the path of an existing file")
    with _locked(path):
        machines = load_baselines(path).machines
        if fingerprint not in machines:
            known = ", ".join(short_repr(fp) for fp in sorted(machines)) or "none"
            raise BaselineError(
                f"{path}: no machine {short_repr(fingerprint)} to prune; known fingerprints: "
                f"{known}; "
                "pass one of these"
            )
        tests = cast("dict[str, dict[str, object]]", machines.pop(fingerprint)["tests"])
        _write_atomic(path, machines)
    return sum(len(backends) for backends in tests.values())
