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
def _no_fresh_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs start no fresh processes of their own, unless a test asks for them.

    By default one ``--gpuperf-save`` records 3 processes and a suspected regression
    is measured again in a fresh process: every saving or regressing inner run would
    start more pytest processes. The tests of those features (``test_save_runs.py``,
    ``test_confirm.py``) ask for them on the command line.
    """
    monkeypatch.setenv("GPUPERF_SAVE_RUNS", "1")
    monkeypatch.setenv("GPUPERF_CONFIRM", "same")
    monkeypatch.delenv("GPUPERF_CHILD", raising=False)
    monkeypatch.delenv("GPUPERF_CHILD_PLAN", raising=False)
