"""What the tool costs: timer overhead per sample, and having the plugin installed.

- ``TimedCall(noop).sample(1)`` per call against a bare ``perf_counter_ns`` loop.
- A 500-test suite that does not use the plugin, with and without ``-p no:gpuperf``.
- ``python -X importtime -c "import pytest_gpuperf.plugin"``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HEAVY = ("numpy", "numba", "cupy")
IMPORTS = {
    "plugin": "import pytest_gpuperf.plugin",
    "after_pytest": "import pytest; import pytest_gpuperf.plugin",
}


def timer_overhead(reps: int = 21, calls: int = 50_000) -> dict[str, float]:
    """Per-call ns of ``TimedCall(noop).sample(1)`` and of a bare timed loop, interleaved."""
    from pytest_gpuperf.measure.timer import TimedCall

    def noop() -> None:
        return None

    sample = TimedCall(noop).sample
    clock = time.perf_counter_ns

    def through_timer() -> float:
        start = clock()
        for _ in range(calls):
            sample(1)
        return (clock() - start) / calls

    def bare() -> float:
        start = clock()
        for _ in range(calls):
            t0 = clock()
            noop()
            t1 = clock()
        del t0, t1
        return (clock() - start) / calls

    timed: list[float] = []
    plain: list[float] = []
    for i in range(reps):
        pair = (through_timer, bare) if i % 2 == 0 else (bare, through_timer)
        for func in pair:
            (timed if func is through_timer else plain).append(func())
    return {
        "sample_ns": statistics.median(timed),
        "bare_ns": statistics.median(plain),
        "overhead_ns": statistics.median(timed) - statistics.median(plain),
        "overhead_min_ns": min(timed) - min(plain),
        "reps": reps,
        "calls": calls,
    }


_CONFTEST = '''"""Records which heavy libraries were imported by the end of the session."""

import os
import sys


def pytest_sessionfinish(session):
    path = os.environ.get("GPUPERF_BENCH_MODULES")
    if path:
        heavy = sorted(m for m in {heavy!r} if m in sys.modules)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(",".join(heavy))
'''


def make_suite(root: Path, tests: int = 500, per_file: int = 50) -> None:
    """A plain test suite that never touches the plugin, with its own rootdir."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (root / "conftest.py").write_text(_CONFTEST.format(heavy=HEAVY), encoding="utf-8")
    for start in range(0, tests, per_file):
        body = "".join(
            f"\n\ndef test_{i}():\n    assert {i} + 1 == {i + 1}\n"
            for i in range(start, min(tests, start + per_file))
        )
        (root / f"test_gen_{start // per_file:02d}.py").write_text(body.lstrip(), encoding="utf-8")


def _pytest_command() -> list[str]:
    script = Path(sys.executable).parent / "pytest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest"]


def install_cost(root: Path, reps: int = 9, tests: int = 500) -> dict[str, Any]:
    """Median wall time of the suite with the plugin and with ``-p no:gpuperf``, interleaved."""
    make_suite(root, tests)
    variants = {
        "with": ["-q", "-p", "no:cacheprovider"],
        "without": ["-q", "-p", "no:gpuperf", "-p", "no:cacheprovider"],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    heavy: dict[str, str] = {}
    problems: list[str] = []
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    for i in range(reps):
        order = list(variants) if i % 2 == 0 else list(reversed(variants))
        for name in order:
            marker = root / f"modules-{name}.txt"
            env["GPUPERF_BENCH_MODULES"] = str(marker)
            start = time.perf_counter()
            proc = subprocess.run(
                [*_pytest_command(), *variants[name]],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            times[name].append(time.perf_counter() - start)
            if proc.returncode != 0 or f"{tests} passed" not in proc.stdout:
                problems.append(f"{name}: rc={proc.returncode}: {proc.stdout[-300:]}")
            heavy[name] = marker.read_text(encoding="utf-8") if marker.exists() else "?"
    with_s = statistics.median(times["with"])
    without_s = statistics.median(times["without"])
    return {
        "tests": tests,
        "reps": reps,
        "with_s": with_s,
        "without_s": without_s,
        "ratio": with_s / without_s,
        "times": times,
        "heavy_modules": heavy,
        "problems": problems,
    }


def parse_importtime(stderr: str) -> list[tuple[int, int, int, str]]:
    """(depth, self_us, cumulative_us, name) for each ``-X importtime`` line."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        head, cumulative, name = line.split("|", 2)
        self_us = int(head.removeprefix("import time:").strip())
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((depth, self_us, int(cumulative.strip()), name.strip()))
    return rows


def _is_heavy(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in HEAVY)


def import_time(reps: int = 7) -> dict[str, Any]:
    """Import cost of the entry point, in total and beyond pytest; heavy libraries imported."""
    totals: list[int] = []
    pytest_us: list[int] = []
    beyond: list[int] = []
    heavy: set[str] = set()
    extra_modules: dict[str, list[int]] = {}
    for _ in range(reps):
        for key, code in IMPORTS.items():
            proc = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", code],
                capture_output=True,
                text=True,
                check=True,
            )
            rows = parse_importtime(proc.stderr)
            heavy.update(name for _, _, _, name in rows if _is_heavy(name))
            if key == "plugin":
                totals.append(sum(c for d, _, c, n in rows if d == 0 and _ours(n)))
                pytest_us.append(next(c for _, _, c, n in rows if n == "pytest"))
                continue
            top = [(c, n) for d, _, c, n in rows if d == 0]
            after = top[[n for _, n in top].index("pytest") + 1 :]
            beyond.append(sum(c for c, _ in after))
            for c, n in after:
                if not _ours(n):
                    extra_modules.setdefault(n, []).append(c)
    return {
        "reps": reps,
        "plugin_total_us": statistics.median(totals),
        "pytest_us": statistics.median(pytest_us),
        "beyond_pytest_us": statistics.median(beyond),
        "other_top_level_modules_us": {
            name: statistics.median(values) for name, values in sorted(extra_modules.items())
        },
        "heavy_imported": sorted(heavy),
    }


def _ours(name: str) -> bool:
    return name == "pytest_gpuperf" or name.startswith("pytest_gpuperf.")
