"""CUDA launch configuration shared by the kernel wrappers."""

from __future__ import annotations

import math
from collections.abc import Sequence


def launch_config(
    extent: Sequence[int], threads: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Blocks and threads per block, in CUDA's (x, y, z) order, that cover ``extent``.

    Threads per block are clamped to the extent, so a tiny array (as on the
    simulator) launches no idle threads; blocks round up, so kernels must
    guard their indices.
    """
    clamped = tuple(max(1, min(t, n)) for t, n in zip(threads, extent, strict=True))
    blocks = tuple(max(1, -(-n // t)) for n, t in zip(extent, clamped, strict=True))
    return blocks, clamped


def power_of_two_at_least(n: int) -> int:
    """The smallest power of two >= ``n`` (1 for ``n <= 1``): block sizes for tree reductions."""
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))
