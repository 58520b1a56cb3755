"""Named (hidden, output, cost) configurations, network shapes and seeded cases, shared by the
tests of the bug catalogue (test_bugs) and of the diagnosis (test_diagnose)."""

from __future__ import annotations

import numpy as np
from _data import targets

from reference import Network

D = 5  # batch size: not 2, where "summed" (d times) and "the 1/2 missing" (2 times) coincide

SIG = ("sigmoid", "sigmoid", "quadratic")
TANH_ID = ("tanh", "identity", "quadratic")
RELU_ID = ("relu", "identity", "quadratic")
TANH_TANH = ("tanh", "tanh", "quadratic")
SIG_TANH = ("sigmoid", "tanh", "quadratic")
SOFTPLUS_CE = ("softplus", "sigmoid", "cross_entropy")
SOFTMAX_CCE = ("tanh", "softmax", "categorical_cross_entropy")
SOFTMAX_QUAD = ("sigmoid", "softmax", "quadratic")
SIG_L2 = ("sigmoid", "sigmoid", "quadratic", 0.3)  # a fourth entry: the L2 penalty lam
SOFTMAX_CCE_L2 = ("tanh", "softmax", "categorical_cross_entropy", 0.05)
ALL_CONFIGS = [SIG, TANH_ID, RELU_ID, TANH_TANH, SOFTPLUS_CE, SOFTMAX_CCE, SOFTMAX_QUAD]

DEEP, SHALLOW, WIDTH1, SQUARE = (3, 4, 3, 2), (3, 2), (1, 1, 1), (3, 3, 3, 3)


def case(config, sizes, seed, d=D):
    """A seeded network and batch with targets valid for the cost."""
    hidden, output, cost, *l2 = config
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng, l2=sum(l2))
    return net, rng.normal(size=(d, sizes[0])), targets(rng, cost, d, sizes[-1])
