"""The README's examples and commands are tested: a doc example that can't run is a bug."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _python_block(first_line: str) -> str:
    """The ```python block of the README whose first line is ``first_line``."""
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"README has no python block starting with {first_line!r}")


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)]


def test_readme_opens_with_main_job_and_test_commands() -> None:
    main_job, tests = _bash_blocks()[:2]
    assert "example_project" in main_job
    assert "pytest --gpuperf" in main_job
    assert tests.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme_command = _bash_blocks()[1].replace(" -q ", " ")
    ci_lines = [line.replace(" -q ", " ") for line in ci.splitlines()]
    assert readme_command in ci_lines


def test_ci_runs_the_readme_lowest_versions_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (lowest,) = [b for b in _bash_blocks() if "--resolution lowest-direct" in b]
    assert lowest in ci.splitlines()
    assert "-e '.[test]'" in lowest  # the test extra's floors too


@pytest.mark.parametrize("extra", [[], ["--gpuperf", "--gpuperf-max-time=0.2"]])
def test_readme_example_runs(pytester: pytest.Pytester, extra: list[str]) -> None:
    pytester.makepyfile(test_readme_example=_python_block("# test_readme_example.py"))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gpuperf-backends=numpy,numba,cupy", *extra
    )
    # test_add2 runs on numpy and numba (cupy has no device here); test_add2_into declares
    # backends=("numpy",), so its numba and cupy variants are not generated at all.
    result.assert_outcomes(passed=3, skipped=1)


def test_readme_lists_every_marker_keyword() -> None:
    from pytest_gpuperf.marker import MarkerSpec

    for keyword in MarkerSpec.__dataclass_fields__:
        assert f"| `{keyword}`" in README or f"`{keyword}`" in README, keyword
