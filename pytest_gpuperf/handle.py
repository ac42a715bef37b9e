"""The value of the ``backend`` fixture: one backend, with helpers for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, final

import pytest

from pytest_gpuperf.compare import assert_matches

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import ModuleType

    import numpy as np

    from pytest_gpuperf.backends.base import Backend

T = TypeVar("T")


@final
class BackendHandle:
    """The backend a test runs on: ``name``, ``xp``, ``select``, ``assert_matches``, ``size``."""

    def __init__(self, impl: Backend, known_names: Sequence[str]) -> None:
        self.impl = impl
        self._known = tuple(known_names)

    def __repr__(self) -> str:
        return f"<backend {self.name} on {self.device}>"

    @property
    def name(self) -> str:
        """The backend's name, as in the test id."""
        return self.impl.name

    @property
    def is_gpu(self) -> bool:
        """True when arrays live on an accelerator."""
        return self.impl.is_gpu

    @property
    def simulated(self) -> bool:
        """True on an emulated device, such as Numba's CUDA simulator."""
        return self.impl.simulated

    @property
    def device(self) -> str:
        """A description of the device."""
        return self.impl.device

    @property
    def xp(self) -> ModuleType:
        """The array module (numpy or cupy)."""
        return self.impl.xp

    def to_host(self, arr: Any) -> np.ndarray[Any, Any]:
        """Copy a result back to a NumPy array."""
        return self.impl.to_host(arr)

    def synchronize(self) -> None:
        """Wait for the device to finish queued work."""
        self.impl.synchronize()

    def select(self, **kernels: Callable[..., Any]) -> Callable[..., Any]:
        """Pick this backend's kernel, e.g. ``backend.select(numpy=f, numba=g)``.

        A backend without a kernel here is skipped, so a test lists only what exists.
        """
        unknown = sorted(set(kernels) - set(self._known))
        if unknown:
            raise TypeError(
                f"backend.select() got unknown backend name {unknown[0]!r}; "
                f"known backends: {', '.join(self._known)}"
            )
        if self.name not in kernels:
            pytest.skip(
                f"{self.name}: no kernel for this backend in backend.select() "
                f"(given: {', '.join(kernels) or 'none'})"
            )
        return kernels[self.name]

    def size(self, real: T, simulated: T) -> T:
        """Problem size: ``real`` on real hardware, ``simulated`` on a simulator.

        Any value works, as long as both are of one type: an element count, a shape
        tuple such as ``(1024, 1024)``, or a tuple of several sizes.
        """
        return simulated if self.simulated else real

    def assert_matches(
        self,
        actual: Any,
        expected: Any,
        *,
        rtol: float | None = None,
        atol: float | None = None,
        check_dtype: bool = True,
    ) -> None:
        """Check a result (moved to host) against the NumPy reference's."""
        import numpy

        assert_matches(
            self.impl.to_host(actual),
            expected if numpy.isscalar(expected) else numpy.asarray(expected),
            rtol=rtol,
            atol=atol,
            check_dtype=check_dtype,
            label=f"{self.name} result",
        )
