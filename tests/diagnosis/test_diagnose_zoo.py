"""gradcheck.diagnosis.diagnose: every bug of the zoo (tests/_student_zoo.py) is named first.

Each must be named first by `diagnose`, over several seeds and the configurations
where the bug can show, and never where it cannot show.
"""

from __future__ import annotations

import numpy as np
import pytest
from _configs import (
    DEEP,
    RELU_ID,
    SIG,
    SIG_L2,
    SOFTMAX_CCE,
    SOFTMAX_QUAD,
    WIDTH1,
    D,
    case,
)
from _student_zoo import (
    FLOAT32_RTOL,
    SEEDS,
    ZOO,
    ZOO_CASES,
    ALInsteadOfAPrev,
    BiasNotAveraged,
    DWTransposed,
    HiddenHPrimeMissing,
    HiddenHPrimeOfA,
    LastOnly,
    MeanExample,
    NoBiasInForward,
    OutputHPrimeMissing,
    OutputHPrimeOfA,
    Reversed,
    SoftmaxElementwise,
    Summed,
    Untransposed,
    UpdatedWeights,
    differs,
)

from gradcheck.diagnosis.bugs import BUGS_BY_NAME
from gradcheck.diagnosis.diagnose import diagnose
from gradcheck.diagnosis.shapes import diagnose_shapes
from reference import (
    Gradients,
)

#: Bugs that show in the shapes alone: gradcheck.diagnosis.shapes names them (tests/diagnosis/test_shapes.py).
SHAPE_ONLY = {"gradients_swapped"}


def test_the_zoo_covers_the_catalogue():
    assert {name for _, name, _ in ZOO} == set(BUGS_BY_NAME) - SHAPE_ONLY


@pytest.mark.parametrize("cls, name, config, sizes", ZOO_CASES)
def test_each_broken_backprop_is_named_first(cls, name, config, sizes):
    visible = 0
    for seed in SEEDS:
        net, X, Y = case(config, sizes, seed)
        g = cls(*config[:3])(net, X, Y)
        found = diagnose(g, net, X, Y)
        if not differs(g, net, X, Y, by=1e-5):  # e.g. tanh'(a) = tanh'(z) to 1e-8 when z ~ 0.01
            assert found == [], f"seed {seed}: a bug that does not show was reported"
            continue
        visible += 1
        assert found, f"seed {seed}: nothing recognised"
        assert found[0].bug.name == name, [str(m) for m in found]
        assert found[0].residual <= 1e-6 and found[0].scale == 1.0
    assert visible >= 2  # the test is not vacuous


@pytest.mark.parametrize(
    "cls, name, config",
    [
        (cls, name, config)
        for cls, name in [
            (Summed, "summed_not_averaged"),
            (HiddenHPrimeOfA, "hidden_h_prime_of_a"),
            (NoBiasInForward, "bias_missing_in_forward"),
            (UpdatedWeights, "updated_weights"),
        ]
        for config in (SIG, SOFTMAX_QUAD, SOFTMAX_CCE)
    ]
    + [(SoftmaxElementwise, "softmax_elementwise", c) for c in (SOFTMAX_QUAD, SOFTMAX_CCE)],
)
def test_float32_broken_backprops_are_named_at_float32_tolerance(cls, name, config):
    for seed in SEEDS:
        net, X, Y = case(config, DEEP, seed)
        g = cls(*config, dtype=np.float32)(net, X, Y)
        assert g.weights[0].dtype == np.float32
        found = diagnose(g, net, X, Y, rtol=FLOAT32_RTOL)
        assert found and found[0].bug.name == name, [str(m) for m in found]


def test_fitted_learning_rate_is_reported():
    net, X, Y = case(SIG, DEEP, 0)
    (found, *_) = diagnose(UpdatedWeights(*SIG)(net, X, Y), net, X, Y)
    assert found.constant == pytest.approx(0.05, rel=1e-9)
    assert "eta = 0.05" in str(found)
    parameters = Gradients(net.weights, net.biases)  # returned W^L, b^L themselves
    (found, *_) = diagnose(parameters, net, X, Y)
    assert (found.bug.name, found.constant) == ("updated_weights", 0.0)


@pytest.mark.parametrize(
    "cls, config, sizes, d",
    [
        (HiddenHPrimeMissing, ("identity", "sigmoid", "quadratic"), DEEP, D),  # h' = 1
        (HiddenHPrimeOfA, RELU_ID, DEEP, D),  # relu'(relu(z)) = relu'(z)
        (OutputHPrimeMissing, ("tanh", "identity", "quadratic"), DEEP, D),
        (OutputHPrimeOfA, RELU_ID, DEEP, D),
        (BiasNotAveraged, SIG, DEEP, 1),  # d = 1
        (Summed, SIG, DEEP, 1),
        (LastOnly, SIG, DEEP, 1),
        (MeanExample, SOFTMAX_CCE, DEEP, 1),
        (Untransposed, SIG, WIDTH1, D),  # 1 x 1 matrices are their own transposes
        (DWTransposed, SIG, WIDTH1, D),
        (SoftmaxElementwise, SOFTMAX_QUAD, (3, 4, 1), D),  # one softmax output: constant 1
    ],
)
def test_bugs_invisible_on_this_net_are_not_reported(cls, config, sizes, d):
    for seed in SEEDS:
        net, X, Y = case(config, sizes, seed, d=d)
        g = cls(*config)(net, X, Y)
        assert not differs(g, net, X, Y)
        assert diagnose(g, net, X, Y) == []


def test_shape_bugs_are_also_matched_by_number():
    """A transposed dJ/dW^L of a non-square layer: the shapes say it, and so do the numbers."""
    net, X, Y = case(SOFTMAX_CCE, DEEP, 0)
    g = DWTransposed(*SOFTMAX_CCE)(net, X, Y)
    assert [m.bug.name for m in diagnose(g, net, X, Y)] == ["dW_transposed"]


def shapes_of(g):
    return [np.shape(W) for W in g.weights], [np.shape(b) for b in g.biases]


def test_shapes_of_the_zoo():
    net, X, Y = case(SIG, DEEP, 0)
    for cls, start in [
        (ALInsteadOfAPrev, "dJ/dW^0 has shape (4, 4)"),
        (DWTransposed, "every dJ/dW^L is transposed"),
        (Reversed, "the dJ/dW^L are in reverse order"),
    ]:
        (first, *_) = diagnose_shapes(*shapes_of(cls(*SIG)(net, X, Y)), net)
        assert first.startswith(start)


def test_l2_bugs_apply_only_to_penalised_networks():
    plain, _, _ = case(SIG, DEEP, 0)
    penalised, _, _ = case(SIG_L2, DEEP, 0)
    for name in ("l2_missing", "l2_half_missing", "l2_on_biases"):
        assert not BUGS_BY_NAME[name].applies(plain, D)
        assert BUGS_BY_NAME[name].applies(penalised, D)
