"""Example kernels in four flavours each: NumPy, Numba CPU, Numba CUDA and CuPy.

One module per kernel family. NumPy versions are the references the tests
check the others against; CuPy is imported only inside the functions that use it.
"""

from __future__ import annotations

__all__ = ["damped", "elementwise", "montecarlo", "reductions", "rows", "stencils", "ufuncs"]
