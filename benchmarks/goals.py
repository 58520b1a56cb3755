"""Issue 13's goals measured side by side, competitors back to back, best of a few repeats.

    python -m benchmarks.goals [--repeats 3] [--quick]       (from the project root)

On a shared machine pytest-benchmark's rounds of one competitor, then the
other, see different loads; here each repeat times every competitor of one
comparison in turn, and each ratio is taken from the best times. Prints the
machine (CPU flags, BLAS, `np.exp` ns per element) and markdown tables:

1. `network_numerical_gradient` (defaults; and ``workers=2``) against
   ``torch.autograd.gradcheck`` slow mode on the same float64 cost, on the
   issue's nets (tanh hidden, sigmoid output, quadratic cost): time, max
   error relative to max |g|, evaluations per entry, transcendentals per
   second against `np.exp` alone. torch runs on one thread: its slow mode is
   thousands of tiny operations, and a second OpenMP thread on a busy
   2-core machine only makes it wait (measured 8-80x slower). On 784-256-10
   torch differentiates `TORCH_SUBSET` entries of `W^0` (each entry costs
   the same two forward passes) and its time is scaled to all entries.
   Also, with no goal, a classification net (ReLU, softmax, categorical
   cross-entropy; torch's ``F.cross_entropy``).
2. `check_backprop` end to end on [64, 128, 10] (default options) against
   torch's slow mode on one net of the same shape and batch.
3. `backprop` against torch float64 autograd at every size of the suite.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck import network_numerical_gradient
from gradcheck.fd import network as network_fd
from reference import Network, backprop

from ._cases import BATCH_SHAPES, blas_threads, case, shape_id, split_flat, torch_cost
from ._machine import machine_info
from .report import describe_machine
from .test_bench_fd import TORCH_STEP, loop_central
from .test_bench_goals import BIG, GOAL_SHAPES, TORCH_SUBSET, goal_case, torch_goal_cost
from .test_bench_oracle import SIZES as ORACLE_SIZES
from .test_bench_oracle import numpy_backprop


def best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The best wall time of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def once(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """The wall time of one call, and its result."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def transcendentals(net, X, Y) -> tuple[int, int]:
    """(evaluations, transcendentals) of one default run: `h` on every entry a move changes.

    A move of `W^L[m,n]` or `b^L[n]` recomputes `h` on column n of layer L
    (d entries) and, unless L = H, on all of layers L+1 .. H (d N_K each).
    Counted by wrapping the evaluator's `along`.
    """
    d, sizes, H = X.shape[0], net.sizes, net.H
    per_block = []
    for name, block, _ in net.layout.blocks:
        L = int(name[2:])
        per_block.append((block, d + d * sum(sizes[L + 2 :]) if L < H else d))
    counts = [0, 0]
    original = network_fd._CostEvaluator.along

    def along(self, index, h, *, imaginary=False):
        counts[0] += index.size
        for block, per_move in per_block:
            counts[1] += per_move * int(((index >= block.start) & (index < block.stop)).sum())
        return original(self, index, h, imaginary=imaginary)

    network_fd._CostEvaluator.along = along  # type: ignore[method-assign]
    try:
        network_numerical_gradient(net, X, Y)
    finally:
        network_fd._CostEvaluator.along = original  # type: ignore[method-assign]
    return counts[0], counts[1]


def fd_goals(torch: Any, repeats: int, shapes, exp_ns: float) -> list[str]:
    rows = [
        "| net | engine | engine, workers=2 | torch slow mode | speed-up (2 workers) | "
        "max error / max\\|g\\|: engine, torch | evaluations per entry | "
        "transcendentals/s (share of np.exp's rate) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    torch.set_num_threads(1)
    for sizes, d in shapes:
        c = goal_case(sizes, d)
        g = c.expected.flat()
        size = float(np.abs(g).max())
        J = torch_goal_cost(torch, c.sizes, torch.from_numpy(c.X), torch.from_numpy(c.Y))
        theta0 = c.net.flat()
        if sizes == BIG:
            rng = np.random.default_rng(0)
            subset = rng.choice(sizes[0] * sizes[1], TORCH_SUBSET, replace=False)
        else:
            subset = np.arange(c.n_params)
        fixed, index = torch.from_numpy(theta0), torch.from_numpy(subset)

        def J_subset(part, fixed=fixed, index=index, J=J):
            return J(fixed.index_put((index,), part))

        part = torch.tensor(theta0[subset], requires_grad=True)
        torch.autograd.gradcheck(J_subset, (part,), fast_mode=True)  # initialise torch
        times: dict[str, list[float]] = {"engine": [], "workers": [], "torch": []}
        fd = None
        n = repeats if sizes != BIG else max(1, repeats - 1)
        for _ in range(n):  # back to back in each repeat
            t, fd = once(network_numerical_gradient, c.net, c.X, c.Y)
            times["engine"].append(t)
            t, _ = once(network_numerical_gradient, c.net, c.X, c.Y, workers=2)
            times["workers"].append(t)
            t, ok = once(torch.autograd.gradcheck, J_subset, (part,))
            assert ok is True
            times["torch"].append(t * c.n_params / subset.size)
        assert fd is not None

        def f(values, J_subset=J_subset):
            with torch.no_grad():
                return float(J_subset(torch.from_numpy(values)))

        torch_error = np.abs(
            loop_central(f, theta0[subset], step=TORCH_STEP, relative=False) - g[subset]
        ).max()
        engine_error = np.abs(fd.flat() - g).max()
        evaluations, count = transcendentals(c.net, c.X, c.Y)
        engine, workers, slow = (min(times[k]) for k in ("engine", "workers", "torch"))
        rate = count / engine
        rows.append(
            f"| {shape_id(sizes, d)} ({c.n_params} entries) | {engine:.3g} s | {workers:.3g} s | "
            f"{slow:.3g} s{' (scaled from ' + str(subset.size) + ' entries)' if sizes == BIG else ''} | "
            f"**{slow / engine:.0f}x** ({slow / workers:.0f}x) | "
            f"{engine_error / size:.2g}, {torch_error / size:.2g} (**{torch_error / engine_error:.0f}x** smaller) | "
            f"{evaluations / c.n_params:.2f} | {rate / 1e9:.2f} G/s ({rate * exp_ns * 1e-9:.0%}) |"
        )  # fmt: skip
    return rows


def fd_classification(torch: Any, repeats: int) -> list[str]:
    """The engine against torch's slow mode on a classification net (no goal: reported).

    64-128-10, d=64: ReLU hidden, softmax output, categorical cross-entropy
    on one-hot targets (``F.cross_entropy``'s cost), float64, torch on one thread.
    """
    torch.set_num_threads(1)
    sizes, d = (64, 128, 10), 64
    rng = np.random.default_rng(0)
    net = Network.random(
        sizes, hidden="relu", output="softmax", cost="categorical_cross_entropy", seed=rng
    )
    X, labels = rng.normal(size=(d, sizes[0])), rng.integers(sizes[-1], size=d)
    Y = np.eye(sizes[-1])[labels]
    g = backprop(net, X, Y).flat()
    tX, tlabels = torch.from_numpy(X), torch.from_numpy(labels)

    def J(theta):
        (W0, W1), (b0, b1) = split_flat(theta, sizes)
        Z = torch.addmm(b1, torch.relu(torch.addmm(b0, tX, W0)), W1)
        return torch.nn.functional.cross_entropy(Z, tlabels)

    theta = torch.tensor(net.flat(), requires_grad=True)
    torch.autograd.gradcheck(J, (theta,), fast_mode=True)  # initialise torch
    ours, theirs, fd = [], [], None
    for _ in range(repeats):
        t, fd = once(network_numerical_gradient, net, X, Y)
        ours.append(t)
        theirs.append(once(torch.autograd.gradcheck, J, (theta,))[0])
    assert fd is not None

    def f(values):
        with torch.no_grad():
            return float(J(torch.from_numpy(values)))

    torch_error = np.abs(loop_central(f, net.flat(), step=TORCH_STEP, relative=False) - g).max()
    engine_error = np.abs(fd.flat() - g).max()
    size = float(np.abs(g).max())
    return [
        "| classification net | engine | torch slow mode | speed-up | "
        "max error / max\\|g\\|: engine, torch |",
        "|---|---|---|---|---|",
        f"| 64-128-10,d=64, ReLU, softmax + categorical cross-entropy | {min(ours):.3g} s | "
        f"{min(theirs):.3g} s | **{min(theirs) / min(ours):.0f}x** | "
        f"{engine_error / size:.2g}, {torch_error / size:.2g} |",
    ]


def oracle_goal(torch: Any, repeats: int) -> list[str]:
    from gradcheck import check_backprop
    from gradcheck.oracle.backprop import DEFAULT_BATCH

    torch.set_num_threads(1)
    c = case(tuple(ORACLE_SIZES), DEFAULT_BATCH)
    X, Y = torch.from_numpy(c.X), torch.from_numpy(c.Y)

    def J(theta):
        return torch_cost(torch, *split_flat(theta, c.sizes), X, Y)

    theta = torch.tensor(c.net.flat(), requires_grad=True)
    torch.autograd.gradcheck(J, (theta,), fast_mode=True)
    ours, theirs = [], []
    for _ in range(repeats):
        t, report = best(
            lambda: check_backprop(
                numpy_backprop, sizes=ORACLE_SIZES, hidden="sigmoid", output="sigmoid"
            ),
            1,
        )
        assert report.passed
        ours.append(t)
        theirs.append(best(lambda: torch.autograd.gradcheck(J, (theta,)), 1)[0])
    return [
        "| check_backprop, [64, 128, 10], defaults | torch gradcheck slow mode, one net "
        f"(d={DEFAULT_BATCH}) | speed-up |",
        "|---|---|---|",
        f"| {min(ours):.3g} s | {min(theirs):.3g} s | **{min(theirs) / min(ours):.1f}x** |",
    ]


def backprop_goal(torch: Any, repeats: int) -> list[str]:
    torch.set_num_threads(blas_threads())
    rows = ["| net | backprop | torch autograd | backprop / torch |", "|---|---|---|---|"]
    for sizes, d in BATCH_SHAPES:
        c = case(sizes, d)
        W = [torch.tensor(w, requires_grad=True) for w in c.net.weights]
        B = [torch.tensor(b, requires_grad=True) for b in c.net.biases]
        X, Y = torch.from_numpy(c.X), torch.from_numpy(c.Y)

        def theirs(W=W, B=B, X=X, Y=Y):
            return torch.autograd.grad(torch_cost(torch, W, B, X, Y), W + B)

        def ours(c=c):
            return backprop(c.net, c.X, c.Y)

        calls = 5 if sizes[0] >= 1024 else 50
        ours(), theirs()  # warm: buffers, torch's allocator
        a, b = [], []
        for _ in range(repeats):
            a.append(best(ours, calls)[0])
            b.append(best(theirs, calls)[0])
        rows.append(
            f"| {shape_id(sizes, d)} | {min(a) * 1e3:.3g} ms | {min(b) * 1e3:.3g} ms | "
            f"**{min(a) / min(b):.2f}** |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.goals", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip 784-256-10 (minutes)")
    args = parser.parse_args(argv)
    import torch

    machine = machine_info()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch {torch.__version__}")
    print(describe_machine(machine), "\n")
    shapes = [s for s in GOAL_SHAPES if not (args.quick and s[0] == BIG)]
    print("\n".join(fd_goals(torch, args.repeats, shapes, machine["exp_ns"])), "\n")
    print("\n".join(fd_classification(torch, args.repeats)), "\n")
    print("\n".join(oracle_goal(torch, args.repeats)), "\n")
    print("\n".join(backprop_goal(torch, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
