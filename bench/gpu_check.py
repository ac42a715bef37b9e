"""The device check: the plugin on a real GPU, its faults, its own tests, a planted slowdown.

Run by ``bench/gpu_check.sh`` (which installs first), from the repository root.
In order, each with a time limit, inside one budget (``--budget``, 470 s):

1. ``gpuperf doctor``;
2. our isolated GPU time against ``cupyx.profiler.benchmark`` on 3 kernels;
3. the example project under ``-n 2 --gpuperf --gpuperf-devices=0``;
4. faults: the doctor on a broken GPU library; an illegal address, then a good kernel;
5. the planted-slowdown campaign (at most 150 s);
6. the project's own tests, ``pytest -n 8``, in the time that is left;
7. fault: an allocation of twice the device's memory (last: it may exhaust the host).

``--steps`` picks some of them (``--steps=campaign``). A step that needs a GPU is
skipped, and said to be, when there is none (the doctor decides);
``--no-gpu`` runs the CPU-only form that the tests use (the example on the
simulator, the campaign as a tiny CPU stand-in). It writes ``GPU_RESULTS.md``
into ``$OUT`` when that is set, else into ``bench/``, and exits 1 when a step failed.
The raw material goes beside it in ``$OUT``, else into ``bench/out/gpu-check/``: the
example's JSON report, the campaign's runs (``campaign-reports.tar.gz``) and every
step's whole output (``step-logs.tar.gz``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the gpucheck package, beside this

from gpucheck import campaign, faults, project_steps, results, timing
from gpucheck.steps import ROOT, Budget, Context, Step

#: The steps after the doctor, in order: the name ``--steps`` knows it by, the step, and
#: the least time it needs. A step's limit keeps back the least time of every later one.
PLAN = (
    ("compare", timing.compare_step, 20),
    ("example", project_steps.example_step, 20),
    ("broken-library", faults.broken_library_step, 20),
    ("sticky-error", faults.sticky_error_step, 20),
    ("campaign", campaign.campaign_step, 45),
    ("suite", project_steps.suite_step, 60),
    ("oversized", faults.oversized_step, 20),
)
STEP_NAMES = ("doctor", *(key for key, _, _ in PLAN))


def run_steps(ctx: Context, budget: Budget, chosen: set[str]) -> list[Step]:
    """The chosen steps of :data:`PLAN`, each keeping back the time the later ones need."""
    plan = [(key, step, least) for key, step, least in PLAN if key in chosen]
    done = []
    for index, (_, step, _) in enumerate(plan):
        keep = sum(least for _, _, least in plan[index + 1 :]) if ctx.gpu else 0
        done.append(step(ctx, budget, keep))
        print(f"== {done[-1].name}: {done[-1].outcome}: {done[-1].summary}", flush=True)
    return done


def _steps(text: str) -> set[str]:
    """``--steps``: names from :data:`STEP_NAMES`, comma-separated."""
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(names - set(STEP_NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown step(s) {', '.join(unknown)}; choose from {','.join(STEP_NAMES)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the steps, write the results file, exit 1 when a step failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-gpu", action="store_true", help="CPU-only form (what tests run)")
    parser.add_argument("--quick", action="store_true", help="one example test file, 50 ms budget")
    parser.add_argument("--budget", type=float, default=470.0, help="seconds for all steps")
    parser.add_argument(
        "--steps",
        type=_steps,
        default=set(STEP_NAMES),
        help=f"the steps to run, comma-separated (default: all of {','.join(STEP_NAMES)})",
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    budget = Budget(args.budget)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    notes = os.environ.get("GPU_CHECK_INSTALL_NOTES")
    install = results.install_step(Path(notes) if notes else None)
    steps = [install] if install is not None else []
    report: dict[str, Any] = {}
    if "doctor" in args.steps:
        doctor, report = project_steps.doctor_step(env, budget)
        steps.append(doctor)
        print(f"== {doctor.name}: {doctor.outcome}: {doctor.summary}", flush=True)
    gpu = not args.no_gpu and project_steps.has_gpu(report, env)
    out = os.environ.get("OUT")
    keep = Path(out) if out else ROOT / "bench" / "out" / "gpu-check"
    keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        ctx = Context(env, gpu, args.quick, Path(work), keep)
        steps += run_steps(ctx, budget, args.steps)
        ctx.pack_logs()
    text = results.render(steps, gpu, time.monotonic() - start, args.budget)
    target = results.write(text, Path(out) if out else ROOT / "bench")
    print(text)
    print(f"wrote {target}")
    return 1 if any(s.outcome == "FAILED" for s in steps) else 0


if __name__ == "__main__":
    sys.exit(main())
