"""``BackendHandle``, the ``backend`` fixture's value: description, size, select, matching."""

from __future__ import annotations

import numpy as np
import pytest
from test_gpu_array import ToyGpu

from pytest_gpuperf import MismatchError
from pytest_gpuperf.fixtures.backend_handle import BackendHandle

NAMES = ["numpy", "numba", "numba_cuda", "cupy", "toy"]


def test_handle_describes_its_backend() -> None:
    handle = BackendHandle(ToyGpu(simulated=True), NAMES)
    assert (handle.name, handle.is_gpu, handle.simulated) == ("toy", True, True)
    assert handle.xp is np
    assert handle.device.startswith("CPU (")
    assert repr(handle) == f"<backend toy on {handle.device}>"
    handle.synchronize()


def test_handle_size_depends_on_the_simulator() -> None:
    assert BackendHandle(ToyGpu(simulated=True), NAMES).size(1 << 20, 64) == 64
    assert BackendHandle(ToyGpu(simulated=False), NAMES).size(1 << 20, 64) == 1 << 20


def test_handle_select() -> None:
    handle = BackendHandle(ToyGpu(), NAMES)
    assert handle.select(numpy=min, toy=max) is max
    with pytest.raises(pytest.skip.Exception, match=r"^toy: no kernel for this backend in "):
        handle.select(numpy=min, numba=max)
    with pytest.raises(pytest.skip.Exception, match=r"\(given: none\)$"):
        handle.select()
    with pytest.raises(TypeError, match=r"unknown backend name 'cuda'; known backends: numpy, "):
        handle.select(toy=max, cuda=min)


def test_handle_assert_matches_moves_device_results_to_the_host() -> None:
    backend = ToyGpu()
    handle = BackendHandle(backend, NAMES)
    device = backend.to_device(np.array([1.0, 2.0, 3.0]))
    assert isinstance(device, list)
    handle.assert_matches(device, np.array([1.0, 2.0, 3.0]))
    handle.assert_matches(device, [1.0, 2.0, 3.0])
    with pytest.raises(MismatchError, match=r"^toy result: 1 of 3 elements differ"):
        handle.assert_matches(device, np.array([1.0, 2.5, 3.0]))
    handle.assert_matches(device, np.array([1.0, 2.5, 3.0]), atol=0.5)
    assert handle.to_host(device).tolist() == [1.0, 2.0, 3.0]
