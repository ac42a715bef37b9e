"""``pytest -n N --gpuperf`` end to end: one device per worker, and the measurement locks.

A fake GPU backend stands in for N CUDA devices: it reports the device its worker
was given in ``CUDA_VISIBLE_DEVICES``, and its kernel logs the interval of every
call (process, device, start, end on the system-wide monotonic clock). The
assertions are about order, never about speed: which intervals overlap.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import no_gpu
import pytest

#: Subprocess runs skip Hypothesis's plugin: importing it costs seconds, and nothing uses it.
FAST_START = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider")

CONFTEST = """
    import os

    from pytest_gpuperf import HostBackend

    #: Read when pytest imports this conftest: the worker must be bound by then.
    AT_IMPORT = os.environ.get("CUDA_VISIBLE_DEVICES", "unbound")


    class FakeGpu(HostBackend):
        "A real (not simulated) GPU backend on host arrays; one per visible fake device."

        name = "fakegpu"
        is_gpu = True

        @property
        def device(self):
            return f"fake GPU {AT_IMPORT}"

        def device_info(self):
            mixed = os.environ.get("GP_MIXED") and AT_IMPORT != "0"
            return {"gpu": "Other GPU" if mixed else "Fake GPU", "compute_capability": "9.0"}


    def pytest_gpuperf_register_backends(config):
        return [FakeGpu()]
"""

TESTS = """
    import json
    import os
    import time
    from pathlib import Path

    import pytest

    LOG = Path(os.environ["GP_LOG"])
    CALLS = {}
    WAITED = []


    def wait_for_all_workers():
        "Block until every worker is inside a measurement: proof that they overlap."
        folder = LOG / "inside"
        folder.mkdir(exist_ok=True)
        (folder / os.environ["PYTEST_XDIST_WORKER"]).touch()
        deadline = time.monotonic() + 120
        while len(list(folder.iterdir())) < int(os.environ["GP_BARRIER"]):
            if time.monotonic() > deadline:
                pytest.fail("the other workers never measured at the same time")
            time.sleep(0.01)


    def log(kind, start):
        device = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        entry = [kind, device, os.getpid(), start, time.monotonic()]
        with open(LOG / f"{os.getpid()}.jsonl", "a") as fh:
            fh.write(json.dumps(entry) + "\\n")


    def reference(a):
        return a + 1


    def kernel(a):
        "Call 1 of each test is its first call, outside the measurement; the rest are timed."
        start = time.monotonic()
        CALLS[a.size] = calls = CALLS.get(a.size, 0) + 1
        if calls == 2 and os.environ.get("GP_BARRIER") and not WAITED:
            WAITED.append(True)
            wait_for_all_workers()
        time.sleep(0.002)
        log("first" if calls == 1 else "measure", start)
        return a + 1


    @pytest.mark.gpuperf(reference=reference)
    @pytest.mark.parametrize("n", [8, 16, 32, 64])
    def test_kernel(backend, gpu_array, cuda_sync_timer, n):
        cuda_sync_timer(kernel, gpu_array.random(n, "float32"))


    @pytest.mark.parametrize("n", [1, 2, 3, 4])
    def test_plain(n):
        start = time.monotonic()
        time.sleep(0.1)
        log("plain", start)
"""

INI = """
    [pytest]
    addopts = --strict-markers
    filterwarnings = error
    xfail_strict = true
    gpuperf_max_time = 0.2s
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The fake-GPU project; its kernels log into ``log/``."""
    for name in (
        *("CUDA_VISIBLE_DEVICES", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS"),
        *("GP_BARRIER", "GP_MIXED"),
    ):
        monkeypatch.delenv(name, raising=False)
    log = pytester.path / "log"
    log.mkdir()
    monkeypatch.setenv("GP_LOG", str(log))
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_fake=TESTS)
    return pytester


Interval = tuple[str, str, int, float, float]


def intervals(project: pytest.Pytester) -> list[Interval]:
    """Every logged call: (kind, device, pid, start, end)."""
    return [
        tuple(json.loads(line))  # type: ignore[misc]
        for path in (project.path / "log").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]


def overlapping(a: Interval, b: Interval) -> bool:
    return a[2] != b[2] and a[3] < b[4] and b[3] < a[4]


def test_each_worker_gets_a_device_and_measures_alongside_the_others(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_BARRIER", "4")
    report = project.path / "run.json"
    result = project.runpytest_subprocess(
        *FAST_START,
        *("-n", "4", "--gpuperf", "--gpuperf-backends=fakegpu", "--gpuperf-devices=0,1,2,3"),
        *(f"--gpuperf-json={report}", "-k", "kernel"),
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["pytest-xdist: CUDA devices 0, 1, 2, 3, one per worker in turn*"])
    calls = [i for i in intervals(project) if i[0] == "measure"]
    by_pid = {
        pid: {device for _, device, p, _, _ in calls if p == pid} for _, _, pid, _, _ in calls
    }
    assert sorted(d for devices in by_pid.values() for d in devices) == ["0", "1", "2", "3"]
    across = [(a, b) for a, b in itertools.combinations(calls, 2) if overlapping(a, b)]
    assert {frozenset((a[1], b[1])) for a, b in across} == {
        frozenset(pair) for pair in itertools.combinations("0123", 2)
    }
    data = json.loads(report.read_text())
    devices = data["machine_info"]["gpuperf"]["machine"]["devices"]["fakegpu"]
    assert sorted(devices.split("; ")) == [f"fake GPU {n}" for n in range(4)]
    assert data["machine_info"]["gpuperf"]["fingerprint"].endswith("| Fake GPU cc9.0")


def test_workers_sharing_a_device_never_time_on_it_at_once(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        *FAST_START,
        *("-n", "4", "--gpuperf", "--gpuperf-backends=fakegpu", "--gpuperf-devices=0,1"),
        *("-k", "kernel"),
    )
    result.assert_outcomes(passed=4)
    calls = [i for i in intervals(project) if i[0] == "measure"]
    assert {device for _, device, _, _, _ in calls} == {"0", "1"}
    assert len({pid for _, _, pid, _, _ in calls}) == 4
    same_device = [
        (a, b) for a, b in itertools.combinations(calls, 2) if a[1] == b[1] and overlapping(a, b)
    ]
    assert same_device == []


def test_cpu_side_measurements_pause_every_other_worker(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        *FAST_START, "-n", "2", "--gpuperf", "--gpuperf-backends=numpy"
    )
    result.assert_outcomes(passed=8)
    logged = intervals(project)
    measured = [i for i in logged if i[0] == "measure"]
    assert len({pid for _, _, pid, _, _ in logged}) == 2
    assert measured
    clashes = [(a, b) for a in measured for b in logged if overlapping(a, b)]
    assert clashes == []


def test_default_devices_come_from_nvidia_smi_without_cuda(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No NVML (hidden, on a GPU machine too): the count comes from a fake ``nvidia-smi``."""
    monkeypatch.setenv("PYTHONPATH", no_gpu.python_path(no_gpu.hide_nvml(project.path / "site")))
    bin_dir = project.path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(
        '#!/bin/sh\nfor i in 0 1 2; do echo "GPU $i: Fake GPU (UUID: GPU-0000000$i)"; done\n',
        encoding="ascii",
    )
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = project.runpytest_subprocess(
        *FAST_START, "-n", "3", "--gpuperf", "--gpuperf-backends=fakegpu", "-k", "kernel"
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["pytest-xdist: CUDA devices 0, 1, 2, one per worker in turn*"])
    devices = {i[1] for i in intervals(project)}
    assert devices == {"0", "1", "2"}


def test_visible_devices_are_handed_out_as_written(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,GPU-abc")
    result = project.runpytest_subprocess(
        *FAST_START, "-n", "2", "--gpuperf", "--gpuperf-backends=fakegpu", "-k", "kernel"
    )
    result.assert_outcomes(passed=4)
    assert {i[1] for i in intervals(project)} == {"3", "GPU-abc"}


def test_without_gpuperf_workers_keep_every_device(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    result = project.runpytest_subprocess(*FAST_START, "-n", "2", "--gpuperf-backends=fakegpu")
    result.assert_outcomes(passed=8)
    assert {i[1] for i in intervals(project) if i[0] == "first"} == {"0,1"}


def test_bad_devices_option_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST_START, "--gpuperf", "--gpuperf-devices=0,zero")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --gpuperf-devices must list CUDA devices as indices or UUIDs, e.g. 0,1,2,3 "
            "or GPU-8f6e...; got '0,zero' (from command line): 'zero' is not a device"
        ]
    )


def test_lock_folder_is_removed_after_the_run(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = project.runpytest_subprocess(
        *FAST_START, "-n", "2", "--gpuperf", "--gpuperf-backends=numpy", "-k", "plain"
    )
    result.assert_outcomes(passed=4)
    assert not list(tmp_path.glob("pytest-gpuperf-*"))


def test_worker_hints_reach_the_controller_once(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_hint="""
        import pytest

        @pytest.mark.parametrize("n", [4, 5, 6, 7])
        def test_double(backend, gpu_array, cuda_sync_timer, n):
            cuda_sync_timer(lambda a: a, gpu_array.random(n, "float64"))
        """
    )
    result = project.runpytest_subprocess(
        *FAST_START, "-n", "2", "--gpuperf", "--gpuperf-backends=fakegpu", "test_hint.py"
    )
    result.assert_outcomes(passed=4)
    hint = "gpu_array: float64 on fakegpu: consumer GPUs run float64 many times slower*"
    result.stdout.fnmatch_lines(["*- gpuperf hints -*", hint])
    assert sum(line.startswith("gpu_array: float64") for line in result.outlines) == 1


def test_workers_on_different_gpu_models_save_nothing_and_say_why(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_MIXED", "1")  # device 0 is a "Fake GPU", the others "Other GPU"
    result = project.runpytest_subprocess(
        *FAST_START,
        *("-n", "2", "--gpuperf", "--gpuperf-backends=fakegpu", "--gpuperf-devices=0,1"),
        *("--gpuperf-save", "-k", "kernel"),
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "baselines NOT saved: the workers measured on different machines (gw0: * | Fake GPU "
            "cc9.0; gw1: * | Other GPU cc9.0); list devices of one GPU model in --gpuperf-devices"
        ]
    )
    assert not (project.path / ".gpuperf").exists()
