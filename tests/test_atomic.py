"""The atomic writer: umask, symlinks, directories, and stale temporary files of our own."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from pytest_gpuperf.report.json_report import write_json
from pytest_gpuperf.store import atomic
from pytest_gpuperf.store.atomic import WriteError, remove_stale_temps, temp_pattern, write_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_file_follows_the_umask(tmp_path: Path, umask_022: object) -> None:
    target = tmp_path / "out" / "run.json"
    assert write_atomic(target, "{}\n", what="x", fix="y") == target
    assert target.read_text() == "{}\n"
    assert mode(target) == 0o644
    os.umask(0o077)
    write_atomic(tmp_path / "private.json", "{}", what="x", fix="y")
    assert mode(tmp_path / "private.json") == 0o600


def test_json_report_is_0644_under_umask_022(tmp_path: Path, umask_022: object) -> None:
    write_json(tmp_path / "run.json", {"benchmarks": []})
    assert mode(tmp_path / "run.json") == 0o644


def test_existing_file_keeps_its_mode(tmp_path: Path, umask_022: object) -> None:
    target = tmp_path / "b.json"
    target.write_text("old")
    target.chmod(0o664)
    write_atomic(target, "new", what="x", fix="y")
    assert (target.read_text(), mode(target)) == ("new", 0o664)


def test_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "baselines.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "baselines.json"
    link.symlink_to(real)
    assert write_atomic(link, "new", what="x", fix="y") == real
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["baselines.json"]


def test_directory_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match=r"cannot write the JSON report: it is a directory; FIX$"):
        write_atomic(tmp_path, "x", what="the JSON report", fix="FIX")


def test_unwritable_place_names_path_and_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(WriteError, match=r"file/r\.md: cannot write the report: .*; FIX"):
        write_atomic(blocker / "r.md", "x", what="the report", fix="FIX")
    assert blocker.read_text() == ""


def test_a_name_too_long_for_the_file_system_is_a_write_error(tmp_path: Path) -> None:
    target = tmp_path / ("x" * 300 + ".json")
    with pytest.raises(WriteError, match=r"cannot write the report: File name too long; fix X$"):
        write_atomic(target, "{}", what="the report", fix="fix X")
    assert list(tmp_path.iterdir()) == []


def test_temp_files_have_our_pattern(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: object) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(tmp_path / "baselines.json", "x", what="x", fix="y")
    assert len(seen) == 1
    assert temp_pattern("baselines.json").fullmatch(seen[0]), seen


def test_stale_temps_of_ours_are_removed_and_nothing_else(tmp_path: Path) -> None:
    old = time.time() - atomic.STALE_AFTER_S - 60
    names = {
        ".baselines.json.abcd1234.tmp": (old, True),  # ours and stale: removed
        ".baselines.json.zz_9zz_9.tmp": (time.time(), False),  # ours but fresh: a live writer
        ".baselines.json.abc.tmp": (old, False),  # not our pattern
        "baselines.json.abcd1234.tmp": (old, False),  # no leading dot
        ".other.json.abcd1234.tmp": (old, False),  # another file's
        "baselines.jsonabcd1234": (old, False),  # the old writer's names are left alone
    }
    for name, (mtime, _) in names.items():
        path = tmp_path / name
        path.write_text("x")
        os.utime(path, (mtime, mtime))
    write_atomic(tmp_path / "baselines.json", "{}", what="x", fix="y")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"baselines.json"} | {n for n, (_, gone) in names.items() if not gone}


def test_a_stale_temp_directory_is_not_removed(tmp_path: Path) -> None:
    folder = tmp_path / ".b.json.abcd1234.tmp"
    folder.mkdir()
    os.utime(folder, (0, 0))
    assert remove_stale_temps(tmp_path, "b.json") == []
    assert folder.is_dir()
