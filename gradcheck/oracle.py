"""`check_backprop` / `assert_backprop`: check any backprop implementation, name the wrong entry and the likely bug.

For each trial (a seeded network and batch; edge shapes among them), the
candidate is called with copies and what it returns is compared three ways,
so that no verdict rests on one computation alone:

1. candidate vs the reference (`backprop`, exact math), entry by entry,
   within what rounding in the candidate's dtype can explain;
2. candidate vs finite differences, which know nothing of backprop (entry by
   entry where affordable, along random and per-block directions otherwise);
3. the reference vs its loop form (and vs the same differences), so a fault
   of the reference itself is reported as such, never blamed on the candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference import ACTIVATIONS, Gradients, Network, backprop, backprop_examples, backprop_loops

from .candidate import LAYOUTS, CandidateOutput, call_candidate
from .compare import FD_SAFETY, Comparison, compare, rounding_tolerance, scaled_norm
from .data import random_targets
from .diagnose import diagnose
from .equations import check_equations
from .finite_diff import compare_gradient, numerical_gradient
from .localize import localize_from_gradients
from .network_fd import network_numerical_gradient
from .report import BackpropReport, BlockSummary, EntryReport, GradientMismatch, TrialReport
from .shapes import diagnose_shapes
from .validate import check_int, check_network

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
LOOPS_BUDGET = (
    300_000  # parameters x examples above which the loop form yields to backprop_examples
)

DIRECTIONS = 4  # random directions for the directional check (plus one per block)
MAX_ENTRIES = 8
TRIAL_SEEDS = 1000  # trial k of a check with seed s draws its network with seed 1000 s + k


@dataclass(frozen=True)
class _Trial:
    index: int
    kind: str
    sizes: tuple[int, ...]
    d: int
    seed: int


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
        ``.passed``, per-layer errors, worst entries, ``.diagnosis``;
        ``str()`` is a readable table, ``.to_dict()`` JSON for machines.

    Examples
    --------
    >>> from reference import Network, backprop
    >>> def mine(weights, biases, X, Y):
    ...     g = backprop(Network(weights, biases), X, Y)
    ...     return g.weights, g.biases
    >>> check_backprop(mine, sizes=[3, 5, 2]).passed
    True
    """
    options = _validated(
        candidate,
        sizes,
        hidden,
        output,
        cost,
        layout,
        trials,
        seed,
        batch_size,
        edge_cases,
        progress,
    )
    reports = []
    reference_problems: list[str] = []
    plan = _trials(
        options["sizes"], options["trials"], options["seed"], options["batch_size"], edge_cases
    )
    for trial in plan:
        if progress is not None:
            progress(
                f"trial {trial.index + 1}/{len(plan)}: {trial.kind}, sizes {list(trial.sizes)}, d={trial.d}"
            )
        net, X, Y = trial_case(
            trial.sizes, trial.d, trial.seed, hidden=hidden, output=output, cost=cost
        )
        report = TrialReport(trial.index, list(trial.sizes), trial.d, trial.seed, trial.kind)
        fatal = _run_trial(
            report, candidate, net, X, Y, layout, reference_problems, repeat=trial.index == 0
        )
        reports.append(report)
        if fatal:
            break  # the same structural fault would repeat in every trial
    return BackpropReport(
        candidate=_describe(candidate),
        options=options,
        trials=reports,
        reference_problems=reference_problems,
    )


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
    _check_candidate(candidate)
    check_network(net)
    if layout not in LAYOUTS:
        raise ValueError(f"unknown `layout` {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    X, Y = net.check_data(X, Y)
    report = TrialReport(0, list(net.sizes), X.shape[0], -1, "given")
    reference_problems: list[str] = []
    _run_trial(report, candidate, net, X, Y, layout, reference_problems, repeat=True)
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
    return BackpropReport(_describe(candidate), options, [report], reference_problems)


def _run_trial(
    report: TrialReport,
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    layout: str,
    reference_problems: list[str],
    *,
    repeat: bool,
) -> bool:
    """Call the candidate on one network and batch and fill `report`; True if the fault is structural."""
    out = call_candidate(candidate, net, X, Y, layout=layout)
    if not out.problems and repeat:
        _check_repeatable(candidate, net, X, Y, layout, out)
    if out.problems:
        report.problems = out.problems
        report.diagnosis = _shape_diagnosis(out, net)
    else:
        _compare_trial(report, out, net, X, Y, reference_problems)
    return out.gradient is None


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


# ------------------------------------------------------------------ trials


def _trials(
    sizes: tuple[int, ...], trials: int, seed: int, d: int, edge_cases: bool
) -> list[_Trial]:
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
    return [_Trial(k, kind, s, dk, TRIAL_SEEDS * seed + k) for k, (kind, s, dk) in enumerate(plan)]


# -------------------------------------------------------------- comparison


def _compare_trial(
    report: TrialReport,
    out: CandidateOutput,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    reference_problems: list[str],
) -> None:
    layout = net.layout
    d = X.shape[0]
    report.dtype = str(out.dtype)
    assert out.gradient is not None  # called only for an answer without problems
    candidate = out.gradient.astype(np.float64)
    reference = backprop(net, X, Y).flat()
    own = rounding_tolerance(net, X, Y, np.float64)  # the reference's own rounding
    tolerance = own if out.dtype == np.float64 else rounding_tolerance(net, X, Y, out.dtype) + own

    # 1. candidate vs reference
    vs_reference = compare(candidate, reference, tolerance)
    report.vs_reference = float(vs_reference.excess.max())

    # 3. the reference vs its loop form: it must agree to its own rounding
    form = backprop_loops if layout.size * d <= LOOPS_BUDGET else backprop_examples
    loops = compare(form(net, X, Y).flat(), reference, 2 * own)
    report.reference_vs_loops = float(loops.excess.max())
    if not loops.passed:
        reference_problems.append(
            f"trial {report.index}: backprop and {form.__name__} disagree at "
            f"{layout.name(int(loops.failing[0]))}: a fault of the reference, not of the candidate"
        )

    # 2. candidate (and reference) vs finite differences
    fd_values = None
    if layout.size * d <= FD_BUDGET:
        fd = network_numerical_gradient(net, X, Y)
        fd_values = fd.flat()
        checked = ~fd.unverifiable.flat()
        fd_tolerance = FD_SAFETY * fd.error.flat()
        vs_fd = compare(candidate, fd_values, fd_tolerance + tolerance, checked=checked)
        ref_fd = compare(reference, fd_values, fd_tolerance + own, checked=checked)
        report.finite_difference_method = f"{fd.method}, entry by entry"
        report.unverifiable = fd.n_unverifiable
    else:
        vs_fd, ref_fd = _directional(net, X, Y, candidate, reference, tolerance, own)
        report.finite_difference_method = "richardson, along random and per-block directions"
    report.vs_finite_differences = float(vs_fd.excess.max())
    if not ref_fd.passed:
        reference_problems.append(
            f"trial {report.index}: the reference disagrees with finite differences "
            f"(worst {ref_fd.excess.max():.3g} x tolerance): a fault of the reference"
        )

    report.blocks = _blocks(vs_reference, layout)
    report.worst = _worst_entries(
        vs_reference if not vs_reference.passed else None, fd_values, layout
    )
    if not report.passed:
        report.diagnosis = _diagnose(candidate, net, X, Y, reference, out.dtype, report.blocks)
    if out.deltas is not None:  # the candidate showed its derivation: check it equation by equation
        _check_derivation(report, out, net, X, Y, candidate)


def _check_derivation(
    report: TrialReport,
    out: CandidateOutput,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    candidate: np.ndarray,
) -> None:
    """With the candidate's deltas, name the first equation that goes wrong, and at which layer."""
    try:
        equations = check_equations(
            net, X, Y, deltas=out.deltas, gradients=Gradients.from_flat(candidate, net.sizes)
        )
    except (ValueError, TypeError) as exc:  # wrong shapes or values of the deltas
        report.problems.append(f"the candidate's deltas: {exc}")
        return
    if not equations.passed:
        report.problems.append(f"equation by equation: {equations.explanation}")
        report.diagnosis.insert(0, equations.explanation)


def _directional(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    candidate: np.ndarray,
    reference: np.ndarray,
    tolerance: np.ndarray,
    own: np.ndarray,
) -> tuple[Comparison, Comparison]:
    """Directional derivatives `grad . v` by Richardson differences of `J(theta + t v)`.

    Random Rademacher directions see every entry; one direction per block
    `W^L`, `b^L` keeps a bug in a small block from drowning in a large one.
    """
    layout = net.layout
    theta = net.flat()
    rng = np.random.default_rng(0)
    directions = [rng.choice([-1.0, 1.0], size=theta.size) for _ in range(DIRECTIONS)]
    for _, block, _ in layout.blocks:
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
        compare(V @ reference, numerical.gradient, fd_tolerance + np.abs(V) @ own),
    )


def _blocks(c: Comparison, layout) -> list[BlockSummary]:
    excess = c.excess
    out = []
    for name, block, _ in layout.blocks:
        e = excess[block]
        worst = int(np.argmax(e))
        ref = c.expected[block]
        with np.errstate(over="ignore", invalid="ignore"):
            diff = scaled_norm(c.candidate[block] - ref)
        norm = scaled_norm(ref)
        out.append(
            BlockSummary(
                name=name,
                entries=int(e.size),
                failing=int((~(e <= 1.0)).sum()),
                worst_excess=float(e.max()),
                worst_entry=layout.name(block.start + worst),
                relative_error=float(diff / norm if norm > 0 else diff),
            )
        )
    return out


def _worst_entries(c: Comparison | None, fd: np.ndarray | None, layout) -> list[EntryReport]:
    if c is None:
        return []
    return [
        EntryReport(
            name=layout.name(int(j)),
            candidate=float(c.candidate[j]),
            reference=float(c.expected[j]),
            finite_difference=None if fd is None else float(fd[j]),
            tolerance=float(c.tolerance[j]),
            excess=float(c.excess[j]),
        )
        for j in c.failing[:MAX_ENTRIES]
    ]


def _check_repeatable(
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    layout: str,
    first: CandidateOutput,
) -> None:
    again = call_candidate(candidate, net, X, Y, layout=layout)
    if again.problems or again.gradient is None:
        first.problems.append(
            "the candidate behaved differently when called a second time on the same input: "
            + "; ".join(again.problems)
        )
        return
    assert first.gradient is not None  # called only for an answer without problems
    tolerance = rounding_tolerance(net, X, Y, first.dtype)
    c = compare(again.gradient.astype(np.float64), first.gradient.astype(np.float64), tolerance)
    if not c.passed:
        j = int(c.failing[0])
        first.problems.append(
            "the candidate returned a different answer when called twice on the same input "
            f"({net.layout.name(j)}: {first.gradient[j]:.6g}, then {again.gradient[j]:.6g}): "
            "hidden state, such as gradients accumulated across calls and never reset?"
        )


# --------------------------------------------------------------- diagnosis


def _diagnose(
    candidate: np.ndarray,
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    reference: np.ndarray,
    dtype: np.dtype,
    blocks: list[BlockSummary],
) -> list[str]:
    found: list[str] = []
    rtol = 1e-4 if np.dtype(dtype).itemsize < 8 else 1e-6
    sizes = net.sizes
    found += [
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
    return found


def _shape_diagnosis(out: CandidateOutput, net: Network) -> list[str]:
    if out.shapes is None:
        return []
    return list(diagnose_shapes(out.shapes[0], out.shapes[1], net))


# --------------------------------------------------------------- plumbing


H_PRIME_GRID = (
    np.linspace(-4.0, 4.0, 33) + 0.0123
)  # off 0: h' of a ReLU-like h is a convention there


def _check_h_prime(act: Any, role: str) -> None:
    """A user's own `(h, h')` pair: `h'` must be the derivative of `h`, or every verdict is moot."""
    z = H_PRIME_GRID
    with np.errstate(all="ignore"):
        claimed = np.asarray(act.h_prime(z.copy()), dtype=np.float64)
        check = compare_gradient(
            claimed,
            numerical_gradient(lambda x: float(np.sum(act.h(x))), z),
            names=lambda j: f"z={z[j]:.4g}",
        )
    if not check.passed:
        j = int(check.failures[0])
        raise ValueError(
            f"the {role} activation {act.name!r}: h_prime is not the derivative of h; at z = {z[j]:.4g}, "
            f"h_prime gives {claimed[j]:.10g} but differences of h give {check.numerical.gradient[j]:.10g} "
            f"({check.failures.size} of {z.size} points checked on [-4, 4] disagree)"
        )


def _describe(candidate: Callable[..., Any]) -> str:
    module = getattr(candidate, "__module__", None)
    name = getattr(candidate, "__qualname__", None) or type(candidate).__name__
    return f"{module}.{name}" if module and module != "__main__" else name


def _check_candidate(candidate: Any) -> None:
    if not callable(candidate):
        raise TypeError(
            f"`candidate` must be callable as candidate(weights, biases, X, Y), got "
            f"{type(candidate).__name__}"
        )


def _validated(
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
    progress: Any = None,
) -> dict[str, Any]:
    _check_candidate(candidate)
    if progress is not None and not callable(progress):
        raise TypeError(
            f"`progress` must be None or a callable taking a line of text, got {type(progress).__name__}"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"unknown `layout` {layout!r}; known layouts: {', '.join(LAYOUTS)}")
    for name, value, low in (("trials", trials, 1), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"`{name}` must be an integer, got {value!r}")
        if value < low:
            raise ValueError(f"`{name}` must be at least {low}, got {value}")
    seed = check_int(seed, "seed", low=0)  # a Python int: 1000 * seed + k must not overflow
    if not isinstance(edge_cases, bool):
        raise TypeError(f"`edge_cases` must be True or False, got {edge_cases!r}")
    # Network.random validates sizes and the activation/cost names with clear messages.
    net = Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=0)
    for role, act in (("hidden", net.hidden), ("output", net.output)):
        if act.elementwise and (act.name not in ACTIVATIONS or ACTIVATIONS[act.name] is not act):
            _check_h_prime(act, role)
    return {
        "sizes": net.sizes,
        "hidden": net.hidden.name,
        "output": net.output.name,
        "cost": net.cost_function.name,
        "layout": layout,
        "trials": int(trials),
        "seed": int(seed),
        "batch_size": int(batch_size),
        "edge_cases": edge_cases,
    }
