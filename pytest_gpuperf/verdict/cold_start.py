"""A history too short to show its own between-run spread: what the gate assumes, and says.

A plain module: no pytest, no numpy. With fewer than ``MIN_RUNS`` saved runs, a
test's own spread between runs is unknown (one run) or rests on a single degree
of freedom (two). When other tests of the same machine and backend have spreads,
their pooled prior stands in (:mod:`pytest_gpuperf.verdict.spread_prior`). When
none has (a suite saved once with ``--gpuperf-save-runs=1``, one test alone,
``gpuperf compare`` of two run reports), the gate assumes the spread that such
runs showed between processes where they were measured, on few degrees of
freedom, so that one saved run is judged with a band wide enough for
between-process changes:

- CUDA-event time: ``ASSUMED_SPREAD["device"]``. On an H200 the event medians of
  one kernel moved by 0.8% (numba-cuda) and 1.6% (CuPy), as SDs of their logs,
  between fresh processes.
- wall times and speedups: ``ASSUMED_SPREAD["speedup"]`` and the rest. On a 2-core
  VM the example project's CPU rows moved by 1% (NumPy against itself) to 18%
  (small ``prange`` kernels) between processes (``bench/RESULTS.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_gpuperf.verdict.history import MIN_RUNS
from pytest_gpuperf.verdict.spread_prior import SpreadPrior

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The between-run spread (SD of the logs) assumed for each quantity, with no better source.
ASSUMED_SPREAD = {"device": 0.02, "speedup": 0.10, "kernel": 0.10, "reference": 0.10}
#: The degrees of freedom of an assumed spread: few, since it was measured elsewhere.
ASSUMED_DF = 4


def assumed_prior(quantity: str) -> SpreadPrior:
    """The spread assumed for ``quantity`` (``tests == 0``: it was not pooled from this machine)."""
    return SpreadPrior(ASSUMED_SPREAD[quantity] ** 2, ASSUMED_DF, 0)


def prior_for(quantity: str, runs: int, pooled: Mapping[str, SpreadPrior]) -> SpreadPrior | None:
    """The prior a band of ``runs`` saved runs uses: the pooled one, else assumed when short.

    With ``MIN_RUNS`` or more runs and nothing pooled, None: the test's own spread decides.
    """
    if quantity in pooled:
        return pooled[quantity]
    return assumed_prior(quantity) if runs < MIN_RUNS else None
