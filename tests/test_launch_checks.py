"""``gpuperf doctor`` launches a tiny kernel per GPU backend: here on the simulator and fakes.

No GPU here: the numba-cuda kernel runs for real on the CUDA simulator (in a
subprocess); a library that fails inside its own code is a fake module that
runs under numba-cuda's module name, so the traceback really passes through it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy
import pytest

from pytest_gpuperf.cli import main
from pytest_gpuperf.machine import doctor, launch_checks
from pytest_gpuperf.machine.doctor import Check
from pytest_gpuperf.machine.launch_checks import LaunchResult, WrongResult


def _fake_library_launch() -> Any:
    """A launch that fails as numba-cuda 0.30.4 did with numpy 2.5.2, inside 'numba.cuda'."""
    namespace: dict[str, Any] = {"__name__": "numba.cuda.fake_compiler"}
    source = """
        import numpy

        def launch():
            return numpy.row_stack_that_is_gone  # raised by numpy's module __getattr__
    """
    path = "/fake-site-packages/numba_cuda/numba/cuda/fake_compiler.py"
    exec(compile(textwrap.dedent(source), path, "exec"), namespace)
    return namespace["launch"]


def _break_numba_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba_cuda's launch check fails inside (fake) numba-cuda."""
    monkeypatch.setitem(
        launch_checks.LAUNCHES, "numba_cuda", (_fake_library_launch(), "numba_cuda")
    )


def _doctor_json(simulator: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_gpuperf.cli", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    data: dict[str, Any] = json.loads(done.stdout)
    data["exit"] = done.returncode
    return data


def _older_numpy() -> str:
    major, minor = numpy.__version__.split(".")[:2]
    return f"pip install 'numpy<{major}.{minor}'"


def test_a_library_that_fails_inside_itself_is_broken_with_versions_and_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _break_numba_cuda(monkeypatch)
    result = launch_checks.launch("numba_cuda")
    assert result is not None
    assert result.ok is False
    assert result.detail.startswith(
        "a tiny kernel failed inside the library: AttributeError: module 'numpy' has no "
        "attribute 'row_stack_that_is_gone'; numba-cuda "
    )
    assert f"numpy {numpy.__version__}" in result.detail
    assert result.fix == (
        f"the installed numpy {numpy.__version__} is probably newer than numba-cuda "
        f"{launch_checks.kernel_faults.library_versions('numba_cuda')['numba-cuda']} supports: "
        f"install an older numpy, e.g. {_older_numpy()}, or upgrade numba-cuda "
        "(pip install -U numba-cuda)"
    )


def test_a_kernel_that_returns_wrong_values_is_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong() -> None:
        launch_checks._compare(numpy.zeros(launch_checks.SIZE, dtype=numpy.float32))

    monkeypatch.setitem(launch_checks.LAUNCHES, "cupy", (wrong, "cupy"))
    result = launch_checks.launch("cupy")
    assert result is not None
    assert result.ok is False
    assert result.detail.startswith(
        "a tiny kernel returned wrong values (expected [1.0, 2.0, 3.0, 4.0]..., got [0. 0. 0. 0.]"
    )
    assert "cupy-cuda12x" in result.detail
    assert result.fix.startswith("the library, the driver and the device disagree")


def test_an_error_in_the_callers_code_is_broken_without_blaming_numpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_nvrtc() -> None:
        raise RuntimeError("nvrtc: libnvrtc.so.12 not found")

    monkeypatch.setitem(launch_checks.LAUNCHES, "cupy", (no_nvrtc, "cupy"))
    result = launch_checks.launch("cupy")
    assert result == LaunchResult(
        False,
        "a tiny kernel failed: RuntimeError: nvrtc: libnvrtc.so.12 not found; "
        + launch_checks.kernel_faults.versions_text(
            launch_checks.kernel_faults.library_versions("cupy")
        ),
        "the library cannot compile or run kernels here: reinstall it for this CUDA version "
        "(pip install 'pytest-gpuperf[cuda12]')",
    )


def test_nothing_is_launched_for_a_host_backend_or_torch_without_cuda() -> None:
    assert launch_checks.launch("numpy") is None
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("torch sees a CUDA device here")
    assert launch_checks.launch("torch") is None


def test_wrong_result_compares_every_value() -> None:
    good = numpy.arange(launch_checks.SIZE, dtype=numpy.float32) + 1
    launch_checks._compare(good)
    good[-1] = 0
    with pytest.raises(WrongResult):
        launch_checks._compare(good)


@pytest.mark.parametrize("status", ["ok", "simulator"])
def test_doctor_counts_a_failed_launch_as_broken(
    status: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "numba_cuda_check", lambda gpus: Check("numba_cuda", status, "x"))
    monkeypatch.setattr(doctor, "cupy_check", lambda gpus: Check("cupy", "unavailable", "no"))
    monkeypatch.setattr(doctor, "_opt_in_checks", list)
    monkeypatch.setattr(doctor, "device_facts", list)
    _break_numba_cuda(monkeypatch)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert (
        "  numba_cuda: broken: a tiny kernel failed inside the library: AttributeError: "
        "module 'numpy' has no attribute 'row_stack_that_is_gone'; numba-cuda "
    ) in out
    assert f"-> the installed numpy {numpy.__version__} is probably newer than numba-cuda" in out
    assert _older_numpy() in out
    assert out.rstrip().endswith("BROKEN: numba_cuda")


def test_doctor_says_a_launch_passed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "numba_cuda_check", lambda gpus: Check("numba_cuda", "ok", "dev"))
    monkeypatch.setattr(doctor, "cupy_check", lambda gpus: Check("cupy", "unavailable", "no"))
    monkeypatch.setattr(doctor, "_opt_in_checks", list)
    monkeypatch.setattr(doctor, "device_facts", list)
    monkeypatch.setitem(launch_checks.LAUNCHES, "numba_cuda", (lambda: None, "numba_cuda"))
    assert main(["doctor"]) == 0
    assert (
        "  numba_cuda: ok: dev; a tiny kernel ran on the device and returned the right values"
    ) in capsys.readouterr().out


def test_doctor_runs_the_numba_kernel_on_the_simulator() -> None:
    data = _doctor_json(simulator=True)
    numba_cuda = next(c for c in data["backends"] if c["name"] == "numba_cuda")
    assert numba_cuda["status"] == "simulator", numba_cuda
    assert numba_cuda["detail"].endswith(
        "; a tiny kernel ran on the CUDA simulator and returned the right values"
    )


def test_doctor_launches_nothing_without_a_gpu_or_the_simulator() -> None:
    data = _doctor_json(simulator=False)
    if any(c["name"] == "cupy" and c["status"] == "ok" for c in data["backends"]):
        pytest.skip("this machine has a GPU")
    assert data["exit"] == 0
    assert not [c for c in data["backends"] if "tiny kernel" in c["detail"]]
