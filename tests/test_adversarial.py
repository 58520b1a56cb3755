"""Adversarial inputs on the public API (the audit): each test pins one defect found by fuzzing.

Every bad input gets a ValueError/TypeError naming the argument; none passes silently.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from gradcheck import check_backprop, check_backprop_at, numerical_gradient, taylor_test
from reference import Network, backprop

pytest_plugins = ["pytester"]


def _reference_candidate(W, b, X, Y):
    g = backprop(Network(W, b), X, Y)
    return g.weights, g.biases


@pytest.mark.parametrize("sizes", [{3, 2}, frozenset({3, 2}), {"n_in": 3, "n_H": 2}])
def test_sizes_without_order_are_refused(sizes):
    # a set has no order: Network.random({2, 3}) used to build a 2-3 or 3-2 network silently
    message = re.escape(
        "`sizes` must be an ordered sequence of layer widths like [4, 8, 3], got a "
    )
    with pytest.raises(TypeError, match=message):
        Network.random(sizes)
    with pytest.raises(TypeError, match=message):
        check_backprop(_reference_candidate, sizes=sizes, trials=1, edge_cases=False)


def test_ordered_sizes_still_accepted():
    for sizes in ([3, 2], (3, 2), np.array([3, 2]), range(3, 1, -1)):
        assert Network.random(sizes).sizes == (3, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden": "Sigmoid"}, "unknown hidden activation 'Sigmoid'; "),
        ({"hidden": "relu "}, "unknown hidden activation 'relu '; "),
        ({"output": "Softmax", "cost": "categorical_cross_entropy"}, "unknown output activation"),
        ({"hidden": "leakyrelu"}, "unknown hidden activation 'leakyrelu'; "),
        ({"cost": "Quadratic"}, "unknown cost 'Quadratic'; known costs: "),
        ({"cost": "mse "}, "unknown cost 'mse '; known costs: "),
        ({"cost": "crossentropy"}, "unknown cost 'crossentropy'; known costs: "),
    ],
)
def test_near_miss_names_suggest_the_known_one(kwargs, message):
    suggestion = {
        "Sigmoid": "sigmoid",
        "relu ": "relu",
        "Softmax": "softmax",
        "leakyrelu": "leaky_relu",
        "Quadratic": "quadratic",
        "mse ": "mse",
        "crossentropy": "cross_entropy",
    }
    wrong = next(v for v in kwargs.values() if v in suggestion)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        Network.random([2, 3, 2], **kwargs)
    assert str(info.value).endswith(f"; did you mean {suggestion[wrong]!r}?")


def test_far_names_suggest_nothing():
    with pytest.raises(ValueError, match="unknown cost 'hinge'") as info:
        Network.random([2, 2], cost="hinge")
    assert "did you mean" not in str(info.value)


def _masked(shape, mask_at):
    mask = np.zeros(shape, dtype=bool)
    mask[mask_at] = True
    return np.ma.masked_array(np.ones(shape), mask=mask)


def test_masked_arrays_with_masked_entries_are_refused():
    # the values under the mask used to be read silently
    net = Network.random([3, 2])
    X, Y = _masked((4, 3), (1, 2)), np.full((4, 2), 0.5)
    message = re.escape(
        "`X` is a masked array with 1 masked entry (shape (4, 3)); the values under the "
        "mask would be used: fill them (.filled(...)) or drop them"
    )
    with pytest.raises(ValueError, match=message):
        net.forward(X)
    with pytest.raises(ValueError, match=message):
        backprop(net, X, Y)
    with pytest.raises(ValueError, match=re.escape("`Y` is a masked array with 2 masked entries")):
        backprop(net, np.ones((4, 3)), _masked((4, 2), (slice(0, 2), 0)))
    cce = Network.random([3, 3], output="softmax", cost="categorical_cross_entropy")
    labels = np.ma.masked_array([0, 1, 2, 0], mask=[0, 0, 1, 0])
    with pytest.raises(ValueError, match=re.escape("`Y` is a masked array with 1 masked entry")):
        backprop(cce, np.ones((4, 3)), labels)
    with pytest.raises(ValueError, match=re.escape("`theta` is a masked array with 1 masked")):
        numerical_gradient(np.sum, _masked((3,), 0))


def test_masked_arrays_without_masked_entries_work_as_arrays():
    net = Network.random([3, 2])
    X = np.random.default_rng(0).normal(size=(4, 3))
    Y = np.full((4, 2), 0.5)
    unmasked = backprop(net, np.ma.masked_array(X), np.ma.masked_array(Y)).flat()
    np.testing.assert_array_equal(unmasked, backprop(net, X, Y).flat())


@pytest.mark.parametrize("step", ["1", "1e-3", True, np.array([True, True]), np.array(["1", "1"])])
def test_step_of_strings_or_bools_is_refused(step):
    # numpy parses '1' and reads True as 1.0: both used to be taken as a step of 1
    with pytest.raises(TypeError, match="`step` must be a positive number or an array of them"):
        numerical_gradient(np.sum, np.array([0.5, 1.0]), step=step)


def test_numeric_steps_still_accepted():
    for step in (1e-4, np.float32(1e-3), 1, np.array([1e-4, 2e-4])):
        ng = numerical_gradient(lambda t: float(t @ t), np.array([0.5, 1.0]), step=step)
        np.testing.assert_allclose(ng.gradient, [1.0, 2.0], rtol=1e-6)


@pytest.mark.parametrize("which", ["X", "Y"])
def test_check_backprop_at_refuses_a_batch_whose_cost_overflows(which):
    # J = inf used to be blamed on the reference ("a fault of the reference")
    net = Network.random([3, 4, 2])
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    if which == "X":
        net = Network.random([3, 2], hidden="identity")
        X = X * 1e200
    else:
        Y = Y * 1e200
    message = re.escape("the cost J is inf at this network and batch (float64 overflow)")
    with pytest.raises(ValueError, match=message) as info:
        check_backprop_at(_reference_candidate, net, X, Y)
    assert "max |`X`|" in str(info.value) and "max |`Y`|" in str(info.value)
    assert "(shape (5, 3))" in str(info.value) and "scale the data down" in str(info.value)


def test_check_backprop_at_still_checks_saturated_but_finite_batches():
    net = Network.random([3, 4, 2], seed=1)
    X = np.full((4, 3), 30.0)
    assert check_backprop_at(_reference_candidate, net, X, np.full((4, 2), 0.5)).passed


def test_taylor_test_at_huge_theta():
    # the RMS of theta was computed as sqrt(mean(theta**2)), which overflows at 1e200: the
    # directions became inf and a correct gradient failed
    theta = np.array([1.0, 2.0, 3.0]) * 1e200
    result = taylor_test(lambda t: float(np.sum(np.log(t))), lambda t: 1.0 / t, theta)
    assert result.passed, result


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gradcheck", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_weight_scale_message_names_no_seconds():
    done = _cli("check", "x:y", "--weight-scale", "inf")
    assert done.returncode == 2
    assert "argument --weight-scale: expected a positive, finite number, got 'inf'" in done.stderr


def test_cli_check_without_a_candidate_says_so():
    done = _cli("check")
    assert done.returncode == 2
    assert "give either a candidate module:function or --exec 'PROGRAM ARGS', e.g. check " in (
        done.stderr
    )
    assert "not both" not in done.stderr


_PAIR_CASES = [
    # (h, h_prime), a part of the message after "`hidden activation`: "
    ((lambda z: 1.0, np.cos), "h(Z) must return a real ndarray of the shape of Z, (2, 3), "),
    ((lambda z: z[:, :1], np.cos), "h(Z) must return a real ndarray of the shape of Z, (2, 3), "),
    ((lambda z: None, np.cos), "; got NoneType"),
    ((lambda z: np.sin(z).tolist(), np.cos), "; got list"),
    ((lambda z: np.sin(z) + 0j, np.cos), "; got dtype complex128, shape (2, 3)"),
    ((lambda z: np.full(z.shape, "a"), np.cos), "; got dtype <U1, shape (2, 3)"),
    ((np.sin, lambda z: None), "h_prime(Z) must return a real ndarray broadcasting to the shape"),
    ((np.sin, lambda z: np.ones((3, 2))), "h_prime(Z) must return a real ndarray broadcasting"),
    ((lambda z: np.tanh(z, out=z), lambda z: 1 - np.tanh(z) ** 2), "h(Z) modified its input Z"),
    ((lambda z: 1 / 0 * z, np.cos), "h(Z) failed on a float64 batch Z of shape (2, 3): Zero"),
]


@pytest.mark.parametrize(("pair", "message"), _PAIR_CASES)
def test_activation_pairs_that_would_break_backprop_are_refused(pair, message):
    # these used to fail deep inside numpy (matmul, casting), with an IndexError in the loop
    # form, an AttributeError for a list, or, for an h that overwrote z, a silently wrong
    # gradient (h' was then evaluated at h(z))
    for argument, options in (
        ("hidden activation", {"hidden": pair}),
        ("output activation", {"hidden": "tanh", "output": pair}),
    ):
        with pytest.raises(ValueError, match=re.escape(f"`{argument}`: ")) as info:
            Network.random([3, 4, 2], **options)
        assert message in str(info.value)


def test_activation_pairs_the_forms_accept_still_work():
    X = np.random.default_rng(0).normal(size=(5, 3))
    Y = np.full((5, 2), 0.5)
    for pair in (
        (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
        (lambda z: z, lambda z: 1.0),  # a constant h'
        (lambda z: z * 1, lambda z: np.ones(1)),  # h' broadcasting
        (lambda z: (z > 0).astype(int), lambda z: 0 * z),  # integer outputs
    ):
        net = Network.random([3, 4, 2], hidden=pair, output="identity")
        assert np.isfinite(backprop(net, X, Y).flat()).all()


def test_gradients_from_flat_checks_sizes():
    from reference import Gradients

    with pytest.raises(TypeError, match=re.escape("`sizes` must be an ordered sequence")):
        Gradients.from_flat(np.zeros(26), {3, 4, 2})
    with pytest.raises(TypeError, match=re.escape("`sizes` must be a sequence of layer widths")):
        Gradients.from_flat(np.zeros(26), "342")
    assert Gradients.from_flat(np.zeros(26), [3, 4, 2]).sizes == (3, 4, 2)


def test_gradcheck_html_given_a_file_says_so(pytester):
    # it used to say "no such directory; create it first (mkdir -p <the file>)"
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gradcheck-html", "test_one.py"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --gradcheck-html 'test_one.py' is a file; give a directory for the pages"]
    )


def test_flat_layout_candidate_returning_per_layer_gradients_is_told_what_to_return():
    # it used to read "the flat gradient has dtype object, not a number type"
    def per_layer(theta, X, Y):
        net = Network.random([3, 4, 2]).with_flat(theta)
        return backprop(net, X, Y)

    report = check_backprop(per_layer, sizes=[3, 4, 2], layout="flat", trials=1, edge_cases=False)
    assert not report.passed
    assert (
        "the candidate returned a Gradients of per-layer gradients; with layout='flat' return "
        "the flat gradient (a 1-D array, e.g. its .flat()), or check it with layout='article'"
    ) in str(report)
