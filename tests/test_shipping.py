"""A worker's records packed for the pytest-xdist controller, whole, and read back."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from pytest_gpuperf.measure.measurement import Measurement
from pytest_gpuperf.measure.statistics import RatioEstimate
from pytest_gpuperf.measure.timer import Samples
from pytest_gpuperf.scaleout.shipping import ShippingError, WorkerPayload, pack, unpack
from pytest_gpuperf.verdict.gate import GateResult, Verdict
from pytest_gpuperf.verdict.record import KernelRecord


class DeviceArray:
    """Stands in for a device array: it refuses to be pickled."""

    def __reduce__(self) -> object:
        raise TypeError("cannot pickle a device array")


def record(**changes: object) -> KernelRecord:
    values: dict[str, object] = {
        "nodeid": "t.py::test_x[numba-8]",
        "test_key": "t.py::test_x[8]",
        "backend": "numba",
        "kernel_name": "k",
        "reference_name": "r",
        "measurement": Measurement(
            result=DeviceArray(),
            timed=True,
            kernel=Samples(wall_ns=(1000, 1100, 1050), device_ns=None, batch=1),
            ratios=(2.0, 2.1),
            speedup=RatioEstimate(2.05, 2.0, 2.1),
            foreign_cpu=0.01,
            sibling_cpu=0.0,
        ),
        "gate": GateResult(Verdict.OK, notes=("a note",)),
        "dtypes": ("float32",),
        "shapes": ((8,),),
        "params": {"n": 8},
        "passed": True,
        **changes,
    }
    return KernelRecord(**values)  # type: ignore[arg-type]


def test_records_travel_whole_without_their_result() -> None:
    sent = record()
    data, problems = pack(WorkerPayload("gw1", [sent], notes=["n"], hints=["h"], fingerprint="fp"))
    assert problems == []
    payload = unpack(data)
    (got,) = payload.records
    assert got.measurement.result is None
    expected = dataclasses.replace(
        sent, measurement=dataclasses.replace(sent.measurement, result=None)
    )
    assert dataclasses.asdict(got) == dataclasses.asdict(expected)
    assert (payload.worker, payload.notes, payload.hints, payload.fingerprint) == (
        "gw1",
        ["n"],
        ["h"],
        "fp",
    )


def test_parameters_that_do_not_pickle_travel_as_text() -> None:
    data, problems = pack(WorkerPayload("gw0", [record(params={"n": 8, "f": lambda a: a})]))
    assert problems == []
    (got,) = unpack(data).records
    assert got.params["n"] == 8
    assert got.params["f"].startswith("<function test_parameters_that_do_not_pickle")


def test_a_record_that_cannot_travel_is_named_not_dropped_silently() -> None:
    data, problems = pack(WorkerPayload("gw0", [record(device=DeviceArray())]))  # type: ignore[arg-type]
    assert problems == [
        "t.py::test_x[numba-8] on numba: not sent to the pytest-xdist controller (TypeError: "
        "cannot pickle a device array); it is missing from the report and the baselines"
    ]
    payload = unpack(data)
    assert payload.records == []
    assert payload.notes == problems


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("text", "expected the bytes of a packed payload, got str"),
        (b"\x80\x05junk", "cannot unpickle the payload"),
        (
            pickle.dumps({"records": []}),
            "expected a gpuperf payload of version 1, got {'records': []}",
        ),
        (
            pickle.dumps(WorkerPayload("gw0", [], version=99)),
            "the controller and the workers must run the same pytest-gpuperf",
        ),
    ],
)
def test_unreadable_payloads_are_named(data: object, message: str) -> None:
    with pytest.raises(ShippingError) as info:
        unpack(data)
    assert message in str(info.value)
