"""The optional backend members: their defaults, and that the README lists each one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_gpuperf import Backend, HostBackend
from pytest_gpuperf.backends.base import OptionalMembers, WithDefaults
from pytest_gpuperf.backends.cupy_backend import CupyBackend
from pytest_gpuperf.backends.dask_backend import DaskBackend
from pytest_gpuperf.backends.jax_backend import JaxBackend
from pytest_gpuperf.backends.numba_cuda import NumbaCudaBackend
from pytest_gpuperf.backends.torch_backend import TorchBackend

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
OPTIONAL = (
    "default_enabled",
    "lazy_families",
    "flush_l2",
    "pci_bus_id",
    "memory_probe",
    "free_device_bytes",
)


class Bare:
    """Satisfies :class:`Backend` structurally and defines none of the optional members."""

    name = "bare"
    is_gpu = True
    simulated = False
    device = "bare device"
    xp = None

    def available(self) -> str | None:
        return None

    def to_device(self, host: Any) -> Any:
        return host

    def to_host(self, arr: Any) -> Any:
        return arr

    def synchronize(self) -> None:
        pass

    def make_concrete(self, result: Any) -> Any:
        return result

    def device_timer(self) -> None:
        return None

    def device_info(self) -> dict[str, Any]:
        return {}


class Probe:
    source = "test probe"

    def start(self) -> None:
        pass

    def stop(self) -> int | None:
        return 7


class Full(HostBackend):
    """Defines every optional member, with a value other than its default."""

    name = "full"
    is_gpu = True
    default_enabled = False
    lazy_families = ("dask",)

    def __init__(self) -> None:
        self.flushes = 0

    def flush_l2(self) -> None:
        self.flushes += 1

    def pci_bus_id(self) -> str | None:
        return "0000:65:00.0"

    def memory_probe(self) -> Probe:
        return Probe()

    def free_device_bytes(self) -> int | None:
        return 3 * 2**30


@pytest.mark.parametrize("backend", [Bare(), HostBackend()], ids=["structural", "HostBackend"])
def test_a_backend_without_the_optional_members_gets_their_defaults(backend: Backend) -> None:
    assert isinstance(backend, Backend)
    view = WithDefaults(backend)
    assert view.default_enabled is True
    assert view.lazy_families == ()
    assert view.l2_flush is None
    assert view.pci_bus_id() is None
    assert view.memory_probe() is None
    assert view.free_device_bytes() is None


def test_the_optional_members_a_backend_defines_win() -> None:
    backend = Full()
    view = WithDefaults(backend)
    assert view.default_enabled is False
    assert view.lazy_families == ("dask",)
    assert view.pci_bus_id() == "0000:65:00.0"
    probe = view.memory_probe()
    assert probe is not None
    assert probe.stop() == 7
    assert view.free_device_bytes() == 3 * 2**30
    flush = view.l2_flush
    assert flush is not None
    flush()
    assert backend.flushes == 1


def test_non_callable_probe_and_bus_id_read_as_absent() -> None:
    backend = Bare()
    backend.pci_bus_id = "0000:65:00.0"  # type: ignore[attr-defined]
    backend.memory_probe = Probe()  # type: ignore[attr-defined]
    backend.free_device_bytes = 2**30  # type: ignore[attr-defined]
    assert WithDefaults(backend).pci_bus_id() is None
    assert WithDefaults(backend).memory_probe() is None
    assert WithDefaults(backend).free_device_bytes() is None


def test_optional_members_are_the_declared_ones() -> None:
    declared = {
        name
        for name in (*OptionalMembers.__annotations__, *vars(OptionalMembers))
        if not name.startswith("_")
    }
    assert declared == set(OPTIONAL)


@pytest.mark.parametrize("member", OPTIONAL)
def test_readme_lists_each_optional_member(member: str) -> None:
    assert re.search(rf"^\| `{member}(\(\))?` \|", README, re.MULTILINE), member


@pytest.mark.parametrize(
    ("backend", "members"),
    [
        (NumbaCudaBackend(), ("flush_l2", "pci_bus_id", "memory_probe", "free_device_bytes")),
        (CupyBackend(), ("flush_l2", "pci_bus_id", "memory_probe", "free_device_bytes")),
        (TorchBackend(), OPTIONAL),
        (JaxBackend(), ("default_enabled", "lazy_families", "free_device_bytes")),
        (DaskBackend(), ("default_enabled", "lazy_families")),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_builtin_backends_define_only_declared_members(
    backend: Backend, members: tuple[str, ...]
) -> None:
    defined = tuple(name for name in OPTIONAL if hasattr(backend, name))
    assert defined == members
