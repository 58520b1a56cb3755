"""gradcheck.fd.kinks: differences of a function with kinks, on an evaluator that reports them."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.fd.kinks import _Entries, differentiate_across_kinks, staged_richardson
from gradcheck.fd.network import _CostEvaluator
from reference import Network, backprop


def _on_a_kink():
    """Example 0 sits on the kink of z^0_0: no stencil in b^0[0] avoids it."""
    W0, b0 = np.array([[1.0, 0.5], [0.0, -0.3]]), np.array([0.0, 0.1])
    net = Network(
        [W0, np.array([[1.0], [2.0]])], [b0, np.array([0.0])], hidden="relu", output="identity"
    )
    X, Y = np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[0.5], [0.0]])
    return net, X, Y, _CostEvaluator(net, X, Y, memory_limit=2**20, structured=True)


def test_staged_richardson_is_accurate_away_from_kinks_and_says_which_entries_it_cannot_verify():
    net, X, Y, evaluate = _on_a_kink()
    theta = evaluate.theta
    result = staged_richardson(
        evaluate, theta, scale=np.ones(theta.size), f0=evaluate.at_theta(), f_scale=1.0,
        blocks=net.layout.blocks,
    )  # fmt: skip
    b0_0 = net.layout.layer_blocks[1].slice.start
    assert result.unverifiable[b0_0]
    ok = ~result.unverifiable
    g = backprop(net, X, Y).flat()
    assert (np.abs(result.gradient - g)[ok] <= result.error[ok] + 1e-15).all()


def test_entries_restrict_an_evaluator_to_some_coordinates():
    _, _, _, evaluate = _on_a_kink()
    index = np.array([1, 3])
    entries = _Entries(evaluate, index)
    np.testing.assert_array_equal(entries.theta, evaluate.theta[index])
    h = np.array([0.25, -0.5])
    values, taken = entries.along(np.array([0, 1]), h)
    expected, _ = evaluate.along(index, h)
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(taken, h)


class _FailingUnmarked:
    """An evaluator whose unmarked call (the tight stencil at kinks) raises."""

    def __init__(self, parent):
        self.parent, self.theta = parent, parent.theta
        self.marks: list[bool] = []

    @property
    def count(self):
        return self.parent.count

    @property
    def last_crossed(self):
        return self.parent.last_crossed

    def at(self, points):
        return self.parent.at(points)

    def along(self, index, h, *, imaginary=False, mark_crossings=True):
        self.marks.append(mark_crossings)
        if not mark_crossings:
            raise RuntimeError("interrupted")
        return self.parent.along(index, h, imaginary=imaginary)


def test_an_interrupted_tight_stencil_leaves_crossings_marked():
    # b^0[0] is left to the tight stencil, whose unmarked call raises
    evaluate = _FailingUnmarked(_on_a_kink()[3])
    f0 = evaluate.parent.at_theta()
    scale = np.ones(evaluate.theta.size)
    with pytest.raises(RuntimeError, match="interrupted"):
        differentiate_across_kinks(
            evaluate, evaluate.theta, method="richardson", scale=scale, f0=f0
        )
    assert evaluate.marks[-1] is False and all(evaluate.marks[:-1])
    index = np.arange(evaluate.theta.size)
    values, _ = evaluate.parent.along(index, np.full(index.size, 0.25))
    crossed = evaluate.parent.last_crossed > 0
    assert crossed.any() and np.isnan(values[crossed]).all()


def test_an_r2_that_agrees_with_itself_by_accident_is_cross_checked():
    # the soak's seed 9000879: a 5-layer tanh net at weight scale 7.8. R2 of W^0[8,2] from
    # D(h), D(2h), D(4h) (h = 2^-9) was -2.876788 with an estimate of 6.6e-7; mpmath (40
    # digits) gives -2.8762750504578261: off by 5.1e-4, 773 times its estimate. A classical
    # centred difference contradicts it, and the full Richardson (off by 1e-10) is kept.
    from gradcheck.fd.network import network_numerical_gradient
    from gradcheck.jobs.soak import correct_case

    case = correct_case(9000879)
    net, X, Y = case.net, case.X, case.Y
    fd = network_numerical_gradient(net, X, Y)
    j = [net.layout.name(i) for i in range(net.layout.size)].index("W^0[8,2]")
    truth = -2.8762750504578261
    assert abs(fd.flat()[j] - truth) <= fd.error.flat()[j]
    assert abs(fd.flat()[j] - truth) < 1e-8
