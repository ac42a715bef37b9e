"""The ``torch``, ``jax`` and ``dask`` backends, added as a third-party plugin would add them.

This module is a pytest plugin of its own (the ``gpuperf_extra`` entry point):
it only implements ``pytest_gpuperf_register_backends``, the hook any
downstream project uses. The backends are opt-in (``default_enabled = False``):
name them, e.g. ``--gpuperf-backends=numpy,torch,dask``. Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.backends.base import Backend

_made_key = pytest.StashKey[list["Backend"]]()


# optionalhook: the hook is unknown when gpuperf itself is off (-p no:gpuperf).
# tryfirst: called first, so after pytest_gpuperf's reversal they come after the built-ins.
@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_gpuperf_register_backends(config: pytest.Config) -> Sequence[Backend]:
    """torch, jax and dask (its scheduler from ``--gpuperf-dask-address``)."""
    from pytest_gpuperf.backends.dask_backend import DaskBackend
    from pytest_gpuperf.backends.jax_backend import JaxBackend
    from pytest_gpuperf.backends.torch_backend import TorchBackend
    from pytest_gpuperf.plugin import settings_key

    settings = config.stash.get(settings_key, None)
    address = settings.dask_address if settings is not None else None
    made: list[Backend] = [TorchBackend(), JaxBackend(), DaskBackend(address=address)]
    config.stash[_made_key] = made
    return made


def pytest_unconfigure(config: pytest.Config) -> None:
    """Disconnect the dask backend from a distributed scheduler."""
    for backend in config.stash.get(_made_key, []):
        close = getattr(backend, "close", None)
        if close is not None:
            close()
