"""What every step of the device check shares: its record, a time-limited command, the budget.

A step is one thing the check ran (``gpuperf doctor``, a fault, the test suite...)
with its outcome (``ok``, ``FAILED``, ``skipped``), a one-line summary and the
lines worth keeping. Commands run in their own process group, so a step that
times out takes its children (pytest-xdist workers) down with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
#: What ``gpu_check.py`` runs Python with: its own interpreter.
PYTHON = sys.executable
#: An ANSI terminal escape (``\x1b[1m``...), stripped from what is kept.
_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Step:
    """One step of the check: its name, outcome (ok, FAILED, skipped) and text."""

    name: str
    outcome: str
    summary: str
    details: list[str] = field(default_factory=list)
    seconds: float | None = None
    #: The details are Markdown (a table), not text to show as it is.
    markdown: bool = False


@dataclass(frozen=True)
class Context:
    """What every step is run with: the environment, whether there is a GPU, two folders.

    ``work`` is scratch, removed at the end; ``keep`` receives the raw reports worth
    reading later (``$OUT``, else ``bench/out/gpu-check``).
    """

    env: dict[str, str]
    gpu: bool
    quick: bool
    work: Path
    keep: Path

    def save_log(self, name: str, finished: Finished) -> None:
        """Keep a command's whole output, for ``step-logs.tar.gz`` (see :func:`pack_logs`)."""
        folder = self.work / "logs"
        folder.mkdir(exist_ok=True)
        header = f"# {finished.exit_text()} after {finished.seconds:.1f} s\n"
        (folder / f"{name}.log").write_text(header + finished.output, encoding="utf-8")

    def pack_logs(self) -> Path | None:
        """The saved outputs as ``step-logs.tar.gz`` in ``keep``; None when there are none."""
        folder = self.work / "logs"
        if not folder.is_dir():
            return None
        return Path(shutil.make_archive(str(self.keep / "step-logs"), "gztar", folder))


@dataclass(frozen=True)
class Finished:
    """A command's exit status (124 when it ran out of time), output and duration."""

    status: int
    output: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        """True when the command was stopped at its time limit."""
        return self.status == 124

    def exit_text(self) -> str:
        """``exit 1``, ``killed by signal 9 (SIGKILL)`` or ``timed out after 60 s``."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.status < 0 or self.status == 137:
            number = -self.status if self.status < 0 else 9
            return f"killed by signal {number} ({signal.Signals(number).name})"
        return f"exit {self.status}"


def run(
    cmd: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    oom_first: bool = False,
) -> Finished:
    """Run ``cmd`` with a time limit; on timeout kill its whole process group (status 124).

    ``oom_first`` makes the command the kernel's first choice when the host runs out
    of memory, so a fault that exhausts it cannot take the check itself down.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=_prefer_for_oom if oom_first else None,
    )
    try:
        out, _ = proc.communicate(timeout=max(timeout, 1.0))
        status = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, _ = proc.communicate()
        status = 124
    return Finished(status, clean(out or ""), time.monotonic() - start)


def module_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``bench/`` importable, for the ``python -m gpucheck.*`` children."""
    paths = (str(ROOT / "bench"), env.get("PYTHONPATH"))
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def _prefer_for_oom() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def clean(text: str) -> str:
    """``text`` without terminal escapes."""
    return _ESCAPE.sub("", text)


def key_lines(text: str, pattern: str, *, limit: int = 20, width: int = 240) -> list[str]:
    """The lines of ``text`` that match ``pattern`` (a regex), each cut to ``width``."""
    found = re.compile(pattern)
    lines = [line.rstrip() for line in text.splitlines() if found.search(line)]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"... and {len(lines) - limit + 1} more"]
    return [line if len(line) <= width else line[: width - 3] + "..." for line in lines]


def last_line(text: str) -> str:
    """The last non-empty line of ``text``, or ``(no output)``."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


class Budget:
    """The check's time, counted down from its start; each step takes a share of what is left."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self._start = time.monotonic()

    def left(self) -> float:
        """Seconds left."""
        return self.total - (time.monotonic() - self._start)

    def limit(self, wanted: float, *, keep: float = 0.0) -> float:
        """A step's time limit: ``wanted``, or less when only that is left after ``keep``."""
        return max(0.0, min(wanted, self.left() - keep))


def out_of_time(name: str, needed: float, budget: Budget) -> Step:
    """The record of a step that was not started: too little of the budget was left."""
    return Step(
        name,
        "skipped",
        f"out of time: {budget.left():.0f} s of the {budget.total:.0f} s budget left, "
        f"the step needs at least {needed:.0f} s (raise --budget)",
    )
