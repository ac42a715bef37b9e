"""``bench/gpu_check.sh`` in its no-GPU form, and the comparison it makes on a GPU."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


gpu_check = _load()


def test_the_script_without_a_gpu_writes_what_it_skipped(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env.update(OUT=str(tmp_path), GPU_CHECK_PYTHON=sys.executable)  # no venv, no install
    done = subprocess.run(
        ["bash", str(BENCH / "gpu_check.sh"), "--no-gpu", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "GPU_RESULTS.md").read_text(encoding="utf-8")
    assert "WITHOUT a GPU (the steps that need one were skipped)" in text
    assert "| gpuperf doctor | ok | exit 0; broken: nothing |" in text
    assert "| example project (numba_cuda on the simulator, cupy skipped) | ok | exit 0: " in text
    assert "test_add2[numba_cuda]: speedup" in text
    assert (
        "| cuda_sync_timer vs cupyx.profiler.benchmark | skipped | no CUDA device for CuPy |"
        in text
    )
    assert "Skipped: cuda_sync_timer vs cupyx.profiler.benchmark." in text
    assert not (BENCH / "GPU_RESULTS.md.tmp").exists()


def test_comparison_agrees_within_five_percent() -> None:
    rows = gpu_check.comparison_rows(
        {"add": (1.04e-3, 1.2e-3), "sum": (0.9e-3, 1.0e-3)},
        {"add": (1.0e-3, 1.1e-3), "sum": (1.0e-3, 1.1e-3)},
    )
    assert [(r["kernel"], r["agrees"]) for r in rows] == [("add", True), ("sum", False)]
    assert rows[0]["gpu_diff"] == pytest.approx(0.04)


def test_render_lists_each_step_and_its_details() -> None:
    steps = [
        gpu_check.Step("one", "ok", "fine", ["a detail"]),
        gpu_check.Step("two", "FAILED", "a | pipe"),
        gpu_check.Step("three", "skipped", "no GPU"),
    ]
    text = gpu_check.render(steps, True, 12.0)
    assert "on a GPU, in 12 s" in text
    assert "| two | FAILED | a / pipe |" in text
    assert "## one\n\n```text\na detail\n```" in text
    assert text.endswith("Skipped: three.\n")
