"""Which part of a pytest-xdist run this process plays: worker, controller, or neither."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def distributing(config: pytest.Config) -> bool:
    """True in a controller that hands tests to pytest-xdist workers."""
    return (
        not hasattr(config, "workerinput")
        and config.pluginmanager.hasplugin("xdist")
        and config.getoption("dist", "no") != "no"
        and not config.getoption("collectonly", False)
    )


def role(config: pytest.Config) -> str:
    """``worker`` in a pytest-xdist worker, ``controller`` when handing tests out, else ``solo``."""
    if hasattr(config, "workerinput"):
        return "worker"
    return "controller" if distributing(config) else "solo"
