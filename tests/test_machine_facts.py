"""Tests for machine facts and the hardware fingerprint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_gpuperf.machine import facts as machine
from pytest_gpuperf.machine.facts import fingerprint, library_versions, machine_info

ROOT = Path(__file__).resolve().parents[1]

FAKE_GPU = {
    "gpu": "NVIDIA H100 80GB HBM3",
    "compute_capability": "9.0",
    "l2_cache_bytes": 52428800,
    "cuda_runtime": "12.4",
    "cuda_driver": "12.8",
}


def _run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_fingerprint_without_gpu_names_cpu() -> None:
    info = machine_info(None)
    key = fingerprint(info)
    assert key == f"{machine.cpu_model()} x{os.cpu_count()} | no GPU"
    assert key == fingerprint(machine_info(None))  # stable


def test_fingerprint_with_gpu() -> None:
    info = {"cpu": "AMD EPYC 7B13", **FAKE_GPU}
    assert fingerprint(info) == "AMD EPYC 7B13 | NVIDIA H100 80GB HBM3 cc9.0 | cuda 12/12"
    assert fingerprint({**info, "cpu_count": 16}).startswith("AMD EPYC 7B13 x16 | ")


@pytest.mark.parametrize(
    "changes",
    [
        {"cuda_runtime": "12.9", "cuda_driver": "12.2"},  # minor versions
        {"python": "3.11.99", "platform": "Linux-other", "l2_cache_bytes": 1},
        {"hostname": "elsewhere"},
    ],
)
def test_fingerprint_ignores_minor_details(changes: dict[str, object]) -> None:
    info = {"cpu": "AMD EPYC 7B13", **FAKE_GPU}
    assert fingerprint({**info, **changes}) == fingerprint(info)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"compute_capability": "8.0"}, "cc8.0"),
        ({"gpu": "NVIDIA A100-SXM4-40GB"}, "A100"),
        ({"cuda_runtime": "13.0"}, "cuda 13/12"),
        ({"cuda_driver": (13, 1)}, "cuda 12/13"),
        ({"cuda_driver": 13010}, "cuda 12/13"),
        ({"cpu": "Intel Xeon"}, "Intel Xeon |"),
    ],
)
def test_fingerprint_sees_hardware_changes(changes: dict[str, object], fragment: str) -> None:
    info = {"cpu": "AMD EPYC 7B13", **FAKE_GPU}
    key = fingerprint({**info, **changes})
    assert key != fingerprint(info)
    assert fragment in key


def test_fingerprint_simulator() -> None:
    assert fingerprint({"cpu": "X", "gpu": "CUDA simulator"}) == "X | CUDA simulator"


def test_machine_info_merges_gpu_facts_without_overriding_host() -> None:
    info = machine_info({**FAKE_GPU, "cpu": "not the host"})
    assert info["gpu"] == FAKE_GPU["gpu"]
    assert info["cpu"] == machine.cpu_model()
    assert info["cpu_count"] == os.cpu_count()
    assert {"platform", "python", "system"} <= info.keys()


def test_cpu_model_reads_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC  7B13 64-Core Processor\n")
    assert machine.cpu_model(str(cpuinfo)) == "AMD EPYC 7B13 64-Core Processor"


def test_cpu_model_falls_back(tmp_path: Path) -> None:
    assert machine.cpu_model(str(tmp_path / "missing"))


def test_library_versions_lists_installed() -> None:
    versions = library_versions()
    assert "numpy" in versions
    assert "numba" in versions
    assert all(isinstance(v, str) and v for v in versions.values())


def test_library_versions_imports_nothing() -> None:
    result = _run_isolated(
        "import sys\n"
        "from pytest_gpuperf.machine.facts import library_versions\n"
        "versions = library_versions()\n"
        "assert versions, versions\n"
        "heavy = sorted(m for m in ('numpy', 'numba', 'cupy', 'llvmlite') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    assert result.returncode == 0, result.stderr
