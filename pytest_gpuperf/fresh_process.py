"""Some of this session's tests, again, in a fresh pytest process (a child).

What a kernel's time does between processes (where the OS puts Numba's threads,
where the JIT puts the code and the allocator the arrays, how fast the CPU
reference runs that time) is invisible inside one process. Two features run a
test again in another one: ``--gpuperf-save-runs``
(:mod:`pytest_gpuperf.save_runs`) and the confirmation of a suspected regression
(:mod:`pytest_gpuperf.confirm`). A child:

- repeats the parent's command line in the parent's folder (same plugins,
  conftests, ini file and options), with a plan in the environment;
- runs only the node ids of its plan; the others are deselected;
- is judged against the baseline file the plan names;
- writes none of the parent's reports (``--gpuperf-json``, Markdown, plots, job
  summary, JUnit XML, pytest-benchmark JSON), only the JSON report its plan asks for;
- saves only when its plan says so, and starts no child of its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, final

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.options import Settings

#: Set in a child: why it runs (``save 2/3``: the second of three save runs; ``confirm``).
CHILD_ENV = "GPUPERF_CHILD"
#: Set in a child: the JSON file of its :class:`Plan`.
PLAN_ENV = "GPUPERF_CHILD_PLAN"
#: How many lines of a failed child's output the parent quotes.
TAIL_LINES = 5


@final
@dataclass(frozen=True)
class Plan:
    """What a child does: run ``nodeids`` judged against ``judge_baseline``.

    ``result`` is where it tells the parent what it saved; ``save`` whether it
    appends its run to the baseline file; ``report`` a ``--gpuperf-json`` path for
    the parent to read, or None.
    """

    nodeids: tuple[str, ...]
    judge_baseline: str
    result: str
    save: bool
    report: str | None = None

    def write(self, path: Path) -> None:
        """Store the plan where the child's environment points."""
        path.write_text(json.dumps(dataclasses.asdict(self)), encoding="utf-8")


def child_kind() -> str | None:
    """Why this process runs, when it is a child (``save 2/3``, ``confirm``); else None."""
    return os.environ.get(CHILD_ENV) or None


def child_plan() -> Plan | None:
    """The parent's plan for this child, or None outside a child (or when it can't be read)."""
    path = os.environ.get(PLAN_ENV)
    if child_kind() is None or not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return Plan(
            nodeids=tuple(data["nodeids"]),
            judge_baseline=str(data["judge_baseline"]),
            result=str(data["result"]),
            save=bool(data["save"]),
            report=data.get("report"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def quiet_child_outputs(config: pytest.Config) -> None:
    """In a child, switch off the outputs the parent writes: JUnit XML and pytest-benchmark's.

    Runs before the plugins that write them read their options (``pytest_cmdline_main``).
    """
    option = config.option
    for name, off in (
        ("xmlpath", None),
        ("benchmark_json", None),
        ("benchmark_autosave", False),
        ("benchmark_save", None),
        ("benchmark_save_data", False),
    ):
        if hasattr(option, name):
            setattr(option, name, off)


def child_settings(settings: Settings, plan: Plan) -> Settings:
    """A child's settings: none of the parent's reports; saves only for a save run."""
    return dataclasses.replace(
        settings,
        json_path=Path(plan.report) if plan.report else None,
        markdown_path=None,
        plot_dir=None,
        save=plan.save,
        save_runs=1,
    )


@final
class ChildSelection:
    """A child's plugin: run only the tests of its plan, deselect the rest."""

    def __init__(self, nodeids: Sequence[str]) -> None:
        self._wanted = set(nodeids)

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Keep the planned tests, in their order; report the others as deselected."""
        kept = [item for item in items if item.nodeid in self._wanted]
        dropped = [item for item in items if item.nodeid not in self._wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept


def tell_parent(data: dict[str, Any]) -> None:
    """In a child, write ``data`` where the parent will read it (nothing outside a child)."""
    plan = child_plan()
    if plan is not None:
        Path(plan.result).write_text(json.dumps(data), encoding="utf-8")


def read_result(path: Path) -> dict[str, Any] | None:
    """What a child wrote with :func:`tell_parent`, or None when it wrote nothing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@final
@dataclass(frozen=True)
class Finished:
    """How a child ended: pytest's exit code (-1 when it ran out of time), seconds, last lines."""

    code: int
    seconds: float
    tail: str


def run_child(
    config: pytest.Config, plan: Plan, kind: str, folder: Path, timeout: float | None = None
) -> Finished:
    """Run one child with ``plan`` in ``folder`` (its plan and output go there), and wait."""
    plan_path = folder / f"plan-{kind.replace(' ', '-').replace('/', '-of-')}.json"
    plan.write(plan_path)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env.update({CHILD_ENV: kind, PLAN_ENV: str(plan_path)})
    params = config.invocation_params
    log = plan_path.with_suffix(".log")
    start = time.perf_counter()
    with log.open("wb") as out:
        try:
            code = subprocess.call(
                [sys.executable, "-m", "pytest", *params.args],
                cwd=params.dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            code = -1
    return Finished(code, time.perf_counter() - start, _tail(log))


def _tail(path: Path) -> str:
    """The last lines of a child's output, joined with `` | ``."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no output)"
    kept = [line.strip() for line in lines if line.strip()][-TAIL_LINES:]
    return " | ".join(kept) or "(no output)"
