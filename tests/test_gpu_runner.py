"""``bench/gpu_runner.py``: the fake GPU model, the scoring, and the campaign's plumbing.

Nothing here depends on how fast this machine is: the model is checked with a fake
clock, the targets on synthetic numbers, and the plumbing run asserts what the
report holds, never what the verdicts say.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_gpuperf import Backend, DeviceTimer
from pytest_gpuperf.store.baseline_entry import BaselineEntry
from pytest_gpuperf.verdict.history import History

BENCH = Path(__file__).resolve().parent.parent / "bench"
for folder in (BENCH, BENCH / "gpu_project"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import fake_gpu  # noqa: E402
import gpu_runner  # noqa: E402
import gpu_scoring  # noqa: E402


class SteppingClock:
    """A host clock that moves ``step`` ns at every read, and jumps when told to."""

    def __init__(self, step: int = 1_000) -> None:
        self.now = 0
        self.step = step

    def __call__(self) -> int:
        self.now += self.step
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SteppingClock:
    """The fake GPU's busy-waits and stream on a fake clock."""
    fake = SteppingClock()
    monkeypatch.setattr(fake_gpu, "clock_ns", fake)
    return fake


def test_events_report_the_modelled_device_time_whatever_the_host_did(
    clock: SteppingClock,
) -> None:
    model = fake_gpu.Model(seed=7, kernel_factor=1.0, reference_factor=1.0)
    timer = fake_gpu.FakeEventTimer(model.stream)
    launched = []
    timer.start()
    for _ in range(3):
        before = model.stream.queued_ns
        model.launch("k0650us")
        launched.append(model.stream.queued_ns - before)
    clock.step = 500_000  # the host is preempted: each read now jumps 0.5 ms
    device = timer.stop()
    assert device == pytest.approx(sum(launched))
    assert device / 3 == pytest.approx(0.65e6 * model.draws["k0650us"].device_factor, rel=0.03)


def test_a_synchronized_call_takes_launch_device_time_and_wake_up(clock: SteppingClock) -> None:
    model = fake_gpu.Model(seed=3, kernel_factor=1.0, reference_factor=1.0)
    draw = model.draws["k1200us"]
    start = clock.now
    model.launch("k1200us")
    model.stream.synchronize()
    wall = clock.now - start
    device = model.stream.queued_ns
    assert (
        draw.launch_ns + device + draw.wake_ns
        <= wall
        <= draw.launch_ns + device + draw.wake_ns + 5 * clock.step
    )


def test_per_process_draws_stay_inside_the_h200_ranges() -> None:
    devices, references = [], []
    for seed in range(300):
        model = fake_gpu.Model(seed=seed, kernel_factor=1.0, reference_factor=1.0)
        for draw in model.draws.values():
            devices.append(draw.device_factor)
            references.append(draw.reference_factor)
            assert 7_000 <= draw.launch_ns + draw.wake_ns <= 40_000
    assert 0.98 <= min(devices) < 0.99
    assert 1.01 < max(devices) <= 1.02
    assert 1.0 <= min(references) < 1.1
    assert 1.8 < max(references) <= 2.0
    same = fake_gpu.Model(seed=5, kernel_factor=1.0, reference_factor=1.0)
    assert same.draws == fake_gpu.Model(seed=5, kernel_factor=1.0, reference_factor=1.0).draws
    assert same.draws != fake_gpu.Model(seed=6, kernel_factor=1.0, reference_factor=1.0).draws


def _first_calls(kernel_factor: float, reference_factor: float) -> tuple[float, float]:
    """The first device and reference call times of a fresh process (seed 11)."""
    model = fake_gpu.Model(seed=11, kernel_factor=kernel_factor, reference_factor=reference_factor)
    return model.device_ns("k0100us"), model.reference_ns("k0100us")


def test_planted_factors_scale_the_kernel_and_the_reference_alone() -> None:
    device, reference = _first_calls(1.0, 1.0)
    assert _first_calls(1.2, 1.0) == pytest.approx((1.2 * device, reference))
    assert _first_calls(1.0, 1.6) == pytest.approx((device, 1.6 * reference))


def test_the_fake_backend_is_a_real_gpu_backend_to_the_plugin() -> None:
    backend = fake_gpu.FakeGpuBackend()
    assert isinstance(backend, Backend)
    assert backend.is_gpu
    assert not backend.simulated
    assert isinstance(backend.device_timer(), DeviceTimer)
    assert backend.pci_bus_id() == fake_gpu.NO_SUCH_BUS  # NVML never reads a real GPU
    assert backend.device_info()["gpu"] == fake_gpu.DEVICE_NAME


def _summary(runs: int, per_test: dict[str, int], rows: int = 16) -> dict[str, Any]:
    return {
        "runs": runs,
        "rows": rows,
        "regressed": sum(per_test.values()),
        "per_test": per_test,
        "detectable": [0.1, 0.12],
    }


@pytest.mark.parametrize(
    ("name", "per_test", "met"),
    [
        ("unchanged", {"a": 0, "b": 0}, True),
        ("unchanged", {"a": 1, "b": 0}, False),
        ("kernel +20%", {"a": 19, "b": 20}, True),
        ("kernel +20%", {"a": 18, "b": 20}, False),
        ("kernel +50%", {"a": 20, "b": 20}, True),
        ("kernel +50%", {"a": 20, "b": 19}, False),
        ("reference 1.6x slower", {"a": 0, "b": 0}, True),
        ("reference 1.6x faster", {"a": 0, "b": 1}, False),
    ],
)
def test_targets_are_met_only_at_their_thresholds(
    name: str, per_test: dict[str, int], met: bool
) -> None:
    summaries = {(name, 3): _summary(20, per_test)}
    pairs = {3: {"unchanged": {"flagged": 0, "pairs": 100}}}
    found = gpu_scoring.targets(summaries, pairs, k=20, histories=[3])
    first = found[0]
    assert first[0].startswith(name)
    assert first[-1] is met


@pytest.mark.parametrize(("flagged", "met"), [(1, True), (2, False)])
def test_the_pairs_target_allows_one_percent(flagged: int, met: bool) -> None:
    summaries = {("unchanged", 1): _summary(20, {"a": 0})}
    pairs = {1: {"unchanged": {"flagged": flagged, "pairs": 100}}}
    found = gpu_scoring.targets(summaries, pairs, k=20, histories=[1])
    assert [t[-1] for t in found if "pairs" in t[0]] == [met]


def _saved(device_s: float) -> BaselineEntry:
    return BaselineEntry(
        speedup=2.0,
        ci_low=1.9,
        ci_high=2.1,
        kernel_median_s=device_s + 20e-6,
        reference_median_s=2 * device_s,
        samples=100,
        dtypes=(),
        shapes=(),
        versions={},
        timestamp="2026-11-30T00:00:00+00:00",
        foreign_cpu=0.0,
        kernel_device_median_s=device_s,
    )


def _row(device_s: float) -> dict[str, Any]:
    rng = random.Random(1)
    return {
        "test_key": "test_fake_kernels.py::test_kernel[k0650us]",
        "backend": "fakegpu",
        "speedup": (2.0, 1.95, 2.05),
        "wall_median_s": device_s + 20e-6,
        "device_times_s": [device_s * rng.uniform(0.995, 1.005) for _ in range(101)],
        "reference_median_s": 2 * device_s,
        "foreign_cpu": 0.0,
    }


@pytest.mark.parametrize(("slower", "verdict"), [(1.0, "ok"), (1.3, "REGRESSED")])
def test_the_replay_judges_device_time_through_the_plugin(slower: float, verdict: str) -> None:
    history = History(tuple(_saved(650e-6 * f) for f in (0.99, 1.0, 1.01)))
    assert gpu_scoring.offline_verdict(_row(650e-6 * slower), history, "time") == verdict


def test_the_section_replaces_only_its_own_markers(tmp_path: Path) -> None:
    target = tmp_path / "RESULTS.md"
    start, end = gpu_runner.MARKERS
    target.write_text(f"# top\n\n{start}\nold\n{end}\n\n## after\n", encoding="utf-8")
    gpu_runner.write_section(target, "new section")
    assert (
        target.read_text(encoding="utf-8") == f"# top\n\n{start}\nnew section\n{end}\n\n## after\n"
    )
    fresh = tmp_path / "other.md"
    fresh.write_text("# other\n", encoding="utf-8")
    gpu_runner.write_section(fresh, "body")
    assert fresh.read_text(encoding="utf-8") == f"# other\n\n{start}\nbody\n{end}\n"


def test_a_small_campaign_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_runner.bench_run, "foreign_share", lambda: 0.0)
    out = tmp_path / "campaign"
    argv = ["--k", "1", "--histories", "1", "--conditions", "unchanged,kernel +50%"]
    argv += ["--select", "k0050us", "--max-time", "0.05", "--contention", "1.0", "--out", str(out)]
    assert gpu_runner.main(argv) == 0
    data = json.loads((out / "data.json").read_text(encoding="utf-8"))
    assert [h["accepted"] for h in data["history_runs"]] == [1]
    assert sorted(r["condition"] for r in data["runs"]) == ["kernel +50%", "unchanged"]
    for run in data["runs"]:
        (row,) = gpu_scoring.load_rows(out / run["report"]) or []
        assert row["backend"] == "fakegpu"
        assert row["device_times_s"]  # the fake CUDA events were read
        assert row["verdict"] in ("ok", "REGRESSED", "inconclusive", "improved")
    text = (out / "RESULTS.md").read_text(encoding="utf-8")
    assert "| unchanged: REGRESSED rows | 1 | 0 |" in text
    assert "| kernel +50%: caught | 1 | 1 in 1, every test |" in text
    assert "`--gpuperf-contention=1.0`" in text
    assert "| k0050us | 0.05 ms |" in text


def test_help_names_the_conditions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gpu_runner.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "kernel +20%" in capsys.readouterr().out


def test_an_unknown_condition_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        gpu_runner.parse_args(["--conditions", "unchanged,kernel +30%"])
    assert "got ['kernel +30%']" in capsys.readouterr().err
