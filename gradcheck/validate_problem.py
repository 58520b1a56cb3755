"""Validation of a whole problem (network and batch) beyond shapes: its cost must be finite.

Plumbing only, split from `validate` (its line budget); `validate` re-exports it.
"""

from __future__ import annotations

import numpy as np

from reference import Network

__all__ = ["check_finite_cost"]


def check_finite_cost(net: Network, X: np.ndarray, Y: np.ndarray) -> None:
    """Refuse a batch at which the cost `J` overflows: finite differences cannot check it there.

    `X` and `Y` are already checked (finite, float64, shapes matching `net`).
    """
    with np.errstate(all="ignore"):
        J = net.cost(X, Y)
    if not np.isfinite(J):
        raise ValueError(
            f"the cost J is {J} at this network and batch (float64 overflow), so finite "
            f"differences cannot check a gradient there: max |`X`| = {np.abs(X).max():.3g} "
            f"(shape {X.shape}), max |`Y`| = {np.abs(Y).max():.3g} (shape {Y.shape}); "
            "scale the data down"
        )
