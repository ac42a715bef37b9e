"""Host buffers placed at a chosen offset within a memory page.

Two arrays whose addresses differ by a multiple of 4 KiB can make a CPU stall on
false store-to-load dependencies ("4K aliasing"). Whether that happens depends on
where the allocator put each buffer, so the same NumPy call can run 20% slower on
one set of copies than on another, and differently from run to run. The inputs of
a test therefore sit at fixed page offsets, the same on the kernel's side and on
the reference's side, so a same-run ratio compares like with like.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PAGE = 4096
#: Distinct cache-line offsets for consecutive inputs (17 cache lines apart).
STRIDE = 17 * 64


def offset_for(index: int) -> int:
    """The page offset of a test's ``index``-th input."""
    return (index * STRIDE) % PAGE


def page_offset(arr: np.ndarray[Any, Any]) -> int:
    """Where ``arr``'s data starts within its page."""
    return int(arr.ctypes.data % PAGE)


def placed_copy(arr: np.ndarray[Any, Any], offset: int) -> np.ndarray[Any, Any]:
    """A C-contiguous copy of ``arr`` whose data starts ``offset`` bytes into a page."""
    import numpy

    nbytes = max(arr.nbytes, 1)
    raw = numpy.empty(nbytes + 2 * PAGE, dtype=numpy.uint8)
    start = (offset - raw.ctypes.data) % PAGE
    placed: np.ndarray[Any, Any] = raw[start : start + arr.nbytes].view(arr.dtype)
    placed = placed.reshape(arr.shape)
    placed[...] = arr
    return placed
