"""A worker's measured records, packed for the pytest-xdist controller and unpacked there.

A plain module: no pytest. Worker and controller run the same Python and the same
code, so the records travel pickled, whole: a field added to a record, a gate
result or a measurement comes along without a change here. Only what cannot or
must not travel is dropped: the kernel's result (device arrays) and, as a last
resort, parameters that do not pickle (they travel as their ``repr``).
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from pytest_gpuperf.verdict.record import KernelRecord

#: The key of a worker's packed payload in ``config.workeroutput``.
OUTPUT_KEY = "gpuperf_records"
#: Bumped when :class:`WorkerPayload` changes shape.
PAYLOAD_VERSION = 1
#: The test-report attribute that carries a worker's payload (base64) when the worker is
#: ended on purpose before its session finishes (its CUDA context broke).
EARLY_ATTR = "gpuperf_early_handover"


class ShippingError(Exception):
    """A payload the controller cannot read; the message says what it got."""


@final
@dataclass
class WorkerPayload:
    """Everything a worker's session hands to the controller at the end of its run."""

    worker: str
    records: list[KernelRecord]
    notes: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    fingerprint: str = ""
    machine_info: dict[str, object] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    version: int = PAYLOAD_VERSION


def _pickles(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def portable(record: KernelRecord) -> KernelRecord:
    """A copy of ``record`` without the kernel's result, with every parameter picklable."""
    measurement = dataclasses.replace(record.measurement, result=None)
    params = {k: v if _pickles(v) else repr(v) for k, v in record.params.items()}
    return dataclasses.replace(record, measurement=measurement, params=params)


def pack(payload: WorkerPayload) -> tuple[bytes, list[str]]:
    """The payload as bytes for ``config.workeroutput``, and notes on records left behind."""
    kept, problems = [], []
    for record in payload.records:
        copy = portable(record)
        try:
            pickle.dumps(copy)
        except Exception as exc:
            problems.append(
                f"{record.nodeid} on {record.backend}: not sent to the pytest-xdist controller "
                f"({type(exc).__name__}: {exc}); it is missing from the report and the baselines"
            )
            continue
        kept.append(copy)
    sent = dataclasses.replace(payload, records=kept, notes=[*payload.notes, *problems])
    return pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL), problems


def unpack(data: object) -> WorkerPayload:
    """The payload a worker packed; ShippingError when it is anything else."""
    if not isinstance(data, bytes):
        raise ShippingError(f"expected the bytes of a packed payload, got {type(data).__name__}")
    try:
        payload = pickle.loads(data)
    except Exception as exc:
        raise ShippingError(f"cannot unpickle the payload ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, WorkerPayload) or payload.version != PAYLOAD_VERSION:
        raise ShippingError(
            f"expected a gpuperf payload of version {PAYLOAD_VERSION}, got {_describe(payload)}; "
            "the controller and the workers must run the same pytest-gpuperf"
        )
    return payload


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
