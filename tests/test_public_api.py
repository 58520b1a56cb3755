"""What every public function of `reference` and `gradcheck` promises: it never writes, keeps
or returns a caller's array.

One test across the whole API, so that a function added later is one line here: a read-only
copy of every input goes in, and any write raises.
"""

from __future__ import annotations

import numpy as np
from _helpers import reference_candidate

from gradcheck import (
    check_backprop_at,
    network_numerical_gradient,
)
from gradcheck.diagnosis.diagnose import diagnose
from gradcheck.diagnosis.shapes import diagnose_shapes
from gradcheck.fd.check import check_gradient, compare_gradient
from gradcheck.fd.delta import numerical_deltas
from gradcheck.fd.numerical import numerical_gradient
from gradcheck.fd.taylor import taylor_test
from gradcheck.oracle.equations import check_equations
from gradcheck.tolerance.independent import equation_deltas
from reference import (
    Gradients,
    Network,
    backprop,
    backprop_examples,
    backprop_loops,
)


def _frozen(a):
    a = np.array(a)  # a private copy, then read-only: any write raises
    a.flags.writeable = False
    return a


def test_no_public_function_writes_or_keeps_a_callers_array():
    rng = np.random.default_rng(3)
    weights = [_frozen(rng.normal(size=(3, 4))), _frozen(rng.normal(size=(4, 2)))]
    biases = [_frozen(rng.normal(size=4)), _frozen(rng.normal(size=2))]
    X, Y = _frozen(rng.normal(size=(5, 3))), _frozen(rng.normal(size=(5, 2)))
    net = Network(weights, biases, hidden="tanh")
    theta = _frozen(net.flat())
    g = backprop(net, X, Y)
    grad = _frozen(g.flat())
    G = Gradients([_frozen(W) for W in g.weights], [_frozen(b) for b in g.biases])
    deltas = [_frozen(D) for D in equation_deltas(net, X, Y)]
    directions = _frozen(np.ones((1, theta.size)))
    epsilons = _frozen(2.0 ** -np.arange(20))
    index = _frozen(np.arange(4))
    step = _frozen(np.full(theta.size, 2.0**-6))
    inputs = weights + biases + [X, Y, theta, grad, directions, epsilons, index, step]
    inputs += list(G.weights) + list(G.biases) + deltas
    snapshot = [(a.dtype, a.shape, a.tobytes()) for a in inputs]

    def J(t):
        return net.cost(X, Y, theta=t)  # only reads

    net.forward(X)
    net.cost(X, Y)
    J(theta)
    net.with_flat(theta)
    Gradients.from_flat(theta, net.sizes)
    for form in (backprop, backprop_examples, backprop_loops):
        form(net, X, Y)
    for method in ("richardson", "complex"):
        network_numerical_gradient(net, X, Y, method=method)
    ng = numerical_gradient(J, theta, step=step)
    compare_gradient(grad, ng)
    assert check_gradient(J, grad, theta).passed
    assert taylor_test(
        J, grad, theta, directions=directions, epsilons=epsilons, blocks=[("W^0", index)]
    ).passed
    candidate = reference_candidate(hidden="tanh")
    assert check_backprop_at(candidate, net, X, Y).passed

    def writes_everything(W, b, X_, Y_):
        out = candidate(W, b, X_, Y_)
        for a in [*W, *b, X_, Y_]:
            a[...] = 0.0  # its own copies: the report says so, the caller's arrays are safe
        return out

    report = check_backprop_at(writes_everything, net, X, Y)
    assert not report.passed and "the candidate modified its inputs" in str(report)
    assert check_equations(net, X, Y, deltas=deltas, gradients=G).passed
    numerical_deltas(net, X, Y)
    diagnose(G, net, X, Y, reference=G)
    diagnose_shapes([W.shape for W in G.weights], [b.shape for b in G.biases], net)
    assert [(a.dtype, a.shape, a.tobytes()) for a in inputs] == snapshot


def test_results_never_alias_what_the_caller_passed():
    rng = np.random.default_rng(4)
    weights, biases = (
        [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))],
        [rng.normal(size=4), np.zeros(2)],
    )
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    net = Network(weights, biases, hidden="identity")
    theta = net.flat()
    outputs = [*net.weights, *net.biases, theta]
    outputs += [*net.forward(X).Z, *net.forward(X).A]
    for result in (
        backprop(net, X, Y),
        backprop_examples(net, X, Y),
        backprop_loops(net, X, Y),
        network_numerical_gradient(net, X, Y),
        Gradients.from_flat(theta, net.sizes),
    ):
        outputs += [*result.weights, *result.biases]
    outputs += [*net.with_flat(theta).weights, *equation_deltas(net, X, Y)]
    for out in outputs:
        for given_array in [*weights, *biases, X, Y]:
            assert not np.shares_memory(out, given_array)
    for out in outputs[4:]:  # nothing returned is the network's own storage either
        for own in [*net.weights, *net.biases]:
            assert not np.shares_memory(out, own)
