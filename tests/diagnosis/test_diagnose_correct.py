"""gradcheck.diagnosis.diagnose: correct implementations, written other ways than the reference, get nothing."""

from __future__ import annotations

import numpy as np
import pytest
from _configs import (
    ALL_CONFIGS,
    DEEP,
    SHALLOW,
    SIG,
    SIG_L2,
    SOFTMAX_CCE,
    SOFTMAX_CCE_L2,
    SOFTPLUS_CE,
    SQUARE,
    WIDTH1,
    case,
)
from _student_zoo import (
    ACT,
    FLOAT32_RTOL,
    FUSED_PAIRS,
    SEEDS,
    L2Student,
    Student,
    differs,
)

from gradcheck.diagnosis.diagnose import diagnose
from reference import (
    Gradients,
    backprop,
)


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


@pytest.mark.parametrize("config", [SIG_L2, SOFTMAX_CCE_L2], ids=str)
def test_a_correct_penalised_backprop_is_not_diagnosed(config):
    for seed in SEEDS:
        net, X, Y = case(config, DEEP, seed)
        g = L2Student(*config[:3])(net, X, Y)
        assert not differs(g, net, X, Y, by=1e-10)
        assert diagnose(g, net, X, Y) == []
