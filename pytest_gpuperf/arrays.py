"""The ``gpu_array`` factory: device inputs that remember their host copies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import pytest

from pytest_gpuperf.alignment import offset_for, page_offset, placed_copy
from pytest_gpuperf.backends.base import DeviceOutOfMemory

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from pytest_gpuperf.backends.base import Backend


def _dtype(dtype: object, where: str) -> np.dtype[Any]:
    """Resolve an explicit dtype or fail with the fix."""
    import numpy

    if dtype is None:
        raise TypeError(f"gpu_array.{where}: dtype is required, e.g. dtype='float32'")
    try:
        return numpy.dtype(dtype)  # type: ignore[call-overload,no-any-return]
    except TypeError:
        raise TypeError(
            f"gpu_array.{where}: {dtype!r} is not a NumPy dtype; use e.g. 'float32' or np.int64"
        ) from None


@final
class GpuArrayFactory:
    """Makes input arrays on the current backend's device and keeps their host copies."""

    def __init__(self, backend: Backend, hint: Callable[[str], None]) -> None:
        self._backend = backend
        self._hint = hint
        self._kept: dict[int, tuple[Any, np.ndarray[Any, Any]]] = {}

    def __call__(self, host: np.ndarray[Any, Any]) -> Any:
        """Copy a NumPy array (its dtype is kept) to the device."""
        import numpy

        if not isinstance(host, numpy.ndarray):
            raise TypeError(
                f"gpu_array() takes a NumPy array with an explicit dtype; got "
                f"{type(host).__name__}. Use gpu_array(np.asarray(data, dtype=np.float32))"
            )
        return self._upload(numpy.array(host, copy=True))

    def random(self, shape: int | Sequence[int], dtype: object, seed: int = 0) -> Any:
        """Seeded, reproducible random values: uniform [0, 1) for floats, 0..99 for ints."""
        import numpy

        kind = _dtype(dtype, "random")
        rng = numpy.random.default_rng(seed)
        if kind.kind in "iu":
            host = rng.integers(0, 100, size=shape).astype(kind)
        elif kind.kind == "b":
            host = rng.random(size=shape) < 0.5
        elif kind.kind == "c":
            host = (rng.random(size=shape) + 1j * rng.random(size=shape)).astype(kind)
        elif kind.kind == "f":
            host = rng.random(size=shape).astype(kind)
        else:
            raise TypeError(f"gpu_array.random: unsupported dtype {kind}; use a numeric dtype")
        return self._upload(host)

    def zeros(self, shape: int | Sequence[int], dtype: object) -> Any:
        """A zero-filled array on the device."""
        import numpy

        return self._upload(numpy.zeros(shape, dtype=_dtype(dtype, "zeros")))

    def empty_like(self, arr: Any) -> Any:
        """An output array shaped like ``arr``; its contents are unspecified (zeros today)."""
        import numpy

        host = self.host(arr) if id(arr) in self._kept else self._backend.to_host(arr)
        return self._upload(numpy.zeros_like(host))

    def host(self, device_array: Any) -> np.ndarray[Any, Any]:
        """The host copy kept for an array this factory made."""
        try:
            return self._kept[id(device_array)][1]
        except KeyError:
            raise KeyError(
                "gpu_array.host(): this array was not made by gpu_array; create inputs "
                "with gpu_array(...) so their host copies are kept"
            ) from None

    def host_args(self, args: Sequence[Any]) -> tuple[Any, ...]:
        """Fresh host copies of the arrays this factory made; other arguments as they are."""
        return tuple(
            _same_place_copy(self._kept[id(arg)][1]) if id(arg) in self._kept else arg
            for arg in args
        )

    def fresh_device_args(self, args: Sequence[Any]) -> list[Any]:
        """New device copies of the arrays this factory made (their original values)."""
        return [
            self._backend.to_device(_same_place_copy(self._kept[id(arg)][1]))
            if id(arg) in self._kept
            else arg
            for arg in args
        ]

    def _upload(self, host: np.ndarray[Any, Any]) -> Any:
        backend = self._backend
        if backend.is_gpu and host.dtype.name in ("float64", "complex128"):
            self._hint(
                f"gpu_array: {host.dtype} on {backend.name}: consumer GPUs run float64 many "
                "times slower than float32; use float32 unless the precision is needed"
            )
        host = placed_copy(host, offset_for(len(self._kept)))
        try:
            device = backend.to_device(host)
        except DeviceOutOfMemory as exc:
            raise pytest.fail.Exception(
                f"gpu_array: {exc} (array {host.shape} {host.dtype})",
                pytrace=False,
            ) from None
        self._kept[id(device)] = (device, _same_place_copy(host))
        return device


def _same_place_copy(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A copy at the same page offset, so the reference's buffers line up like the kernel's."""
    return placed_copy(arr, page_offset(arr))
