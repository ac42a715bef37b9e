"""Packaging metadata: py.typed shipped, the license file included, the SPDX license form."""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_gpuperf

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(pytest_gpuperf.__file__).resolve().parent.parent


def test_pyproject_ships_types_and_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"  # PEP 639: not the deprecated table form
    assert project["project"]["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert project["tool"]["setuptools"]["package-data"]["pytest_gpuperf"] == ["py.typed"]
    assert (Path(pytest_gpuperf.__file__).parent / "py.typed").is_file()
    (requirement,) = project["build-system"]["requires"]
    assert requirement == "setuptools>=77"  # the first to read license-files and SPDX strings
