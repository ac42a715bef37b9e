"""Pure parsers of option and marker values, shared by the options, the marker and the CLI.

A plain module: no pytest. Each parser raises ValueError naming the option, the bad value
and where it came from; :mod:`pytest_gpuperf.options` turns that into a pytest.UsageError.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import PurePath

from pytest_gpuperf.text import short_repr


def parse_fraction(value: str | float, name: str, source: str, *, upper: float = 1.0) -> float:
    """Parse ``10%`` or ``0.1`` into 0.1; ValueError names ``name``, the value and ``source``."""
    text = str(value).strip()
    try:
        fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        fraction = float("nan")
    if not 0.0 <= fraction <= upper:
        raise ValueError(
            f"{name} must be a fraction between 0 and {upper:g} written as 10% or 0.1; "
            f"got {short_repr(value)} ({source})"
        )
    return fraction


_SCHEDULER_ADDRESS = re.compile(
    r"^(?:tcp|tls)://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-_]*):(?P<port>\d{1,5})$"
)
_DEVICE = re.compile(r"^(?:\d+|(?:GPU|MIG)-[A-Za-z0-9/-]+)$")
_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m)?\s*$")
_UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "m": 60.0, None: 1.0}
#: Longest time budget accepted: one day.
MAX_DURATION_S = 86_400.0


def parse_duration(value: str | float, name: str, source: str) -> float:
    """Parse ``1``, ``1s``, ``500ms`` or ``2m`` into seconds (must be positive)."""
    match = _DURATION.match(str(value))
    seconds = float(match["value"]) * _UNIT_SECONDS[match["unit"]] if match else 0.0
    if not 0 < seconds <= MAX_DURATION_S or not math.isfinite(seconds):
        raise ValueError(
            f"{name} must be a positive number of seconds with optional ms, s or m suffix "
            f"(e.g. 1s or 500ms), at most {MAX_DURATION_S:g} s (one day); got "
            f"{short_repr(value)} ({source})"
        )
    return seconds


def parse_scheduler_address(value: str, name: str, source: str) -> str:
    """Check that ``value`` reads ``tcp://host:port`` or ``tls://host:port``."""
    text = value.strip()
    match = _SCHEDULER_ADDRESS.match(text)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"{name} must be a dask scheduler address written as tcp://host:port or "
            f"tls://host:port (e.g. tcp://127.0.0.1:8786); got {short_repr(value)} ({source})"
        )
    return text


def parse_backend_list(value: str, name: str, source: str) -> tuple[str, ...]:
    """Split ``numba, cupy`` into names; an empty list or a name given twice is an error."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise ValueError(
            f"{name} must list at least one backend, e.g. numpy,numba; got "
            f"{short_repr(value)} ({source})"
        )
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise ValueError(
            f"{name} names backend {twice!r} twice; list each backend once, e.g. "
            f"{','.join(dict.fromkeys(names))}; got {short_repr(value)} ({source})"
        )
    return names


def parse_device_list(value: str, name: str, source: str) -> tuple[str, ...]:
    """Split ``0,1,2`` (or ``GPU-...`` UUIDs) into device tokens; empty or repeated is an error."""
    tokens = tuple(part.strip() for part in value.split(","))
    bad = next((t for t in tokens if not _DEVICE.match(t)), None)
    if bad is not None:
        shown = repr(bad) if bad else "an empty entry"
        raise ValueError(
            f"{name} must list CUDA devices as indices or UUIDs, e.g. 0,1,2,3 or "
            f"GPU-8f6e...; got {value!r} ({source}): {shown} is not a device"
        )
    repeated = sorted({t for t in tokens if tokens.count(t) > 1})
    if repeated:
        raise ValueError(
            f"{name} lists device {repeated[0]!r} twice; got {value!r} ({source}); name each "
            "device once (workers beyond the device count share devices in turn)"
        )
    return tokens


#: The gate modes: what the verdict judges (kept here so the CLI needs no pytest).
GATE_MODES = ("auto", "speedup", "time", "both")


def parse_gate_mode(value: str, name: str, source: str) -> str:
    """Check a gate mode: ``auto``, ``speedup``, ``time`` or ``both``."""
    text = str(value).strip()
    if text not in GATE_MODES:
        raise ValueError(f"{name} must be one of {', '.join(GATE_MODES)}; got {value!r} ({source})")
    return text


def parse_history(value: str | int, name: str, source: str) -> int:
    """Parse how many accepted runs to keep per test: a whole number from 1 to 1000."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ValueError(
            f"{name} must be a whole number of runs from 1 to 1000, e.g. 10; got {value!r} "
            f"({source})"
        )
    return int(text)


def parse_save_runs(value: str | int, name: str, source: str) -> int:
    """Parse how many processes one ``--gpuperf-save`` records: a whole number from 1 to 20."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise ValueError(
            f"{name} must be a whole number of runs from 1 to 20, e.g. 3; got {value!r} ({source})"
        )
    return int(text)


#: How a suspected regression is confirmed before it fails its test.
CONFIRM_MODES = ("fresh", "same")


def parse_confirm_mode(value: str, name: str, source: str) -> str:
    """Check a confirmation mode: ``fresh`` or ``same``."""
    text = str(value).strip()
    if text not in CONFIRM_MODES:
        raise ValueError(
            f"{name} must be one of {', '.join(CONFIRM_MODES)}; got {value!r} ({source})"
        )
    return text


def parse_false_alarm(value: str | float, name: str, source: str) -> float:
    """Parse the false-alarm rate: a fraction above 0 and at most 0.5, as 1% or 0.01."""
    rate = parse_fraction(value, name, source, upper=0.5)
    if rate <= 0:
        raise ValueError(
            f"{name} must be a fraction above 0 and at most 0.5 written as 1% or 0.01; "
            f"got {value!r} ({source})"
        )
    return rate


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_BYTES = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-z]*)\s*$")


def parse_bytes(value: object, name: str, source: str) -> int:
    """Parse ``512MiB``, ``1.5 GB`` or ``1048576`` into a whole number of bytes (> 0).

    ValueError names ``name``, the value (truncated when long) and ``source``.
    """
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        match = _BYTES.match(value)
        if match and match["unit"].lower() in _BYTE_UNITS:
            number = float(match["value"]) * _BYTE_UNITS[match["unit"].lower()]
    if number is None or not math.isfinite(number) or number < 1:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(
            f"{name} must be a positive number of bytes, as a number or with a unit "
            f"(B, kB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 512MiB or 2e9; got {shown} ({source})"
        )
    return int(number)


#: The longest file or folder name that common file systems allow (ext4, XFS, APFS, NTFS).
NAME_MAX = 255


def parse_output_path(value: str, name: str, source: str) -> str:
    """Check a report's path before the run: no file or folder name in it may be too long.

    The report is written at the end of the run; a name the file system refuses is
    said now, with the option, the value (shortened) and ``source``.
    """
    for part in PurePath(value).parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise ValueError(
                f"{name} must name a file whose file and folder names are at most {NAME_MAX} "
                f"bytes long; got {short_repr(value)} ({source}), with a name of {size} "
                "bytes; give a shorter name"
            )
    return value
