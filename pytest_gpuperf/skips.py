"""Backend skips, counted by backend and reason, for one line each in the terminal summary.

A plain module: no pytest import. ``cupy: 7 tests skipped: installed, but no CUDA
device is visible`` says once what pytest's own list says seven times. A test that
runs on none of the selected backends is counted under its own name instead.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: The attribute the plugin sets on a skipped report of a backend-parametrized test.
BACKEND_ATTR = "gpuperf_backend"

#: The ``backend`` id of a test none of whose declared backends is selected.
NOT_GENERATED_ID = "none"


def not_generated_reason(
    declared: Sequence[str], selected: Sequence[str], source: str | None
) -> str:
    """Why a test with ``gpuperf(backends=...)`` runs on no backend, and what to do.

    ``source``: ``--gpuperf-backends`` or ``gpuperf_backends``, None for the default selection.
    """
    wanted = ", ".join(declared)
    chosen = ", ".join(selected)
    if source is None:
        return (
            f"not generated: its backends ({wanted}) are not among the default backends "
            f"({chosen}); name them in --gpuperf-backends to run it"
        )
    return f"not generated: its backends ({wanted}) are not among {source} ({chosen})"


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
