"""gradcheck.strategies: drawn networks honour per-layer activations, l2 and weight scales."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from gradcheck.strategies import networks, problems
from reference import backprop, backprop_loops


@settings(max_examples=15)
@given(networks(hidden=["relu", "tanh"], output="identity", cost="mse", l2=0.1))
def test_per_layer_hidden_fixes_the_depth(net):
    assert net.H == 2 and [a.name for a in net.activations] == ["relu", "tanh", "identity"]
    assert net.l2 == 0.1 and net.cost_function.name == "mse"


@settings(max_examples=10)
@given(problems(hidden=["leaky_relu:0.2", "sigmoid"], output="sigmoid", l2=0.5, scales=(4.0,)))
def test_drawn_penalised_problems_agree_across_forms(problem):
    net, X, Y = problem
    g = backprop(net, X, Y).flat()
    np.testing.assert_allclose(backprop_loops(net, X, Y).flat(), g, rtol=1e-10, atol=1e-13)
