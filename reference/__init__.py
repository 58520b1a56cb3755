"""The article's backpropagation (NOTATION.md) in three forms, float64: the oracle.

    from reference import Network, Gradients
    from reference import backprop            # batch matrix form (the oracle)
    from reference import backprop_examples   # one example at a time, vector form, averaged
    from reference import backprop_loops      # index-by-index loops, averaged

`reference` imports nothing from `gradcheck`.
"""

from .activations import ACTIVATIONS, Activation, get_activation, register_activation
from .costs import COSTS, Cost, get_cost
from .loops import backprop_loops
from .network import ForwardPass, Gradients, Network, ParameterLayout
from .vectorized import backprop, backprop_examples, output_delta

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "Activation",
    "Cost",
    "ForwardPass",
    "Gradients",
    "Network",
    "ParameterLayout",
    "backprop",
    "backprop_examples",
    "backprop_loops",
    "get_activation",
    "get_cost",
    "output_delta",
    "register_activation",
]
