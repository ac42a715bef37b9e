"""How the runs were made: the protocol, and the workload with its measured slowdowns."""

from __future__ import annotations

from campaign import BENCHMARK, CONDITIONS, GPUPERF

from results.cells import median, ms, pct, table
from results.runs import Campaign, select, valid


def protocol_section(c: Campaign) -> list[str]:
    """The baselines that were saved and how the runs were ordered and judged."""
    if not c.runs:
        return []
    saved = c.data.get("baselines") or {}
    gp = saved.get(GPUPERF) or {}
    pb = saved.get(BENCHMARK) or {}
    gp_text = (
        f"speedup {gp['speedup'][0]:.4g}x (foreign CPU {pct(gp.get('foreign_cpu'))}, "
        f"try {saved.get('gpuperf_tries')})"
        if gp.get("speedup")
        else "NOT SAVED"
    )
    pb_text = f"min {ms(pb.get('min_s'))}" if pb else "NOT SAVED"
    return [
        "## Protocol",
        "",
        "- Every run is its own pytest process in `bench/project` (its own `pytest.ini`; "
        "the hypothesis and xdist plugins are disabled there for both methods, to cut "
        "start-up time).",
        "- Baselines, once, quiet, unchanged kernels: gpuperf `--gpuperf --gpuperf-save` "
        f"({gp_text}); pytest-benchmark `--benchmark-save` ({pb_text}).",
        "- Runs: gpuperf `--gpuperf --gpuperf-json=...` (flagged = verdict REGRESSED); "
        "pytest-benchmark `--benchmark-compare=0001 --benchmark-compare-fail=min:10% "
        '--benchmark-json=...` (flagged = "Performance has regressed"). Both otherwise at '
        "their defaults (1 s time budget each).",
        f"- {c.k} rounds; each round runs every condition under both methods once, in a "
        "shuffled order, so drift spreads over all of them. Busy loop: a separate "
        '`python -c "while True: pass"` process started 0.3 s before the pytest process '
        "and killed after it.",
        "",
    ]


def workload_section(c: Campaign) -> list[str]:
    """The kernel and each slowed variant: nominal, at calibration, and in the runs."""
    cal = c.data.get("calibration")
    if not cal:
        return []
    base_speed = median(
        r.speedup[0] if r.speedup else None
        for r in valid(select(c.runs, GPUPERF, "unchanged", busy=False))
    )
    base_min = median(r.min_s for r in valid(select(c.runs, BENCHMARK, "unchanged", busy=False)))
    rows = []
    for v in cal["variants"]:
        name = next(cond.name for cond in CONDITIONS if cond.nominal == v["nominal"])
        speed = median(
            r.speedup[0] if r.speedup else None for r in valid(select(c.runs, GPUPERF, name))
        )
        low = median(r.min_s for r in valid(select(c.runs, BENCHMARK, name)))
        rows.append(
            (
                name,
                f"x{v['nominal']:.2f}",
                f"{v['extra']} ({v['fraction']:.3f} N)",
                f"x{v['measured']:.3f}",
                f"x{base_speed / speed:.3f}" if base_speed and speed else "-",
                f"x{low / base_min:.3f}" if low and base_min else "-",
            )
        )
    return [
        "## Workload",
        "",
        f"`out = sin(sqrt(a))` over N = {cal['n']} float32 elements: Numba `@njit` kernel "
        f"{ms(cal['kernel_median_s'])} (prange kernel {ms(cal['parallel_median_s'])}), "
        f"NumPy reference {ms(cal['reference_median_s'])} (medians at calibration). "
        "A slowed variant is the same compiled kernel plus a redundant pass over the "
        "first `extra` elements into a scratch buffer.",
        "",
        "Measured slowdown of each variant: at calibration (median of "
        f"{cal['variants'][0]['pairs']} interleaved call pairs, in a separate process), "
        "and "
        "from the runs themselves (median unchanged quiet speedup / median variant speedup "
        "for gpuperf; median variant min / median unchanged quiet min for pytest-benchmark).",
        "",
        *table(
            (
                "condition",
                "nominal",
                "extra elements",
                "calibration",
                "gpuperf runs",
                "pytest-benchmark runs",
            ),
            rows,
        ),
        "",
    ]
