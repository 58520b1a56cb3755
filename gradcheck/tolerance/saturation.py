"""The systematic part of rounding: cancelling formulas near saturation, bounded linearly.

`gradcheck.tolerance.compare` models rounding as a random walk: independent errors of
random sign, `K` standard deviations allowed. Two errors of correct code do
not behave so, and are bounded here as worst cases propagated as magnitudes
(`|A|^T E`, `E |W|^T`: every sum adds them with one sign):

- **deep saturation** (`saturation_loss`): where `h'(z)` is below
  `u / SATURATED`, `a (1 - a)`, `1 - a^2` or `a + 1` return 0 (the `a` they
  cancel has rounded to its bound) and the delta there is lost whole; where
  a bounded `a` is that near its bound, `(1 + tanh(z/2)) / 2` returns the
  bound itself. Measured: numpy's float32 tanh returns 1 - ulp where
  1 - tanh(x) is u/8, and exactly 1 from u/16 down; 64 leaves room.
- **flushed subnormals**: code that flushes subnormal numbers to zero (FTZ and DAZ, as
  gcc's `-ffast-math` and CUDA's fast math run) loses every `a` and `delta` below the
  dtype's smallest normal number (`smallest_normal`) whole, like deep saturation: a float32
  softplus `a` of 1e-39 times a `delta` of 1e3 is a gradient entry of 1e-36, a normal
  number such code returns as 0 (the soak's seed 55006477);
- **the zone above it** (`zone_bound`): where `h'` or `a`'s distance to its
  bound is at least `u / SATURATED` but small, the same formulas err by the
  rounding of `a` made absolute: at most `zone_ulps(act)` times `u` an entry,
  derived per built-in activation from the libm's accuracy (`libm_accuracy`:
  `LIBM_ULPS`, numpy's and torch's, unless a candidate's framework declares its own;
  `1 - a^2`: twice `a`'s error, and half an ulp from the square), `ZONE_ULPS` for
  any other.

`compare.rounding_scale` adds the first whole, and takes the smaller of
the second and its random-walk share (few such entries in a sum: the worst
case is tighter; many: the random walk is).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from gradcheck.tolerance.policy import LIBM_ULPS, SATURATED, ZONE_ULPS
from gradcheck.tolerance.subgradient import delta_intervals, slope_bound
from reference import ACTIVATIONS, Activation, ForwardPass, Network, forward_pass

#: Per layer, the units a candidate may put on either side of a kink, or None (none anywhere).
Kinks = Sequence[np.ndarray | None] | None

__all__ = [
    "SATURATED",
    "ZONE_ULPS",
    "delta_sizes",
    "exact_outputs",
    "fused_sensitivity",
    "in_zone",
    "libm_accuracy",
    "libm_distance",
    "libm_ulps",
    "output_distance",
    "saturation_loss",
    "smallest_normal",
    "softmax_rest",
    "systematic_bounds",
    "zone_bound",
    "zone_ulps",
]


def delta_sizes(
    net: Network, fw: ForwardPass, Y: np.ndarray, kinks: Kinks = None
) -> list[np.ndarray]:
    """|Delta^L| for L = 0 .. H of `net` at the forward pass `fw` (rows are examples).

    `kinks`: per layer, the units (or None) a candidate may put on either side of a kink
    (`gradcheck.tolerance.allowed.kink_units`); the sizes then bound every slope choice.
    NaN (a cost undefined at the output) counts as 0: the propagated error carries it.
    """
    intervals = delta_intervals(net, fw, Y, kinks, nan_as_zero=True)
    return [np.abs(centre) + radius for centre, radius in intervals]


#: How much an error in `a^H_k` moves each fused `delta^H_k`, by (output, cost): `a - y` by
#: itself, `y (a - 1)` by `|y_k|`; a fused form not listed (`a sum(y) - y`, or a user's) by
#: `1 + sum_n |y_n|` of its row, which holds every one of them.
FUSED_SENSITIVITY: dict[tuple[str, str], Callable[[np.ndarray], np.ndarray]] = {
    ("sigmoid", "cross_entropy"): np.ones_like,
    ("sigmoid", "categorical_cross_entropy"): np.abs,
}


def fused_sensitivity(net: Network, Y: np.ndarray) -> np.ndarray:
    """`|d delta^H_k / d a^H_k|` of `net`'s fused form at targets `Y` (a bound; shape of `Y` or a
    column). Each output's `a - y` or `y (a - 1)` depends on its own `y_k` only: the row's
    `1 + sum |y|` there overstated a sigmoid's error by the number of outputs (the soak's
    seed 12003151: 43 outputs, `sum |y|` = 21, a tolerance 34 times the error of a bug
    that no correct float64 backprop comes within 33 times of)."""
    form = FUSED_SENSITIVITY.get((net.output.name, net.cost_function.name))
    if form is not None:
        return form(Y)
    return 1 + np.abs(Y).sum(axis=1, keepdims=True)


def output_distance(net: Network, fw: ForwardPass) -> np.ndarray:
    """Each `a^H`'s distance to its nearer bound; a sigmoid's `1 - a` as `h(-z)`, without
    cancellation (`1 - a` of the float64 `a` is 0 wherever `a` rounds to 1)."""
    act, A = net.output, fw.A[net.H]
    if act is ACTIVATIONS["sigmoid"]:
        return np.minimum(np.abs(A), act.h(-fw.Z[net.H]))
    return np.minimum(np.abs(A - act.lower), np.abs(act.upper - A))


def exact_outputs(net: Network, fw: ForwardPass, u: float) -> np.ndarray:
    """Where every correct code's `a^H_k` is exactly 1 (shape of `a^H`): a softmax row's largest
    whose other outputs add up to less than `u / SATURATED` (`softmax_rest`), a sigmoid's whose
    `1 - a` is that small (libms return 1 there). Its rounding is then that distance, not
    `u a`, and `a sum(y)`, `a - 1` of a fused form are exact."""
    A = fw.A[net.H]
    if not net.output.elementwise:
        return softmax_rest(A, u)[1]
    if net.output is not ACTIVATIONS["sigmoid"]:
        return np.zeros(A.shape, dtype=bool)
    return net.output.h(-fw.Z[net.H]) < u / SATURATED  # 1 - a, exactly


def _largest(A: np.ndarray) -> np.ndarray:
    """One True a row, at its first largest entry (a tie is not a saturated row)."""
    return np.arange(A.shape[1]) == A.argmax(axis=1)[:, None]


def softmax_rest(A: np.ndarray, u: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`1 - a_k` of each softmax output, without cancellation where `a_k` is the row's largest
    (`sum_{n != k} a_n`, also returned per row), and where that is below `u / SATURATED`:
    a_k is then exactly 1."""
    largest = _largest(A)
    others = np.where(largest, 0.0, A).sum(axis=1, keepdims=True)
    rest = np.where(largest, others, 1 - A)
    return rest, largest & (others < u / SATURATED), others


def _softmax_sum_loss(net: Network, A: np.ndarray, Y: np.ndarray, u: float) -> np.ndarray:
    """delta^H's loss where a softmax row is saturated: `a_k = 1`, and `s = sum_n a_n g_n`
    rounds to `a_k g_k` plus at most the other terms, so `g_k - s` may lose all of them.

    `g_k - s = (1 - a_k) g_k - sum_{n != k} a_n g_n` exactly: with `a_k` rounded to 1
    the first term, `|g_k|` times the other `a_n`'s sum, is lost as well. (The soak's
    seed 7000603, float32: delta^H of one example was 2.986e-12, all of it lost; the
    other terms alone are 6.0e-13, `|g_k| sum a_n` the other 2.39e-12.)"""
    _, saturated, others = softmax_rest(A, u)
    g = np.abs(net.cost_function.dJ_da(A, Y))
    rest = np.where(_largest(A), 0.0, np.abs(A) * g).sum(axis=1, keepdims=True)
    return np.where(saturated, rest + others * g, 0.0)


def in_zone(distance: np.ndarray, u: float) -> np.ndarray:
    """Where a cancelling formula whose true result is `distance` errs by about `u`."""
    return distance >= u / SATURATED


def _saturated(distance: np.ndarray, u: float) -> np.ndarray:
    """Where it rounds to 0 instead (and so loses the whole `distance`)."""
    return (distance > 0) & (distance < u / SATURATED)


def saturation_loss(
    net: Network, X: np.ndarray, Y: np.ndarray, u: float, kinks: Kinks = None
) -> np.ndarray:
    """What the gradient loses, at most, where saturated values round to their bounds.

    Returns
    -------
    ndarray, shape (P,)
        Absolute (not in units of `u`): the flat bound per entry.
    """
    return systematic_bounds(net, X, Y, u, kinks)[0]


def zone_bound(
    net: Network, X: np.ndarray, Y: np.ndarray, u: float, kinks: Kinks = None
) -> np.ndarray:
    """The worst case of `ZONE_ULPS u` per cancelling formula above deep saturation.

    Returns
    -------
    ndarray, shape (P,)
        Absolute: the flat bound per entry.
    """
    return systematic_bounds(net, X, Y, u, kinks)[1]


def systematic_bounds(
    net: Network, X: np.ndarray, Y: np.ndarray, u: float, kinks: Kinks = None
) -> tuple[np.ndarray, np.ndarray]:
    """`saturation_loss` and `zone_bound` from one forward pass: flat, absolute, shape (P,).

    `kinks` (`delta_sizes`): the bounds then hold for every slope a kinked unit may take."""
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    intervals = delta_intervals(net, fw, Y, kinks, nan_as_zero=True)
    sizes = [np.abs(centre) + radius for centre, radius in intervals]
    signed = [np.where(radius == 0, centre, 0.0) for centre, radius in intervals]
    kinks = [None] * (net.H + 1) if kinks is None else kinks
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bounds = tuple(
            np.nan_to_num(
                _magnitudes_backward(
                    net, X, fw, sizes, kinks, *_losses(net, fw, sizes, Y, u, deep, signed)
                ),
                nan=0.0,
                posinf=np.inf,
            )
            for deep in (True, False)
        )
    return bounds[0], bounds[1]


_LIBM_ULPS: ContextVar[float] = ContextVar("libm_ulps", default=LIBM_ULPS)


def libm_ulps() -> float:
    """The libm accuracy, in ulps, that tolerances hold candidates to here (`libm_accuracy`)."""
    return _LIBM_ULPS.get()


@contextlib.contextmanager
def libm_accuracy(ulps: float, *, name: str = "ulps") -> Iterator[None]:
    """Within the block, tolerances hold the candidate's `tanh`, `exp`, `expm1`, ... to `ulps`.

    `LIBM_ULPS` (numpy's and torch's, 1.5) outside any such block; the JAX adapters declare
    `XLA_LIBM_ULPS` (7), as a candidate built on another libm should. Only the zone above
    saturation depends on it (`zone_ulps`), where one ulp of `a` is a large part of `h'`.

    Examples
    --------
    >>> with libm_accuracy(7.0):
    ...     zone_ulps(ACTIVATIONS["tanh"], 0.999)
    (7.0, 14.5)
    """
    if isinstance(ulps, bool) or not (
        isinstance(ulps, (int, float)) and np.isfinite(ulps) and ulps > 0
    ):
        raise ValueError(f"`{name}` must be a positive number of ulps, got {ulps!r}")
    token = _LIBM_ULPS.set(float(ulps))
    try:
        yield
    finally:
        _LIBM_ULPS.reset(token)


def libm_distance(act: Activation, Z: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """`distance` (of `a` or `h'` to 0 or a bound) as the saturation tests take it: twice it
    where a built-in sigmoid or softplus computes the value from `tanh(z / 2)` near -1
    (`z < 0`), which is twice as far from its bound and may round to `-1 + u`, giving `u / 2`."""
    if ACTIVATIONS.get(act.name) is act and act.name in ("sigmoid", "softplus"):
        return np.where(np.asarray(Z) < 0, 2 * distance, distance)
    return distance


def zone_ulps(act: Activation, A: np.ndarray | float = 1.0) -> tuple[Any, Any]:
    """How many `u` `act`'s `a` (values `A`) and its `h'` may err by in the zone.

    For a built-in (the very object of `reference.ACTIVATIONS`), from the libm's accuracy
    `L` in ulps (`libm_accuracy`): `a` errs by `LIBM_ULPS` (numpy's) and, for a libm less
    accurate than that, by `L - LIBM_ULPS` more where an ulp of the libm's result is `u`
    (`tanh(z)`, `expm1(z)` near -1; `tanh(z / 2)` near -1 and 1 of sigmoid's and
    softplus' `(1 + tanh(z / 2)) / 2`), a share `2 |t|` of that where the result `t` is
    smaller. A sigmoid errs by at least 1.5, its worst formulas' (`1 - 1 / (1 + e^z)` near
    0, `1 / (1 + e^-z)` near 1: `1 + e` rounds by `u`, the quotient by `u / 2`). `h'`
    errs by `a`'s error and half an ulp of the product in `a (1 - a)`, by twice it and half
    an ulp of the square in `1 - a^2`, by `a`'s in ELU's `a + 1` (exact near -1) and
    softplus' `sigmoid(z)`. Anything else: `ZONE_ULPS` (its formulas nobody here has
    seen) and tanh's `h'` error where that is larger, and the libm's excess on top.

    Examples
    --------
    >>> zone_ulps(ACTIVATIONS["sigmoid"]), zone_ulps(ACTIVATIONS["tanh"])
    ((1.5, 2.0), (1.5, 3.5))
    """
    excess = max(_LIBM_ULPS.get() - LIBM_ULPS, 0.0)
    A = np.abs(np.asarray(A, dtype=np.float64))
    if ACTIVATIONS.get(act.name) is not act or act.name not in (
        "sigmoid",
        "tanh",
        "elu",
        "softplus",
    ):
        # never held tighter than the built-in whose formulas err most (tanh's 1 - a^2)
        return ZONE_ULPS + excess, max(ZONE_ULPS, 2 * LIBM_ULPS + 0.5) + 2 * excess
    if act.name in ("sigmoid", "softplus"):  # through t = tanh(z / 2) = 2 sigmoid(z) - 1
        share = np.minimum(1.0, 2 * np.abs(2 * A - 1)) if act.name == "sigmoid" else 1.0
        a = _plain(max(LIBM_ULPS, 1.5) + excess * share)
        return (a, a + 0.5) if act.name == "sigmoid" else (0.0, a)
    a = _plain(LIBM_ULPS + excess * np.minimum(1.0, 2 * A))  # tanh(z), expm1(z) itself
    return (a, 2 * a + 0.5) if act.name == "tanh" else (a, a)


def smallest_normal(u: float) -> float:
    """The smallest normal number of the floating type whose unit roundoff is `u` (float16,
    float32 or float64; float64's for any other): below it, code that flushes subnormals
    to zero (FTZ and DAZ, as gcc's `-ffast-math` and CUDA's fast math run) returns 0.

    Examples
    --------
    >>> smallest_normal(2.0**-24) == float(np.finfo(np.float32).tiny)
    True
    """
    for dtype in (np.float16, np.float32, np.float64):
        if float(np.finfo(dtype).eps) / 2 == u:
            return float(np.finfo(dtype).tiny)
    return float(np.finfo(np.float64).tiny)


def _plain(x: Any) -> Any:
    """A 0-d result as a Python float (what a scalar `A` gives), an array as it is."""
    return float(x) if np.ndim(x) == 0 else x


def _losses(
    net: Network,
    fw: ForwardPass,
    sizes: list,
    Y: np.ndarray,
    u: float,
    deep: bool,
    signed: list | None = None,
):
    """What each `a^L` and `delta^L` may lose: deep saturation's whole values, or the zone's u;
    and the part of each `delta^L`'s loss that every correct code loses alike, with its sign.

    Below `u / SATURATED` every cancelling `h'` returns 0 and code with an exact `h'` loses
    nothing: either way the loss of a layer's saturated deltas on one side of saturation
    (`z > 0` or not: `1 / (1 + e^-z)` cancels near 1 only) is those deltas themselves
    (`signed`: the deltas, 0 where a kink makes them an interval), all or none, so it reaches
    the layers below through the signed Jacobian and cancels where they do. In the zone the
    errors are roundings of either sign: magnitudes only (`coherent` 0)."""
    acts, H = net.activations, net.H
    lost_a, lost_delta, coherent = [], [], []
    slope_error: list[np.ndarray | float] = []
    for L, act in enumerate(acts):
        A, bounded = fw.A[L], np.isfinite(act.upper) and act.elementwise
        distance = np.minimum(np.abs(A - act.lower), np.abs(act.upper - A))
        if L == H and net.fused is not None:  # a sigmoid's 1 - a where a rounds to 1 too
            distance = output_distance(net, fw)
        tested = libm_distance(act, fw.Z[L], distance)
        zone = in_zone(tested, u)
        a_ulps, slope_ulps = zone_ulps(act, A)
        a_loss = np.where(_saturated(tested, u), distance, 0.0) if deep else a_ulps * u
        lost_a.append(np.where(bounded & (~zone if deep else zone), a_loss, 0.0))
        lost_delta.append(np.zeros_like(sizes[L]))
        coherent.append(np.zeros_like(sizes[L]))
        slope_error.append(0.0)
        # identity, ReLU, leaky ReLU (h'' = 0): h' exact, no cancelling formula
        smooth = act.elementwise and not act.is_identity and act.h_second_bound != 0
        if smooth and (L < H or net.fused is None):
            h_prime = np.abs(act.h_prime(fw.Z[L]))  # type: ignore[misc]
            slope_tested = libm_distance(act, fw.Z[L], h_prime)
            slope_error[L] = np.where(in_zone(slope_tested, u), slope_ulps * u, 0.0)
            if deep:
                lost_delta[L] = np.where(_saturated(slope_tested, u), sizes[L], 0.0)
                if signed is not None:
                    coherent[L] = np.where(_saturated(slope_tested, u), signed[L], 0.0)
            else:  # u of h' times the q = W delta (dJ/da at the output) it multiplies
                q = np.where(h_prime > 0, sizes[L] / h_prime, 0.0)
                lost_delta[L] = np.where(in_zone(slope_tested, u), slope_ulps * u * q, 0.0)
    if deep:  # code that flushes subnormals to zero (FTZ/DAZ) loses every such a and delta
        tiny = smallest_normal(u)
        for L in range(H + 1):
            A = np.abs(fw.A[L])
            lost_a[L] = np.maximum(lost_a[L], np.where(A < tiny, A, 0.0))
            lost_delta[L] = np.maximum(lost_delta[L], np.where(sizes[L] < tiny, sizes[L], 0.0))
    if net.fused is not None:  # a - y, a sum(y) - y, y (a - 1): a's loss, times its sensitivity
        lost_delta[H] = lost_delta[H] + lost_a[H] * fused_sensitivity(net, Y)
    elif deep and not acts[H].elementwise:  # softmax: a_k (g_k - s) at a_k = 1
        lost_delta[H] = lost_delta[H] + _softmax_sum_loss(net, fw.A[H], Y, u)
    # a loss added to delta^L after `coherent` (FTZ, a fused output's a) counts as magnitude
    coherent = [np.where(np.abs(c) <= lost, c, 0.0) for c, lost in zip(coherent, lost_delta)]
    return lost_a, lost_delta, slope_error, coherent


def _magnitudes_backward(
    net, X, fw, sizes, kinks, lost_a, lost_delta, slope_error, coherent
) -> np.ndarray:
    """The gradient's bound from losses in `a^L` and `delta^L`, each of either sign.

    Exact products, not first order: `a^T delta` with both wrong errs by
    `|a|^T E + lost_a^T (|delta| + E)`, the last term the product of the two errors."""
    H, d = net.H, X.shape[0]
    E = _delta_losses(net, fw, kinks, lost_a, lost_delta, slope_error, coherent)
    weights, biases = [], []
    for L in range(H + 1):
        a = np.abs(X) if L == 0 else np.abs(fw.A[L - 1])
        lost = 0.0 if L == 0 else lost_a[L - 1].T @ (sizes[L] + E[L])
        weights.append((a.T @ E[L] + lost) / d)
        biases.append(E[L].sum(axis=0) / d)
    return net.layout.join(weights, biases)


def _delta_losses(net, fw, kinks, lost_a, lost_delta, slope_error, coherent) -> list[np.ndarray]:
    """What each `delta^l` may lose, for l = 0 .. H: `sum_L sum_k |J^{L->l}_{nk}| lost^L_k`.

    A loss at unit `k` of `delta^L` reaches `delta^l` through the Jacobian
    `J^{L->l} = d delta^l / d delta^L` of each example, a product of `W^T diag(h')` with
    signs: paths that cancel there cancel for the loss too. `|W|` products overstate it
    by what they cancel (the soak's seed 12007439: four identity layers whose product's
    entry is 2.1 where `|W|` paths make 46, and a tolerance 7 times the error of the bug,
    which is 96 times the largest error of a correct float64 backprop). `|W|` times the
    steeper slope stays where a unit is kinked (its slope is not one number), and where a
    hidden `a^L` has a loss (sigmoid, tanh): that loss also travels forward, through every
    later `z`, which this backward bound does not follow and `|W|`'s excess has covered.

    The loss travels through the candidate's slopes, and a slope in the zone is itself off
    by `slope_error` (`ZONE_ULPS u`): the product of the two errors is no second-order
    trifle where a float32 `1 - a^2` is 7 times `h'` (a = 1 - ulp) at each of three tanh
    layers in a row, and the losses compound to 62 times the first-order bound (the soak's
    seed 14008395: a float32 candidate 2.5 times over its tolerance in column 9 of
    `dJ/dW^0`). So every step carries `|W|^T E` times `slope_error` as well, and the
    cross terms, whose sign nothing fixes, travel on through `|W|` and `|h'| + slope_error`.
    """
    acts, H = net.activations, net.H
    kinked = kinks is not None and any(mask is not None for mask in kinks)
    if kinked or any(np.any(lost_a[L]) for L in range(H)):
        E = [lost_delta[H]]
        for L in range(H, 0, -1):
            slope = slope_bound(acts[L - 1], fw.Z[L - 1], kinks[L - 1]) + slope_error[L - 1]
            E.append((E[-1] @ np.abs(net.weights[L]).T) * slope + lost_delta[L - 1])
        return E[::-1]
    E = [np.array(loss, dtype=np.float64, copy=True) for loss in lost_delta]
    for L in range(H, 0, -1):
        source = lost_delta[L]  # (d, N_L)
        if not source.any():
            continue
        J = np.broadcast_to(np.eye(source.shape[1]), (source.shape[0],) + (source.shape[1],) * 2)
        for low in range(L - 1, -1, -1):  # delta^low = (delta^{low+1} W^{low+1 T}) h'(z^low)
            h_prime = acts[low].h_prime
            assert h_prime is not None  # hidden layers are element-wise
            J = (J @ net.weights[low + 1].T) * h_prime(fw.Z[low])[:, None, :]
            # the part every correct code loses alike cancels as the deltas do (seed 55005438);
            # each side of saturation apart: 1 / (1 + e^-z) loses a sigmoid's h' near 1 only
            alike = sum(
                np.abs(np.einsum("ikn,ik->in", J, np.where(side, coherent[L], 0.0)))
                for side in (fw.Z[L] > 0, fw.Z[L] <= 0)
            )
            rest = source - np.abs(coherent[L])
            E[low] = E[low] + np.einsum("ikn,ik->in", np.abs(J), rest) + alike
    first = list(E)  # first order; the products of a delta's error and its slope's, below
    cross = np.zeros_like(E[H])
    for L in range(H, 0, -1):
        through = np.abs(net.weights[L]).T
        slope = np.abs(acts[L - 1].h_prime(fw.Z[L - 1])) + slope_error[L - 1]  # type: ignore[misc]
        cross = (cross @ through) * slope + (first[L] @ through) * slope_error[L - 1]
        E[L - 1] = first[L - 1] + cross
    return E
