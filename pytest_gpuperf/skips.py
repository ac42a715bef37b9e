"""Backend skips, counted by backend and reason, for one line each in the terminal summary.

A plain module: no pytest import. ``cupy: 7 tests skipped: installed, but no CUDA
device is visible`` says once what pytest's own list says seven times.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

#: The attribute the plugin sets on a skipped report of a backend-parametrized test.
BACKEND_ATTR = "gpuperf_backend"


def skip_reason(longrepr: object) -> str | None:
    """The reason of a skip report (``longrepr`` is ``(path, line, "Skipped: reason")``)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3 and isinstance(longrepr[2], str):
        return longrepr[2].removeprefix("Skipped: ")
    return None


def skip_lines(skips: Iterable[tuple[str, str]]) -> list[str]:
    """One line per (backend, reason), most frequent first: ``cupy: 7 tests skipped: ...``."""
    counts = Counter(skips)
    lines = []
    for (backend, reason), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        text = reason.removeprefix(f"{backend}: ")
        noun = "test" if count == 1 else "tests"
        lines.append(f"{backend}: {count} {noun} skipped: {text}")
    return lines
