"""Validation of a whole problem (network and batch) beyond shapes: its cost must be finite;
a framework front door's batch-or-trials choice.

Plumbing only, split from `validate` (its line budget); `validate` re-exports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference import Network

__all__ = ["batch_or_trials", "check_finite_cost"]


def batch_or_trials(trials: Any, X: Any, Y: Any, default: int) -> int:
    """`trials` checked with the batch: given, or 0 with `X` and `Y`, else `default`.

    For the front doors that check at a given batch, at random trials, or both
    (`torch.check_module`, `jax.check_grad_fn`).
    """
    if (X is None) != (Y is None):
        raise ValueError("give both `X` and `Y` (a batch to check at), or neither (random trials)")
    if trials is None:
        trials = 0 if X is not None else default
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 0:
        raise ValueError(f"`trials` must be a non-negative integer, got {trials!r}")
    if X is None and trials == 0:
        raise ValueError("nothing to check: give `X` and `Y`, or `trials` >= 1")
    return int(trials)


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
