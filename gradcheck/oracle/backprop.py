"""`check_backprop` / `assert_backprop`: check any backprop, name the wrong entry and the likely bug.

For each trial (a seeded network and batch; edge shapes among them), the
candidate is called with copies and what it returns is compared three ways,
so that no verdict rests on one computation alone:

1. candidate vs the reference (`backprop`, exact math), entry by entry,
   within what rounding in the candidate's dtype can explain;
2. candidate vs finite differences, which know nothing of backprop (entry by
   entry where affordable, along random and per-block directions otherwise);
3. the reference vs its loop form (and vs the same differences), so a fault
   of the reference itself is reported as such, never blamed on the candidate.

Each comparison is summed up by its worst *excess*, |c - r| / tolerance
(> 1 fails). Every step returns a value; the report is built once per trial
from them. This module plans the trials and runs them; the options travel as
one validated `gradcheck.oracle.options.BackpropOptions`, and one trial's
call and comparisons are `gradcheck.oracle.trial`'s.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

import numpy as np

from gradcheck.oracle.candidate import (
    LAYOUTS,
    check_candidate,
    check_signature,
    describe_candidate,
)
from gradcheck.oracle.data import random_targets
from gradcheck.oracle.options import BackpropOptions, refuse_beyond_memory
from gradcheck.oracle.trial import LOOPS_BUDGET as LOOPS_BUDGET  # defined where it is used
from gradcheck.oracle.trial import Outcome, Trial, run_trial
from gradcheck.results.report import BackpropReport, GradientMismatch
from gradcheck.tolerance.saturation import libm_accuracy
from gradcheck.validate import (
    check_choice,
    check_finite_cost,
    check_int,
    check_network,
    check_weight_scale,
)
from reference import Network
from reference.network import is_per_layer

__all__ = [
    "check_backprop",
    "check_backprop_at",
    "assert_backprop",
    "trial_case",
    "DEFAULT_TRIALS",
    "DEFAULT_BATCH",
]

DEFAULT_TRIALS = 3  # random networks per check; edge shapes come on top
DEFAULT_BATCH = 8  # examples per batch: enough to expose batch bugs, small enough to be fast
TRIAL_SEEDS = 1000  # trial k of a check with seed s draws its network with seed 1000 s + k


def trial_case(
    sizes: Sequence[int],
    d: int,
    seed: int,
    *,
    hidden: Any = "sigmoid",
    output: Any = None,
    cost: Any = "quadratic",
    l2: float = 0.0,
    weight_scale: float = 1.0,
) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network and batch of one trial: rebuild a failing trial from its report.

    `l2` is the network's penalty `lam`; `weight_scale` multiplies the random
    weights (``W^L ~ N(0, weight_scale^2 / M)``): 4 or more saturates sigmoid
    and tanh units.

    Examples
    --------
    >>> net, X, Y = trial_case([4, 8, 3], 8, seed=123)
    >>> X.shape, Y.shape
    ((8, 4), (8, 3))
    """
    d = check_int(d, "d", low=1)
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)
    weight_scale = check_weight_scale(weight_scale)
    refuse_beyond_memory(sizes, d)
    net = Network.random(
        sizes, hidden=hidden, output=output, cost=cost, seed=rng, scale=weight_scale, l2=l2
    )
    X = rng.normal(size=(d, net.sizes[0]))
    return net, X, random_targets(net, d, rng)


def check_backprop(
    candidate: Callable[..., Any],
    *,
    sizes: Sequence[int],
    hidden: Any = "sigmoid",
    output: Any = None,
    cost: Any = "quadratic",
    layout: str = "article",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    edge_cases: bool | set[str] = True,
    progress: Callable[[str], None] | None = None,
    l2: float = 0.0,
    weight_scale: float = 1.0,
    timeout: float | None = None,
    executor: Executor | None = None,
    libm_ulps: float | None = None,
) -> BackpropReport:
    """Check a backprop implementation against the reference and finite differences.

    Parameters
    ----------
    candidate : callable
        ``candidate(weights, biases, X, Y)`` with ``weights[L]`` of shape
        (M, N) (``layout="torch"``: (N, M)), ``biases[L]`` of shape (N,),
        ``X`` (d, n_in), ``Y`` (d, n_H); returns ``(dW_list, db_list)``, a
        `Gradients`, or a dict with ``weights`` and ``biases`` (numpy arrays
        or anything numpy converts), the gradient of the batch-averaged cost.
        ``layout="flat"``: ``candidate(theta, X, Y) -> flat gradient``.
    sizes : sequence of int
        ``[n_in, n_0, ..., n_H]``.
    hidden, output, cost
        What the candidate implements (names as in `reference.Network`);
        `hidden` may list one activation per hidden layer, ``["relu", "tanh"]``.
    layout : {"article", "torch", "flat"}
    trials : int
        Random networks to draw.
    edge_cases : bool or set of str
        True: a hidden layer of width 1 (``"width1"``), no hidden layer
        (``"no_hidden"``) and a batch of 1 (``"batch1"``) are tried as well
        (same n_in, n_H); a set runs only those named; False none.
    seed : int
        Everything random derives from it: the same seed gives the same report.
    batch_size : int
        Examples per batch `d` in the random trials.
    progress : callable, optional
        Called with a line of text as each trial starts (the command line
        prints it on stderr).
    l2 : float
        The L2 penalty `lam` the candidate implements: the cost gains
        `(lam/2) sum_L ||W^L||^2` and every `dJ/dW^L` the term `lam W^L`.
    weight_scale : float
        Scale of the random weights, ``W^L ~ N(0, weight_scale^2 / M)``;
        large values (4 and up) saturate sigmoid and tanh units.
    timeout : float, optional
        Wall-clock seconds a call of the candidate may take; a call that has
        not returned by then fails the check (and stops it).
    executor : concurrent.futures.Executor, optional
        Where the entry-by-entry finite differences run (a thread or process
        pool, a Dask ``Client.get_executor()``); results are bit-identical.
    libm_ulps : float, optional
        How far the candidate's `tanh`, `exp`, `expm1` may be from the true
        values, in ulps: `LIBM_ULPS` (1.5, numpy's and torch's) by default;
        `XLA_LIBM_ULPS` (7) is taken for a candidate that returns jax arrays.
        Near saturation a cancelling `1 - a^2` errs by a few of them, and the
        tolerance allows for it; declare it for a candidate on another libm.

    Returns
    -------
    BackpropReport
        ``.passed``, the worst excess |c - r| / tolerance per block
        (``.layer_excess``), worst entries, ``.diagnosis``; ``str()`` is a
        readable table, ``.to_dict()`` JSON for machines.

    Examples
    --------
    >>> from reference import Network, backprop
    >>> def mine(weights, biases, X, Y):
    ...     g = backprop(Network(weights, biases), X, Y)
    ...     return g.weights, g.biases
    >>> check_backprop(mine, sizes=[3, 5, 2]).passed
    True
    """
    check_candidate(candidate)
    options = BackpropOptions(
        sizes=sizes,
        hidden=hidden,
        output=output,
        cost=cost,
        layout=layout,
        trials=trials,
        seed=seed,
        batch_size=batch_size,
        edge_cases=edge_cases,
        l2=l2,
        weight_scale=weight_scale,
        timeout=timeout,
        executor=executor,
        progress=progress,
        libm_ulps=libm_ulps,
    ).validated()
    check_signature(candidate, layout=options.layout)
    with _declared(libm_ulps):
        outcomes = _run_plan(candidate, _plan(options), options)
    return _report(candidate, options, outcomes)


def _declared(ulps: float | None) -> contextlib.AbstractContextManager[None]:
    """The libm accuracy a caller declared (`libm_ulps`), or the default's context."""
    return contextlib.nullcontext() if ulps is None else libm_accuracy(ulps, name="libm_ulps")


def check_backprop_at(
    candidate: Callable[..., Any],
    net: Network,
    X: Any,
    Y: Any,
    *,
    layout: str = "article",
    libm_ulps: float | None = None,
) -> BackpropReport:
    """`check_backprop` on one given network and batch instead of drawn ones (`libm_ulps`:
    as there).

    Use it to check a candidate where it matters to you: your own weights,
    a saturated regime, a batch from your data set.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], seed=1)
    >>> mine = lambda W, b, X, Y: backprop(Network(W, b), X, Y)
    >>> check_backprop_at(mine, net, np.ones((5, 3)), np.zeros((5, 2))).passed
    True
    """
    check_candidate(candidate)
    check_network(net)
    check_choice(layout, "layout", LAYOUTS)
    check_signature(candidate, layout=layout)
    X, Y = net.check_data(X, Y)
    refuse_beyond_memory(net.sizes, X.shape[0])
    check_finite_cost(net, X, Y)
    trial = Trial(index=0, kind="given", sizes=net.sizes, d=X.shape[0], seed=-1)
    options = replace(BackpropOptions.given(net, X.shape[0], layout=layout), libm_ulps=libm_ulps)
    with _declared(libm_ulps):
        outcome = run_trial(candidate, net, X, Y, trial=trial, layout=layout)
    return _report(candidate, options, [outcome])


def assert_backprop(candidate: Callable[..., Any], **options: Any) -> BackpropReport:
    """`check_backprop`, raising `GradientMismatch` (an AssertionError) with the report if it fails.

    An inconclusive verdict (the oracle disagrees with itself: `BackpropReport.status`)
    does not raise, as it is no fault of the candidate's: it warns (`RuntimeWarning`)
    with the report, which says how to report it.

    Examples
    --------
    >>> from reference import Network, backprop
    >>> def mine(weights, biases, X, Y):
    ...     return backprop(Network(weights, biases), X, Y)
    >>> _ = assert_backprop(mine, sizes=[3, 5, 2])
    """
    __tracebackhide__ = True
    report = check_backprop(candidate, **options)
    if report.status == "failed":
        raise GradientMismatch(report)
    if report.status == "inconclusive":
        warnings.warn(str(report), RuntimeWarning, stacklevel=2)
    return report


def _report(
    candidate: Callable[..., Any], options: BackpropOptions, outcomes: Sequence[Outcome]
) -> BackpropReport:
    return BackpropReport(
        candidate=describe_candidate(candidate),
        options=options.record(),
        trials=tuple(o.report for o in outcomes),
        reference_problems=tuple(p for o in outcomes for p in o.reference_problems),
    )


def _trial_activations(hidden: Any, output: Any, H: int) -> dict[str, Any]:
    """`hidden` and `output` for a trial with `H` hidden layers.

    A per-layer list fits the trials of its own depth; the no-hidden-layer
    trial gets none, and the output the list implies (its last entry).
    """
    if not is_per_layer(hidden) or len(hidden) == H:
        return {"hidden": hidden, "output": output}
    return {"hidden": [], "output": hidden[-1] if output is None else output}


def _plan(options: BackpropOptions) -> list[Trial]:
    """The trials of one check: `trials` random networks, then the edge shapes named."""
    sizes, d, edge_cases = tuple(options.sizes), options.batch_size, options.edge_trials
    plan = [("random", sizes, d)] * options.trials
    if "width1" in edge_cases and len(sizes) > 2 and max(sizes[1:-1]) > 1:
        plan.append(("width-1", (sizes[0],) + (1,) * (len(sizes) - 2) + (sizes[-1],), d))
    if "no_hidden" in edge_cases and len(sizes) > 2:
        plan.append(("no hidden layer", (sizes[0], sizes[-1]), d))
    if "batch1" in edge_cases:
        plan.append(("batch of 1", sizes, 1))
    # Readable, reproducible trial seeds: seed 7 gives networks 7000, 7001, ...
    # Python ints: a numpy integer seed would overflow (or wrap) for seeds above ~9e15.
    seed, d = int(options.seed or 0), int(d)
    return [
        Trial(index=k, kind=kind, sizes=s, d=dk, seed=TRIAL_SEEDS * seed + k)
        for k, (kind, s, dk) in enumerate(plan)
    ]


def _run_plan(
    candidate: Callable[..., Any], plan: Sequence[Trial], options: BackpropOptions
) -> list[Outcome]:
    """Draw each planned trial's network and batch and run it; stop after a structural fault."""
    outcomes = []
    for trial in plan:
        if options.progress is not None:
            options.progress(
                f"trial {trial.index + 1}/{len(plan)}: {trial.kind}, "
                f"sizes {list(trial.sizes)}, d={trial.d}"
            )
        net, X, Y = trial_case(
            trial.sizes,
            trial.d,
            trial.seed,
            **_trial_activations(options.hidden, options.output, len(trial.sizes) - 2),
            cost=options.cost,
            l2=options.l2,
            weight_scale=options.weight_scale or 1.0,
        )
        outcomes.append(
            run_trial(
                candidate,
                net,
                X,
                Y,
                trial=trial,
                layout=options.layout,
                timeout=options.timeout,
                executor=options.executor,
            )
        )
        if outcomes[-1].structural:
            break  # the same structural fault would repeat in every trial
    return outcomes
