"""The ``dask`` backend: dask.array inputs, computed inside every sample; its scheduler option."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np
import pytest

from pytest_gpuperf.backends.dask_backend import (
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    DaskBackend,
    default_chunks,
)

# In-process pytester runs drop modules first imported inside them: import dask here.
HAS_DASK = importlib.util.find_spec("dask") is not None
dask_array: Any = importlib.import_module("dask.array") if HAS_DASK else None
HAS_DISTRIBUTED = HAS_DASK and importlib.util.find_spec("distributed") is not None
distributed: Any = importlib.import_module("distributed") if HAS_DISTRIBUTED else None

KERNELS = """
    import numpy as np
    import pytest

    def reference(a, b):
        return np.sqrt(a * a + b * b).sum(axis=0)

    def dask_kernel(a, b):
        import dask.array as da
        return da.sqrt(a * a + b * b).sum(axis=0)

    @pytest.mark.gpuperf(reference=reference)
    def test_hypot(backend, gpu_array, cuda_sync_timer):
        kernel = backend.select(numpy=reference, dask=dask_kernel)
        a = gpu_array.random((400, 300), "float64", seed=1)
        b = gpu_array.random((400, 300), "float64", seed=2)
        m = cuda_sync_timer(kernel, a, b)
        assert isinstance(m.result, np.ndarray)
        print(f"DEVICE {backend.device}")
"""

# A heavy lazy graph: building it takes microseconds, computing it tens of milliseconds.
SYNC_RULE = """
    import time

    def heavy(a):
        return (a @ a.T).sum()

    def best(func, runs=3):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
        return min(times)

    def test_timer_computes_the_graph(backend, gpu_array, cuda_sync_timer):
        a = gpu_array.random((900, 900), "float64")
        m = cuda_sync_timer(heavy, a)
        concrete = best(lambda: heavy(a).compute(scheduler="threads"))
        build = best(lambda: heavy(a))
        median = m.kernel.summary().median
        print(f"median={median:.6f} concrete={concrete:.6f} build={build:.6f}")
        # Timing without computing would measure only the graph's construction ...
        assert build < 0.5 * concrete
        # ... and the timer, which computes in every sample, covers the work.
        assert median >= 0.5 * concrete
"""

needs_dask = pytest.mark.skipif(not HAS_DASK, reason="dask: not installed")


@pytest.fixture
def impl() -> DaskBackend:
    """An available dask backend on the threaded scheduler (skips when dask is missing)."""
    pytest.importorskip("dask.array")
    backend = DaskBackend()
    assert backend.available() is None
    return backend


@pytest.mark.parametrize(
    ("shape", "itemsize", "threads", "expected"),
    [
        pytest.param((1000,), 8, 4, (1000,), id="small-is-one-block"),
        pytest.param((2**20,), 8, 4, (2**18,), id="8MiB-one-block-per-thread"),
        pytest.param((2**18,), 8, 4, (2**17,), id="2MiB-two-blocks-of-1MiB"),
        pytest.param((2**20, 64), 8, 2, (2**18, 64), id="512MiB-capped-at-128MiB"),
        pytest.param((3, 2**20), 8, 16, (1, 2**20), id="no-more-blocks-than-rows"),
        pytest.param((), 8, 4, (), id="scalar"),
        pytest.param((0, 5), 8, 4, (0, 5), id="empty"),
    ],
)
def test_default_chunks(
    shape: tuple[int, ...], itemsize: int, threads: int, expected: tuple[int, ...]
) -> None:
    assert default_chunks(shape, itemsize, threads) == expected


def test_chunk_limits() -> None:
    assert MIN_CHUNK_BYTES < MAX_CHUNK_BYTES


def test_to_device_makes_a_chunked_dask_array(impl: DaskBackend) -> None:
    host = np.arange(2**18, dtype=np.float64)
    arr = impl.to_device(host)
    assert isinstance(arr, dask_array.Array)
    assert arr.chunks[0][0] == default_chunks(host.shape, 8, impl.threads)[0]
    host[:] = -1  # the backend keeps its own copy
    np.testing.assert_array_equal(impl.to_host(arr), np.arange(2**18, dtype=np.float64))


def test_explicit_chunks_win(impl: DaskBackend) -> None:
    backend = DaskBackend(chunks=10)
    assert backend.to_device(np.zeros(35)).chunks == ((10, 10, 10, 5),)


def test_make_concrete_computes_collections_and_tuples(impl: DaskBackend) -> None:
    a = impl.to_device(np.arange(6.0))
    assert isinstance(impl.make_concrete(a + 1), np.ndarray)
    first, second, plain = impl.make_concrete((a * 2, a.sum(), 3))
    np.testing.assert_array_equal(first, np.arange(6.0) * 2)
    assert second == 15.0
    assert plain == 3
    delayed = importlib.import_module("dask").delayed(sum)([1, 2])
    assert impl.make_concrete(delayed) == 3
    assert impl.make_concrete([a.max()]) == [5.0]


def test_describes_the_threaded_scheduler(impl: DaskBackend) -> None:
    assert "dask threaded scheduler" in impl.device
    assert impl.device_info() == {"dask_scheduler": "threads", "dask_threads": impl.threads}
    assert impl.is_gpu is False
    assert impl.default_enabled is False
    assert impl.xp is dask_array
    assert impl.device_timer() is None


def test_unreachable_scheduler_is_a_skip_reason() -> None:
    pytest.importorskip("distributed")
    backend = DaskBackend(address="tcp://127.0.0.1:1", connect_timeout="1s")
    reason = backend.available()
    assert reason is not None
    assert reason.startswith("dask: cannot reach the scheduler at tcp://127.0.0.1:1 (")
    assert reason.endswith("fix --gpuperf-dask-address / gpuperf_dask_address")


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        pytest.param(
            ["--gpuperf-dask-address=localhost:8786"],
            None,
            "ERROR: --gpuperf-dask-address must be a dask scheduler address written as "
            "tcp://host:port or tls://host:port (e.g. tcp://127.0.0.1:8786); "
            "got 'localhost:8786' (from command line)",
            id="no-scheme",
        ),
        pytest.param(
            ["--gpuperf-dask-address=http://h:8786"], None, "*got 'http://h:8786'*", id="http"
        ),
        pytest.param(
            ["--gpuperf-dask-address=tcp://h:99999"], None, "*got 'tcp://h:99999'*", id="port"
        ),
        pytest.param(["--gpuperf-dask-address=tcp://h"], None, "*got 'tcp://h'*", id="no-port"),
        pytest.param(
            [],
            "gpuperf_dask_address = tcp://:8786",
            "ERROR: gpuperf_dask_address must be a dask scheduler address*"
            "got 'tcp://:8786' (from config file)",
            id="ini-no-host",
        ),
    ],
)
def test_bad_dask_address_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], ini: str | None, message: str
) -> None:
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "tls://scheduler.example.org:8786", "tcp://[::1]:8786"]
)
def test_good_dask_address_reaches_the_settings(pytester: pytest.Pytester, address: str) -> None:
    pytester.makepyfile(
        f"""
        from pytest_gpuperf.backends.extra import settings_key

        def test_x(request):
            assert request.config.stash[settings_key].dask_address == {address!r}
        """
    )
    pytester.runpytest(f"--gpuperf-dask-address={address}").assert_outcomes(passed=1)


def test_ini_address_is_used_when_no_option_is_given(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngpuperf_dask_address = tcp://10.0.0.1:8786\n")
    pytester.makepyfile(
        """
        from pytest_gpuperf.backends.extra import settings_key

        def test_x(request):
            assert request.config.stash[settings_key].dask_address == "tcp://10.0.0.1:8786"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_cli_address_wins_over_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngpuperf_dask_address = tcp://10.0.0.1:8786\n")
    pytester.makepyfile(
        """
        from pytest_gpuperf.backends.extra import settings_key

        def test_x(request):
            assert request.config.stash[settings_key].dask_address == "tcp://10.0.0.2:8786"
        """
    )
    pytester.runpytest("--gpuperf-dask-address=tcp://10.0.0.2:8786").assert_outcomes(passed=1)


def test_help_lists_the_dask_address_in_the_gpuperf_group(pytester: pytest.Pytester) -> None:
    lines = pytester.runpytest("--help").stdout.lines
    start = lines.index("GPU kernel correctness and speedup gating:")
    end = lines.index("", start)
    group = lines[start:end]
    assert any(line.startswith("  --gpuperf-dask-address=ADDRESS") for line in group), group
    assert any(line.startswith("  --gpuperf-backends=NAMES") for line in group), group
    assert any(line.startswith("  gpuperf_dask_address (string):") for line in lines)


def test_the_extra_plugin_owns_the_dask_address(pytester: pytest.Pytester) -> None:
    """Without gpuperf_extra there is no dask backend, and no option to configure it."""
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:gpuperf_extra", "--gpuperf-dask-address=tcp://h:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unrecognized arguments: --gpuperf-dask-address=tcp://h:1*"])
    assert pytester.runpytest("-p", "no:gpuperf_extra", "--gpuperf").ret == pytest.ExitCode.OK


@needs_dask
def test_dask_kernel_matches_numpy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(KERNELS)
    result = pytester.runpytest("-v", "-s", "--gpuperf-backends=numpy,dask")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*DEVICE CPU (*, dask threaded scheduler, * threads)*"])


@needs_dask
def test_timer_computes_lazy_dask_graphs(pytester: pytest.Pytester) -> None:
    """The sync rule: the measured median covers the graph's computation."""
    pytester.makepyfile(SYNC_RULE)
    result = pytester.runpytest(
        "-s", "--gpuperf", "--gpuperf-backends=dask", "--gpuperf-max-time=0.5"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*median=* concrete=* build=*"])


@needs_dask
def test_sync_rule_check_fails_when_the_backend_does_not_compute(
    pytester: pytest.Pytester,
) -> None:
    """Control: a backend that does not compute (and claims dask results) times only the build."""
    pytester.makeconftest(
        """
        import pytest
        from pytest_gpuperf.backends.dask_backend import DaskBackend

        @pytest.fixture(autouse=True)
        def _no_compute(monkeypatch):
            monkeypatch.setattr(DaskBackend, "make_concrete", lambda self, result: result)
        """
    )
    pytester.makepyfile(SYNC_RULE)
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=dask", "--gpuperf-max-time=0.5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert median >= 0.5 * concrete*"])


@pytest.mark.skipif(not HAS_DISTRIBUTED, reason="distributed: not installed")
def test_distributed_scheduler_is_used_and_recorded(pytester: pytest.Pytester) -> None:
    """--gpuperf-dask-address sends the work to that scheduler and the JSON names it."""
    import json

    # Loopback only, random ports: an in-process scheduler and worker thread.
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
    )
    try:
        address = cluster.scheduler_address
        pytester.makepyfile(KERNELS)
        result = pytester.runpytest_subprocess(
            "-s",
            "-p",
            "no:cacheprovider",
            "--gpuperf",
            "--gpuperf-max-time=0.2",
            "--gpuperf-backends=dask",
            f"--gpuperf-dask-address={address}",
            "--gpuperf-json=out.json",
        )
        result.assert_outcomes(passed=1)
        expected = f"dask distributed scheduler at {address} (1 workers, 1 threads)"
        result.stdout.fnmatch_lines([f"*DEVICE {expected}"])
        report = json.loads((pytester.path / "out.json").read_text())
        assert report["machine_info"]["gpuperf"]["machine"]["devices"] == {"dask": expected}
    finally:
        cluster.close()
