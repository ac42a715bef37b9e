"""Recognises kernel results that would be timed without being computed.

A plain module with no pytest import and no array-library import: it looks at
types and attributes only, so the check costs nothing when the libraries are absent.
It runs once per test, on the first call's result, never inside a sample.
"""

from __future__ import annotations

import collections.abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Which built-in backend makes each lazy family concrete, for the advice in messages.
_HANDLED_BY = {"dask": "dask", "jax": "jax"}


@final
@dataclass(frozen=True)
class LazyKind:
    """A lazy or asynchronous value: its family (``"dask"``) and its type, for messages."""

    family: str
    type_name: str

    @property
    def advice(self) -> str:
        """What to do instead of returning it."""
        if self.family == "iterator":
            return "return a list, tuple or array instead"
        owner = _HANDLED_BY.get(self.family)
        force = ".compute()" if self.family == "dask" else ".block_until_ready()"
        if owner is None:
            return "return a concrete array instead"
        return f"return a concrete array (call {force}) or run it on the {owner} backend"


def _type_name(obj: object) -> str:
    """``dask.array.Array`` rather than ``dask.array.core.Array``."""
    cls = type(obj)
    module = cls.__module__
    if module.startswith("dask.array"):
        module = "dask.array"
    return f"{module}.{cls.__qualname__}"


def kind(obj: object) -> LazyKind | None:
    """The lazy family of ``obj``, or ``None`` for a concrete value."""
    if isinstance(obj, (str, bytes)):
        return None
    if hasattr(obj, "__dask_graph__") and callable(getattr(obj, "__dask_graph__", None)):
        return LazyKind("dask", _type_name(obj))
    module = type(obj).__module__
    if (module.startswith("jax") or module.startswith("jaxlib")) and hasattr(
        obj, "block_until_ready"
    ):
        return LazyKind("jax", "jax.Array")
    if isinstance(obj, collections.abc.Iterator):
        if isinstance(obj, collections.abc.Generator):
            return LazyKind("iterator", f"generator ({getattr(obj, '__qualname__', '?')})")
        return LazyKind("iterator", f"iterator ({_type_name(obj)})")
    return None


def _parts(result: object) -> Iterable[object]:
    """The value itself, or the items of a tuple or list (one level)."""
    if isinstance(result, (tuple, list)):
        return result
    return (result,)


def lazy_result_message(
    backend: str, kernel: str, result: Any, args: tuple[Any, ...], handled: Iterable[str]
) -> str | None:
    """Why ``result`` (already through ``make_concrete``) can't be timed, or ``None``.

    ``handled`` lists the families the backend's ``make_concrete`` forces, so a
    result of those families is concrete once it returns (a blocked ``jax.Array``).
    """
    families = set(handled)
    for part in _parts(result):
        lazy = kind(part)
        if lazy is not None and lazy.family not in families:
            return (
                f"{backend}: {kernel} returned a lazy {lazy.type_name}; it would be timed "
                f"without computing, so its speedup would be fake. The {backend} backend "
                f"cannot make it concrete: {lazy.advice}"
            )
    if result is None:
        for arg in args:
            lazy = kind(arg)
            if lazy is not None and lazy.family != "iterator":
                return (
                    f"{backend}: {kernel} returned None, but its arguments are "
                    f"{lazy.type_name} values, which are lazy or immutable: a write into one "
                    "is not computed or waited for inside the timer, so the kernel would be "
                    "timed without its work. Return the result instead of writing into an "
                    "argument"
                )
    return None
