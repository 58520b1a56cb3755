"""gradcheck.diagnosis.bugs: the catalogue of known bugs, each one's gradient and where it can show."""

from __future__ import annotations

import numpy as np
import pytest
from _configs import (
    ALL_CONFIGS,
    DEEP,
    RELU_ID,
    SHALLOW,
    SIG,
    SOFTMAX_CCE,
    SOFTPLUS_CE,
    TANH_ID,
    WIDTH1,
    D,
    case,
)

from gradcheck.diagnosis.bugs import BUGS, BUGS_BY_NAME
from reference import backprop


def test_catalogue_entries_are_complete():
    assert len(BUGS) == len(BUGS_BY_NAME) >= 17
    for bug in BUGS:
        assert bug.name.isidentifier() and bug.description and bug.fix
        assert repr(bug) == f"Bug({bug.name!r})"


@pytest.mark.parametrize(
    "name, config, sizes, d",
    [
        ("summed_not_averaged", SIG, DEEP, 1),
        ("bias_not_averaged", SIG, DEEP, 1),
        ("last_example_only", SIG, DEEP, 1),
        ("quadratic_half_missing", SOFTPLUS_CE, DEEP, D),
        ("quadratic_delta_for_cross_entropy", SIG, DEEP, D),
        ("hidden_h_prime_missing", SIG, SHALLOW, D),
        ("hidden_h_prime_missing", ("identity", "sigmoid", "quadratic"), DEEP, D),
        ("hidden_h_prime_of_a", RELU_ID, DEEP, D),
        ("hidden_h_prime_formula_of_z", RELU_ID, DEEP, D),
        ("output_h_prime_missing", TANH_ID, DEEP, D),
        ("output_h_for_h_prime", SOFTMAX_CCE, DEEP, D),
        ("softmax_elementwise", SIG, DEEP, D),
        ("recursion_untransposed", SIG, DEEP, D),
        ("recursion_untransposed", SIG, WIDTH1, D),
        ("recursion_wrong_layer", SIG, DEEP, D),
        ("layers_reversed", SIG, SHALLOW, D),
    ],
)
def test_applies_says_where_a_bug_cannot_show(name, config, sizes, d):
    net, _, _ = case(config, sizes, 0, d=d)
    assert not BUGS_BY_NAME[name].applies(net, d)


def test_where_a_bug_applies_its_gradient_differs_on_a_generic_net():
    for config in ALL_CONFIGS:
        net, X, Y = case(config, (4, 4, 4, 4), 0, d=20)
        R = backprop(net, X, Y).flat()
        for bug in BUGS:
            if bug.applies(net, D):
                with np.errstate(all="ignore"):
                    B = bug.gradient(net, X, Y).flat()
                assert np.linalg.norm(B - R) > 1e-6 * np.linalg.norm(R), (config, bug.name)
                if bug.applies(net, 1):
                    assert bug.gradient(net, X[:1], Y[:1]).flat().shape == R.shape
