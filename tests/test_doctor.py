"""``gpuperf doctor``: here (no GPU) it exits 0; fakes make it find broken pieces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import no_gpu
import pytest
from fakeclock_plugin import FakeClock

from pytest_gpuperf.cli import main
from pytest_gpuperf.machine import doctor, event_check
from pytest_gpuperf.machine.doctor import Check
from pytest_gpuperf.machine.event_check import check_event_timing


def run_doctor(*args: str, simulator: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_gpuperf.cli", "doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def _statuses(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["detail"]) for c in data["backends"]}


def test_doctor_json_on_this_machine_without_a_gpu() -> None:
    status, out = run_doctor("--json")
    data = json.loads(out)
    backends = _statuses(data)
    assert backends["numpy"][0] == "ok"
    assert backends["numba"][0] == "ok"
    if backends["cupy"][0] == "ok":
        pytest.skip("this machine has a GPU")
    assert status == 0, out
    assert data["ok"] is True
    assert data["broken"] == []
    assert backends["cupy"][0] == "unavailable"
    assert "installed, no device" in backends["cupy"][1]
    assert backends["numba_cuda"] == (
        "unavailable",
        "installed, no CUDA driver or device (driver missing)",
    )
    assert data["nvml"]["status"] == "unavailable"
    assert data["event_timing"]["status"] == "unavailable"
    assert data["simulator"]["status"] == "unavailable"
    assert data["versions"]["numpy"]
    assert data["devices"] == []


def test_doctor_text_with_the_simulator_on(tmp_path: Path) -> None:
    """A machine without a GPU (on a GPU machine, the GPU is hidden from CUDA, JAX and NVML)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_gpuperf.cli", "doctor"],
        capture_output=True,
        text=True,
        env=no_gpu.environ(tmp_path / "no_nvml", NUMBA_ENABLE_CUDASIM="1"),
        check=False,
        timeout=300,
    )
    out = done.stdout  # the report; a library's own warnings go to stderr
    assert done.returncode == 0, out + done.stderr
    assert "  numba_cuda: simulator: NUMBA_ENABLE_CUDASIM=1" in out
    assert "  simulator: simulator: on: numba_cuda kernels run on the CUDA simulator" in out
    assert "  nvml: unavailable: pynvml is not installed" in out
    assert out.rstrip().endswith(
        "nothing broken: what is unavailable here needs a GPU or an install"
    )


def test_a_gpu_that_nvml_sees_but_cupy_does_not_is_broken(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """NVML sees a GPU and CuPy none, both faked, so a real GPU changes nothing."""
    real = doctor._import

    def cupy_sees_no_device(module: str) -> tuple[Any, str | None]:
        if module == "cupy":
            return no_gpu.cupy_without_a_device(), None
        return real(module)

    monkeypatch.setattr(doctor, "_import", cupy_sees_no_device)
    monkeypatch.setattr(doctor, "_nvml_gpus", lambda: 1)
    monkeypatch.setattr(doctor, "_opt_in_checks", list)
    monkeypatch.setattr(doctor, "device_facts", list)
    monkeypatch.setattr(
        doctor, "event_timing_check", lambda report: Check("event timing", "unavailable", "")
    )
    status = main(["doctor"])
    out = capsys.readouterr().out
    assert status == 1
    assert "  cupy: broken: cupy 14.0.0 installed, no device, but NVML sees 1 GPU(s)" in out
    assert "BROKEN: " in out


@pytest.mark.parametrize(("gpus", "status"), [(0, "unavailable"), (1, "broken")])
def test_cupy_before_14_raising_without_a_driver_is_no_device(
    monkeypatch: pytest.MonkeyPatch, gpus: int, status: str
) -> None:
    """CuPy 13's ``is_available()`` raises without a driver, where CuPy 14 returns False."""

    def is_available() -> bool:
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    fake = types.SimpleNamespace(__version__="13.0.0", is_available=is_available)
    monkeypatch.setattr(doctor, "_import", lambda module: (fake, None))
    check = doctor.cupy_check(gpus)
    assert check.status == status
    assert check.detail.startswith(
        "cupy 13.0.0 installed, no device (RuntimeError: cudaErrorInsufficientDriver"
    )


def test_a_library_that_fails_to_import_is_broken(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CuPy fails to import; numba-cuda finds no device and NVML no GPU (faked on any machine)."""
    real = doctor._import

    def failing(module: str) -> tuple[Any, str | None]:
        if module == "cupy":
            return None, "ImportError: libcudart.so.12: cannot open shared object file"
        if module == "numba.cuda":
            return no_gpu.numba_cuda_without_a_device(), None
        return real(module)

    monkeypatch.setattr(doctor, "_import", failing)
    monkeypatch.setattr(doctor, "_nvml_gpus", lambda: 0)
    monkeypatch.setattr(doctor, "_opt_in_checks", list)
    status = main(["doctor", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 1
    assert data["ok"] is False
    assert data["broken"] == ["cupy"]
    assert _statuses(data)["cupy"] == (
        "broken",
        "cupy is installed but fails to import (ImportError: libcudart.so.12: cannot open "
        "shared object file)",
    )


class FakeEvents:
    """Events that read ``event_ns`` while the kernel takes ``wall_ns`` on the clock."""

    def __init__(self, clock: FakeClock, event_ns: int, wall_ns: int) -> None:
        self.clock, self.event_ns, self.wall_ns = clock, event_ns, wall_ns

    def start(self) -> None:
        pass

    def stop(self) -> float:
        self.clock.now += self.wall_ns
        return float(self.event_ns)


@pytest.mark.parametrize(
    ("event_ns", "wall_ns", "agree", "says"),
    [
        (20_100_000, 20_300_000, True, "events 20.100 ms, wall 20.300 ms for a 20 ms spin"),
        (1_000, 20_300_000, False, "the events read too short"),
        (0, 20_300_000, False, "the events read too short"),
        (30_000_000, 20_300_000, False, "the events read longer than the wall"),
    ],
)
def test_check_event_timing(event_ns: int, wall_ns: int, agree: bool, says: str) -> None:
    clock = FakeClock()
    launches: list[int] = []
    ok, detail = check_event_timing(
        lambda: launches.append(clock.now),
        lambda: None,
        FakeEvents(clock, event_ns, wall_ns),
        expected_s=0.02,
        clock=clock,
    )
    assert ok is agree
    assert says in detail
    assert len(launches) == 4  # a warm-up launch, then three timed


def test_events_that_disagree_are_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    spin = (lambda: None, lambda: None, FakeEvents(clock, 1_000, 20_000_000))  # 1 us of 20 ms
    monkeypatch.setattr(event_check, "cupy_spin", lambda: spin)
    monkeypatch.setattr(event_check.time, "perf_counter_ns", clock)
    monkeypatch.setattr(
        event_check.check_event_timing, "__kwdefaults__", {"clock": clock, "repeats": 3}
    )
    check = doctor.event_timing_check(doctor.Report(backends=[Check("cupy", "ok", "")]))
    assert check.status == "broken"
    assert "the events read too short" in check.detail
    assert check.fix.startswith("CUDA events do not time the kernel")


def test_event_check_failure_is_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_nvrtc() -> None:
        raise RuntimeError("nvrtc: libnvrtc.so.12 not found")

    monkeypatch.setattr(event_check, "cupy_spin", no_nvrtc)
    report = doctor.Report(backends=[Check("cupy", "ok", "")])
    check = doctor.event_timing_check(report)
    assert check.status == "broken"
    assert "RuntimeError: nvrtc: libnvrtc.so.12 not found" in check.detail
    assert "cupy-cuda12x[ctk]" in check.fix
