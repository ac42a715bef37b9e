"""What the ``gpuperf`` commands read: baseline files and run reports, failing as CliError.

Every bad file or argument becomes a CliError whose message names it and the fix;
``gpuperf`` prints it and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

from pytest_gpuperf.store import baseline as store
from pytest_gpuperf.store.saved_runs import Run, RunReportError, load_run

#: The baseline file a command reads when it is not given one.
DEFAULT_BASELINE = Path(".gpuperf/baselines.json")


class CliError(Exception):
    """A bad file or argument; the message names it and says what to do. Exit status 2."""


def load_run_file(path: str) -> Run:
    """A run report written by ``--gpuperf-json``, validated."""
    try:
        return load_run(Path(path))
    except RunReportError as exc:
        raise CliError(str(exc)) from None


def load_baselines_file(path: Path, source: str, *, must_exist: bool) -> store.Baselines:
    """A baseline file; with ``must_exist``, a missing file or a folder is an error too."""
    if must_exist and path.is_dir():
        raise CliError(
            f"{path}: is a directory, not a baseline file; pass the file, e.g. "
            f"{path / 'baselines.json'}"
        )
    if must_exist and not path.is_file():
        raise CliError(
            f"{path}: no baseline file here; record one with pytest --gpuperf --gpuperf-save, "
            "or pass the file's path"
        )
    try:
        return store.load_baselines(path, source)
    except store.BaselineError as exc:
        raise CliError(str(exc)) from None
