"""Make this checkout importable, with its pytest entry points, without building anything.

``bench/gpu_check.sh`` runs it when ``pip install --no-build-isolation -e .`` fails
offline (no setuptools, or one too old for ``pyproject.toml``). Into the running
Python's site-packages it writes what an editable install would: a ``.pth`` file
naming the checkout and the example project's ``src``, and a ``dist-info`` folder
holding the metadata and the entry points (``pytest11``: the plugin), read from
``pyproject.toml``. Needs Python 3.11+ (``tomllib``).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent.parent


def entry_points_text(project: dict[str, object]) -> str:
    """``entry_points.txt`` for a ``[project]`` table: its entry points and scripts."""
    groups: dict[str, dict[str, str]] = {}
    scripts = project.get("scripts")
    if isinstance(scripts, dict):
        groups["console_scripts"] = scripts
    entry_points = project.get("entry-points")
    if isinstance(entry_points, dict):
        groups.update(entry_points)
    lines = []
    for group, entries in groups.items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in entries.items()), ""]
    return "\n".join(lines)


def link(site: Path, root: Path = ROOT) -> list[Path]:
    """Write the ``.pth`` and the ``dist-info`` for the plugin into ``site``; return them."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name, version = project["name"], project["version"]
    pth = site / "_gpu_check_checkout.pth"
    pth.write_text(f"{root}\n{root / 'example_project' / 'src'}\n", encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points_text(project), encoding="utf-8")
    (info / "INSTALLER").write_text("gpu_check\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return [pth, info]


if __name__ == "__main__":
    written = link(Path(sysconfig.get_paths()["purelib"]))
    print("linked this checkout:", ", ".join(str(p) for p in written))
    sys.exit(0)
