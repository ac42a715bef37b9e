"""``gpuperf merge``: shard reports into one report that the other commands read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from run_reports import FAKE_RUN_ARGS, FINGERPRINT, bench, fake_project, report, write

from pytest_gpuperf.cli import main
from pytest_gpuperf.store import baseline as store
from pytest_gpuperf.store.saved_runs import load_run


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run the command; return (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def shard(path: Path, *benchmarks: dict[str, Any], **changes: Any) -> Path:
    """A shard report with ``benchmarks``; ``changes`` replace top-level keys."""
    data = report(*benchmarks, fingerprint=changes.pop("fingerprint", FINGERPRINT))
    data.update(changes)
    return write(path, data)


@pytest.fixture
def shards(tmp_path: Path) -> list[Path]:
    """Two shards of one run: a and b on two backends; c regressed on numba."""
    return [
        shard(
            tmp_path / "shard1.json",
            bench("t.py::test_a", "numpy", speedup=(1.0, 1.0, 1.0)),
            bench("t.py::test_a", "numba", baseline=2.0),
            datetime="2024-05-01T12:00:00+00:00",
        ),
        shard(
            tmp_path / "shard2.json",
            bench("t.py::test_b", "numba", speedup=(3.0, 2.9, 3.1), verdict="improved"),
            bench(
                "t.py::test_c", "numba", speedup=(1.0, 0.9, 1.1), verdict="REGRESSED", baseline=2
            ),
            datetime="2024-05-01T12:05:00+00:00",
        ),
    ]


def test_merge_writes_one_report_that_compare_accept_and_plot_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, shards: list[Path]
) -> None:
    merged = tmp_path / "out" / "merged.json"
    status, out, err = run(capsys, "merge", *shards, "-o", merged)
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"merged 4 result(s) from 2 shard report(s) into {merged}",
        "REGRESSED: t.py::test_c[numba] on numba",
    ]
    loaded = load_run(merged)
    assert sorted((e.test_key, e.backend) for e in loaded.entries) == [
        ("t.py::test_a", "numba"),
        ("t.py::test_a", "numpy"),
        ("t.py::test_b", "numba"),
        ("t.py::test_c", "numba"),
    ]
    assert loaded.fingerprint == FINGERPRINT
    assert loaded.timestamp == "2024-05-01T12:05:00+00:00"  # the latest shard
    block = loaded.raw["gpuperf"]
    assert [s["path"] for s in block["merged_from"]] == [str(p) for p in shards]
    assert [s["benchmarks"] for s in block["merged_from"]] == [2, 2]

    status, out, _ = run(capsys, "compare", shards[0], merged)
    assert status == 0
    assert "added" in out

    baselines = tmp_path / "b.json"
    status, out, _ = run(capsys, "accept", merged, "--baseline", baselines)
    assert status == 0
    assert out.startswith(f"accepted 4 baseline(s) into {baselines} for machine {FINGERPRINT}")
    assert store.load_baselines(baselines).lookup(FINGERPRINT, "t.py::test_b", "numba")

    status, out, _ = run(capsys, "plot", merged, "-o", tmp_path / "plots")
    assert status == 0
    assert (tmp_path / "plots" / "speedup.png").is_file()


def test_fail_exits_1_on_a_regression_and_the_markdown_names_it(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    shards: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    markdown = tmp_path / "merged.md"
    status, _, _ = run(
        capsys,
        *("merge", *shards, "-o", tmp_path / "m.json"),
        *("--markdown", markdown, "--summary", "--fail"),
    )
    assert status == 1
    text = markdown.read_text()
    assert summary.read_text() == "earlier step\n\n" + text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[0].startswith(
        "| `t.py::test_c` | numba | 1x [0.9-1.1] | 2x | -50.0% | **REGRESSED**"
    )
    assert len(rows) == 4
    assert "Merged from 2 shard report(s): 4 result(s)." in text
    assert run(capsys, "merge", shards[0], "-o", tmp_path / "ok.json", "--fail")[0] == 0


def test_summary_without_the_variable_says_so(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    shards: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    status, out, _ = run(capsys, "merge", *shards, "-o", tmp_path / "m.json", "--summary")
    assert status == 0
    assert "note: $GITHUB_STEP_SUMMARY is not set; no job summary written" in out


def test_different_library_versions_are_a_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = report(bench("t.py::test_a", "numba"))
    second = report(bench("t.py::test_b", "numba"))
    second["machine_info"]["gpuperf"]["versions"]["numba"] = "0.61.0"
    paths = [write(tmp_path / "1.json", first), write(tmp_path / "2.json", second)]
    status, out, _ = run(capsys, "merge", *paths, "-o", tmp_path / "m.json")
    assert status == 0
    note = f"numba differs between the shards: 0.60.0 ({paths[0]}), 0.61.0 ({paths[1]})"
    assert f"note: {note}" in out.splitlines()
    assert note in json.loads((tmp_path / "m.json").read_text())["gpuperf"]["notes"]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        pytest.param(
            {"benchmarks": [bench("t.py::test_a", "numba")]},
            "t.py::test_a[numba] on numba is in both {0} and {1}; each test must run in exactly "
            "one shard: check how the shards split the suite",
            id="duplicate",
        ),
        pytest.param(
            {"fingerprint": "Other CPU x64 | no GPU"},
            "the shards ran on different machines ({0}: Test CPU x2 | no GPU; {1}: Other CPU x64 "
            "| no GPU); speedups from different hardware cannot share one report",
            id="machines",
        ),
        pytest.param(
            {"commit_info": {"id": "bbbbbbbbbbbbbbbbbbbb"}},
            "the shards ran different commits ({0}: aaaaaaaaaaaa; {1}: bbbbbbbbbbbb); merge the "
            "shards of one CI run only",
            id="commits",
        ),
    ],
)
def test_conflicts_are_named_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, second: dict[str, Any], message: str
) -> None:
    first = shard(tmp_path / "1.json", bench("t.py::test_a", "numba"), commit_info={"id": "a" * 20})
    benchmarks = second.pop("benchmarks", [bench("t.py::test_b", "numba")])
    second.setdefault("commit_info", {"id": "a" * 20})
    other = shard(tmp_path / "2.json", *benchmarks, **second)
    status, out, err = run(capsys, "merge", first, other, "-o", tmp_path / "m.json")
    assert (status, out) == (2, "")
    assert err.startswith("gpuperf merge: error: " + message.format(first, other))
    assert not (tmp_path / "m.json").exists()


def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = shard(tmp_path / "good.json", bench("t.py::test_a", "numba"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"benchmarks": [')
    cases = [
        ((good, broken), f"{broken}: not valid JSON"),
        ((good, tmp_path / "missing.json"), f"{tmp_path / 'missing.json'}: no such file"),
        ((good, good), f"{good.resolve()} is given twice; name each shard report once"),
    ]
    for inputs, message in cases:
        status, _, err = run(capsys, "merge", *inputs, "-o", tmp_path / "m.json")
        assert status == 2
        assert message in err
    status, _, err = run(capsys, "merge", good, "-o", good)
    assert status == 2
    assert f"-o {good} names one of the shard reports; write the merge elsewhere" in err
    assert run(capsys, "merge", good)[0] == 2  # -o is required
    assert not (tmp_path / "m.json").exists()


def test_shards_of_a_real_run_merge_into_the_unsharded_result(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_project(pytester)
    for name, selection in (("whole", ()), ("one", ("-k", "add")), ("two", ("-k", "sweep"))):
        result = pytester.runpytest_subprocess(
            *FAKE_RUN_ARGS, f"--gpuperf-json={name}.json", *selection
        )
        assert result.ret == 0
    capsys.readouterr()
    whole, merged = pytester.path / "whole.json", pytester.path / "merged.json"
    status, _, _ = run(
        capsys, "merge", pytester.path / "one.json", pytester.path / "two.json", "-o", merged
    )
    assert status == 0
    status, out, _ = run(capsys, "compare", whole, merged, "--fail")
    assert status == 0
    assert out.splitlines()[-1] == "0 regressed beyond the 10% tolerance; 8 compared"
    assert "added" not in out
    assert "removed" not in out
