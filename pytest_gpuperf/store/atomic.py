"""Writing our files: atomically, through symlinks, with the user's umask, no litter.

A plain module: no pytest. The baselines, the JSON report and the Markdown report
all go through :func:`write_atomic`:

- the text goes to a temporary sibling ``.<name>.<random>.tmp``, is fsynced, and
  replaces the file in one ``os.replace``, so a reader sees the old file or the new
  one, never half of one;
- a symlinked path is resolved, so the link's target is updated and the link stays;
- a new file gets the mode the user's umask allows (0644 under umask 022), an
  existing one keeps its mode;
- temporary files of our own pattern left by a killed writer (older than
  :data:`STALE_AFTER_S`) are removed on the next write into that folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from pathlib import Path

#: A temporary file of ours this old belongs to a writer that died (a write takes < 1 s).
STALE_AFTER_S = 600.0


class WriteError(Exception):
    """A file that could not be written; the message names it, the cause and the fix."""


def target_of(path: Path) -> Path:
    """The file a write to ``path`` lands in: symlinks resolved, relative paths kept."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def temp_pattern(name: str) -> re.Pattern[str]:
    """Names of our temporary files for ``name``: ``.<name>.<8 random chars>.tmp``."""
    return re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}\.tmp")


def current_umask() -> int:
    """The process umask (read by setting and restoring it; there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: Path, name: str, now: float | None = None) -> list[Path]:
    """Delete our own temporary files for ``name`` in ``folder`` older than STALE_AFTER_S."""
    pattern = temp_pattern(name)
    cutoff = (time.time() if now is None else now) - STALE_AFTER_S
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def write_atomic(path: Path, text: str, *, what: str, fix: str) -> Path:
    """Replace ``path`` (its symlink target) with ``text`` in one step; return the target.

    ``what`` names the file for the message (``the baseline file``), ``fix`` says
    where the path came from and how to change it. Raises :class:`WriteError`.
    """
    try:
        target = target_of(Path(path))
        is_dir = target.is_dir()
    except OSError as exc:  # e.g. a name too long for the file system
        raise WriteError(f"{path}: cannot write {what}: {exc.strerror or exc}; {fix}") from exc
    if is_dir:
        raise WriteError(f"{path}: cannot write {what}: it is a directory; {fix}")
    folder = target.parent
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0o666 & ~current_umask()
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder, target.name)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            where = f" (the symlink's target {target})" if target != Path(path) else ""
            raise WriteError(
                f"{path}: cannot write {what}{where}: {exc.strerror or exc}; {fix}"
            ) from exc
        raise
    return target
