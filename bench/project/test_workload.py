"""The workload under both tools: ``--gpuperf`` tests and pytest-benchmark tests.

Select one per run by node id; the variant comes from the environment.
"""

from __future__ import annotations

from typing import Any

import bench_kernels as bk
import numpy as np
import pytest


@pytest.mark.gpuperf(reference=bk.reference, output=1)
def test_gpuperf_serial(backend: Any, gpu_array: Any, cuda_sync_timer: Any) -> None:
    kernel = backend.select(numba=bk.serial)
    n = bk.size()
    a = gpu_array.random(n, "float32", seed=0)
    out = gpu_array.zeros(n, "float32")
    cuda_sync_timer(kernel, a, out, np.zeros(n, np.float32), bk.extra())


@pytest.mark.gpuperf(reference=bk.reference, output=1)
def test_gpuperf_parallel(backend: Any, gpu_array: Any, cuda_sync_timer: Any) -> None:
    kernel = backend.select(numba=bk.parallel)
    n = bk.size()
    a = gpu_array.random(n, "float32", seed=0)
    out = gpu_array.zeros(n, "float32")
    cuda_sync_timer(kernel, a, out, np.zeros(n, np.float32), bk.extra())


@pytest.mark.gpuperf(reference=bk.reference_bimodal, output=1)
def test_gpuperf_bimodal(backend: Any, gpu_array: Any, cuda_sync_timer: Any) -> None:
    kernel = backend.select(numba=bk.serial)
    n = bk.size()
    a = gpu_array.random(n, "float32", seed=0)
    out = gpu_array.zeros(n, "float32")
    cuda_sync_timer(kernel, a, out, np.zeros(n, np.float32), bk.extra())


def _run_benchmark(benchmark: Any, kernel: Any) -> None:
    a, out, scratch = bk.host_inputs(bk.size())
    extra = bk.extra()
    kernel(a, out, scratch, extra)  # load or compile outside the timing
    benchmark(kernel, a, out, scratch, extra)


def test_benchmark_serial(benchmark: Any) -> None:
    _run_benchmark(benchmark, bk.serial)


def test_benchmark_parallel(benchmark: Any) -> None:
    _run_benchmark(benchmark, bk.parallel)
