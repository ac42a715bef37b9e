"""``gpuperf doctor``'s tiny numba-cuda kernel. Imports numba: load it only to launch it.

The kernel refers to ``cuda`` as a module global, as the CUDA simulator requires
(it swaps that global for its own module while it runs a kernel).
"""

from __future__ import annotations

import importlib
from typing import Any

#: ``numba.cuda``, untyped: its partial annotations only get in mypy's way here.
cuda: Any = importlib.import_module("numba.cuda")


@cuda.jit  # type: ignore[untyped-decorator]
def add_one(values: Any) -> None:
    """Add 1 to every value, one thread each."""
    i = cuda.grid(1)
    if i < values.size:
        values[i] += 1
