"""The head of an inner test module whose timings are deterministic.

A fake clock that only kernels and references advance (they add to ``CLOCK[0]``),
and contention readers that report an idle machine, so gate tests cannot flake.
"""

from __future__ import annotations

FAKE_CLOCK = """
    import os

    import numpy as np
    import pytest
    from pytest_gpuperf.measure import contention
    from pytest_gpuperf.measure import timer as timing

    CLOCK = [0]

    @pytest.fixture(autouse=True)
    def _fake_clock(monkeypatch):
        monkeypatch.setattr(timing, "host_clock_ns", lambda: CLOCK[0])
        monkeypatch.setattr(contention, "read_machine_busy_seconds", lambda: 0.0)
        monkeypatch.setattr(contention, "read_own_cpu_seconds", lambda: 0.0)
"""
