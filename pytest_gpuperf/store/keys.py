"""Baseline keys: a test's node id without the one id part pytest made for ``backend``.

A plain module: no pytest import. The key must be unambiguous, so it is not found
by splitting the id at ``-`` (an id may hold dashes, brackets or a backend's name)
but by position: pytest joins one id part per ``parametrize`` call with ``-``, in
call order, and the plugin records how many parts came before its own call.

For ordinary ids the key is what it always was: ``test_x.py::test_add[1024]`` for
``test_x.py::test_add[numba-1024]``, and ``test_x.py::test_add`` for
``test_x.py::test_add[numba]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def baseline_key(nodeid: str, id_parts: Sequence[str], position: int | None, backend: str) -> str:
    """The key of ``nodeid``: its id without the part at ``position``, which is ``backend``.

    ``id_parts`` are the parameter id parts pytest joined into the node id's
    ``[...]`` suffix. When the position is unknown or does not hold ``backend``
    (another plugin parametrized in between), the only part equal to ``backend``
    is dropped; with several such parts the node id stays whole, which is still
    unambiguous.
    """
    suffix = "[" + "-".join(id_parts) + "]"
    if not id_parts or not nodeid.endswith(suffix):
        return nodeid
    head = nodeid[: -len(suffix)]
    parts = list(id_parts)
    if position is not None and position < len(parts) and parts[position] == backend:
        del parts[position]
    elif parts.count(backend) == 1:
        parts.remove(backend)
    else:
        return nodeid
    return f"{head}[{'-'.join(parts)}]" if parts else head
