"""GPU facts end to end: a fake GPU backend on the fake clock, with a fake NVML and memory probe.

The inner runs register ``fakegpu``: host arrays, but ``is_gpu``, a CUDA-event
timer that reads the fake clock, a PCI bus id, and a device-memory probe that
reports a fixed peak. ``pytest_gpuperf.machine.nvml.load_pynvml`` returns the fake
pynvml of ``fake_nvml.py``, whose SM clock the test chooses.
"""

from __future__ import annotations

import json
from pathlib import Path

import fakeclock_plugin
import numpy as np  # noqa: F401  (imported here first, for the in-process pytester runs)
import pytest

FAKE_NVML = (Path(__file__).parent / "fake_nvml.py").read_text(encoding="utf-8")

CONFTEST = """
    import os

    import pytest
    from fake_nvml import FakeNvml
    from fakeclock_plugin import advance, clock

    from pytest_gpuperf import HostBackend

    from pytest_gpuperf.machine import nvml

    NVML = FakeNvml(sm_mhz=int(os.environ.get("GP_SM_MHZ", "1980")))
    SAVED = {}


    class EventTimer:
        "CUDA events that read the fake clock: a queued launch costs 1 us."

        def start(self):
            self.began = clock().now
            advance(500)  # the GPU is idle at the start event: the first launch comes later

        def stop(self):
            return float(clock().now - self.began)


    class Probe:
        source = "fake pool"

        def start(self):
            pass

        def stop(self):
            return 3 * 2**20


    class FakeGpu(HostBackend):
        name = "fakegpu"
        is_gpu = True

        def synchronize(self):
            advance(1_000)  # the sync wake-up

        def make_concrete(self, result):
            self.synchronize()
            return result

        def device_timer(self):
            return EventTimer()

        def pci_bus_id(self):
            return "0000:65:00.0"

        def memory_probe(self):
            return Probe()

        def device_info(self):
            return {"gpu": "Fake GPU", "compute_capability": "9.0"}


    def pytest_gpuperf_register_backends(config):
        return [FakeGpu()]


    def pytest_configure(config):
        SAVED.update(load=nvml.load_pynvml)
        nvml.reset()
        nvml.load_pynvml = lambda: NVML


    def pytest_unconfigure(config):
        nvml.load_pynvml = SAVED["load"]
        nvml.reset()
"""

TESTS = """
    import numpy as np
    import pytest

    from fakeclock_plugin import advance


    def kernel(a):
        advance(1_000)  # 1 us of kernel; the backend's synchronize adds 1 us more
        return a + 1


    def numpy_kernel(a):
        advance(1_000)
        temporary = np.ones(2**20)  # 8 MiB of host memory at the peak
        return (a + temporary[0]).astype(a.dtype)


    def reference(a):
        advance(10_000)
        return a + 1


    @pytest.mark.gpuperf(reference=reference)
    def test_add(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(1000, "float32", seed=1)
        cuda_sync_timer(backend.select(fakegpu=kernel), a)


    @pytest.mark.gpuperf(reference=reference, max_memory="1MiB")
    def test_capped(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random(1000, "float32", seed=1)
        cuda_sync_timer(backend.select(fakegpu=kernel, numpy=numpy_kernel), a)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    fakeclock_plugin.makeconftest(pytester, CONFTEST)
    pytester.makepyfile(fake_nvml=FAKE_NVML, test_facts=TESTS)
    pytester.syspathinsert()
    return pytester


def _entries(path: Path) -> dict[str, dict[str, object]]:
    report = json.loads(path.read_text())
    return {b["fullname"]: b["extra_info"]["gpuperf"] for b in report["benchmarks"]}


def test_gpu_time_clocks_and_memory_reach_every_report(project: pytest.Pytester) -> None:
    result = project.runpytest(
        "--gpuperf",
        "--gpuperf-backends=fakegpu",
        "--gpuperf-json=run.json",
        "--gpuperf-markdown=run.md",
        "-k",
        "test_add",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "gpu time:",
            "*test*backend*wall/call*GPU batch*GPU isolated*launch+sync*clocks*",
            "*test_facts.py::test_add*fakegpu*2.01 us*1.01 us*1.5 us*1.01 us*SM 1980/1980 MHz*",
            "*the speedup uses the wall time*GPU batch is from CUDA events around queued*",
            "memory (peak of one call):",
            "*test_facts.py::test_add*fakegpu*3 MiB*",
            "*device: fake pool*",
        ]
    )
    info = _entries(project.path / "run.json")["test_facts.py::test_add[fakegpu]"]
    gpu_time = info["gpu_time"]
    assert isinstance(gpu_time, dict)
    assert gpu_time["gate_uses"] == "batch"  # the default gate judges a device row on it
    assert info["judged_on"] == "CUDA-event time"
    # events around 67 queued launches: the idle GPU's 0.5 us once per batch
    assert gpu_time["median_s"] == pytest.approx((500 + 67_000) / 67 * 1e-9)
    # events around one call: the 0.5 us every time
    assert gpu_time["isolated_median_s"] == pytest.approx(1.5e-6)
    device_times = info["device_times_s"]
    assert isinstance(device_times, list)
    assert gpu_time["isolated_times_s"] == [pytest.approx(1.5e-6)] * len(device_times)
    # a sync per call, and one more per batch of 67; the events are outside this clock
    assert gpu_time["wall_median_s"] == pytest.approx(2.015e-6, rel=1e-3)
    assert gpu_time["launch_overhead_s"] == pytest.approx(1.0075e-6, rel=1e-3)
    clocks = info["clocks"]
    assert isinstance(clocks, dict)
    assert clocks["throttled"] is False
    assert clocks["sm_mhz_after"] == 1980
    assert clocks["checked_samples"] >= 10
    memory = info["memory"]
    assert isinstance(memory, dict)
    assert memory["device_peak_bytes"] == 3 * 2**20
    assert memory["device_source"] == "fake pool"
    machine = json.loads((project.path / "run.json").read_text())["machine_info"]
    assert machine["gpuperf"]["machine"]["clocks_locked"] is False
    markdown = (project.path / "run.md").read_text()
    assert "### GPU time" in markdown
    assert "| test | backend | wall/call | GPU batch | GPU isolated | launch+sync |" in markdown
    row = "| `test_facts.py::test_add` | fakegpu | 2.01 us | 1.01 us | 1.5 us | 1.01 us |"
    assert row in markdown
    assert "### Memory (peak of one call)" in markdown
    assert "| `test_facts.py::test_add` | fakegpu | 3 MiB |" in markdown


def test_a_gpu_that_stayed_throttled_is_inconclusive_not_regressed(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_SM_MHZ", "900")  # under 75% of 1980 for every sample
    result = project.runpytest(
        "--gpuperf", "--gpuperf-backends=fakegpu", "--gpuperf-json=run.json", "-k", "test_add"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "  inconclusive: test_facts.py::test_add [[]fakegpu[]]: throttled: the GPU's SM clock "
            "stayed below 75%*"
        ]
    )
    info = _entries(project.path / "run.json")["test_facts.py::test_add[fakegpu]"]
    assert info["verdict"] == "inconclusive"
    assert info["attempts"] == 2  # measured once more before giving up
    clocks = info["clocks"]
    assert isinstance(clocks, dict)
    assert clocks["throttled"] is True
    assert clocks["throttled_samples"] == clocks["checked_samples"]


def test_throttled_fails_with_fail_inconclusive(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_SM_MHZ", "900")
    result = project.runpytest(
        "--gpuperf", "--gpuperf-backends=fakegpu", "--gpuperf-fail-inconclusive", "-k", "test_add"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*is inconclusive (throttled:*--gpuperf-fail-inconclusive*"])


def test_max_memory_fails_naming_peak_cap_kind_and_fix(project: pytest.Pytester) -> None:
    result = project.runpytest(
        "--gpuperf", "--gpuperf-backends=fakegpu,numpy", "-k", "test_capped", "-rf"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_capped?fakegpu? on fakegpu: peak device memory of one call is 3 MiB "
            "(3,145,728 bytes), above gpuperf(max_memory=1 MiB) (1,048,576 bytes; measured "
            "with fake pool); allocate less*",
            "*test_capped?numpy? on numpy: peak host memory of one call is 8* MiB*tracemalloc*",
        ]
    )


def test_max_memory_is_not_checked_without_gpuperf(project: pytest.Pytester) -> None:
    result = project.runpytest("--gpuperf-backends=fakegpu,numpy", "-k", "test_capped")
    result.assert_outcomes(passed=2)


def test_a_bad_max_memory_fails_at_setup(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.gpuperf(max_memory="lots")
        def test_x(backend):
            pass
        """
    )
    result = project.runpytest("--gpuperf-backends=numpy", "test_bad.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*gpuperf(max_memory=...) must be a positive number of bytes*got 'lots' (from marker)*"]
    )


def test_memory_tolerance_ini_is_parsed_and_validated(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngpuperf_memory_tolerance = 25%\n")
    pytester.makeconftest(
        """
        from pytest_gpuperf.plugin import settings_key

        def pytest_collection_finish(session):
            print("memory tolerance:", session.config.stash[settings_key].memory_tolerance)
        """
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["memory tolerance: 0.25"])
    pytester.makeini("[pytest]\ngpuperf_memory_tolerance = more\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*gpuperf_memory_tolerance must be a fraction*got 'more' (from config file)*"]
    )
