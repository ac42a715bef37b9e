"""What the plugin costs: timer overhead per sample, install cost, import time."""

from __future__ import annotations

from results.cells import table
from results.runs import Campaign


def timer_section(c: Campaign) -> list[str]:
    """Overhead of one timed sample against a bare timing loop."""
    timer = c.data.get("timer")
    if not timer:
        return []
    return [
        "## Timer overhead per sample (CPU path)",
        "",
        f"`TimedCall(noop).sample(1)`: {timer['sample_ns']:.0f} ns per call; bare loop "
        "`t0=perf_counter_ns(); noop(); t1=perf_counter_ns()`: "
        f"{timer['bare_ns']:.0f} ns per iteration; overhead {timer['overhead_ns']:.0f} ns "
        f"(medians of {timer['reps']} interleaved loops of {timer['calls']} calls; "
        f"from the minima: {timer['overhead_min_ns']:.0f} ns).",
        "",
    ]


def install_section(c: Campaign) -> list[str]:
    """A suite that does not use the plugin, with and without it installed."""
    install = c.data.get("install")
    if not install:
        return []
    lines = [
        "## Cost of having the plugin installed",
        "",
        f"A {install['tests']}-test suite that does not use the plugin, "
        f"{install['reps']} interleaved runs each:",
        "",
        *table(
            ("command", "median wall", "heavy modules imported by the end"),
            [
                (
                    "`pytest -q -p no:cacheprovider`",
                    f"{install['with_s']:.3f} s",
                    install["heavy_modules"].get("with") or "none",
                ),
                (
                    "`pytest -q -p no:gpuperf -p no:cacheprovider`",
                    f"{install['without_s']:.3f} s",
                    install["heavy_modules"].get("without") or "none",
                ),
            ],
        ),
        "",
        f"Ratio {install['ratio']:.3f} ({(install['ratio'] - 1) * 100:+.1f}%). "
        "Both commands load the other installed plugins (pytest-benchmark, hypothesis, "
        "xdist), which are part of the fixed cost.",
        "",
    ]
    if install["problems"]:
        lines += ["Problems: " + "; ".join(install["problems"]), ""]
    return lines


def imports_section(c: Campaign) -> list[str]:
    """Import time of the entry point, and whether it pulls in numpy/numba/cupy."""
    imports = c.data.get("imports")
    if not imports:
        return []
    others = ", ".join(
        f"{name} {us / 1e3:.1f} ms" for name, us in imports["other_top_level_modules_us"].items()
    )
    return [
        "## Import time of the entry point",
        "",
        f'`python -X importtime -c "import pytest_gpuperf.plugin"` (median of '
        f"{imports['reps']}): pytest_gpuperf modules "
        f"{imports['plugin_total_us'] / 1e3:.1f} ms cumulative, of which pytest itself "
        f"{imports['pytest_us'] / 1e3:.1f} ms. With "
        "pytest imported first (`import pytest; import pytest_gpuperf.plugin`), the "
        f"plugin adds {imports['beyond_pytest_us'] / 1e3:.1f} ms"
        + (f" (other packages it pulls in: {others})" if others else "")
        + ". numpy/numba/cupy imported: "
        + (", ".join(imports["heavy_imported"]) or "none")
        + ".",
        "",
    ]
