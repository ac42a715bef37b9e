"""Tests for the baseline store: validation, merging, locking and atomic writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timezone
from pathlib import Path

import filelock
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_gpuperf.store import baseline
from pytest_gpuperf.store.baseline import (
    SCHEMA_VERSION,
    BaselineEntry,
    BaselineError,
    Baselines,
    load_baselines,
    prune_machine,
    save_baselines,
)

REPO_ROOT = Path(baseline.__file__).resolve().parent.parent
MACHINE = {"cpu": "AMD EPYC 7B13", "gpu": "NVIDIA H100", "cores": 16}


def make_entry(speedup: float = 4.0, **changes: object) -> BaselineEntry:
    """Return a valid entry, with `changes` applied."""
    entry = BaselineEntry(
        speedup=speedup,
        ci_low=speedup * 0.9,
        ci_high=speedup * 1.1,
        kernel_median_s=0.001,
        reference_median_s=0.004,
        samples=30,
        dtypes=("float32",),
        shapes=((1024, 1024),),
        versions={"numpy": "2.1.0", "numba": "0.60.0"},
        timestamp="2024-05-01T12:00:00+00:00",
        foreign_cpu=0.02,
    )
    return replace(entry, **changes)  # type: ignore[arg-type]


def listing(directory: Path) -> list[str]:
    """Return the names in a directory, sorted."""
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A baseline file holding two machines, two tests and two backends."""
    path = tmp_path / "baselines.json"
    save_baselines(
        path,
        "fp-a",
        MACHINE,
        {
            "tests/test_k.py::test_add": {"numba": make_entry(3.0), "cupy": make_entry(8.0)},
            "tests/test_k.py::test_mul": {"numba": make_entry(2.0)},
        },
    )
    save_baselines(
        path, "fp-b", {"gpu": "A100"}, {"tests/test_k.py::test_add": {"numba": make_entry(5.0)}}
    )
    return path


# --- entries -------------------------------------------------------------------------------------


def test_entry_round_trips_through_dict() -> None:
    entry = make_entry()
    data = entry.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["shapes"] == [[1024, 1024]]
    assert BaselineEntry.from_dict(data, where="here") == entry


def test_entry_copies_its_containers() -> None:
    versions = {"numpy": "2.1.0"}
    entry = make_entry(versions=versions, dtypes=["float64"], shapes=[[3, 4]])
    versions["numpy"] = "changed"
    assert entry.versions == {"numpy": "2.1.0"}
    assert entry.dtypes == ("float64",)
    assert entry.shapes == ((3, 4),)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"speedup": -1.0}, "speedup", "-1.0"),
        ({"speedup": float("nan")}, "speedup", "nan"),
        ({"kernel_median_s": 0.0}, "kernel_median_s", "0.0"),
        ({"reference_median_s": float("inf")}, "reference_median_s", "inf"),
        ({"ci_low": 5.0}, "ci_low", "5.0"),
        ({"ci_high": 1.0}, "ci_high", "1.0"),
        ({"samples": 0}, "samples", "0"),
        ({"foreign_cpu": 1.5}, "foreign_cpu", "1.5"),
        ({"shapes": [[-1]]}, "shapes", "-1"),
        ({"timestamp": "yesterday"}, "timestamp", "'yesterday'"),
        ({"samples": "30"}, "samples", "'30'"),
        ({"samples": True}, "samples", "True"),
        ({"speedup": "fast"}, "speedup", "'fast'"),
        ({"dtypes": "float32"}, "dtypes", "'float32'"),
        ({"shapes": [[1.5]]}, "shapes", "1.5"),
        ({"versions": {"numpy": 2}}, "versions", "2"),
        ({"timestamp": 0}, "timestamp", "0"),
    ],
)
def test_entry_from_dict_names_where_field_and_value(
    changes: dict[str, object], field: str, value: str
) -> None:
    data = {**make_entry().to_dict(), **changes}
    with pytest.raises(ValueError, match=re.escape(value)) as info:
        BaselineEntry.from_dict(data, where="machines['fp'].tests['t']['numba']")
    assert str(info.value).startswith("machines['fp'].tests['t']['numba']: ")
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([1, 2], "must be a JSON object"),
        ({"speedup": 2.0}, "missing fields"),
        ({**make_entry().to_dict(), "colour": "red"}, "unknown fields ['colour']"),
    ],
)
def test_entry_from_dict_rejects_bad_shape(data: object, expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)):
        BaselineEntry.from_dict(data, where="w")


def test_entry_constructor_validates() -> None:
    with pytest.raises(ValueError, match=r"'speedup' must be a finite number > 0, got -2.0"):
        make_entry(-2.0)


def test_entry_accepts_integer_numbers_and_zulu_timestamps() -> None:
    data = {**make_entry().to_dict(), "speedup": 4, "timestamp": "2024-05-01T12:00:00Z"}
    entry = BaselineEntry.from_dict(data, where="w")
    assert entry.speedup == 4.0
    assert isinstance(entry.speedup, float)


# --- load and save -------------------------------------------------------------------------------


def test_missing_file_is_empty_and_not_created(tmp_path: Path) -> None:
    result = load_baselines(tmp_path / "nope.json")
    assert result == Baselines()
    assert result.fingerprints() == []
    assert result.lookup("fp", "t", "numba") is None
    assert list(result.iter_entries()) == []
    assert listing(tmp_path) == []


def test_round_trip(saved: Path) -> None:
    result = load_baselines(saved)
    assert result.fingerprints() == ["fp-a", "fp-b"]
    assert result.has_machine("fp-a")
    assert not result.has_machine("fp-c")
    assert result.machine_info("fp-a") == MACHINE
    assert result.machine_info("fp-c") == {}
    assert result.lookup("fp-a", "tests/test_k.py::test_add", "cupy") == make_entry(8.0)
    assert result.lookup("fp-b", "tests/test_k.py::test_add", "numba") == make_entry(5.0)
    assert result.lookup("fp-b", "tests/test_k.py::test_add", "cupy") is None
    assert result.lookup("fp-a", "tests/test_k.py::test_nope", "numba") is None


def test_iter_entries_is_sorted(saved: Path) -> None:
    keys = [(fp, key, backend) for fp, key, backend, _ in load_baselines(saved).iter_entries()]
    assert keys == [
        ("fp-a", "tests/test_k.py::test_add", "cupy"),
        ("fp-a", "tests/test_k.py::test_add", "numba"),
        ("fp-a", "tests/test_k.py::test_mul", "numba"),
        ("fp-b", "tests/test_k.py::test_add", "numba"),
    ]


def test_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "baselines.json"
    save_baselines(path, "fp", {}, {"t": {"numba": make_entry()}})
    assert load_baselines(path).lookup("fp", "t", "numba") == make_entry()


def test_merge_keeps_other_tests_backends_and_machines(saved: Path) -> None:
    before = load_baselines(saved)
    save_baselines(
        saved, "fp-a", MACHINE, {"tests/test_k.py::test_new": {"numba": make_entry(7.0)}}
    )
    after = load_baselines(saved)
    old = {(fp, k, b): e for fp, k, b, e in before.iter_entries()}
    new = {(fp, k, b): e for fp, k, b, e in after.iter_entries()}
    assert new == {**old, ("fp-a", "tests/test_k.py::test_new", "numba"): make_entry(7.0)}


def test_replace_existing_entry_keeps_its_siblings(saved: Path) -> None:
    new_info = {**MACHINE, "driver": "550.54"}
    save_baselines(
        saved, "fp-a", new_info, {"tests/test_k.py::test_add": {"numba": make_entry(9.0)}}
    )
    result = load_baselines(saved)
    assert result.lookup("fp-a", "tests/test_k.py::test_add", "numba") == make_entry(9.0)
    assert result.lookup("fp-a", "tests/test_k.py::test_add", "cupy") == make_entry(8.0)
    assert result.lookup("fp-a", "tests/test_k.py::test_mul", "numba") == make_entry(2.0)
    assert result.lookup("fp-b", "tests/test_k.py::test_add", "numba") == make_entry(5.0)
    assert result.machine_info("fp-a") == new_info
    assert len(list(result.iter_entries())) == 4


def test_output_is_sorted_and_indented(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["schema"] == SCHEMA_VERSION
    assert set(data) == {"schema", "machines"}
    assert set(data["machines"]["fp-a"]) == {"machine", "tests"}
    stored = data["machines"]["fp-a"]["tests"]["tests/test_k.py::test_add"]["numba"]
    assert stored == {"runs": [make_entry(3.0).to_dict()]}


def test_load_does_not_modify_the_file(saved: Path) -> None:
    before = saved.read_bytes()
    stamp = saved.stat().st_mtime_ns
    load_baselines(saved)
    assert saved.read_bytes() == before
    assert saved.stat().st_mtime_ns == stamp


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_file_mode_is_readable_and_preserved(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    save_baselines(path, "fp", {}, {"t": {"numba": make_entry()}})
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    save_baselines(path, "fp", {}, {"u": {"numba": make_entry()}})
    assert path.stat().st_mode & 0o777 == 0o640


# --- broken files --------------------------------------------------------------------------------


def _valid_text() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.json"
        save_baselines(path, "fp", MACHINE, {"t": {"numba": make_entry()}})
        return path.read_text(encoding="utf-8")


VALID = _valid_text()


def _with(mutate: object) -> str:
    data = json.loads(VALID)
    assert callable(mutate)
    mutate(data)
    return json.dumps(data)


def _entry(data: dict[str, object]) -> dict[str, object]:
    return data["machines"]["fp"]["tests"]["t"]["numba"]["runs"][0]  # type: ignore[index,no-any-return]


BROKEN = {
    "corrupt": ("{this is not json", "not valid JSON"),
    "truncated": (VALID[: len(VALID) // 2], "corrupt or truncated"),
    "empty": ("", "not valid JSON"),
    "not an object": ("[1, 2, 3]", "the top level must be a JSON object, got [1, 2, 3]"),
    "future schema": (
        _with(lambda d: d.update(schema=99)),
        "schema 99 was written by a newer pytest-gpuperf",
    ),
    "missing schema": (_with(lambda d: d.pop("schema")), "missing or unknown 'schema' None"),
    "string schema": (_with(lambda d: d.update(schema="1")), "unknown 'schema' '1'"),
    "zero schema": (_with(lambda d: d.update(schema=0)), "unknown 'schema' 0"),
    "unknown top key": (_with(lambda d: d.update(extra=1)), "'extra'"),
    "missing machines": (_with(lambda d: d.pop("machines")), "['schema']"),
    "machines is a list": (_with(lambda d: d.update(machines=[])), "'machines' must be a JSON"),
    "machine is a string": (
        _with(lambda d: d["machines"]["fp"].update(machine="h100")),
        "machines['fp'].machine must be a JSON object, got 'h100'",
    ),
    "tests missing": (_with(lambda d: d["machines"]["fp"].pop("tests")), "['machine']"),
    "backends is a list": (
        _with(lambda d: d["machines"]["fp"]["tests"].update(t=[])),
        "machines['fp'].tests['t'] must be a JSON object, got []",
    ),
    "samples is a string": (
        _with(lambda d: _entry(d).update(samples="30")),
        "'samples' must be an integer, got '30'",
    ),
    "negative speedup": (
        _with(lambda d: _entry(d).update(speedup=-4.0)),
        "machines['fp'].tests['t']['numba'].runs[0]: 'speedup' must be a finite number > 0, "
        "got -4.0",
    ),
    "runs is empty": (
        _with(lambda d: d["machines"]["fp"]["tests"]["t"].update(numba={"runs": []})),
        "machines['fp'].tests['t']['numba']: 'runs' must hold at least one run, got []",
    ),
    "entry without runs": (
        _with(lambda d: d["machines"]["fp"]["tests"]["t"].update(numba={"speedup": 4.0})),
        "machines['fp'].tests['t']['numba']: must be an object {'runs': [...]}",
    ),
    "bad commit": (
        _with(lambda d: _entry(d).update(commit=7)),
        "'commit' must be null or a string, got 7",
    ),
    "NaN speedup": (VALID.replace('"speedup": 4.0', '"speedup": NaN'), "NaN is not"),
    "not UTF-8": ('{"schema": 1, "machines": {"\xff": {}}}', "cannot read"),
}


@pytest.mark.parametrize(("text", "expected"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_file_raises_and_is_never_overwritten(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "baselines.json"
    raw = text.encode("latin-1") if "\xff" in text else text.encode("utf-8")
    path.write_bytes(raw)
    with pytest.raises(BaselineError, match=re.escape(expected)) as info:
        load_baselines(path)
    assert str(path) in str(info.value)
    with pytest.raises(BaselineError, match=re.escape(str(path))):
        save_baselines(path, "fp", MACHINE, {"t2": {"numba": make_entry()}})
    with pytest.raises(BaselineError, match=re.escape(str(path))):
        prune_machine(path, "fp")
    assert path.read_bytes() == raw
    assert set(listing(tmp_path)) <= {"baselines.json", "baselines.json.lock"}


def test_future_schema_says_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    path.write_text('{"schema": 99, "machines": {}}', encoding="utf-8")
    with pytest.raises(BaselineError, match=r"newer pytest-gpuperf.*upgrade pytest-gpuperf"):
        load_baselines(path)


def test_broken_file_message_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(BaselineError, match=r"restore it from version control, or delete it"):
        load_baselines(path)


# --- atomic writes and locking -------------------------------------------------------------------


def test_crash_in_replace_leaves_file_and_no_temp_files(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()
    names = listing(saved.parent)

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(BaselineError, match=r"cannot write the baseline file.*No space left"):
        save_baselines(saved, "fp-a", MACHINE, {"t": {"numba": make_entry()}})
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert listing(saved.parent) == names


@pytest.mark.parametrize("exception", [RuntimeError("boom"), KeyboardInterrupt()])
def test_crash_while_writing_leaves_file_and_no_temp_files(
    saved: Path, monkeypatch: pytest.MonkeyPatch, exception: BaseException
) -> None:
    before = saved.read_bytes()
    names = listing(saved.parent)

    def crash(fd: int) -> None:
        raise exception

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(type(exception)):
        prune_machine(saved, "fp-a")
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert listing(saved.parent) == names


def test_crash_in_json_dumps_leaves_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = saved.read_bytes()
    names = listing(saved.parent)

    def crash(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(json, "dumps", crash)
    with pytest.raises(RuntimeError, match="boom"):
        save_baselines(saved, "fp-a", MACHINE, {"t": {"numba": make_entry()}})
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert listing(saved.parent) == names


@pytest.mark.parametrize("info", [{"when": object()}, {"load": float("nan")}])
def test_non_json_machine_info_is_refused(saved: Path, info: dict[str, object]) -> None:
    before = saved.read_bytes()
    with pytest.raises(BaselineError, match=r"not plain JSON"):
        save_baselines(saved, "fp-a", info, {})
    assert saved.read_bytes() == before


def test_lock_timeout_names_the_lock_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline, "LOCK_TIMEOUT_S", 0.1)
    before = saved.read_bytes()
    with filelock.FileLock(f"{saved}.lock"):
        with pytest.raises(BaselineError, match=re.escape(f"{saved}.lock")):
            save_baselines(saved, "fp-a", MACHINE, {"t": {"numba": make_entry()}})
        with pytest.raises(BaselineError, match=r"timed out after 0.1 s"):
            prune_machine(saved, "fp-a")
    assert saved.read_bytes() == before


WRITER = """
import sys, time
from pathlib import Path
from pytest_gpuperf.store.baseline import save_baselines
from pytest_gpuperf.store.baseline_entry import BaselineEntry

path, worker, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for i in range(20):
    entry = BaselineEntry(
        speedup=1.0 + i, ci_low=0.5 + i, ci_high=2.0 + i, kernel_median_s=0.001,
        reference_median_s=0.002, samples=worker + 1, dtypes=("float32",), shapes=((8,),),
        versions={"numpy": "2.1.0"}, timestamp="2024-05-01T12:00:00", foreign_cpu=0.0,
    )
    tests = {f"t_{worker}_{i}": {"numba": entry}}
    save_baselines(path, f"fp-{worker % 2}", {"worker": worker}, tests)
"""


def test_concurrent_saves_from_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    go = tmp_path / "go"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(n), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    time.sleep(0.5)
    go.touch()
    for proc in workers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    result = load_baselines(path)
    found = {(fp, key) for fp, key, _, _ in result.iter_entries()}
    assert found == {(f"fp-{n % 2}", f"t_{n}_{i}") for n in range(4) for i in range(20)}
    for fp, key, _, entry in result.iter_entries():
        worker = int(key.split("_")[1])
        assert entry.samples == worker + 1
        assert fp == f"fp-{worker % 2}"
    assert set(listing(tmp_path)) == {"baselines.json", "baselines.json.lock", "go"}


# --- prune ---------------------------------------------------------------------------------------


def test_prune_machine_removes_only_that_machine(saved: Path) -> None:
    assert prune_machine(saved, "fp-a") == 3
    result = load_baselines(saved)
    assert result.fingerprints() == ["fp-b"]
    assert result.lookup("fp-b", "tests/test_k.py::test_add", "numba") == make_entry(5.0)
    text = saved.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert prune_machine(saved, "fp-b") == 1
    assert load_baselines(saved) == Baselines()


def test_prune_unknown_machine_lists_known_ones(saved: Path) -> None:
    before = saved.read_bytes()
    with pytest.raises(BaselineError, match=r"no machine 'fp-z'.*'fp-a', 'fp-b'") as info:
        prune_machine(saved, "fp-z")
    assert str(saved) in str(info.value)
    assert saved.read_bytes() == before


def test_prune_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "baselines.json"
    with pytest.raises(BaselineError, match=re.escape(str(path))):
        prune_machine(path, "fp")
    assert listing(tmp_path) == []


# --- properties ----------------------------------------------------------------------------------

_texts = st.text(max_size=12)


@st.composite
def entries(draw: st.DrawFn) -> BaselineEntry:
    """Any valid entry."""
    speedup = draw(st.floats(min_value=1e-9, max_value=1e9))
    return BaselineEntry(
        speedup=speedup,
        ci_low=speedup * draw(st.floats(min_value=1e-3, max_value=1.0)),
        ci_high=speedup * draw(st.floats(min_value=1.0, max_value=1e3)),
        kernel_median_s=draw(st.floats(min_value=1e-12, max_value=1e6)),
        reference_median_s=draw(st.floats(min_value=1e-12, max_value=1e6)),
        samples=draw(st.integers(min_value=1, max_value=2**40)),
        dtypes=tuple(draw(st.lists(_texts, max_size=4))),
        shapes=tuple(
            tuple(s)
            for s in draw(st.lists(st.lists(st.integers(0, 2**40), max_size=4), max_size=3))
        ),
        versions=draw(st.dictionaries(_texts, _texts, max_size=4)),
        timestamp=draw(st.datetimes(timezones=st.none() | st.just(timezone.utc))).isoformat(),
        foreign_cpu=draw(st.floats(min_value=0.0, max_value=1.0)),
    )


@given(entries())
def test_property_entry_round_trips_through_dict(entry: BaselineEntry) -> None:
    data = json.loads(json.dumps(entry.to_dict(), allow_nan=False))
    assert BaselineEntry.from_dict(data, where="w") == entry


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.dictionaries(st.sampled_from(["numba", "cupy", "host"]), entries(), min_size=1),
        max_size=4,
    ),
    st.text(min_size=1, max_size=20),
)
def test_property_entries_round_trip_through_save_and_load(
    tests: dict[str, dict[str, BaselineEntry]], fingerprint: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baselines.json"
        save_baselines(path, "other", {"gpu": "A100"}, {"kept": {"numba": make_entry()}})
        save_baselines(path, fingerprint, {"gpu": "H100"}, tests)
        result = load_baselines(path)
    for key, backends in tests.items():
        for backend, entry in backends.items():
            assert result.lookup(fingerprint, key, backend) == entry
    if fingerprint != "other":
        assert result.lookup("other", "kept", "numba") == make_entry()
        assert sum(1 for row in result.iter_entries() if row[0] == fingerprint) == sum(
            len(b) for b in tests.values()
        )


# -- history (schema 2) -------------------------------------------------------------------


def _schema1_text(entry: BaselineEntry) -> str:
    """A baseline file as pytest-gpuperf 0.1 (schema 1) wrote it: one entry per backend."""
    old = {k: v for k, v in entry.to_dict().items() if v is not None}
    data = {"schema": 1, "machines": {"fp": {"machine": MACHINE, "tests": {"t": {"numba": old}}}}}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def test_schema_1_file_reads_as_a_one_run_history(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    path.write_text(_schema1_text(make_entry(4.0)), encoding="utf-8")
    before = path.read_bytes()
    found = load_baselines(path).history("fp", "t", "numba")
    assert found is not None
    assert found.runs == (make_entry(4.0),)
    assert path.read_bytes() == before  # reading never rewrites


def test_schema_1_file_is_upgraded_on_the_next_save_losing_nothing(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    path.write_text(_schema1_text(make_entry(4.0)), encoding="utf-8")
    save_baselines(
        path, "fp", MACHINE, {"t": {"numba": make_entry(4.2)}, "u": {"numba": make_entry()}}
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema"] == SCHEMA_VERSION == 2
    found = load_baselines(path).history("fp", "t", "numba")
    assert found is not None
    assert [run.speedup for run in found.runs] == [4.0, 4.2]


def test_saves_append_and_the_history_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "baselines.json"
    for value in (1.0, 2.0, 3.0, 4.0, 5.0):
        save_baselines(path, "fp", MACHINE, {"t": {"numba": make_entry(value)}}, history=3)
    found = load_baselines(path).history("fp", "t", "numba")
    assert found is not None
    assert [run.speedup for run in found.runs] == [3.0, 4.0, 5.0]
    assert load_baselines(path).lookup("fp", "t", "numba") == make_entry(5.0)


def test_history_must_keep_a_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="history must keep at least 1 run; got 0"):
        save_baselines(tmp_path / "b.json", "fp", MACHINE, {}, history=0)


def test_optional_fields_round_trip(tmp_path: Path) -> None:
    entry = make_entry(
        kernel_iqr_s=1e-5, reference_iqr_s=2e-5, kernel_device_median_s=9e-4, commit="abc123"
    )
    path = tmp_path / "b.json"
    save_baselines(path, "fp", MACHINE, {"t": {"numba": entry}})
    assert load_baselines(path).lookup("fp", "t", "numba") == entry


# --- hostile files, locks, symlinks and the .gitignore ---------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than the 64-level limit"),
        ('{"a":' * 70 + "1" + "}" * 70, "nested deeper than the 64-level limit"),
    ],
    ids=["100k-brackets", "70-objects"],
)
def test_too_deep_file_is_an_error_naming_it(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "baselines.json"
    path.write_text(text)
    with pytest.raises(BaselineError, match=re.escape(f"{path}: {expected}")):
        load_baselines(path)
    assert path.read_text() == text


def test_too_large_file_names_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline, "MAX_BYTES", 2**20)
    path = tmp_path / "baselines.json"
    path.write_text(" " * (2**20 + 1))
    with pytest.raises(BaselineError, match=r"larger than the 1 MiB limit for this file"):
        load_baselines(path)


def test_read_errors_say_where_the_path_came_from(tmp_path: Path) -> None:
    with pytest.raises(BaselineError) as info:
        load_baselines(tmp_path, "--gpuperf-baseline")
    assert str(info.value) == (
        f"{tmp_path}: is a directory, not a file (from --gpuperf-baseline); point "
        f"--gpuperf-baseline at a baseline file, e.g. {tmp_path / 'baselines.json'}"
    )
    test_file = tmp_path / "test_x.py"
    test_file.write_text("def test_x():\n    pass\n")
    with pytest.raises(BaselineError, match=r"check that --gpuperf-baseline names your baseline"):
        load_baselines(test_file, "--gpuperf-baseline")


def test_permission_error_says_to_fix_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baselines.json"
    path.write_text("{}")

    def denied(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(BaselineError, match=r"permission denied .*chmod u\+rw") as info:
        load_baselines(path, "gpuperf_baseline in tox.ini")
    assert "restore it" not in str(info.value)


def test_lock_that_cannot_be_opened_is_a_clear_error(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()

    def denied(self: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", f"{saved}.lock")

    monkeypatch.setattr(filelock.FileLock, "acquire", denied)
    with pytest.raises(BaselineError, match=r"cannot create or open the lock file .*writable"):
        save_baselines(saved, "fp-a", MACHINE, {"t": {"numba": make_entry()}})
    with pytest.raises(BaselineError, match=r"cannot create or open the lock file"):
        prune_machine(saved, "fp-a")
    assert saved.read_bytes() == before


def test_symlinked_baseline_file_is_saved_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "store" / "baselines.json"
    real.parent.mkdir()
    save_baselines(real, "fp", MACHINE, {"t1": {"numba": make_entry()}})
    link = tmp_path / "baselines.json"
    link.symlink_to(real)
    save_baselines(link, "fp", MACHINE, {"t2": {"numba": make_entry()}})
    assert link.is_symlink()
    assert set(load_baselines(real).machines["fp"]["tests"]) == {"t1", "t2"}  # type: ignore[arg-type]
    assert listing(real.parent) == ["baselines.json", "baselines.json.lock"]
    assert listing(tmp_path) == ["baselines.json", "store"]


def test_gitignore_is_written_once_into_dot_gpuperf(tmp_path: Path) -> None:
    path = tmp_path / ".gpuperf" / "baselines.json"
    save_baselines(path, "fp", MACHINE, {"t": {"numba": make_entry()}})
    ignore = (path.parent / ".gitignore").read_text()
    assert ignore == baseline.GITIGNORE
    assert {"*.lock", ".*.tmp"} <= set(ignore.splitlines())
    (path.parent / ".gitignore").write_text("mine\n")
    save_baselines(path, "fp", MACHINE, {"t": {"numba": make_entry()}})
    assert (path.parent / ".gitignore").read_text() == "mine\n"


def test_no_gitignore_outside_a_dot_gpuperf_folder(tmp_path: Path) -> None:
    save_baselines(tmp_path / "baselines.json", "fp", MACHINE, {"t": {"numba": make_entry()}})
    assert not (tmp_path / ".gitignore").exists()


def test_directory_prune_says_directory(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"is a directory, not a baseline file"):
        prune_machine(tmp_path, "fp")
