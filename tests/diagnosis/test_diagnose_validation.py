"""gradcheck.diagnosis.diagnose: bad input is refused with a message naming the argument; every message pinned."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _configs import (
    DEEP,
    SIG,
    case,
)
from _helpers import TANH_NET, TANH_X, TANH_Y

from gradcheck.diagnosis.diagnose import diagnose
from reference import (
    Gradients,
    backprop,
)

NET, X0, Y0 = case(SIG, DEEP, 0)


G0 = backprop(NET, X0, Y0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"candidate": (G0.weights, G0.biases)},
            TypeError,
            "`candidate` must be a reference.Gradients, got tuple; wrap a (dJ_dW, dJ_db) pair as "
            "Gradients(list(dJ_dW), list(dJ_db))",
        ),
        (
            {"net": "net"},
            TypeError,
            "`net` must be a reference.Network, got str; build one with Network(weights, biases, ...)",
        ),
        ({"rtol": True}, TypeError, "`rtol` must be a real number, got bool"),
        ({"rtol": "1e-6"}, TypeError, "`rtol` must be a real number, got str"),
        ({"rtol": 0.0}, ValueError, "`rtol` must be a positive number below 1, got 0.0"),
        ({"rtol": 2}, ValueError, "`rtol` must be a positive number below 1, got 2"),
        ({"rtol": math.nan}, ValueError, "`rtol` must be a positive number below 1, got nan"),
        (
            {"reference": G0.flat()},
            TypeError,
            "`reference` must be a reference.Gradients or None, got ndarray",
        ),
        (
            {"reference": Gradients(G0.weights[::-1], G0.biases[::-1])},
            ValueError,
            "`reference` has block shapes [(3, 2), (2,), (4, 3), (3,), (3, 4), (4,)] but the network's "
            "are [(3, 4), (4,), (4, 3), (3,), (3, 2), (2,)]; pass reference=backprop(net, X, Y) or "
            "leave it out",
        ),
        (
            {"candidate": Gradients(np.zeros((3, 4)), G0.biases)},
            TypeError,
            "`candidate.weights` must be a list of arrays, one dJ/dW^L per layer, got ndarray",
        ),
        (
            {"candidate": Gradients(G0.weights, G0.biases[:2])},
            ValueError,
            "`candidate` must have one dJ/dW^L and one dJ/db^L per layer, got 3 weight and 2 bias arrays",
        ),
        (
            {"candidate": Gradients([], [])},
            ValueError,
            "`candidate` must have one dJ/dW^L and one dJ/db^L per layer, got 0 weight and 0 bias arrays",
        ),
        (
            {"candidate": Gradients([G0.weights[0] + 0j, *G0.weights[1:]], G0.biases)},
            TypeError,
            "`candidate.weights[0]` (dJ/dW^0) must be real, got complex dtype complex128; "
            "pass its real part",
        ),
        (
            {"candidate": Gradients(G0.weights, [G0.biases[0], ["a"] * 3, G0.biases[2]])},
            TypeError,
            "`candidate.biases[1]` (dJ/db^1) must be a numeric array, got dtype <U1",
        ),
        ({"X": X0[:, :2]}, ValueError, "`X` has 2 columns"),
    ],
)
def test_diagnose_validation_messages(kwargs, error, message):
    arguments = {"candidate": G0, "net": NET, "X": X0, "Y": Y0, **kwargs}
    candidate, net, X, Y = (arguments.pop(k) for k in ("candidate", "net", "X", "Y"))
    with pytest.raises(error) as info:
        diagnose(candidate, net, X, Y, **arguments)
    assert str(info.value).startswith(message)


REFUSED = [
    pytest.param(
        lambda: diagnose(backprop(TANH_NET, TANH_X, TANH_Y), TANH_NET, TANH_X, TANH_Y[:, :1]),
        ValueError,
        "`Y` must have shape (d, n_H) = (5, 2)",
        id="diagnose-Y-shape",
    ),
    pytest.param(
        lambda: diagnose(None, TANH_NET, TANH_X, TANH_Y),
        TypeError,
        "`candidate` must be a reference.Gradients, got NoneType",
        id="diagnose-candidate-None",
    ),
]


@pytest.mark.parametrize("call, error, message", REFUSED)
def test_bad_input_is_refused_with_a_message_naming_the_argument(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value), str(info.value)


def test_diagnose_names_a_ragged_candidate_block():
    G = backprop(TANH_NET, TANH_X, TANH_Y)
    with pytest.raises(TypeError, match=r"`candidate.weights\[0\]`"):
        diagnose(Gradients([[[1.0], [1.0, 2.0]], G.weights[1]], G.biases), TANH_NET, TANH_X, TANH_Y)


def test_diagnose_refuses_a_non_finite_reference():
    G = backprop(TANH_NET, TANH_X, TANH_Y)
    wrong = Gradients([2 * W for W in G.weights], G.biases)
    with pytest.raises(ValueError, match="`reference`"):
        diagnose(
            wrong,
            TANH_NET,
            TANH_X,
            TANH_Y,
            reference=Gradients([W * np.nan for W in G.weights], G.biases),
        )
