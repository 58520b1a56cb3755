"""reference.network: fuzzed arrays and activation specs are accepted or refused, never anything else."""

from __future__ import annotations

import numpy as np
from _fuzz import FUZZ, clean, expected_array, outcome, shapes_near, values
from hypothesis import given
from hypothesis import strategies as st

from reference import (
    Network,
)


def _tanh_deriv(z):
    return 1.0 - np.tanh(z) ** 2


@FUZZ
@given(data=st.data())
def test_fuzz_network_constructor(data):
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=2, max_size=4), label="sizes")
    H = len(sizes) - 2
    tidy = data.draw(st.booleans(), label="tidy")
    if tidy:  # must be accepted (with a valid activation spec)
        weights = [data.draw(clean((M, N))) for M, N in zip(sizes, sizes[1:])]
        biases = [data.draw(clean((N,))) for N in sizes[1:]]
        container = data.draw(st.sampled_from(["list", "tuple"]))
    else:
        weights = [
            data.draw(values(data.draw(shapes_near((M, N))))) for M, N in zip(sizes, sizes[1:])
        ]
        biases = [data.draw(values(data.draw(shapes_near((N,))))) for N in sizes[1:]]
        if data.draw(st.booleans()):
            biases = biases[:-1]  # one layer short
        container = data.draw(
            st.sampled_from(["list", "list", "tuple", "generator", "ndarray", "None"])
        )
    wrap = {
        "list": list,
        "tuple": tuple,
        "generator": lambda v: (x for x in v),
        "ndarray": lambda v: np.zeros((2, 2)),
        "None": lambda v: None,
    }[container]
    spec, spec_ok = data.draw(
        st.sampled_from(
            [
                (dict(hidden="tanh"), True),
                (dict(hidden="elu", output="identity"), True),
                (dict(hidden="sigmoid", output="sigmoid", cost="cross_entropy"), True),
                (dict(hidden="relu", output="softmax", cost="categorical_cross_entropy"), True),
                (dict(hidden=(np.tanh, _tanh_deriv)), True),
                (dict(hidden="softmax"), H == 0),
                (dict(hidden="tanh", output="tanh", cost="cross_entropy"), False),
                (dict(hidden="swish"), False),
                (dict(hidden="tanh", cost="hinge"), False),
                (dict(hidden=3), False),
                (dict(hidden=None), False),
            ]
        )
    )
    Ws = [expected_array(W, 2) for W in weights]
    bs = [expected_array(b, 1) for b in biases]
    arrays_ok = (
        container in ("list", "tuple")
        and len(weights) == len(biases)
        and all(W is not None and 0 not in W.shape for W in Ws)
        and all(b is not None for b in bs)
        and all(Ws[L].shape[0] == Ws[L - 1].shape[1] for L in range(1, len(Ws)))
        and all(b.shape == (W.shape[1],) for W, b in zip(Ws, bs))
    )
    kind, result = outcome(lambda: Network(wrap(weights), wrap(biases), **spec))
    assert kind == ("ok" if arrays_ok and spec_ok else "refused"), (kind, result)
    if kind == "ok":
        assert result.sizes == (Ws[0].shape[0],) + tuple(W.shape[1] for W in Ws)
        for mine, theirs in zip(result.weights + result.biases, Ws + bs):
            assert mine.dtype == np.float64 and mine.tobytes() == theirs.tobytes()
