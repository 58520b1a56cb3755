"""Seeded data for the checks: targets that a network's cost accepts."""

from __future__ import annotations

import numpy as np

from reference import Network

__all__ = ["random_targets"]


def random_targets(net: Network, d: int, rng: np.random.Generator) -> np.ndarray:
    """`d` rows of targets for `net`'s output layer, valid for its cost.

    One-hot classes for categorical cross-entropy; probabilities in [0, 1]
    for binary cross-entropy, or for a quadratic cost on an output bounded by
    1 (targets it can reach); standard normal otherwise.

    Examples
    --------
    >>> net = Network.random([2, 3], output="softmax", cost="categorical_cross_entropy")
    >>> random_targets(net, 4, np.random.default_rng(0)).sum(axis=1)
    array([1., 1., 1., 1.])
    """
    n = net.sizes[-1]
    name = net.cost_function.name
    if name == "categorical_cross_entropy":
        return np.eye(n)[rng.integers(0, n, d)]  # one-hot classes
    if name == "cross_entropy" or net.output.upper <= 1.0:
        return rng.uniform(0.0, 1.0, (d, n))  # probabilities, or targets in the output's range
    return rng.normal(size=(d, n))
