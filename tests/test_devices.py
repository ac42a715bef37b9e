"""Device assignment for pytest-xdist workers, without CUDA: listing, choosing, binding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_gpuperf.options import parse_device_list
from pytest_gpuperf.scaleout import devices


def never() -> int | None:
    raise AssertionError("must not be asked")


@pytest.mark.parametrize(
    ("environ", "counts", "expected"),
    [
        ({"CUDA_VISIBLE_DEVICES": "2,3"}, [never], ("2", "3")),
        ({"CUDA_VISIBLE_DEVICES": " GPU-ab , 1 "}, [never], ("GPU-ab", "1")),
        ({"CUDA_VISIBLE_DEVICES": ""}, [never], ()),  # empty: CUDA sees no device
        ({}, [lambda: 4, never], ("0", "1", "2", "3")),  # NVML answered
        ({}, [lambda: None, lambda: 2], ("0", "1")),  # no NVML: nvidia-smi
        ({}, [lambda: None, lambda: None], ()),  # neither: no GPU here
    ],
)
def test_visible_devices(
    environ: dict[str, str], counts: list[Callable[[], int | None]], expected: tuple[str, ...]
) -> None:
    assert devices.visible_devices(environ, counts) == expected


@pytest.mark.parametrize(
    ("worker", "listed", "expected"),
    [
        ("gw0", ["0", "1"], "0"),
        ("gw1", ["0", "1"], "1"),
        ("gw2", ["0", "1"], "0"),  # more workers than devices: in turn
        ("gw7", ["5"], "5"),
        ("gw3", [], None),
        ("custom", ["0"], None),
    ],
)
def test_device_for(worker: str, listed: list[str], expected: str | None) -> None:
    assert devices.device_for(worker, listed) == expected


def test_bind_worker_keeps_its_one_device() -> None:
    env = {
        "PYTEST_GPUPERF_WORKER_DEVICES": "4,5,6",
        "PYTEST_XDIST_WORKER": "gw1",
        "CUDA_VISIBLE_DEVICES": "4,5,6",
    }
    assert devices.bind_worker(env) == "5"
    assert env["CUDA_VISIBLE_DEVICES"] == "5"


@pytest.mark.parametrize(
    "env",
    [
        {"PYTEST_XDIST_WORKER": "gw1", "CUDA_VISIBLE_DEVICES": "0,1"},  # no gpuperf controller
        {"PYTEST_GPUPERF_WORKER_DEVICES": "0,1", "CUDA_VISIBLE_DEVICES": "0,1"},  # not a worker
    ],
)
def test_bind_worker_leaves_other_processes_alone(env: dict[str, str]) -> None:
    assert devices.bind_worker(env) is None
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1"


def test_nvidia_smi_lines_are_counted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\necho 'GPU 0: A (UUID: GPU-1)'\necho '  MIG 1g.10gb Device 0: (UUID: MIG-x)'\n"
        "echo 'GPU 1: A (UUID: GPU-2)'\n"
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert devices._nvidia_smi_count() == 2
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert devices._nvidia_smi_count() is None
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert devices._nvidia_smi_count() is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0,1,2,3", ("0", "1", "2", "3")),
        (" 1 ", ("1",)),
        ("GPU-8f6e-12,MIG-a/1/2", ("GPU-8f6e-12", "MIG-a/1/2")),
    ],
)
def test_parse_device_list_accepts(value: str, expected: tuple[str, ...]) -> None:
    assert parse_device_list(value, "--gpuperf-devices", "from command line") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "got '' (from command line): an empty entry is not a device"),
        ("0,,1", "got '0,,1' (from command line): an empty entry is not a device"),
        ("cuda:0", "got 'cuda:0' (from command line): 'cuda:0' is not a device"),
        ("0,1,0", "--gpuperf-devices lists device '0' twice; got '0,1,0' (from command line)"),
    ],
)
def test_parse_device_list_rejects(value: str, message: str) -> None:
    with pytest.raises(pytest.UsageError, match=r"^--gpuperf-devices") as info:
        parse_device_list(value, "--gpuperf-devices", "from command line")
    assert message in str(info.value)
