"""``GPU_RESULTS.md``: the install step the shell script recorded, every step, their details."""

from __future__ import annotations

import time
from pathlib import Path

from gpucheck.steps import Step

INSTALL = "install"


def install_step(notes: Path | None) -> Step | None:
    """The install step, from the notes ``gpu_check.sh`` wrote (None when there are none).

    Lines ``outcome: ...`` and ``summary: ...`` set those; every other line is a detail.
    """
    if notes is None or not notes.is_file():
        return None
    outcome, summary, details = "ok", "", []
    for line in notes.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition(": ")
        if key == "outcome":
            outcome = value.strip()
        elif key == "summary":
            summary = value.strip()
        elif line.strip():
            details.append(line)
    return Step(INSTALL, outcome, summary or "(no summary)", details)


def render(steps: list[Step], gpu: bool, seconds: float, budget: float) -> str:
    """The results file's text."""
    mode = "on a GPU" if gpu else "WITHOUT a GPU (the steps that need one were skipped)"
    lines = [
        "# GPU check results",
        "",
        f"Written by `bench/gpu_check.sh` {mode}, in {seconds:.0f} s of a {budget:.0f} s "
        f"budget, on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.",
        "",
        "| step | outcome | seconds | summary |",
        "| --- | --- | --- | --- |",
    ]
    for s in steps:
        took = "-" if s.seconds is None else f"{s.seconds:.0f}"
        lines.append(f"| {s.name} | {s.outcome} | {took} | {s.summary.replace('|', '/')} |")
    for step in steps:
        if not step.details:
            continue
        lines += ["", f"## {step.name}", ""]
        lines += step.details if step.markdown else ["```text", *step.details, "```"]
    skipped = [s.name for s in steps if s.outcome == "skipped"]
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def write(text: str, folder: Path) -> Path:
    """Write ``GPU_RESULTS.md`` into ``folder`` whole (a temporary file, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "GPU_RESULTS.md"
    tmp = target.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target
