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


#: Releases that pyproject.toml once allowed and that break here, with what breaks.
KNOWN_BREAKS = [
    # Warns at configure time under pytest-xdist: an INTERNALERROR under filterwarnings = error.
    ("pytest-benchmark", "5.2.3"),
    ("pytest-benchmark", "4.0.0"),
    # Deletes a released lock file: two processes can hold the baseline lock at once.
    ("filelock", "3.29.4"),
    ("filelock", "3.21.0"),
    # Calls pyparsing names that pyparsing 3.3 deprecates: an error under filterwarnings = error.
    ("matplotlib", "3.10.6"),
    # A worker runs on past -x: the tests of a broken CUDA context count one test too many.
    ("pytest-xdist", "3.5.0"),
]


@pytest.mark.parametrize(("name", "version"), KNOWN_BREAKS)
def test_floors_leave_out_releases_known_to_break(name: str, version: str) -> None:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for group in project["optional-dependencies"].values() for r in group),
    ]
    found = [Requirement(r) for r in requirements if Requirement(r).name == name]
    assert found, f"{name} is not a dependency any more"
    for requirement in found:
        assert not requirement.specifier.contains(version), f"{requirement} allows {version}"
