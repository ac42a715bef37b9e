"""Run reports in the ``--gpuperf-json`` format, built from plain values, for CLI and plot tests.

Also the files of a small project that runs under ``pytest --gpuperf`` on the fake
clock of ``fakeclock_plugin`` (every kernel call advances it by a set cost, every
read by 1 ns) with no CPU contention, so its speedups are exact: numba is 4x on
``test_add`` and crosses over at n = 100,000 in ``test_sweep``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import fakeclock_plugin

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

FINGERPRINT = "Test CPU x2 | no GPU"


def bench(
    test_key: str,
    backend: str,
    *,
    speedup: tuple[float, float, float] | None = (2.0, 1.8, 2.2),
    verdict: str = "ok",
    passed: bool = True,
    simulated: bool = False,
    foreign_cpu: float | None = 0.0,
    first_call_s: float | None = 0.5,
    median: float | None = None,
    reference_median: float = 2e-3,
    samples: int = 10,
    sweep: str | None = None,
    params: dict[str, Any] | None = None,
    baseline: float | None = None,
) -> dict[str, Any]:
    """One ``benchmarks[]`` item; by default the kernel's median follows from the speedup."""
    if median is None:
        median = reference_median / speedup[0] if speedup else 1e-3
    return {
        "group": test_key,
        "name": test_key.rpartition("::")[2],
        "fullname": f"{test_key}[{backend}]",
        "params": {"backend": backend, **(params or {})},
        "param": backend,
        "stats": {"min": median, "median": median, "mean": median, "data": [median] * 3},
        "extra_info": {
            "gpuperf": {
                "test_key": test_key,
                "backend": backend,
                "speedup": (
                    dict(zip(("value", "low", "high"), speedup, strict=True)) if speedup else None
                ),
                "verdict": verdict,
                "passed": passed,
                "simulated": simulated,
                "foreign_cpu": foreign_cpu,
                "first_call_s": first_call_s,
                "ratios": [speedup[0] if speedup else 1.0] * samples,
                "dtypes": ["float32"],
                "shapes": [[1024]],
                "sweep": sweep,
                "baseline": baseline,
                "reference_stats": {"median": reference_median},
            }
        },
    }


def report(*benchmarks: dict[str, Any], fingerprint: str | None = FINGERPRINT) -> dict[str, Any]:
    """A whole run report around ``benchmarks``."""
    return {
        "machine_info": {
            "gpuperf": {
                "fingerprint": fingerprint,
                "machine": {"cpu": "Test CPU", "cpu_count": 2},
                "versions": {"numpy": "2.0.0", "numba": "0.60.0"},
            }
        },
        "benchmarks": list(benchmarks),
        "datetime": "2024-05-01T12:00:00.123456+00:00",
        "version": "5.0.0",
        "gpuperf": {"schema": 1, "notes": []},
    }


def write(path: Path, data: object) -> Path:
    """Write ``data`` as JSON to ``path`` and return the path."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


FAKE_TESTS = """
import pytest
from fakeclock_plugin import spend

seen = set()


def reference(a):
    spend(40e-9 * a.size)
    return a + 1.0


def make(name, overhead, per_element, first):
    def kernel(a):
        if name not in seen:
            seen.add(name)
            spend(first)
        spend(overhead + per_element * a.size)
        return a + 1.0

    return kernel


@pytest.mark.gpuperf(reference=reference)
def test_add(backend, gpu_array, cuda_sync_timer):
    kernel = backend.select(
        numpy=make("numpy-add", 0.0, 40e-9, 0.0), numba=make("numba-add", 0.0, 10e-9, 0.3)
    )
    cuda_sync_timer(kernel, gpu_array.random(100_000, "float64", seed=0))


@pytest.mark.gpuperf(reference=reference, sweep="n")
@pytest.mark.parametrize("n", [1_000, 100_000, 1_000_000])
def test_sweep(backend, gpu_array, cuda_sync_timer, n):
    kernel = backend.select(
        numpy=make(f"numpy-{n}", 0.0, 40e-9, 0.0), numba=make(f"numba-{n}", 1e-3, 4e-9, 0.2)
    )
    cuda_sync_timer(kernel, gpu_array.random(n, "float64", seed=1))
"""


def fake_project(pytester: pytest.Pytester) -> None:
    """Write the fake-clock project into ``pytester``'s folder."""
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_fake=FAKE_TESTS)


#: Arguments of a fake-clock run on the two CPU backends (without plugins it doesn't need).
FAKE_RUN_ARGS = (
    "--fakeclock-tick-ns=1",
    "--gpuperf",
    "--gpuperf-backends=numpy,numba",
    *("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:xdist"),
)
