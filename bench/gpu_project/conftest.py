"""Registers the fake GPU backend (``fake_gpu.py``) through the plugin's own hook."""

from __future__ import annotations

from typing import Any

import fake_gpu
import pytest


@pytest.hookimpl(optionalhook=True)
def pytest_gpuperf_register_backends(config: pytest.Config) -> list[Any]:
    """The ``fakegpu`` backend."""
    return [fake_gpu.FakeGpuBackend()]
