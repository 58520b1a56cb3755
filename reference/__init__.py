"""The article's backpropagation (NOTATION.md) in three forms, float64: the oracle.

    from reference import Network, Gradients
    from reference import backprop            # batch matrix form (the oracle)
    from reference import backprop_examples   # one example at a time, vector form, averaged
    from reference import backprop_loops      # index-by-index loops, averaged

Also public, for tools built on the reference (such as `gradcheck`):
`forward_pass` (every `Z^L` and `A^L` of a batch, no validation), `example_costs`
(`J_i` per example), `FUSED_FORMS` (the stable forms of output activation + cost
pairs), `real_array`, `checked_problem`, `checked_l2` and `refuse_masked` (the input
checks of `reference`).

`reference` imports nothing from `gradcheck`.
"""

from ._validate import checked_l2, real_array, refuse_masked
from .activations import ACTIVATIONS, Activation, get_activation, register_activation
from .costs import COSTS, FUSED_FORMS, Cost, Fused, get_cost
from .layout import LayerBlock, ParameterLayout
from .loops import backprop_loops
from .network import (
    ForwardPass,
    Gradients,
    Network,
    checked_problem,
    example_costs,
    forward_pass,
)
from .vectorized import backprop, backprop_examples, output_delta

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "FUSED_FORMS",
    "Activation",
    "Cost",
    "ForwardPass",
    "Fused",
    "Gradients",
    "LayerBlock",
    "Network",
    "ParameterLayout",
    "backprop",
    "backprop_examples",
    "backprop_loops",
    "checked_l2",
    "checked_problem",
    "example_costs",
    "forward_pass",
    "get_activation",
    "get_cost",
    "output_delta",
    "real_array",
    "refuse_masked",
    "register_activation",
]
