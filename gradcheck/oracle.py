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
(> 1 fails). Every step below returns a value; the report is built once
per trial from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from reference import (
    ACTIVATIONS,
    Gradients,
    Network,
    ParameterLayout,
    backprop,
    backprop_examples,
    backprop_loops,
)

from .candidate import (
    LAYOUTS,
    CandidateOutput,
    call_candidate,
    check_candidate,
    check_h_prime,
    check_repeatable,
    describe_candidate,
)
from .compare import FD_SAFETY, Comparison, compare, rounding_tolerance
from .data import random_targets
from .diagnose import diagnose
from .equations import check_equations
from .error_maps import failing_trial_maps
from .finite_diff import numerical_gradient
from .localize import localize_from_gradients
from .network_fd import network_numerical_gradient
from .report import (
    BackpropReport,
    BlockSummary,
    GradientMismatch,
    TrialReport,
    block_summaries,
    worst_entries,
)
from .shapes import diagnose_shapes
from .validate import (
    check_choice,
    check_count,
    check_flag,
    check_int,
    check_network,
    check_optional_callable,
)

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
FD_BUDGET = 2_000_000  # parameters x examples above which differences go by direction, not entry
# parameters x examples above which the loop form yields to backprop_examples
LOOPS_BUDGET = 300_000
DIRECTIONS = 4  # random directions for the directional check (plus one per block)
TRIAL_SEEDS = 1000  # trial k of a check with seed s draws its network with seed 1000 s + k


@dataclass(frozen=True)
class _Trial:
    """One planned call of the candidate: which network and batch (seed -1: given by the caller)."""

    index: int
    kind: str
    sizes: tuple[int, ...]
    d: int
    seed: int

    def report(self, **fields: Any) -> TrialReport:
        """The trial's report, with the verdict's `fields`."""
        return TrialReport(
            index=self.index, sizes=self.sizes, d=self.d, seed=self.seed, kind=self.kind, **fields
        )


@dataclass(frozen=True)
class _Outcome:
    """What one trial gives: its report, faults of the reference itself, and whether to stop."""

    report: TrialReport
    reference_problems: tuple[str, ...] = ()
    structural: bool = False  # no gradient at all: the same fault would repeat in every trial


@dataclass(frozen=True)
class _FiniteDifferences:
    """Candidate and reference vs finite differences (step 2), and how they were taken."""

    candidate: Comparison
    reference: Comparison
    values: np.ndarray | None  # entry by entry; None along directions
    method: str
    unverifiable: int  # entries no difference can verify (ReLU kinks)


def trial_case(
    sizes: Sequence[int],
    d: int,
    seed: int,
    *,
    hidden: Any = "sigmoid",
    output: Any = None,
    cost: Any = "quadratic",
) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network and batch of one trial: rebuild a failing trial from its report.

    Examples
    --------
    >>> net, X, Y = trial_case([4, 8, 3], 8, seed=123)
    >>> X.shape, Y.shape
    ((8, 4), (8, 3))
    """
    d = check_int(d, "d", low=1)
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=rng)
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
    edge_cases: bool = True,
    progress: Callable[[str], None] | None = None,
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
        What the candidate implements (names as in `reference.Network`).
    layout : {"article", "torch", "flat"}
    trials : int
        Random networks to draw. With `edge_cases`, a hidden layer of width 1,
        no hidden layer, and a batch of 1 are tried as well (same n_in, n_H).
    seed : int
        Everything random derives from it: the same seed gives the same report.
    batch_size : int
        Examples per batch `d` in the random trials.
    progress : callable, optional
        Called with a line of text as each trial starts (the command line
        prints it on stderr).

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
    options = _options(
        candidate=candidate,
        sizes=sizes,
        hidden=hidden,
        output=output,
        cost=cost,
        layout=layout,
        trials=trials,
        seed=seed,
        batch_size=batch_size,
        edge_cases=edge_cases,
        progress=progress,
    )
    plan = _plan(
        options["sizes"],
        trials=options["trials"],
        seed=options["seed"],
        d=options["batch_size"],
        edge_cases=options["edge_cases"],
    )
    outcomes = []
    for trial in plan:
        if progress is not None:
            progress(
                f"trial {trial.index + 1}/{len(plan)}: {trial.kind}, "
                f"sizes {list(trial.sizes)}, d={trial.d}"
            )
        net, X, Y = trial_case(
            trial.sizes, trial.d, trial.seed, hidden=hidden, output=output, cost=cost
        )
        outcomes.append(_run_trial(candidate, net, X, Y, trial=trial, layout=layout))
        if outcomes[-1].structural:
            break  # the same structural fault would repeat in every trial
    return _report(candidate, options, outcomes)


def check_backprop_at(
    candidate: Callable[..., Any], net: Network, X: Any, Y: Any, *, layout: str = "article"
) -> BackpropReport:
    """`check_backprop` on one given network and batch instead of drawn ones.

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
    X, Y = net.check_data(X, Y)
    trial = _Trial(index=0, kind="given", sizes=net.sizes, d=X.shape[0], seed=-1)
    options = {
        "sizes": net.sizes,
        "hidden": net.hidden.name,
        "output": net.output.name,
        "cost": net.cost_function.name,
        "layout": layout,
        "trials": 1,
        "seed": None,
        "batch_size": X.shape[0],
        "edge_cases": False,
    }
    outcome = _run_trial(candidate, net, X, Y, trial=trial, layout=layout)
    return _report(candidate, options, [outcome])


def assert_backprop(candidate: Callable[..., Any], **options: Any) -> BackpropReport:
    """`check_backprop`, raising `GradientMismatch` (an AssertionError) with the report if it fails.

    Examples
    --------
    >>> from reference import Network, backprop
    >>> def mine(weights, biases, X, Y):
    ...     return backprop(Network(weights, biases), X, Y)
    >>> _ = assert_backprop(mine, sizes=[3, 5, 2])
    """
    __tracebackhide__ = True
    report = check_backprop(candidate, **options)
    if not report.passed:
        raise GradientMismatch(report)
    return report


def _report(
    candidate: Callable[..., Any], options: dict[str, Any], outcomes: Sequence[_Outcome]
) -> BackpropReport:
    return BackpropReport(
        candidate=describe_candidate(candidate),
        options=options,
        trials=tuple(o.report for o in outcomes),
        reference_problems=tuple(p for o in outcomes for p in o.reference_problems),
    )


def _options(
    *,
    candidate: Any,
    sizes: Any,
    hidden: Any,
    output: Any,
    cost: Any,
    layout: Any,
    trials: Any,
    seed: Any,
    batch_size: Any,
    edge_cases: Any,
    progress: Any,
) -> dict[str, Any]:
    """`check_backprop`'s arguments, validated, as the report records them."""
    check_candidate(candidate)
    check_optional_callable(progress, "progress", takes="a line of text")
    check_choice(layout, "layout", LAYOUTS)
    trials = check_count(trials, "trials")
    batch_size = check_count(batch_size, "batch_size")
    seed = check_int(seed, "seed", low=0)  # a Python int: 1000 * seed + k must not overflow
    check_flag(edge_cases, "edge_cases")
    # Network.random validates sizes and the activation/cost names with clear messages.
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=0)
    for role, act in (("hidden", net.hidden), ("output", net.output)):
        if act.elementwise and (act.name not in ACTIVATIONS or ACTIVATIONS[act.name] is not act):
            check_h_prime(act, role=role)
    return {
        "sizes": net.sizes,
        "hidden": net.hidden.name,
        "output": net.output.name,
        "cost": net.cost_function.name,
        "layout": layout,
        "trials": trials,
        "seed": seed,
        "batch_size": batch_size,
        "edge_cases": bool(edge_cases),
    }


def _plan(
    sizes: tuple[int, ...], *, trials: int, seed: int, d: int, edge_cases: bool
) -> list[_Trial]:
    """The trials of one check: `trials` random networks, then the edge shapes."""
    plan = [("random", sizes, d)] * trials
    if edge_cases:
        if len(sizes) > 2 and max(sizes[1:-1]) > 1:
            plan.append(("width-1", (sizes[0],) + (1,) * (len(sizes) - 2) + (sizes[-1],), d))
        if len(sizes) > 2:
            plan.append(("no hidden layer", (sizes[0], sizes[-1]), d))
        plan.append(("batch of 1", sizes, 1))
    # Readable, reproducible trial seeds: seed 7 gives networks 7000, 7001, ...
    # Python ints: a numpy integer seed would overflow (or wrap) for seeds above ~9e15.
    seed, d = int(seed), int(d)
    return [
        _Trial(index=k, kind=kind, sizes=s, d=dk, seed=TRIAL_SEEDS * seed + k)
        for k, (kind, s, dk) in enumerate(plan)
    ]


def _run_trial(
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    trial: _Trial,
    layout: str,
) -> _Outcome:
    """Call the candidate on one network and batch, and judge what it returns."""
    out = call_candidate(candidate, net, X, Y, layout=layout)
    if not out.problems and trial.index == 0:  # once per check: a second call must agree
        out = check_repeatable(candidate, net, X, Y, layout=layout, first=out)
    if out.problems:
        diagnosis = () if out.shapes is None else diagnose_shapes(*out.shapes, net)
        report = trial.report(problems=out.problems, diagnosis=diagnosis)
        return _Outcome(report, structural=out.gradient is None)
    return _compare_trial(out, net, X, Y, trial=trial)


def _compare_trial(
    out: CandidateOutput, net: Network, X: np.ndarray, Y: np.ndarray, *, trial: _Trial
) -> _Outcome:
    """The three comparisons of the module docstring, and the trial's report built from them."""
    assert out.gradient is not None  # called only for an answer without problems
    candidate = out.gradient.astype(np.float64)
    reference = backprop(net, X, Y).flat()
    reference_tolerance = rounding_tolerance(net, X, Y, np.float64)  # the reference's rounding
    tolerance = reference_tolerance
    if out.dtype != np.float64:
        tolerance = rounding_tolerance(net, X, Y, out.dtype) + reference_tolerance

    # 1. candidate vs reference
    vs_reference = compare(candidate, reference, tolerance)
    # 2. candidate (and reference) vs finite differences
    fd = _vs_finite_differences(
        net,
        X,
        Y,
        candidate=candidate,
        reference=reference,
        tolerance=tolerance,
        reference_tolerance=reference_tolerance,
    )
    # 3. the reference vs its loop form: it must agree to its own rounding
    form = backprop_loops if net.layout.size * X.shape[0] <= LOOPS_BUDGET else backprop_examples
    loops = compare(form(net, X, Y).flat(), reference, 2 * reference_tolerance)

    blocks = block_summaries(vs_reference, net.layout)
    report = trial.report(
        dtype=str(out.dtype),
        excess_vs_reference=float(vs_reference.excess.max()),
        excess_vs_finite_differences=float(fd.candidate.excess.max()),
        excess_reference_vs_loops=float(loops.excess.max()),
        finite_difference_method=fd.method,
        unverifiable=fd.unverifiable,
        blocks=blocks,
        worst=worst_entries(vs_reference, net.layout, finite_differences=fd.values),
    )
    if not report.passed:
        diagnosis = _diagnose(
            net, X, Y, candidate=candidate, reference=reference, dtype=out.dtype, blocks=blocks
        )
        report = replace(report, diagnosis=diagnosis)
    equation_table = None
    if out.deltas is not None:  # the candidate showed its derivation: check it equation by equation
        report, equation_table = _check_derivation(
            report, net, X, Y, deltas=out.deltas, candidate=candidate
        )
    if not report.passed:  # what the HTML report draws, kept for failing trials only
        maps = failing_trial_maps(
            net, X, Y, vs_reference, finite_differences=fd.values, equation_table=equation_table
        )
        report = replace(report, maps=maps)
    problems = _reference_problems(
        trial.index, net.layout, loops=loops, form=form.__name__, vs_fd=fd.reference
    )
    return _Outcome(report, reference_problems=problems)


def _vs_finite_differences(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    tolerance: np.ndarray,
    reference_tolerance: np.ndarray,
) -> _FiniteDifferences:
    """Step 2: entry by entry within `FD_BUDGET`, along directions beyond it."""
    if net.layout.size * X.shape[0] > FD_BUDGET:
        vs_candidate, vs_reference = _directional(
            net,
            X,
            Y,
            candidate=candidate,
            reference=reference,
            tolerance=tolerance,
            reference_tolerance=reference_tolerance,
        )
        method = "richardson, along random and per-block directions"
        return _FiniteDifferences(vs_candidate, vs_reference, None, method, unverifiable=0)
    fd = network_numerical_gradient(net, X, Y)
    values = fd.flat()
    checked = ~fd.unverifiable.flat()
    fd_tolerance = FD_SAFETY * fd.error.flat()
    return _FiniteDifferences(
        candidate=compare(candidate, values, fd_tolerance + tolerance, checked=checked),
        reference=compare(reference, values, fd_tolerance + reference_tolerance, checked=checked),
        values=values,
        method=f"{fd.method}, entry by entry",
        unverifiable=fd.n_unverifiable,
    )


def _directional(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    tolerance: np.ndarray,
    reference_tolerance: np.ndarray,
) -> tuple[Comparison, Comparison]:
    """Directional derivatives `grad . v` by Richardson differences of `J(theta + t v)`.

    Random Rademacher directions see every entry; one direction per block
    `W^L`, `b^L` keeps a bug in a small block from drowning in a large one.
    Returns the candidate's and the reference's comparisons, in that order.
    """
    theta = net.flat()
    rng = np.random.default_rng(0)
    directions = [rng.choice([-1.0, 1.0], size=theta.size) for _ in range(DIRECTIONS)]
    for _, block, _ in net.layout.blocks:
        v = np.zeros(theta.size)
        v[block] = rng.choice([-1.0, 1.0], size=block.stop - block.start)
        directions.append(v)
    V = np.array(directions)
    # The directional derivatives grad . v_k are the partial derivatives of
    # F(s) = J(theta + V^T s) at s = 0: one numerical gradient of size k.
    numerical = numerical_gradient(
        lambda s: net.cost(X, Y, theta=theta + V.T @ s), np.zeros(len(V))
    )
    fd_tolerance = FD_SAFETY * numerical.error
    return (
        compare(V @ candidate, numerical.gradient, fd_tolerance + np.abs(V) @ tolerance),
        compare(V @ reference, numerical.gradient, fd_tolerance + np.abs(V) @ reference_tolerance),
    )


def _reference_problems(
    index: int, layout: ParameterLayout, *, loops: Comparison, form: str, vs_fd: Comparison
) -> tuple[str, ...]:
    """Faults of the reference itself (step 3, and step 2 for it): never blamed on the candidate."""
    problems = []
    if not loops.passed:
        problems.append(
            f"trial {index}: backprop and {form} disagree at "
            f"{layout.name(int(loops.failing[0]))}: a fault of the reference, not of the candidate"
        )
    if not vs_fd.passed:
        problems.append(
            f"trial {index}: the reference disagrees with finite differences "
            f"(worst {vs_fd.excess.max():.3g} x tolerance): a fault of the reference"
        )
    return tuple(problems)


def _diagnose(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    candidate: np.ndarray,
    reference: np.ndarray,
    dtype: np.dtype,
    blocks: Sequence[BlockSummary],
) -> tuple[str, ...]:
    """Plain-words likely causes: known bugs recognised, then the layer where it goes wrong."""
    rtol = 1e-4 if np.dtype(dtype).itemsize < 8 else 1e-6
    sizes = net.sizes
    found = [
        str(x)
        for x in diagnose(
            Gradients.from_flat(candidate, sizes),
            net,
            X,
            Y,
            reference=Gradients.from_flat(reference, sizes),
            rtol=rtol,
        )
    ]
    if blocks:
        layer_ok = [
            all(b.failing == 0 for b in blocks if b.name[2:] == str(L)) for L in range(net.H + 1)
        ]
        if not all(layer_ok):
            found.append(localize_from_gradients(layer_ok))
    return tuple(found)


def _check_derivation(
    report: TrialReport,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    deltas: list,
    candidate: np.ndarray,
) -> tuple[TrialReport, str | None]:
    """With the candidate's deltas, name the first equation that goes wrong, and at which layer.

    Returns the report and the equation-by-equation table (None when the deltas are unusable).
    """
    try:
        equations = check_equations(
            net, X, Y, deltas=deltas, gradients=Gradients.from_flat(candidate, net.sizes)
        )
    except (ValueError, TypeError) as exc:  # wrong shapes or values of the deltas
        problem = f"the candidate's deltas: {exc}"
        return replace(report, problems=report.problems + (problem,)), None
    if equations.passed:
        return report, str(equations)
    report = replace(
        report,
        problems=report.problems + (f"equation by equation: {equations.explanation}",),
        diagnosis=(equations.explanation,) + report.diagnosis,
    )
    return report, str(equations)
