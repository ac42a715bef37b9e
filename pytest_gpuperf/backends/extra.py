"""The ``torch``, ``jax`` and ``dask`` backends, added as a third-party plugin would add them.

This module is a pytest plugin of its own (the ``gpuperf_extra`` entry point):
it implements ``pytest_gpuperf_register_backends``, the hook any downstream
project uses, and owns the dask backend's option, ``--gpuperf-dask-address``.
The backends are opt-in (``default_enabled = False``): name them, e.g.
``--gpuperf-backends=numpy,torch,dask``. Nothing heavy is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import pytest

from pytest_gpuperf.options import option_group, parse_scheduler_address

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.backends.base import Backend
    from pytest_gpuperf.backends.dask_backend import DaskBackend  # noqa: F401

DASK_ADDRESS_HELP = (
    "run the dask backend on the distributed scheduler at this address, as tcp://host:port "
    "or tls://host:port (default: dask's threaded scheduler in this process)"
)
#: The plugin whose option group, hook and backend list this one extends.
GPUPERF = "gpuperf"


@final
@dataclass(frozen=True)
class ExtraSettings:
    """The options of the bundled backends, parsed and validated once per session."""

    #: The ``distributed`` scheduler of the dask backend; ``None``: dask's threaded scheduler.
    dask_address: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> ExtraSettings:
        """Read ``--gpuperf-dask-address``, else ``gpuperf_dask_address``; bad is a UsageError."""
        cli = config.getoption("gpuperf_dask_address")
        if cli is not None:
            return cls(parse_scheduler_address(cli, "--gpuperf-dask-address", "from command line"))
        ini = config.getini("gpuperf_dask_address")
        if ini:
            return cls(
                parse_scheduler_address(str(ini), "gpuperf_dask_address", "from config file")
            )
        return cls()


settings_key = pytest.StashKey[ExtraSettings]()
_dask_key = pytest.StashKey["DaskBackend"]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Add ``--gpuperf-dask-address`` and ``gpuperf_dask_address`` to the gpuperf group."""
    if pluginmanager.is_blocked(GPUPERF):  # -p no:gpuperf: no gpuperf option at all
        return
    group = option_group(parser)
    group.addoption(
        "--gpuperf-dask-address", metavar="ADDRESS", default=None, help=DASK_ADDRESS_HELP
    )
    parser.addini("gpuperf_dask_address", DASK_ADDRESS_HELP, default=None)


# tryfirst: a bad address stops the run before gpuperf starts a measuring session.
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Parse the dask address once (command line, then ini file)."""
    if not config.pluginmanager.is_blocked(GPUPERF):
        config.stash[settings_key] = ExtraSettings.from_config(config)


# optionalhook: the hook is unknown when gpuperf itself is off (-p no:gpuperf).
# tryfirst: called first, so after pytest_gpuperf's reversal they come after the built-ins.
@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_gpuperf_register_backends(config: pytest.Config) -> Sequence[Backend]:
    """torch, jax and dask (its scheduler from ``--gpuperf-dask-address``)."""
    from pytest_gpuperf.backends.dask_backend import DaskBackend
    from pytest_gpuperf.backends.jax_backend import JaxBackend
    from pytest_gpuperf.backends.torch_backend import TorchBackend

    settings = config.stash.get(settings_key, ExtraSettings())
    dask = DaskBackend(address=settings.dask_address)
    config.stash[_dask_key] = dask
    return [TorchBackend(), JaxBackend(), dask]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Disconnect the dask backend from a distributed scheduler."""
    dask = config.stash.get(_dask_key, None)
    if dask is not None:
        dask.close()
