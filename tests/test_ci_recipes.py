"""The scale-out CI recipes in ``example_project/ci/``: shards that cover the suite, a merge
line the ``gpuperf`` command accepts, and a multi-GPU run under pytest-xdist."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from pytest_gpuperf.cli import build_parser

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def recipe(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLE / "ci" / name).read_text(encoding="utf-8"))
    return data


def step(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    (found,) = [s for s in job["steps"] if s.get("id") == step_id]
    return found


def merge_arguments(line: str) -> Any:
    words = shlex.split(line)
    assert words[:2] == ["gpuperf", "merge"], line
    return build_parser().parse_args(words[1:])


def test_shards_cover_every_test_file_once() -> None:
    shard = recipe("sharded.yml")["jobs"]["shard"]
    groups = shard["strategy"]["matrix"]["include"]
    files = [f for group in groups for f in group["tests"].split()]
    expected = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.glob("tests/test_*.py"))
    assert sorted(files) == expected
    command = step(shard, "gpuperf-tests")["run"]
    assert command.startswith("pytest --gpuperf --gpuperf-json=shard-${{ matrix.name }}.json")
    upload = next(s for s in shard["steps"] if s.get("name") == "Upload this shard's report")
    assert upload["with"]["path"] == "example_project/shard-${{ matrix.name }}.json"


def test_merge_job_reads_the_shards_and_fails_on_a_regression() -> None:
    merge = recipe("sharded.yml")["jobs"]["merge"]
    assert merge["needs"] == "shard"
    download = next(s for s in merge["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["pattern"] == "gpuperf-shard-*"
    args = merge_arguments(step(merge, "gpuperf-merge")["run"])
    assert args.runs == [f"{download['with']['path']}/shard-*.json"]
    assert (args.summary, args.fail, args.output) == (True, True, "merged.json")


def test_readme_merge_line_parses() -> None:
    (line,) = [line for line in README.splitlines() if line.startswith("gpuperf merge ")]
    args = merge_arguments(line)
    assert args.summary
    assert args.fail


def test_multi_gpu_recipe_runs_xdist_with_gpuperf() -> None:
    job = recipe("multi-gpu.yml")["jobs"]["test"]
    command = step(job, "gpuperf-tests")["run"].split()
    assert command[:4] == ["pytest", "-n", "auto", "--gpuperf"]
    install = next(s for s in job["steps"] if s.get("name", "").startswith("Install"))
    assert "pytest-xdist" in install["run"]
