"""Eight kernels of 0.05 to 5 ms on the fake GPU, each against its busy-wait reference.

The planted changes and the per-process draws come from the environment
(``fake_gpu.py``); ``bench/gpu_runner.py`` sets it for each process.
"""

from __future__ import annotations

from typing import Any

import fake_gpu
import pytest


@pytest.mark.gpuperf(reference=fake_gpu.fake_reference, output=1)
@pytest.mark.parametrize("kernel", [spec.name for spec in fake_gpu.KERNELS])
def test_kernel(kernel: str, backend: Any, gpu_array: Any, cuda_sync_timer: Any) -> None:
    x = gpu_array.random(fake_gpu.ELEMENTS, "float32", seed=0)
    out = gpu_array.zeros(fake_gpu.ELEMENTS, "float32")
    cuda_sync_timer(fake_gpu.fake_kernel, x, out, kernel)
