"""Hooks that pytest-gpuperf adds to pytest, so other plugins can add backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_gpuperf.backends.base import Backend


@pytest.hookspec
def pytest_gpuperf_register_backends(config: pytest.Config) -> Sequence[Backend]:
    """Return the backends this plugin or conftest provides.

    Every implementation is called; the results are concatenated in hook order
    and the names must be unique. A backend must follow
    :class:`pytest_gpuperf.Backend` and import its library lazily. Example::

        # conftest.py
        import pytest
        from pytest_gpuperf import HostBackend

        class MyBackend(HostBackend):
            name = "mine"

        @pytest.hookimpl(optionalhook=True)  # still loads under -p no:gpuperf
        def pytest_gpuperf_register_backends(config):
            return [MyBackend()]

    The new name is then selectable with ``--gpuperf-backends=numpy,mine``.
    """
    raise NotImplementedError
