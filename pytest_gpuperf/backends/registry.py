"""Collects backends from the hook and remembers, once, whether each can run."""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from pytest_gpuperf.backends.base import WithDefaults

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pytest_gpuperf.backends.base import Backend


@final
class BackendRegistry:
    """The backends known to this session, in registration order."""

    def __init__(self, backends: Iterable[Backend]) -> None:
        self._backends: dict[str, Backend] = {}
        self._reasons: dict[str, str | None] = {}
        for backend in backends:
            if backend.name in self._backends:
                raise ValueError(
                    f"two backends are registered under the name {backend.name!r}; "
                    "give the one from pytest_gpuperf_register_backends another name"
                )
            self._backends[backend.name] = backend

    @property
    def names(self) -> list[str]:
        """All registered names, in registration order."""
        return list(self._backends)

    def get(self, name: str) -> Backend:
        """Return the backend called ``name``."""
        return self._backends[name]

    def select(self, wanted: Sequence[str] | None) -> list[str]:
        """Return the chosen names, or the default ones when ``wanted`` is ``None``.

        The default is every backend without ``default_enabled = False``: opt-in
        backends (torch, jax, dask) run only when named.
        """
        if wanted is None:
            return [
                name
                for name, backend in self._backends.items()
                if WithDefaults(backend).default_enabled
            ]
        return [name for name in wanted if name in self._backends]

    def unknown(self, wanted: Sequence[str]) -> list[str]:
        """Names in ``wanted`` that no backend is registered under."""
        return [name for name in wanted if name not in self._backends]

    def unavailable_reason(self, name: str) -> str | None:
        """Why ``name`` cannot run here (``None`` when it can); checked once per session."""
        if name not in self._reasons:
            try:
                self._reasons[name] = self._backends[name].available()
            except Exception as exc:  # a broken backend must skip, not crash the run
                self._reasons[name] = f"{name}: availability check raised {exc!r}"
        return self._reasons[name]
