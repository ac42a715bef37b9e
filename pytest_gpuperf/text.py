"""Text for terminals and messages: control characters escaped, long values shortened.

A plain module: no pytest, no numpy. Everything that prints a value from a file or
from user input goes through :func:`printable` or :func:`short_repr`; a message that a
library made (an exception, a warning) goes through :func:`plain_text` where it is taken in.
"""

from __future__ import annotations

import re
import reprlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Longest repr an error message embeds; the rest is elided with ``...``.
MAX_REPR = 200

_REPR = reprlib.Repr()
_REPR.maxstring = MAX_REPR
_REPR.maxother = MAX_REPR
_REPR.maxlong = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8
_REPR.maxlevel = 4


def short_repr(value: object, limit: int = MAX_REPR) -> str:
    """``repr(value)``, shortened to about ``limit`` characters for an error message."""
    text = _REPR.repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def printable(text: str) -> str:
    """``text`` with control and other non-printable characters escaped (``\\x1b``, ``\\u202e``).

    Keys read from a baseline file or a run report are data, not terminal commands.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


#: ANSI CSI sequences (``ESC [ 1 m``: bold, colours) and OSC ones (``ESC ] ... BEL``: titles,
#: links), as terminal-aware libraries such as numba put them into their messages.
_TERMINAL_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def plain_text(text: str) -> str:
    """``text`` without terminal escape sequences (``\\x1b[1m`` ... ``\\x1b[0m``).

    For messages a library made for a terminal, before they go into an error, a report
    (JSON, Markdown, JUnit) or a file.
    """
    if "\x1b" not in text:
        return text
    return _TERMINAL_ESCAPES.sub("", text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def format_bytes(count: float | None) -> str:
    """``1.5 MiB``-style text for a byte count, ``-`` when unknown."""
    if count is None:
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{int(count)} B"


def columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart; control characters in cells escaped."""
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
