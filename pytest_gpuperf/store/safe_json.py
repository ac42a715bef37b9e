"""Reading JSON files that may be hostile: a size limit, a depth limit, clear errors.

A plain module: no pytest. The stored baselines and the run reports are read
through :func:`read_json`; its :class:`JsonFileError` says what is wrong with the
file, and the caller adds where the path came from and the fix.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: Deepest nesting accepted; gpuperf's own files nest fewer than 10 levels.
MAX_DEPTH = 64
MIB = 2**20


class JsonFileError(Exception):
    """A JSON file that can't be read or parsed; ``kind`` tells the caller which fix fits."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a valid number here")


def read_json(path: Path, max_bytes: int, *, allow_nan: bool = False) -> object:
    """Parse ``path``; JsonFileError (kind ``missing``, ``directory``, ``permission``,
    ``unreadable``, ``too large``, ``too deep`` or ``invalid``) when that fails.

    NaN and Infinity are rejected unless ``allow_nan``; the file is never changed.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise JsonFileError("no such file", "missing") from None
    except IsADirectoryError:
        raise JsonFileError("is a directory, not a file", "directory") from None
    except PermissionError as exc:
        raise JsonFileError(f"permission denied ({exc.strerror})", "permission") from None
    except OSError as exc:
        raise JsonFileError(f"cannot read the file ({exc})", "unreadable") from None
    if len(data) > max_bytes:
        raise JsonFileError(
            f"larger than the {max_bytes / MIB:g} MiB limit for this file", "too large"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonFileError(f"cannot read it as UTF-8 text ({exc})", "invalid") from None
    try:
        value = json.loads(text, parse_constant=None if allow_nan else _reject_constant)
    except RecursionError:
        raise JsonFileError(f"nested deeper than the {MAX_DEPTH}-level limit", "too deep") from None
    except ValueError as exc:
        raise JsonFileError(f"not valid JSON ({exc})", "invalid") from None
    if depth(value) > MAX_DEPTH:
        raise JsonFileError(f"nested deeper than the {MAX_DEPTH}-level limit", "too deep")
    return value


def depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level + 1)
        if level + 1 > MAX_DEPTH:  # enough to know it is too deep
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
