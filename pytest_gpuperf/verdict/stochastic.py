"""Checks for kernels whose results are random, such as Monte Carlo estimates.

A plain module: no pytest, and numpy is imported only inside the check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    import numpy as np


@final
@dataclass(frozen=True)
class BatchEstimate:
    """The mean of independent batch estimates and its standard error."""

    mean: float
    standard_error: float
    batches: int


def batch_estimate(values: Any, *, what: str = "result") -> BatchEstimate:
    """Mean and standard error (sample deviation over sqrt(m)) of m >= 2 finite estimates."""
    import numpy

    flat = _finite_floats(values, what)
    m = flat.size
    if m < 2:
        raise AssertionError(
            f"within_standard_errors needs at least 2 batch estimates in the {what} to measure "
            f"their spread; got {m}. Return one estimate per batch (per thread, block or "
            "chunk) instead of a single number"
        )
    mean = float(numpy.mean(flat))
    spread = float(numpy.std(flat, ddof=1))
    return BatchEstimate(mean=mean, standard_error=spread / math.sqrt(m), batches=m)


@final
@dataclass(frozen=True)
class WithinStandardErrors:
    """A ``gpuperf(compare=...)`` callable; build it with :func:`within_standard_errors`."""

    k: float
    target: float | None = None

    def __call__(self, actual: Any, expected: Any) -> None:
        """Raise AssertionError unless ``actual``'s mean is within ``k`` standard errors."""
        got = batch_estimate(actual, what="kernel's result")
        if self.target is not None:
            center, center_error = self.target, 0.0
            against = f"the target {self.target:.6g}"
        else:
            center, center_error, against = _reference_center(expected)
        error = math.hypot(got.standard_error, center_error)
        distance = abs(got.mean - center)
        if distance <= self.k * error:
            return
        if error == 0.0:
            away = "while every batch gave the same value, so the standard error is 0"
        else:
            away = f"{distance / error:.3g} standard errors (SE {error:.3g})"
        raise AssertionError(
            f"the mean of {got.batches} batch estimates is {got.mean:.6g}, {distance:.3g} "
            f"from {against}: {away}; allowed: {self.k:g} standard errors (a correct kernel "
            "lands this far out with negligible probability)"
        )


def within_standard_errors(k: float = 5.0, *, target: float | None = None) -> WithinStandardErrors:
    """Check a Monte Carlo result statistically: ``gpuperf(compare=within_standard_errors())``.

    The kernel (and the reference) return m >= 2 independent estimates, one per
    batch, thread or chunk; their mean is the estimate and their spread gives
    its standard error, so the check needs no sample count and holds at any
    size. It passes when the kernel's mean lies within ``k`` standard errors of
    ``target`` (for instance ``math.pi``) or, without a target, of the
    reference's mean (the two standard errors then add in quadrature; a
    reference that returns a single number counts as exact). With many batches a
    correct kernel fails ``k=5`` about once in 1.7 million runs; with 32 batches,
    whose spread is itself uncertain, about once in 50,000.

    Example::

        @pytest.mark.gpuperf(reference=pi_numpy, compare=within_standard_errors(5, target=math.pi))
    """
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k < math.inf:
        raise ValueError(
            f"within_standard_errors(k=...) must be a finite number > 0, e.g. 5; got {k!r}"
        )
    if target is not None and (
        isinstance(target, bool)
        or not isinstance(target, (int, float))
        or not math.isfinite(target)
    ):
        raise ValueError(
            f"within_standard_errors(target=...) must be a finite number such as math.pi, "
            f"or None to compare with the reference; got {target!r}"
        )
    return WithinStandardErrors(k=float(k), target=None if target is None else float(target))


def _reference_center(expected: Any) -> tuple[float, float, str]:
    """The reference's mean, its standard error, and how to name it in a message."""
    flat = _finite_floats(expected, "reference's result")
    if flat.size == 1:
        value = float(flat[0])
        return value, 0.0, f"the reference's value {value:.6g}"
    ref = batch_estimate(flat, what="reference's result")
    return (
        ref.mean,
        ref.standard_error,
        f"the reference's mean {ref.mean:.6g} (SE {ref.standard_error:.3g}, {ref.batches} batches)",
    )


def _finite_floats(values: Any, what: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``values`` flattened to float64; NaN or Inf fails the check."""
    import numpy

    try:
        flat = numpy.asarray(values, dtype=numpy.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"within_standard_errors: the {what} is not an array of numbers ({exc}); "
            "return the batch estimates as a 1-D array"
        ) from None
    bad = int(numpy.count_nonzero(~numpy.isfinite(flat)))
    if bad:
        raise AssertionError(
            f"within_standard_errors: {bad} of {flat.size} batch estimates in the {what} "
            "are NaN or Inf"
        )
    return flat
