"""gradcheck.diagnosis.diagnose and gradcheck.diagnosis.bugs: a zoo of broken backprops, each caught and named.

The zoo is written here, independently of `gradcheck.diagnosis.bugs`: one correct
backprop the way a course writes it (one example at a time, Nielsen's
`network.py`), and one subclass per bug with the bug typed into the method a
student would get wrong.  Each must be named first by `diagnose`, over several
seeds and the configurations where the bug can show; correct implementations
written other ways must get [].
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _configs import (
    ALL_CONFIGS,
    DEEP,
    RELU_ID,
    SHALLOW,
    SIG,
    SIG_L2,
    SIG_TANH,
    SOFTMAX_CCE,
    SOFTMAX_CCE_L2,
    SOFTMAX_QUAD,
    SOFTPLUS_CE,
    SQUARE,
    TANH_ID,
    TANH_TANH,
    WIDTH1,
    D,
    case,
)
from _data import blockwise_relative
from _helpers import TANH_NET, TANH_X, TANH_Y
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.diagnosis.bugs import BUGS_BY_NAME
from gradcheck.diagnosis.diagnose import SCALED, Diagnosis, diagnose
from gradcheck.diagnosis.shapes import diagnose_shapes
from reference import (
    Gradients,
    backprop,
)

SEEDS = (0, 1, 2)
FLOAT32_RTOL = 1e-4

# ------------------------------------------------------------ the student's math


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


#: name -> (h, h'), as a student writes them.
ACT = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(z.dtype)),
    "softplus": (lambda z: np.log1p(np.exp(z)), sigmoid),
    "softmax": (lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(), None),
}


FUSED_PAIRS = {("sigmoid", "cross_entropy"), ("softmax", "categorical_cross_entropy")}


class Student:
    """A correct backprop, one example at a time, the way a course writes it."""

    def __init__(self, hidden, output, cost, dtype=np.float64):
        self.hidden, self.output, self.cost, self.dtype = hidden, output, cost, dtype

    def __call__(self, net, X, Y):
        Ws = [W.astype(self.dtype) for W in net.weights]
        bs = [b.astype(self.dtype) for b in net.biases]
        X, Y = X.astype(self.dtype), Y.astype(self.dtype)
        sum_W, sum_b = [0.0] * len(Ws), [0.0] * len(bs)
        for x, y in self.examples(X, Y):
            dW, db = self.backprop(Ws, bs, x, y)
            self.accumulate(sum_W, sum_b, dW, db)
        dW, db = self.average(sum_W, sum_b, len(X))
        return self.result(Ws, bs, dW, db)

    def examples(self, X, Y):
        return zip(X, Y, strict=True)

    def accumulate(self, sum_W, sum_b, dW, db):
        for L in range(len(sum_W)):
            sum_W[L] = sum_W[L] + dW[L]
            sum_b[L] = sum_b[L] + db[L]

    def average(self, sum_W, sum_b, d):
        return [s / d for s in sum_W], [s / d for s in sum_b]

    def result(self, Ws, bs, dW, db):
        return Gradients(dW, db)

    # -- one example

    def backprop(self, Ws, bs, x, y):
        H = len(Ws) - 1
        zs, acts = self.forward(Ws, bs, x)
        delta = self.output_delta(zs[H], acts[H], y)
        dW, db = [None] * (H + 1), [None] * (H + 1)
        for L in range(H, -1, -1):
            a_prev = x if L == 0 else acts[L - 1]
            dW[L] = self.weight_gradient(a_prev, acts[L], delta)
            db[L] = delta
            if L > 0:
                delta = self.hidden_delta(Ws, L - 1, delta, zs[L - 1], acts[L - 1])
        return dW, db

    def forward(self, Ws, bs, x):
        zs, acts, a = [], [], x
        for L, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            z = self.z(W, a, b)
            a = ACT[self.output if L == len(Ws) - 1 else self.hidden][0](z)
            zs.append(z)
            acts.append(a)
        return zs, acts

    def z(self, W, a, b):
        return W.T @ a + b

    def cost_derivative(self, a, y):
        if self.cost == "quadratic":
            return a - y
        if self.cost == "cross_entropy":
            return (a - y) / (a * (1.0 - a))
        return -y / a

    def output_delta(self, z, a, y):
        if (self.output, self.cost) in FUSED_PAIRS:
            return a - y
        if self.output == "softmax":
            J = np.diag(a) - np.outer(a, a)  # J[k, n] = da_k / dz_n
            return J.T @ self.cost_derivative(a, y)
        return self.cost_derivative(a, y) * ACT[self.output][1](z)

    def hidden_delta(self, Ws, L, delta_next, z, a):
        return (Ws[L + 1] @ delta_next) * ACT[self.hidden][1](z)

    def weight_gradient(self, a_prev, a, delta):
        return np.outer(a_prev, delta)


# ------------------------------------------------------------------- the zoo


class Summed(Student):
    def average(self, sum_W, sum_b, d):
        return sum_W, sum_b


class Ascent(Student):
    def output_delta(self, z, a, y):
        return -super().output_delta(z, a, y)


class HalfMissing(Student):
    def cost_derivative(self, a, y):
        return 2 * (a - y)


class MeanOverOutputs(Student):  # torch.nn.MSELoss: the mean over outputs too, no 1/2
    def cost_derivative(self, a, y):
        return 2 * (a - y) / a.shape[-1]


class BiasNotAveraged(Student):
    def average(self, sum_W, sum_b, d):
        return [s / d for s in sum_W], sum_b


class OutputHPrimeMissing(Student):
    def output_delta(self, z, a, y):
        return self.cost_derivative(a, y)


class HiddenHPrimeMissing(Student):
    def hidden_delta(self, Ws, L, delta_next, z, a):
        return Ws[L + 1] @ delta_next


class SoftmaxElementwise(Student):
    def output_delta(self, z, a, y):
        return self.cost_derivative(a, y) * a * (1 - a)


class QuadraticDeltaForCrossEntropy(Student):
    def output_delta(self, z, a, y):
        if self.output == "softmax":
            return (np.diag(a) - np.outer(a, a)) @ (a - y)
        return (a - y) * ACT[self.output][1](z)


class HiddenHForHPrime(Student):
    def hidden_delta(self, Ws, L, delta_next, z, a):
        return (Ws[L + 1] @ delta_next) * ACT[self.hidden][0](z)


class OutputHForHPrime(Student):
    def output_delta(self, z, a, y):
        return self.cost_derivative(a, y) * ACT[self.output][0](z)


class HiddenHPrimeOfA(Student):
    def hidden_delta(self, Ws, L, delta_next, z, a):
        return (Ws[L + 1] @ delta_next) * ACT[self.hidden][1](a)


class OutputHPrimeOfA(Student):
    def output_delta(self, z, a, y):
        return self.cost_derivative(a, y) * ACT[self.output][1](a)


class HiddenFormulaOfZ(Student):  # sigmoid hidden layers: a (1 - a) written, z passed
    def hidden_delta(self, Ws, L, delta_next, z, a):
        return (Ws[L + 1] @ delta_next) * z * (1 - z)


class OutputFormulaOfZ(Student):  # tanh output: 1 - a^2 written, z passed
    def output_delta(self, z, a, y):
        return self.cost_derivative(a, y) * (1 - z**2)


class Untransposed(Student):
    def hidden_delta(self, Ws, L, delta_next, z, a):
        return (Ws[L + 1].T @ delta_next) * ACT[self.hidden][1](z)


class WrongLayerW(Student):
    def hidden_delta(self, Ws, L, delta_next, z, a):
        return (Ws[L] @ delta_next) * ACT[self.hidden][1](z)


class ALInsteadOfAPrev(Student):
    def weight_gradient(self, a_prev, a, delta):
        return np.outer(a, delta)


class DWTransposed(Student):
    def weight_gradient(self, a_prev, a, delta):
        return np.outer(delta, a_prev)


class Reversed(Student):
    def result(self, Ws, bs, dW, db):
        return Gradients(dW[::-1], db[::-1])


class LastOnly(Student):  # overwrote instead of accumulated, then forgot the 1/d too
    def accumulate(self, sum_W, sum_b, dW, db):
        for L in range(len(sum_W)):
            sum_W[L] = dW[L]
            sum_b[L] = db[L]

    def average(self, sum_W, sum_b, d):
        return sum_W, sum_b


class FirstOnly(Student):  # a return inside the loop over examples
    def __call__(self, net, X, Y):
        return Gradients(*self.backprop(net.weights, net.biases, X[0], Y[0]))


class MeanExample(Student):
    def __call__(self, net, X, Y):
        return super().__call__(net, X.mean(axis=0, keepdims=True), Y.mean(axis=0, keepdims=True))


class NoBiasInForward(Student):
    def z(self, W, a, b):
        return W.T @ a


class L2Missing(Student):  # the penalty (lam/2) ||W||^2 in the cost, but not in the gradient
    pass


class L2HalfMissing(Student):  # d/dW of lam ||W||^2 / 2 written 2 lam W
    def __call__(self, net, X, Y):
        g = super().__call__(net, X, Y)
        return Gradients([dW + 2 * net.l2 * W for dW, W in zip(g.weights, net.weights)], g.biases)


class L2OnBiases(Student):  # the biases penalised too
    def __call__(self, net, X, Y):
        g = super().__call__(net, X, Y)
        return Gradients(
            [dW + net.l2 * W for dW, W in zip(g.weights, net.weights)],
            [db + net.l2 * b for db, b in zip(g.biases, net.biases)],
        )


class L2Student(Student):  # correct, with the penalty
    def __call__(self, net, X, Y):
        g = super().__call__(net, X, Y)
        return Gradients([dW + net.l2 * W for dW, W in zip(g.weights, net.weights)], g.biases)


class UpdatedWeights(Student):
    def result(self, Ws, bs, dW, db):
        eta = 0.05
        return Gradients(
            [W - eta * g for W, g in zip(Ws, dW, strict=True)],
            [b - eta * g for b, g in zip(bs, db, strict=True)],
        )


# ----------------------------------------- which configurations and shapes show each bug

EVERY = [(c, s) for c in (SIG, RELU_ID, SOFTPLUS_CE, SOFTMAX_CCE) for s in (DEEP, SHALLOW)]
EVERY += [(SIG, WIDTH1), (SOFTMAX_QUAD, DEEP)]
PENALISED = [(c, s) for c in (SIG_L2, SOFTMAX_CCE_L2) for s in (DEEP, SHALLOW)]
HIDDEN = [(c, s) for c in (SIG, TANH_ID, RELU_ID, SOFTPLUS_CE, SOFTMAX_CCE) for s in (DEEP, WIDTH1)]
OUTPUT = [(c, s) for c in (SIG, TANH_TANH, SOFTPLUS_CE) for s in (DEEP, SHALLOW, WIDTH1)]

ZOO = [
    (Summed, "summed_not_averaged", EVERY),
    (Ascent, "sign_flipped", EVERY),
    (
        HalfMissing,
        "quadratic_half_missing",
        [(c, s) for c in (SIG, RELU_ID, SOFTMAX_QUAD) for s in (DEEP, SHALLOW, WIDTH1)],
    ),
    (
        MeanOverOutputs,
        "mean_over_outputs",
        [(c, s) for c in (SIG, RELU_ID, SOFTMAX_QUAD) for s in ((3, 4, 5), (3, 4, 3, 4))],
    ),
    (BiasNotAveraged, "bias_not_averaged", EVERY),
    (
        OutputHPrimeMissing,
        "output_h_prime_missing",
        OUTPUT + [(SOFTMAX_QUAD, DEEP), (SOFTMAX_CCE, DEEP), (SOFTMAX_CCE, SHALLOW)],
    ),
    (HiddenHPrimeMissing, "hidden_h_prime_missing", HIDDEN),
    (
        SoftmaxElementwise,
        "softmax_elementwise",
        [(c, s) for c in (SOFTMAX_QUAD, SOFTMAX_CCE) for s in (DEEP, SHALLOW)],
    ),
    (
        QuadraticDeltaForCrossEntropy,
        "quadratic_delta_for_cross_entropy",
        [(c, s) for c in (SOFTPLUS_CE, SOFTMAX_CCE) for s in (DEEP, SHALLOW)],
    ),
    (HiddenHForHPrime, "hidden_h_for_h_prime", HIDDEN),
    (OutputHForHPrime, "output_h_for_h_prime", OUTPUT + [(TANH_ID, DEEP), (RELU_ID, SHALLOW)]),
    (
        HiddenHPrimeOfA,
        "hidden_h_prime_of_a",
        [(c, s) for c in (SIG, TANH_ID, SOFTPLUS_CE, SOFTMAX_CCE) for s in (DEEP, WIDTH1)],
    ),
    (OutputHPrimeOfA, "output_h_prime_of_a", OUTPUT),
    (
        HiddenFormulaOfZ,
        "hidden_h_prime_formula_of_z",
        [(c, s) for c in (SIG, SIG_TANH, SOFTMAX_QUAD) for s in (DEEP, WIDTH1)],
    ),
    (
        OutputFormulaOfZ,
        "output_h_prime_formula_of_z",
        [(TANH_TANH, s) for s in (DEEP, SHALLOW, WIDTH1)],
    ),
    (
        Untransposed,
        "recursion_untransposed",
        [(c, s) for c in (SIG, TANH_ID, SOFTMAX_CCE) for s in (SQUARE, (2, 4, 4))]
        + [(RELU_ID, (4, 4, 4))],
    ),  # relu on (3, 3, 3, 3), seed 0: a layer dead for every example
    (
        WrongLayerW,
        "recursion_wrong_layer",
        [(c, SQUARE) for c in (SIG, TANH_ID, SOFTMAX_CCE)] + [(RELU_ID, (4, 4, 4))],
    ),
    (
        ALInsteadOfAPrev,
        "a_same_layer_in_dW",
        [(c, s) for c in (SIG, RELU_ID, SOFTMAX_CCE) for s in (SQUARE, WIDTH1, (3, 3))]
        + [(SIG, DEEP), (SOFTPLUS_CE, DEEP)],
    ),  # (N, N) shapes: matched by shape and number
    (
        DWTransposed,
        "dW_transposed",
        [(c, s) for c in (SIG, SOFTMAX_CCE) for s in (SQUARE, DEEP, SHALLOW)],
    ),
    (
        Reversed,
        "layers_reversed",
        [(c, s) for c in (SIG, TANH_ID, SOFTMAX_CCE) for s in (SQUARE, DEEP)] + [(SIG, WIDTH1)],
    ),
    (LastOnly, "last_example_only", EVERY),
    (FirstOnly, "first_example_only", EVERY),
    (MeanExample, "mean_example", EVERY),
    (NoBiasInForward, "bias_missing_in_forward", EVERY),
    (UpdatedWeights, "updated_weights", EVERY),
    (L2Missing, "l2_missing", PENALISED),
    (L2HalfMissing, "l2_half_missing", PENALISED),
    (L2OnBiases, "l2_on_biases", PENALISED),
]


def differs(g, net, X, Y, *, by=1e-4):
    """The candidate differs from the reference by more than `by` in some block, or in shape."""
    R = backprop(net, X, Y)
    if [np.shape(W) for W in g.weights] != [W.shape for W in R.weights]:
        return True
    return blockwise_relative(g.flat(), R.flat(), net.layout) > by


ZOO_CASES = [
    pytest.param(cls, name, config, sizes, id=f"{name}-{config[0]}-{config[1]}-{config[2]}-{sizes}")
    for cls, name, configs in ZOO
    for config, sizes in configs
    if not (config[1] == "softmax" and sizes[-1] == 1)  # the softmax of one output is constant
]


# ----------------------------------------------------------- every bug named


#: Bugs that show in the shapes alone: gradcheck.diagnosis.shapes names them (tests/test_shapes.py).
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


# ------------------------------------------------------ correct gets nothing


def einsum_batch(config):
    """A correct backprop in the batch form with einsum, written apart from the reference."""
    hidden, output, cost = config

    def gradient(net, X, Y):
        Ws, bs, H, d = net.weights, net.biases, net.H, len(X)
        Zs, As, A = [], [], X
        for L, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            Z = np.einsum("im,mn->in", A, W) + b
            name = output if L == H else hidden
            A = np.apply_along_axis(ACT[name][0], 1, Z) if name == "softmax" else ACT[name][0](Z)
            Zs.append(Z)
            As.append(A)
        A_H = As[H]
        if (output, cost) in FUSED_PAIRS:
            Delta = A_H - Y
        elif output == "softmax":
            G = A_H - Y
            Delta = A_H * (G - np.einsum("ik,ik->i", A_H, G)[:, None])
        else:
            Delta = Student(*config).cost_derivative(A_H, Y) * ACT[output][1](Zs[H])
        dW, db = [None] * (H + 1), [None] * (H + 1)
        for L in range(H, -1, -1):
            A_prev = X if L == 0 else As[L - 1]
            dW[L] = np.einsum("im,in->mn", A_prev, Delta) / d
            db[L] = np.einsum("in->n", Delta) / d
            if L > 0:
                Delta = np.einsum("mn,in->im", Ws[L], Delta) * ACT[hidden][1](Zs[L - 1])
        return Gradients(dW, db)

    return gradient


class ExamplesReversed(Student):
    def examples(self, X, Y):
        return zip(X[::-1], Y[::-1], strict=True)


CORRECT = [
    ("per-example", lambda config: Student(*config), 1e-6),
    ("einsum", einsum_batch, 1e-6),
    ("examples-reversed", lambda config: ExamplesReversed(*config), 1e-6),
    ("float32-upcast", lambda config: Student(*config, dtype=np.float32), FLOAT32_RTOL),
]


@pytest.mark.parametrize("label, make, rtol", CORRECT, ids=[c[0] for c in CORRECT])
@pytest.mark.parametrize("config", ALL_CONFIGS, ids="-".join)
def test_correct_implementations_get_nothing(label, make, rtol, config):
    for seed in SEEDS:
        for sizes in (DEEP, SHALLOW, WIDTH1, SQUARE):
            if config[1] == "softmax" and sizes[-1] == 1:
                continue
            net, X, Y = case(config, sizes, seed)
            g = make(config)(net, X, Y)
            if label == "float32-upcast":
                g = Gradients(
                    [W.astype(np.float64) for W in g.weights],
                    [b.astype(np.float64) for b in g.biases],
                )
            assert diagnose(g, net, X, Y, rtol=rtol) == []


def test_fused_a_minus_y_is_not_flagged_as_h_prime_missing():
    """For sigmoid + cross-entropy and softmax + categorical, delta^H = a - y is right."""
    for config in (SOFTPLUS_CE, SOFTMAX_CCE, ("sigmoid", "sigmoid", "cross_entropy")):
        for seed in SEEDS:
            net, X, Y = case(config, DEEP, seed)
            assert diagnose(Student(*config)(net, X, Y), net, X, Y) == []


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


# ----------------------------------------- scale and place without a variant


def test_a_bug_times_a_constant_is_named_with_the_constant():
    """Overwrote instead of accumulated, then divided by d: the last example's gradient / d."""

    class LastOverD(LastOnly):
        def average(self, sum_W, sum_b, d):
            return Student.average(self, sum_W, sum_b, d)

    for config in (SIG, SOFTMAX_CCE):
        net, X, Y = case(config, DEEP, 0)
        (found, *_) = diagnose(LastOverD(*config)(net, X, Y), net, X, Y)
        assert found.bug.name == "last_example_only"
        assert found.scale == pytest.approx(1 / D)
        assert "all times c (c = 1/d = 0.2; d = 5)" in str(found)


def test_two_bugs_at_once_summed_and_h_prime_missing():
    class Both(HiddenHPrimeMissing, Summed):
        pass

    net, X, Y = case(SIG, DEEP, 0)
    (found, *_) = diagnose(Both(*SIG)(net, X, Y), net, X, Y)
    assert (found.bug.name, found.layers) == ("hidden_h_prime_missing", (0, 1))
    assert found.scale == pytest.approx(D)


@pytest.mark.parametrize("c, text", [(1 / D, "1/d = 0.2"), (0.37, "0.37"), (-D, "-d = -5")])
def test_the_gradient_as_a_constant_times_the_reference(c, text):
    net, X, Y = case(SIG, DEEP, 1)
    R = backprop(net, X, Y)
    g = Gradients([c * W for W in R.weights], [c * b for b in R.biases])
    (found,) = diagnose(g, net, X, Y)
    assert found.bug is SCALED and found.scale == pytest.approx(c)
    assert str(found).startswith(f"the gradient is c times the reference (c = {text}")


@settings(deadline=None, derandomize=True, max_examples=25)
@given(
    c=st.floats(-50, 50).filter(lambda c: abs(c - 1) > 1e-3 and abs(c) > 1e-3),
    seed=st.integers(0, 5),
)
def test_any_constant_times_the_reference_is_recognised(c, seed):
    net, X, Y = case(SOFTMAX_CCE, DEEP, seed)
    R = backprop(net, X, Y)
    found = diagnose(Gradients([c * W for W in R.weights], [c * b for b in R.biases]), net, X, Y)
    assert len(found) >= 1
    hypothesis = found[0].scale * np.array(found[0].bug.gradient(net, X, Y).flat())
    np.testing.assert_allclose(hypothesis, c * R.flat(), rtol=1e-9, atol=1e-15)


def test_one_block_scaled():
    net, X, Y = case(TANH_ID, DEEP, 0)
    R = backprop(net, X, Y)
    g = Gradients([R.weights[0], 0.5 * R.weights[1], R.weights[2]], R.biases)
    (found,) = diagnose(g, net, X, Y)
    assert found.bug.name == "blocks_scaled" and found.layers == (1,)
    assert str(found).startswith("dJ/dW^1 is 1/2 times the reference; the other blocks are right")


@pytest.mark.parametrize(
    "blocks, start, layers",
    [
        ([1, 3, 5], "only bias gradients are wrong (dJ/db^0, dJ/db^1, dJ/db^2)", (0, 1, 2)),
        ([0, 4], "only weight gradients are wrong (dJ/dW^0, dJ/dW^2)", (0, 2)),
        ([2, 3], "only layer 1 is wrong (dJ/dW^1, dJ/db^1)", (1,)),
        (
            [0, 1, 2, 3],
            "dJ/dW^H and dJ/db^H are right but dJ/dW^0, dJ/db^0, dJ/dW^1, dJ/db^1 are wrong",
            (0, 1),
        ),
        ([3], "only dJ/db^1 is wrong", (1,)),
    ],
)
def test_only_some_blocks_wrong(blocks, start, layers):
    net, X, Y = case(SIG, DEEP, 0)
    flat = [*backprop(net, X, Y).weights, *backprop(net, X, Y).biases]
    C = [W.copy() for W in flat]
    order = [0, 3, 1, 4, 2, 5]  # blocks W^0, b^0, W^1, ... -> index into C
    rng = np.random.default_rng(0)
    for k in blocks:
        C[order[k]] = C[order[k]] + rng.normal(size=C[order[k]].shape)
    (found,) = diagnose(Gradients(C[:3], C[3:]), net, X, Y)
    assert found.bug.name == "wrong_blocks" and found.layers == layers
    assert str(found).startswith(start)


def test_unknown_bug_nan_and_wrong_shapes_give_nothing():
    net, X, Y = case(SIG, DEEP, 0)
    R = backprop(net, X, Y)
    rng = np.random.default_rng(0)
    noisy = Gradients(
        [W + rng.normal(size=W.shape) for W in R.weights],
        [b + rng.normal(size=b.shape) for b in R.biases],
    )
    assert diagnose(noisy, net, X, Y) == []
    nan = Gradients([W.copy() for W in R.weights], [b.copy() for b in R.biases])
    nan.weights[1][0, 0] = np.nan
    assert diagnose(nan, net, X, Y) == []
    columns = Gradients(R.weights, [b[:, None] for b in R.biases])
    assert diagnose(columns, net, X, Y) == []


def test_shape_bugs_are_also_matched_by_number():
    """A transposed dJ/dW^L of a non-square layer: the shapes say it, and so do the numbers."""
    net, X, Y = case(SOFTMAX_CCE, DEEP, 0)
    g = DWTransposed(*SOFTMAX_CCE)(net, X, Y)
    assert [m.bug.name for m in diagnose(g, net, X, Y)] == ["dW_transposed"]


# ------------------------------------------------------ ties and the report


def test_coinciding_bugs_are_all_reported_in_catalogue_order():
    """d = 2: summed (d times) and the 1/2 missing (2 times) give the same gradient."""
    net, X, Y = case(SIG, DEEP, 0, d=2)
    found = diagnose(Summed(*SIG)(net, X, Y), net, X, Y)
    assert [m.bug.name for m in found] == ["summed_not_averaged", "quadratic_half_missing"]


def test_the_text_speaks_the_notation():
    net, X, Y = case(SIG, DEEP, 0, d=16)
    (found,) = diagnose(Summed(*SIG)(net, X, Y), net, X, Y)
    assert str(found) == (
        "the gradient is d times the reference: summed over the batch instead of averaged "
        "(d = 16)?\n  Fix: divide dJ/dW^L and dJ/db^L by the batch size d "
        "(J is the mean of the J_i)."
    )
    (hidden,) = diagnose(HiddenHPrimeMissing(*SIG)(net, X, Y), net, X, Y)
    assert "showing in layers 0, 1?" in str(hidden)
    assert hidden.as_dict()["layers"] == [0, 1] and hidden.as_dict()["text"] == str(hidden)


def test_a_given_reference_is_used_and_nothing_is_mutated():
    net, X, Y = case(SIG, DEEP, 0)
    g = Summed(*SIG)(net, X, Y)
    before = [a.copy() for a in (*g.weights, *g.biases, X, Y, *net.weights)]
    found = diagnose(g, net, X, Y, reference=backprop(net, X, Y))
    assert found[0].bug.name == "summed_not_averaged"
    for a, b in zip(before, (*g.weights, *g.biases, X, Y, *net.weights), strict=True):
        np.testing.assert_array_equal(a, b)


# -------------------------------------------------------------- shapes


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


# ---------------------------------------------------------------- validation

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


def test_diagnosis_is_a_frozen_value():
    d = Diagnosis(SCALED, 0.0, scale=2.0)
    with pytest.raises(AttributeError):
        d.scale = 3.0  # type: ignore[misc]
    assert "c = 2" in str(d)


@pytest.mark.parametrize("config", [SIG_L2, SOFTMAX_CCE_L2], ids=str)
def test_a_correct_penalised_backprop_is_not_diagnosed(config):
    for seed in SEEDS:
        net, X, Y = case(config, DEEP, seed)
        g = L2Student(*config[:3])(net, X, Y)
        assert not differs(g, net, X, Y, by=1e-10)
        assert diagnose(g, net, X, Y) == []


def test_l2_bugs_apply_only_to_penalised_networks():
    plain, _, _ = case(SIG, DEEP, 0)
    penalised, _, _ = case(SIG_L2, DEEP, 0)
    for name in ("l2_missing", "l2_half_missing", "l2_on_biases"):
        assert not BUGS_BY_NAME[name].applies(plain, D)
        assert BUGS_BY_NAME[name].applies(penalised, D)


# ---- validation: bad input is refused with a message naming the argument

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


def test_diagnose_does_not_match_bugs_on_overflowing_norms():
    G = backprop(TANH_NET, TANH_X, TANH_Y)
    huge = Gradients([1e160 * W for W in G.weights], [1e160 * b for b in G.biases])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        found = diagnose(huge, TANH_NET, TANH_X, TANH_Y)
    assert all(math.isfinite(d.residual) for d in found) and len(found) <= 1
