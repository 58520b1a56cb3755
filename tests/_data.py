"""Configurations and data shared by the tests: (hidden, output, cost) covering every built-in
activation and cost, targets a cost accepts, and a blockwise relative difference."""

from __future__ import annotations

import numpy as np

from gradcheck.jobs.selfcheck import default_configurations

#: (hidden, output, cost) covering every built-in activation and cost: the self-check's
#: configurations (its row for each activation of the registry, then its pairings), each cost
#: the article's quadratic where the self-check's is torch's mse (the tests' own candidates
#: speak the article's costs) and without the parameterised rows (their formulas are the
#: reference's), then the pairings only the tests run.
CONFIGS = [
    (hidden, output, "quadratic" if cost == "mse" else cost)
    for hidden, output, cost in default_configurations()
    if ":" not in hidden
] + [
    ("elu", "sigmoid", "categorical_cross_entropy"),
    ("sigmoid", "sigmoid", "categorical_cross_entropy"),
    ("tanh", "sigmoid", "cross_entropy"),
]


def problem(hidden, output, cost, sizes, d, seed=0):
    """A random network of `sizes` and a batch of `d` examples with targets valid for `cost`."""
    from reference import Network

    rng = np.random.default_rng(seed)
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
    return net, rng.normal(size=(d, sizes[0])), targets(rng, cost, d, sizes[-1])


def targets(rng: np.random.Generator, cost: str, d: int, n: int) -> np.ndarray:
    """Targets valid for `cost`: one-hot for categorical, probabilities for binary."""
    if cost == "categorical_cross_entropy":
        return np.eye(n)[rng.integers(0, n, d)]
    if cost == "cross_entropy":
        return rng.uniform(0.0, 1.0, (d, n))
    return rng.normal(size=(d, n))


def blockwise_relative(a: np.ndarray, b: np.ndarray, layout) -> float:
    """max over the blocks W^L, b^L of ||a - b|| / ||b||."""
    worst = 0.0
    for _, block, _ in layout.blocks:
        scale = np.linalg.norm(b[block])
        diff = np.linalg.norm(a[block] - b[block])
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst
