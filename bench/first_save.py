"""Campaign: does the first save already hold? The example project, saved once, then re-run.

Run from the repository root, on an otherwise quiet machine, and nothing else at once::

    .venv/bin/python bench/first_save.py            # K=10 pairs; writes its section of RESULTS.md
    .venv/bin/python bench/first_save.py --quick    # K=1 pair; writes bench/out/first_save/

Protocol: K pairs, each with a fresh baseline file. In each pair, one
``pytest --gpuperf --gpuperf-save`` of the example project (which records
``--gpuperf-save-runs`` processes, 3 by default), then one ``pytest --gpuperf``
of the unchanged project against it, with ``--gpuperf-json``. A pair passes when
the re-run exits 0 (no test failed: no REGRESSED row). The simulator is on, as in
the README's first command, so ``numba_cuda`` rows are simulated and never gated.

The section between the ``first-save`` markers in ``bench/RESULTS.md`` is replaced
(appended when absent).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import run as bench_run
from verdict_scoring import share

BENCH = Path(__file__).resolve().parent
EXAMPLE = BENCH.parent / "example_project"
#: One example run takes about 35 s on two idle cores; a save three times that.
RUN_TIMEOUT_S = 900


def example_run(args: list[str], out: Path, tag: str) -> tuple[int, float]:
    """``pytest ARGS`` in the example project, simulator on; the exit code and wall time."""
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    env.pop("GPUPERF_SAVE_RUNS", None)
    start = time.perf_counter()
    with (out / f"{tag}.log").open("w", encoding="utf-8") as sink:
        try:
            code = subprocess.call(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                cwd=EXAMPLE,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=RUN_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            code = -1
    return code, time.perf_counter() - start


def rows(report: Path) -> list[dict[str, Any]]:
    """The gated rows of a run report: test, backend, verdict, judged on, detectable, change."""
    data = json.loads(report.read_text(encoding="utf-8"))
    found = []
    for bench in data["benchmarks"]:
        info = bench["extra_info"]["gpuperf"]
        found.append(
            {
                "test": info["test_key"],
                "backend": info["backend"],
                "verdict": info["verdict"],
                "detail": info["verdict_detail"],
                "detectable": info.get("detectable"),
                "runs": info.get("history_runs"),
                "speedup": (info.get("speedup") or {}).get("value"),
                "baseline": info.get("baseline"),
            }
        )
    return found


def run_pairs(k: int, out: Path, save_runs: int) -> list[dict[str, Any]]:
    """K (save, re-run) pairs, each against a fresh baseline file."""
    pairs = []
    for index in range(k):
        baseline = out / f"baselines-{index:02d}.json"
        save_args = ["--gpuperf", "--gpuperf-save", f"--gpuperf-baseline={baseline}"]
        save_args.append(f"--gpuperf-save-runs={save_runs}")
        save_rc, save_s = example_run(save_args, out, f"save-{index:02d}")
        report = out / f"rerun-{index:02d}.json"
        rerun_args = ["--gpuperf", f"--gpuperf-baseline={baseline}", f"--gpuperf-json={report}"]
        rerun_rc, rerun_s = example_run(rerun_args, out, f"rerun-{index:02d}")
        found = rows(report) if report.exists() else []
        pair = {
            "index": index,
            "save_rc": save_rc,
            "save_s": save_s,
            "rerun_rc": rerun_rc,
            "rerun_s": rerun_s,
            "rows": found,
        }
        pairs.append(pair)
        regressed = [r for r in found if r["verdict"] == "REGRESSED"]
        bench_run.log(
            f"pair {index + 1}/{k}: save rc={save_rc} {save_s:.0f} s, rerun rc={rerun_rc} "
            f"{rerun_s:.0f} s, {len(regressed)} REGRESSED"
        )
    return pairs


def section(meta: dict[str, Any], pairs: list[dict[str, Any]]) -> str:
    """The Markdown section for RESULTS.md."""
    passed = sum(1 for p in pairs if p["rerun_rc"] == 0)
    gated = [r for p in pairs for r in p["rows"] if r["verdict"] not in ("simulated", "timed")]
    regressed = [r for r in gated if r["verdict"] == "REGRESSED"]
    inconclusive = [r for r in gated if r["verdict"] == "inconclusive"]
    detects = sorted(r["detectable"] for r in gated if r["detectable"] is not None)
    median = detects[len(detects) // 2] if detects else None
    lines = [
        "## The first save holds: the example project saved once, then re-run",
        "",
        f"- Date: {meta['date']}; duration {meta['minutes']:.1f} min; command "
        f"`{meta['command']}` (K={meta['k']} pairs, --gpuperf-save-runs={meta['save_runs']})",
        f"- Machine: {meta['machine']}",
        f"- Foreign CPU share: {meta['foreign_before']} before, {meta['foreign_after']} after; "
        f"load average {meta['load_before']} at start, {meta['load_after']} at end.",
        "- Protocol: `bench/first_save.py` docstring. Simulator on: numba_cuda rows are "
        "simulated, never gated.",
        "",
        "| target | threshold | result | met |",
        "|---|---|---|---|",
        f"| re-runs that pass (exit 0) | 10 in 10 | {passed} in {len(pairs)} | "
        f"{'PASS' if passed == len(pairs) and len(pairs) >= 10 else 'MISSED'} |",
        "",
        f"- Gated rows over all re-runs: {len(gated)}; REGRESSED {len(regressed)}; "
        f"inconclusive {len(inconclusive)}; median detectable loss "
        f"{'-' if median is None else f'{median:.0%}'}.",
    ]
    for row in regressed:
        lines.append(f"  - REGRESSED: `{row['test']}` [{row['backend']}]: {row['detail']}")
    worst = sorted(
        (r for r in gated if r["detectable"] is not None), key=lambda r: -r["detectable"]
    )[:5]
    if worst:
        lines.append(
            "- Widest bands (detectable loss): "
            + "; ".join(f"`{r['test']}` [{r['backend']}] {r['detectable']:.0%}" for r in worst)
        )
    return "\n".join(lines) + "\n"


def write_section(target: Path, text: str) -> None:
    """Replace the first-save section of ``target`` (append it when there is none)."""
    bench_run.write_marked(target, text, "first-save")


def main(argv: list[str] | None = None) -> int:
    """Run the campaign and write its section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=None, help="pairs (default 10)")
    parser.add_argument("--save-runs", type=int, default=3, help="--gpuperf-save-runs (3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: K=1")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "first_save")
    args = parser.parse_args(argv)
    k = args.k or (1 if args.quick else 10)
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    foreign_before = bench_run.foreign_share()
    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    pairs = run_pairs(k, out, args.save_runs)
    meta = {
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "command": " ".join([".venv/bin/python", "bench/first_save.py", *(argv or sys.argv[1:])]),
        "k": k,
        "save_runs": args.save_runs,
        "machine": bench_run._machine(),
        "foreign_before": share(foreign_before),
        "foreign_after": share(bench_run.foreign_share()),
        "load_before": load_before,
        "load_after": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "minutes": (time.perf_counter() - started) / 60,
    }
    (out / "data.json").write_text(json.dumps({"meta": meta, "pairs": pairs}, indent=1))
    text = section(meta, pairs)
    target = out / "RESULTS.md" if args.quick else BENCH / "RESULTS.md"
    write_section(target, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
