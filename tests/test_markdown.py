"""The Markdown report: --gpuperf-markdown, the ini key, and appending to GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from pathlib import Path

import fakeclock_plugin
import pytest

from pytest_gpuperf.report.markdown import append_step_summary, cell, table

#: Two tests on ``numba`` against a 10 us reference, with a fake clock only kernels advance.
#: ``test_fast`` runs 1 us (10x) and, with GPUPERF_SLOW set, 4 us (2.5x); ``test_steady`` 5 us.
MD_TEST = """
    import os

    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(10_000)
        return a + 1

    def fast(a):
        advance(4_000 if os.environ.get("GPUPERF_SLOW") else 1_000)
        return a + 1

    def steady(a):
        advance(5_000)
        return a + 1

    @pytest.mark.gpuperf(reference=reference)
    def test_fast(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(backend.select(numba=fast), gpu_array(np.zeros(8, dtype=np.float64)))

    @pytest.mark.gpuperf(reference=reference)
    def test_steady(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(backend.select(numba=steady), gpu_array(np.zeros(8, dtype=np.float64)))
"""

HEADER = [
    "| test | backend | median | speedup [95% CI] | baseline | runs | change | detects | verdict "
    "| why |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def _regressed_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str):
    """Save baselines at 10x and 2x, then run again with test_fast at 2.5x."""
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_md=MD_TEST)
    saved = pytester.runpytest("--gpuperf", "--gpuperf-backends=numba", "--gpuperf-save")
    saved.assert_outcomes(passed=2)
    monkeypatch.setenv("GPUPERF_SLOW", "1")
    return pytester.runpytest("--gpuperf", "--gpuperf-backends=numba", *args)


def test_markdown_rows_regressions_first(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _regressed_run(pytester, monkeypatch, "--gpuperf-markdown=out/report.md")
    result.assert_outcomes(passed=1, failed=1)
    text = (pytester.path / "out" / "report.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "## gpuperf results"
    assert lines[2].startswith("Machine: `")
    assert "no GPU" in lines[2]
    start = lines.index(HEADER[0])
    assert lines[start + 1] == HEADER[1]
    first = _cells(lines[start + 2])
    assert first[:9] == [
        "`test_md.py::test_fast`",
        "numba",
        "4 us",
        "2.5x [2.5-2.5]",
        "10x",
        "1",
        "-75.0%",
        "41%",
        "**REGRESSED**",
    ]
    # The why names the floor: one saved run, so the cold-start spread (10%, 4 df) widens it.
    assert "5.89x" in first[9]
    assert (
        lines[start + 3]
        == "| `test_md.py::test_steady` | numba | 5 us | 2x [2-2] | 2x | 1 | +0.0% | 41% | ok |  |"
    )
    # two rows, then no sweeps, throughput, GPU time or notes: only the host memory peaks
    assert lines[start + 4 : start + 8] == [
        "",
        "### Memory (peak of one call)",
        "",
        "| test | backend | device peak | host peak |",
    ]
    assert lines[start + 9].startswith("| `test_md.py::test_fast` | numba | - | ")
    assert lines[start + 11 :] == [
        "",
        "- host: tracemalloc (Python and NumPy allocations); peaks are above what was in use "
        "when the call started",
    ]
    assert "### Size sweeps" not in text
    assert "### Throughput" not in text
    assert "### GPU time" not in text


def test_markdown_ends_with_the_notes(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_md=MD_TEST)
    result = pytester.runpytest(
        "--gpuperf", "--gpuperf-backends=numba", "--gpuperf-save", "--gpuperf-markdown=r.md"
    )
    result.assert_outcomes(passed=2)
    lines = (pytester.path / "r.md").read_text().splitlines()
    assert lines[-3:] == [
        "### Notes",
        "",
        f"- saved 2 baseline(s) to {pytester.path}/.gpuperf/baselines.json",
    ]
    results = lines[: lines.index("### Memory (peak of one call)")]
    assert [_cells(line)[8] for line in results if line.startswith("| `")] == ["new", "new"]


def test_markdown_path_from_ini_is_under_rootdir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_md=MD_TEST)
    pytester.makeini("[pytest]\ngpuperf_markdown = reports/gpuperf.md\n")
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=numba", str(pytester.path))
    result.assert_outcomes(passed=2)
    assert (pytester.path / "reports" / "gpuperf.md").read_text().startswith("## gpuperf results")
    assert not (sub / "reports").exists()


def test_step_summary_is_appended_not_truncated(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("# Build\n\nearlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = _regressed_run(pytester, monkeypatch, "--gpuperf-markdown=report.md")
    result.assert_outcomes(passed=1, failed=1)
    report = (pytester.path / "report.md").read_text()
    text = summary.read_text()
    assert text.startswith("# Build\n\nearlier step output\n\n## gpuperf results\n")
    assert text.count("## gpuperf results") == 2  # the --gpuperf-save run appended too
    assert text.endswith(report)
    assert "**REGRESSED**" in report


def test_no_step_summary_without_gpuperf(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("kept\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_md=MD_TEST)
    result = pytester.runpytest("--gpuperf-backends=numba", "--gpuperf-markdown=r.md")
    result.assert_outcomes(passed=2)
    assert summary.read_text() == "kept\n"
    assert not (pytester.path / "r.md").exists()


def test_unwritable_markdown_path_becomes_a_note(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_md=MD_TEST)
    pytester.makefile(".txt", blocker="a file, not a folder")
    result = pytester.runpytest(
        "--gpuperf", "--gpuperf-backends=numba", "--gpuperf-markdown=blocker.txt/r.md"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["Markdown report NOT written to blocker.txt/r.md: *"])


def test_append_step_summary_unit(tmp_path: Path) -> None:
    target = tmp_path / "s.md"
    assert append_step_summary("x\n", {}) is None
    assert append_step_summary("one\n", {"GITHUB_STEP_SUMMARY": str(target)}) == target
    append_step_summary("two\n", {"GITHUB_STEP_SUMMARY": str(target)})
    assert target.read_text() == "one\n\ntwo\n"


def test_table_escapes_pipes_and_newlines() -> None:
    assert cell("a | b\nc") == "a \\| b c"
    assert table(("h1", "h2"), [("x|y", 3)]) == ["| h1 | h2 |", "| --- | --- |", "| x\\|y | 3 |"]
