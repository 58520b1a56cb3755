"""The issue's speed goals for finite differences, each measured side by side in one run.

On the issue's nets (tanh hidden layers, a sigmoid output, the quadratic
cost), one group per shape (``finite differences 64-128-10,d=64,tanh``):

- `network_numerical_gradient` with its defaults, serially and with
  ``workers=2`` (a pool of 2 processes);
- ``torch.autograd.gradcheck`` in slow mode (entry by entry, central
  differences at an absolute step of 1e-6) on the same float64 cost, on
  one thread (measured 8-80x faster than two on a busy 2-core machine).

On 784-256-10 torch's slow mode would take minutes (two full forward passes
for each of 203,530 entries): it is timed on `TORCH_SUBSET` entries of `W^0`
(the rest held fixed; each entry costs the same two forward passes) and the
time scaled by the number of parameters (``time_scale`` in ``extra_info``,
which `benchmarks.report` applies); its accuracy is measured on those entries.

Every benchmark checks its result once against `backprop`.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from gradcheck import network_numerical_gradient
from reference import Network, backprop

from ._cases import Case, label, max_abs_error, shape_id, split_flat, timed
from .test_bench_fd import FD_TOLERANCE, TORCH_STEP, loop_central

GOAL_SHAPES = [((10, 20, 20, 5), 32), ((64, 128, 10), 64), ((784, 256, 10), 64)]
BIG = (784, 256, 10)  # torch's slow mode is timed on a subset of entries here
TORCH_SUBSET = 2048  # entries of W^0 torch's slow mode differentiates on BIG


@functools.cache
def goal_case(sizes: tuple[int, ...], d: int) -> Case:
    """The issue's net: tanh hidden layers, sigmoid output, quadratic cost; seeded."""
    rng = np.random.default_rng(0)
    net = Network.random(sizes, hidden="tanh", output="sigmoid", seed=rng)
    X, Y = rng.normal(size=(d, sizes[0])), rng.uniform(size=(d, sizes[-1]))
    return Case(tuple(sizes), d, net, X, Y, backprop(net, X, Y))


def goal_id(sizes, d) -> str:
    return shape_id(sizes, d) + ",tanh"


PARAMS = [pytest.param(s, d, id=goal_id(s, d)) for s, d in GOAL_SHAPES]


def start(benchmark, c: Case, form: str, **extra) -> None:
    label(benchmark, group=f"finite differences {goal_id(c.sizes, c.d)}", form=form, kind="fd",
          case=c, **extra)  # fmt: skip
    benchmark.extra_info["shape"] = goal_id(c.sizes, c.d)


def record(benchmark, c: Case, got: np.ndarray, expected: np.ndarray, n_evaluations: int) -> None:
    error = max_abs_error(got, expected)
    benchmark.extra_info.update(
        max_abs_error=error,
        relative_error=error / float(np.abs(c.expected.flat()).max()),
        n_evaluations=int(n_evaluations),
        evaluations_per_entry=n_evaluations / c.n_params,
    )
    assert error < FD_TOLERANCE


@pytest.mark.parametrize("sizes, d", PARAMS)
@pytest.mark.parametrize("workers", [None, 2], ids=["serial", "workers=2"])
def test_engine_default(benchmark, sizes, d, workers):
    c = goal_case(sizes, d)
    start(benchmark, c, "fd richardson" if workers is None else "fd workers=2")
    big = sizes == BIG
    fd = timed(benchmark, network_numerical_gradient, c.net, c.X, c.Y, workers=workers,
               slow=big, smoke=not big)  # fmt: skip
    record(benchmark, c, fd.flat(), c.expected.flat(), fd.n_evaluations)
    benchmark.extra_info["estimate_max"] = float(fd.error.flat().max())


def torch_goal_cost(torch, sizes, X, Y):
    """`J` of the flat parameters in torch: tanh hidden layers, sigmoid output, quadratic cost."""

    def J(theta):
        weights, biases = split_flat(theta, sizes)
        A = X  # A^{-1} = X
        for L, (W, b) in enumerate(zip(weights, biases, strict=True)):
            Z = torch.addmm(b, A, W)
            A = torch.sigmoid(Z) if L == len(weights) - 1 else torch.tanh(Z)
        return 0.5 * ((A - Y) ** 2).sum(dim=1).mean()

    return J


@pytest.mark.parametrize("sizes, d", PARAMS)
def test_torch_gradcheck_slow_mode(benchmark, torch, sizes, d):
    c = goal_case(sizes, d)
    X, Y = torch.from_numpy(c.X), torch.from_numpy(c.Y)
    J = torch_goal_cost(torch, c.sizes, X, Y)
    theta0 = c.net.flat()
    if sizes == BIG:  # a subset of W^0's entries, the rest fixed
        subset = np.random.default_rng(0).choice(sizes[0] * sizes[1], TORCH_SUBSET, replace=False)
    else:
        subset = np.arange(c.n_params)
    start(benchmark, c, "torch gradcheck", entries=int(subset.size),
          time_scale=c.n_params / subset.size)  # fmt: skip
    fixed = torch.from_numpy(theta0)
    index = torch.from_numpy(subset)

    def J_subset(part):
        return J(fixed.index_put((index,), part))

    part = torch.tensor(theta0[subset], requires_grad=True)
    torch.autograd.gradcheck(J_subset, (part,), fast_mode=True)  # initialises torch: not timed
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny ops: a 2nd thread only waits on a busy machine
    try:
        passed = timed(benchmark, torch.autograd.gradcheck, J_subset, (part,), slow=True)
    finally:
        torch.set_num_threads(threads)
    benchmark.extra_info["torch_threads"] = 1
    assert passed is True

    def f(values):  # torch's stencil, entry by entry: what its numerical Jacobian holds
        with torch.no_grad():
            return float(J_subset(torch.from_numpy(values)))

    numerical = loop_central(f, theta0[subset], step=TORCH_STEP, relative=False)
    record(benchmark, c, numerical, c.expected.flat()[subset], 2 * subset.size)
