"""What a candidate may return: per-entry tolerances in each block's own dtype, and intervals at kinks.

Two refinements of "the reference, within rounding" (`gradcheck.tolerance.compare`):

- each block `dJ/dW^L`, `dJ/db^L` is judged in the dtype the candidate
  returned it in: a float32 `dW` beside a float64 `db` gets float32's
  tolerance for `dW` only;
- where a pre-activation sits at a kink of `h` (ReLU at 0), exactly or
  within what rounding in the candidate's dtype can move it, any slope in the
  subdifferential is defensible: the entry may lie anywhere in the interval
  `gradcheck.tolerance.subgradient` derives, and outside it fails.

`candidate_comparison` puts both together: the `Comparison` of the
candidate with the nearest allowed value of every entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gradcheck.tolerance.compare import Comparison, compare, rounding_tolerance, unit_roundoff
from gradcheck.tolerance.policy import SAFETY
from gradcheck.tolerance.saturation import smallest_normal
from gradcheck.tolerance.subgradient import subgradient_bounds
from reference import Network, forward_pass

__all__ = ["Allowed", "allowed_values", "candidate_comparison", "kink_units"]


@dataclass(frozen=True)
class Allowed:
    """Per entry (flat order): the interval of allowed values and the rounding tolerance around it."""

    lower: np.ndarray
    upper: np.ndarray
    tolerance: np.ndarray

    @property
    def kinked(self) -> int:
        """How many entries may take more than one value (they depend on h' at a kink)."""
        return int(np.count_nonzero(self.upper > self.lower))


def kink_units(net: Network, X: np.ndarray, dtype: np.dtype) -> list[np.ndarray | None]:
    """Per layer, the units whose `z^L` rounding in `dtype` may put on either side of a kink.

    The bound on `|fl(z) - z|` is the worst case of a dot product of `M` terms
    plus the bias, `(M + 2) u (|A^{L-1}| |W^L| + |b^L|)`, plus what the error of
    `a^{L-1}` carries forward, times `policy.SAFETY`; `z = 0` exactly
    is always a kink unit.  None for a layer without kinks (or without any such unit).
    """
    u = unit_roundoff(dtype)
    tiny = smallest_normal(u)
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    near: list[np.ndarray | None] = []
    a_prev, a_err = np.abs(X), u * np.abs(X)  # a^{-1} = x, rounded to the candidate's dtype
    for L, act in enumerate(net.activations):
        W, b = np.abs(net.weights[L]), np.abs(net.biases[L])
        z_err = (W.shape[0] + 2) * u * (a_prev @ W + b) + a_err @ W
        Z = fw.Z[L]
        # below the smallest normal number, code that flushes subnormals (FTZ) has z = 0
        mask = ((np.abs(Z) <= SAFETY * z_err) | (np.abs(Z) < tiny)) if act.kink else None
        near.append(mask if mask is not None and mask.any() else None)
        if act.elementwise and act.h_prime is not None:
            slope = np.abs(act.h_prime(Z)) + (1.0 if act.kink else 0.0)
            a_err = slope * z_err + u * np.abs(fw.A[L])
        else:  # softmax: |da| <= 2 max|dz| per row
            a_err = 2 * z_err.max(axis=1, keepdims=True) + u * np.abs(fw.A[L])
        a_prev = np.abs(fw.A[L])
    return near


def allowed_values(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    reference: np.ndarray,
    block_dtypes: Sequence[np.dtype],
    reference_tolerance: np.ndarray | None = None,
) -> Allowed:
    """The values the candidate may return, entry by entry, given the dtype of each of its blocks.

    `block_dtypes` holds one dtype per block in the flat order (`W^0`, `b^0`,
    `W^1`, ...). The tolerance is the reference's own rounding,
    `reference_tolerance` (``rounding_tolerance(net, X, Y, np.float64)``,
    computed here if not given: a caller that needs it too passes it), plus,
    for blocks in a narrower dtype, that dtype's; where a unit sits at a kink,
    both bound the rounding of every slope choice (``kinks=``).
    """
    blocks = [block for _, block, _ in net.layout.blocks]
    narrowest = max((np.dtype(t) for t in block_dtypes), key=unit_roundoff)  # largest u
    near = kink_units(net, X, narrowest)
    # Where a candidate may take the other slope at a kink, it rounds that side's gradient:
    # its tolerance bounds every choice (`rounding_scale`), never below the reference's own.
    kinks = None if all(mask is None for mask in near) else near
    if reference_tolerance is None or kinks is not None:
        own = rounding_tolerance(net, X, Y, np.float64, kinks=kinks)
        reference_tolerance = (
            own if reference_tolerance is None else np.maximum(reference_tolerance, own)
        )
    tolerance = reference_tolerance.copy()
    for dtype in {np.dtype(t) for t in block_dtypes} - {np.dtype(np.float64)}:
        extra = rounding_tolerance(net, X, Y, dtype, kinks=kinks)
        for block, block_dtype in zip(blocks, block_dtypes, strict=True):
            if np.dtype(block_dtype) == dtype:
                tolerance[block] += extra[block]
    if kinks is None:
        return Allowed(reference, reference, tolerance)
    lower, upper = subgradient_bounds(net, X, Y, near)
    # the reference's own choice of slope is one of the allowed ones
    return Allowed(np.minimum(lower, reference), np.maximum(upper, reference), tolerance)


def candidate_comparison(candidate: np.ndarray, allowed: Allowed) -> Comparison:
    """The candidate against the nearest allowed value of each entry, within its tolerance."""
    nearest = np.clip(candidate, allowed.lower, allowed.upper)
    nearest = np.where(np.isfinite(nearest), nearest, allowed.lower)  # NaN candidates still fail
    return compare(candidate, nearest, allowed.tolerance)
