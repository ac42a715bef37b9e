"""The device check's GPU steps on canned outputs: the cupyx comparison, the faults, the campaign.

What these steps run needs a GPU; how they judge and report what came back is
tested here, on outputs shaped like the real ones (the H200's figures where known).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from fakeclock_plugin import FakeClock

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))  # the gpucheck package, as gpu_check.py imports it

from gpucheck import campaign, faults, results, timing  # noqa: E402
from gpucheck.steps import PYTHON, Step  # noqa: E402


def _measured(kernel: str, batch: float, isolated: float, cupyx: float) -> dict[str, object]:
    return {
        "kernel": kernel,
        "ours_batch_s": batch,
        "ours_isolated_s": isolated,
        "ours_wall_s": isolated * 1.1,
        "cupyx_gpu_s": cupyx,
        "cupyx_cpu_s": 10e-6,
    }


def test_isolated_time_is_compared_with_cupyx_within_two_percent() -> None:
    rows = timing.comparison_rows(
        [
            _measured("sum", 68.2e-6, 76.3e-6, 76.1e-6),  # the H200's sum: batch is 10% lower
            _measured("add", 328.0e-6, 338.0e-6, 328.5e-6),  # isolated 2.9% above cupyx
        ]
    )
    assert [(r["kernel"], r["agrees"]) for r in rows] == [("sum", True), ("add", False)]
    assert rows[0]["isolated_diff"] == pytest.approx(76.3 / 76.1 - 1)
    assert rows[0]["batch_vs_isolated"] == pytest.approx(68.2 / 76.3 - 1)
    text = timing.row_text(rows[0])
    assert text.startswith("sum: isolated GPU ours 76.3 us, cupyx 76.1 us: +0.3% agrees; ")
    assert "batch GPU 68.2 us (-10.6% against isolated)" in text
    assert "DISAGREES" in timing.row_text(rows[1])


# -- faults ---------------------------------------------------------------------------


def test_the_broken_numpy_lacks_row_stack_and_still_works(tmp_path: Path) -> None:
    env = faults.broken_numpy_env({"PATH": "/usr/bin:/bin"}, tmp_path)
    probe = f"{faults.PROBE}; print(numpy.zeros(3).sum())"
    done = subprocess.run(
        [PYTHON, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == ["row_stack", "gone:", "True", "0.0"], done.stderr


def _doctor(status: str, broken: list[str]) -> str:
    report = {
        "backends": [{"name": "numba_cuda", "status": status, "detail": "numba-cuda 0.30.4"}],
        "broken": broken,
    }
    return "some banner\n" + json.dumps(report)


@pytest.mark.parametrize(
    ("probe", "status", "broken", "outcome"),
    [
        ("row_stack gone: True", 1, ["numba_cuda"], "ok"),
        ("row_stack gone: True", 0, [], "FAILED"),  # the H200's doctor: ok while no kernel runs
        ("row_stack gone: False", 1, ["numba_cuda"], "FAILED"),  # not reproduced: proves nothing
    ],
)
def test_the_doctor_must_call_the_broken_library_broken(
    probe: str, status: int, broken: list[str], outcome: str
) -> None:
    state = "broken" if broken else "ok"
    step = faults.judge_broken_library("doctor", probe, status, _doctor(state, broken))
    assert step.outcome == outcome


STICKY_OUTPUT = """\
FF                                                                       [100%]
=================================== FAILURES ===================================
_____________________ test_1_writes_out_of_bounds[numba_cuda] _____________________
E   KernelError: scribble on numba_cuda raised CudaAPIError: [700] CUDA_ERROR_ILLEGAL_ADDRESS
_______________________ test_2_good_kernel_after[numba_cuda] _______________________
E   {second}
=========================== short test summary info ============================
FAILED test_sticky.py::test_1_writes_out_of_bounds[numba_cuda] - KernelError: ...
FAILED test_sticky.py::test_2_good_kernel_after[numba_cuda] - ...
2 failed in 3.1s
"""


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        ("the CUDA context was broken by test_1_writes_out_of_bounds[numba_cuda]", "ok"),
        ("CudaAPIError: [700] Call to cuMemAlloc results in CUDA_ERROR_ILLEGAL_ADDRESS", "FAILED"),
    ],
)
def test_the_next_test_must_name_the_one_that_broke_the_context(second: str, outcome: str) -> None:
    output = STICKY_OUTPUT.format(second=second)
    step = faults.judge_sticky_error("sticky", "exit 1", 1, output)
    assert step.outcome == outcome
    assert "illegal address reported: yes" in step.summary
    assert any("CUDA_ERROR_ILLEGAL_ADDRESS" in line for line in step.details)


def test_failure_section_is_one_tests_block() -> None:
    output = STICKY_OUTPUT.format(second="second message")
    assert (
        faults.failure_section(output, "test_2_good_kernel_after").strip() == "E   second message"
    )
    assert "ILLEGAL" in faults.failure_section(output, "test_1_writes_out_of_bounds")
    assert faults.failure_section(output, "test_3") == ""


@pytest.mark.parametrize(
    ("exit_text", "status", "output", "outcome"),
    [
        ("killed by signal 9 (SIGKILL)", -9, "", "FAILED"),  # the H200: no outcome, no summary
        (
            "exit 1",
            1,
            "DeviceOutOfMemory: numba_cuda: out of device memory allocating 275,000 MiB",
            "ok",
        ),
        ("exit 3", 3, "INTERNALERROR> out of host memory", "FAILED"),
        # numpy's own error: the plugin did not check the sizes first
        ("exit 1", 1, "E   MemoryError: Unable to allocate 263. GiB for an array", "FAILED"),
    ],
)
def test_an_oversized_allocation_must_fail_the_test_not_the_process(
    exit_text: str, status: int, output: str, outcome: str
) -> None:
    step = faults.judge_oversized("oversized", exit_text, status, output)
    assert step.outcome == outcome
    assert step.summary.startswith(exit_text)


# -- the campaign ---------------------------------------------------------------------


def _report(path: Path, rows: list[tuple[str, str, str, float | None, float]]) -> Path:
    """A ``--gpuperf-json`` report holding only what the campaign reads."""
    benchmarks = [
        {
            "fullname": f"test_planted.py::{test}[{backend}]",
            "stats": {"median": wall},
            "extra_info": {
                "gpuperf": {
                    "backend": backend,
                    "verdict": verdict,
                    "gpu_time": None if batch is None else {"median_s": batch},
                }
            },
        }
        for test, backend, verdict, batch, wall in rows
    ]
    path.write_text(json.dumps({"benchmarks": benchmarks}), encoding="utf-8")
    return path


def test_the_campaign_reads_batch_gpu_time_and_the_wall_time_without_events(
    tmp_path: Path,
) -> None:
    report = _report(
        tmp_path / "run.json",
        [
            ("test_gate_time", "cupy", "ok", 650e-6, 700e-6),
            ("test_gate_speedup", "numba", "new", None, 2e-3),
        ],
    )
    rows = campaign.read_rows(report)
    assert rows == [
        campaign.Row("test_gate_time", "cupy", "ok", 650e-6, "GPU batch"),
        campaign.Row("test_gate_speedup", "numba", "new", 2e-3, "wall"),
    ]


def test_the_change_is_against_the_saved_runs_geometric_mean() -> None:
    saved = [[campaign.Row("test_gate_time", "cupy", "new", s, "GPU batch")] for s in (1, 4, 2)]
    reference = campaign.saved_times(saved)
    assert reference[("test_gate_time", "cupy")] == pytest.approx(2.0)
    slowed = [campaign.Row("test_gate_time", "cupy", "REGRESSED", 2.4, "GPU batch")]
    (judged,) = campaign.judge_run("+20%", 1, slowed, reference)
    assert judged.change == pytest.approx(0.2)


def _judged(condition: str, test: str, verdict: str, change: float) -> campaign.Judged:
    row = campaign.Row(test, "cupy", verdict, 1.0, "GPU batch")
    return campaign.Judged(condition, 1, row, change)


def _h200_like() -> list[campaign.Judged]:
    """The H200 report's picture: the speedup gate misses +20%, the time gate catches it."""
    return [
        _judged("unchanged", "test_gate_speedup", "ok", 0.01),
        _judged("unchanged", "test_gate_time", "ok", 0.004),
        _judged("unchanged", "test_gate_default", "ok", -0.002),
        _judged("+20%", "test_gate_speedup", "ok", 0.198),
        _judged("+20%", "test_gate_time", "REGRESSED", 0.201),
        _judged("+20%", "test_gate_default", "ok", 0.196),
        _judged("+50%", "test_gate_speedup", "REGRESSED", 0.49),
        _judged("+50%", "test_gate_time", "REGRESSED", 0.5),
        _judged("+50%", "test_gate_default", "REGRESSED", 0.5),
    ]


def test_the_table_is_condition_by_gate_with_the_change_measured() -> None:
    lines = campaign.table(list(reversed(_h200_like())))  # in the table's own order
    assert (
        lines[0] == '| condition | backend | round | gate="speedup" | gate="time" | default gate |'
    )
    assert lines[3] == "| +20% | cupy | 1 | ok (+19.8%) | REGRESSED (+20.1%) | ok (+19.6%) |"
    assert campaign.caught(_h200_like()) == [
        'unchanged: REGRESSED under gate="speedup" 0 of 1, gate="time" 0 of 1, default gate 0 of 1',
        '+20%: REGRESSED under gate="speedup" 0 of 1, gate="time" 1 of 1, default gate 0 of 1',
        '+50%: REGRESSED under gate="speedup" 1 of 1, gate="time" 1 of 1, default gate 1 of 1',
    ]


def test_the_campaign_fails_when_the_default_gate_misses_or_false_alarms() -> None:
    holds, why = campaign.default_gate_holds(_h200_like())
    assert not holds
    assert why == "the default gate was wrong on +20% cupy round 1: ok"
    fixed = [
        _judged(j.condition, j.row.test, "REGRESSED", j.change or 0.0)
        if j.condition != "unchanged"
        else j
        for j in _h200_like()
    ]
    assert campaign.default_gate_holds(fixed)[0]
    alarmed = [*fixed, _judged("unchanged", "test_gate_default", "REGRESSED", 0.01)]
    assert campaign.default_gate_holds(alarmed) == (
        False,
        "the default gate was wrong on unchanged cupy round 1: REGRESSED",
    )


# -- the results file -----------------------------------------------------------------


def test_the_install_notes_become_the_first_step(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.write_text("no network: x did not answer\nsummary: venv ready\noutcome: ok\n")
    step = results.install_step(notes)
    assert step == Step("install", "ok", "venv ready", ["no network: x did not answer"])
    assert results.install_step(tmp_path / "missing") is None
    assert results.install_step(None) is None


def test_render_lists_each_step_and_its_details() -> None:
    steps = [
        Step("one", "ok", "fine", ["a detail"], seconds=12.4),
        Step("two", "FAILED", "a | pipe"),
        Step("three", "skipped", "no GPU"),
        Step("table", "ok", "campaign", ["| a |", "| --- |"], markdown=True),
    ]
    text = results.render(steps, True, 12.0, 450.0)
    assert "on a GPU, in 12 s of a 450 s budget" in text
    assert "| one | ok | 12 | fine |" in text
    assert "| two | FAILED | - | a / pipe |" in text
    assert "## one\n\n```text\na detail\n```" in text
    assert "## table\n\n| a |\n| --- |\n" in text
    assert text.endswith("Skipped: three.\n")


def test_the_results_file_is_written_whole(tmp_path: Path) -> None:
    target = results.write("# text\n", tmp_path / "out")
    assert target.read_text() == "# text\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["GPU_RESULTS.md"]


# -- the comparison's child, on a fake CuPy ---------------------------------------------


class _FakeArray:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __matmul__(self, other: object) -> _FakeArray:
        self.clock.advance(2_000_000)  # a 2 ms matmul
        return self


def _fake_cupy(clock: FakeClock) -> tuple[ModuleType, ModuleType]:
    """CuPy and cupyx.profiler as far as the comparison uses them, on the fake clock.

    A kernel is done when it returns; an event records the clock; cupyx's benchmark
    times each call between two events, as the real one does.
    """

    class Event:
        def record(self, stream: object = None) -> None:
            self.at = clock.now

        def synchronize(self) -> None:
            pass

    def kernel(ns: int) -> Callable[..., _FakeArray]:
        def run(*args: object) -> _FakeArray:
            clock.advance(ns)
            return _FakeArray(clock)

        return run

    stream = SimpleNamespace(synchronize=lambda: None)
    cupy = ModuleType("cupy")
    cupy.float32 = "float32"  # type: ignore[attr-defined]
    cupy.random = SimpleNamespace(random=lambda shape, dtype: _FakeArray(clock))  # type: ignore[attr-defined]
    cupy.add = kernel(300_000)  # type: ignore[attr-defined]
    cupy.sum = kernel(70_000)  # type: ignore[attr-defined]
    cupy.cuda = SimpleNamespace(  # type: ignore[attr-defined]
        Event=Event,
        get_current_stream=lambda: stream,
        get_elapsed_time=lambda start, end: (end.at - start.at) / 1e6,
    )

    def benchmark(
        func: Callable[[], object], *, n_repeat: int, n_warmup: int, max_duration: float
    ) -> SimpleNamespace:
        gpu, cpu = [], []
        for _ in range(n_repeat):
            begin = clock.now
            func()
            gpu.append((clock.now - begin) * 1e-9)
            cpu.append((clock.now - begin) * 1e-9)
        return SimpleNamespace(gpu_times=[gpu], cpu_times=cpu)

    profiler = ModuleType("cupyx.profiler")
    profiler.benchmark = benchmark  # type: ignore[attr-defined]
    cupyx = ModuleType("cupyx")
    cupyx.profiler = profiler  # type: ignore[attr-defined]
    return cupy, cupyx


def test_the_comparison_child_measures_each_kernel_both_ways(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cupy, cupyx = _fake_cupy(fake_clock)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.setitem(sys.modules, "cupyx.profiler", cupyx.profiler)  # type: ignore[attr-defined]
    measured = timing.measure()
    assert [m["kernel"] for m in measured] == [
        "add, 67,108,864 float32",
        "sum, 67,108,864 float32",
        "matmul, 4096x4096 float32",
    ]
    add = measured[0]
    assert add["ours_batch_s"] == pytest.approx(300e-6)
    assert add["ours_isolated_s"] == pytest.approx(300e-6)
    assert add["cupyx_gpu_s"] == pytest.approx(300e-6)
    assert measured[2]["ours_isolated_s"] == pytest.approx(2e-3)
    assert all(r["agrees"] for r in timing.comparison_rows(measured))
    json.dumps(measured)  # what the child prints
