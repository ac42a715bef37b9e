"""Shared test setup: pytester, and numpy/numba imported before any in-process run."""

from __future__ import annotations

import numba  # noqa: F401  (imported once here: in-process pytester runs break on first import)
import numpy  # noqa: F401

pytest_plugins = ["pytester"]
