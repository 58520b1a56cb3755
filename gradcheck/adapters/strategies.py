"""Hypothesis strategies for networks and data, for property tests of other implementations.

    from hypothesis import given
    from gradcheck.strategies import problems

    @given(problems(hidden="tanh"))
    def test_mine_matches(problem):
        net, X, Y = problem
        ...

Networks come from `reference.Network.random` with a drawn seed and weight
scale, so examples are fast to generate and reproducible from the seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from gradcheck.oracle.data import random_targets
from reference import Network
from reference.network import is_per_layer

__all__ = ["sizes", "networks", "batches", "problems"]


def sizes(
    *,
    min_layers: int = 1,
    max_layers: int = 4,
    min_width: int = 1,
    max_width: int = 8,
    n_in: int | None = None,
    n_out: int | None = None,
) -> st.SearchStrategy[list[int]]:
    """Layer sizes ``[n_in, n_0, ..., n_H]`` with 1 .. `max_layers` non-input layers."""
    width = st.integers(min_width, max_width)
    return st.builds(
        lambda first, hidden, last: [first, *hidden, last],
        st.just(n_in) if n_in else width,
        st.lists(width, min_size=min_layers - 1, max_size=max_layers - 1),
        st.just(n_out) if n_out else width,
    )


@st.composite
def networks(
    draw: Any,
    *,
    layer_sizes: st.SearchStrategy[list[int]] | None = None,
    hidden: Any = "sigmoid",
    output: Any = None,
    cost: Any = "quadratic",
    scales: tuple[float, ...] = (0.1, 1.0, 3.0),
    l2: float = 0.0,
) -> Network:
    """A `reference.Network` of drawn sizes, seed and weight scale.

    `hidden` may list one activation per hidden layer (``["relu", "tanh"]``):
    the drawn sizes then have that many hidden layers. `l2` is the network's
    L2 penalty `lam`; `scales` the weight scales to draw from (4 and up
    saturate sigmoid and tanh units).
    """
    if layer_sizes is None:
        H = len(hidden) if is_per_layer(hidden) else None
        layer_sizes = sizes() if H is None else sizes(min_layers=H + 1, max_layers=H + 1)
    shape = draw(layer_sizes)
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from(scales))
    return Network.random(
        shape, hidden=hidden, output=output, cost=cost, seed=seed, scale=scale, l2=l2
    )


@st.composite
def batches(
    draw: Any, net: Network, *, min_d: int = 1, max_d: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """A batch `(X, Y)` for `net`, with targets valid for its cost."""
    d = draw(st.integers(min_d, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(size=(d, net.sizes[0]))
    return X, random_targets(net, d, rng)


@st.composite
def problems(draw: Any, **network_options: Any) -> tuple[Network, np.ndarray, np.ndarray]:
    """``(net, X, Y)``: a network (options as in `networks`) and a batch for it."""
    net = draw(networks(**network_options))
    X, Y = draw(batches(net))
    return net, X, Y
