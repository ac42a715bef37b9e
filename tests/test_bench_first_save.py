"""The first-save campaign's report (``bench/first_save.py``), on synthetic pairs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def first_save(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The campaign module, imported from bench/ as its own script would be."""
    monkeypatch.syspath_prepend(str(BENCH))
    import first_save

    return first_save


META = {
    "date": "2026-11-30 18:00 UTC",
    "minutes": 20.0,
    "command": ".venv/bin/python bench/first_save.py",
    "k": 10,
    "save_runs": 3,
    "machine": "AMD EPYC, 2 logical CPUs",
    "foreign_before": "0.1%",
    "foreign_after": "0.2%",
    "load_before": "0.10 0.20 0.30",
    "load_after": "1.00 1.00 1.00",
}


def _row(verdict: str, detectable: float | None = 0.1) -> dict[str, object]:
    return {
        "test": "tests/test_pi.py::test_pi",
        "backend": "numba",
        "verdict": verdict,
        "detail": "why" if verdict != "ok" else "",
        "detectable": detectable,
        "runs": 3,
        "speedup": 1.0,
        "baseline": 1.0,
    }


def test_ten_passing_pairs_meet_the_target(first_save) -> None:  # type: ignore[no-untyped-def]
    pairs = [{"rerun_rc": 0, "rows": [_row("ok"), _row("simulated", None)]}] * 10
    text = first_save.section(META, pairs)
    assert "| re-runs that pass (exit 0) | 10 in 10 | 10 in 10 | PASS |" in text
    assert "REGRESSED 0; inconclusive 0; median detectable loss 10%" in text


def test_one_failing_pair_is_reported_as_missed_with_its_row(first_save) -> None:  # type: ignore[no-untyped-def]
    pairs = [{"rerun_rc": 0, "rows": [_row("ok")]}] * 9
    pairs.append({"rerun_rc": 1, "rows": [_row("REGRESSED", 0.4)]})
    text = first_save.section(META, pairs)
    assert "| 9 in 10 | MISSED |" in text
    assert "  - REGRESSED: `tests/test_pi.py::test_pi` [numba]: why" in text


def test_the_section_replaces_only_its_own_block(first_save, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "RESULTS.md"
    target.write_text("# results\n\nkept\n", encoding="utf-8")
    first_save.write_section(target, "old section\n")
    first_save.write_section(target, "new section\n")
    text = target.read_text(encoding="utf-8")
    assert text.count("<!-- first-save:start -->") == 1
    assert "new section" in text
    assert "old section" not in text
    assert text.startswith("# results\n\nkept\n")
    assert sys.modules["first_save"] is first_save
