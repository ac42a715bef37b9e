"""Shared test setup: pytester, the fake clock's fixture, heavy modules imported early.

In-process pytester runs drop the modules first imported inside them, so each
such run would import them again (numpy and numba then break; hypothesis costs
about 2 s a run, numba.cuda and cupy about half a second).

On a GPU machine several xdist workers share one GPU: JAX, which preallocates 75%
of it in the first worker that runs it, is told not to, before any test imports it
(pytester runs, in-process or in a subprocess, inherit the setting).
"""

from __future__ import annotations

import contextlib

import hypothesis  # noqa: F401
import numba.cuda  # noqa: F401
import numpy  # noqa: F401
import pytest
from fakeclock_plugin import fake_clock  # noqa: F401  (the fixture, for unit tests)

from pytest_gpuperf.backends.jax_backend import share_the_gpu

with contextlib.suppress(ImportError):
    import cupy  # noqa: F401

pytest_plugins = ["pytester"]

share_the_gpu()


@pytest.fixture(autouse=True)
def _no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep inner ``--gpuperf`` runs from appending to a real GitHub job summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(autouse=True)
def _one_process_per_save(monkeypatch: pytest.MonkeyPatch) -> None:
    """An inner ``--gpuperf-save`` records its own run only, unless a test asks for more.

    The default, 3 processes, would run every saving test three times; the tests of
    ``--gpuperf-save-runs`` (``test_save_runs.py``) give it on the command line.
    """
    monkeypatch.setenv("GPUPERF_SAVE_RUNS", "1")
    monkeypatch.delenv("GPUPERF_SAVE_RUN", raising=False)
    monkeypatch.delenv("GPUPERF_SAVE_RUN_PLAN", raising=False)
