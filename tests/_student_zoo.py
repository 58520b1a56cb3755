"""A zoo of broken backprops for the tests of gradcheck.diagnosis.diagnose and gradcheck.diagnosis.bugs.

The zoo is written here, independently of `gradcheck.diagnosis.bugs`: one correct
backprop the way a course writes it (one example at a time, Nielsen's
`network.py`), and one subclass per bug with the bug typed into the method a
student would get wrong, with the configurations and shapes where each bug can show.
"""

from __future__ import annotations

import numpy as np
import pytest
from _configs import (
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
)
from _data import blockwise_relative

from reference import (
    Gradients,
    backprop,
)

SEEDS = (0, 1, 2)
FLOAT32_RTOL = 1e-4


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
