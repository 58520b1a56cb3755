"""The gradients allowed at kinks: bounds over every choice of `h'(z)` in its subdifferential.

Where `h'` jumps (ReLU at 0: `h'(0-) = 0`, `h'(0+) = 1`), a pre-activation
exactly at the kink, or close enough that rounding may put the candidate's
`z` on the other side, may use any slope between the two one-sided limits:
[0, 1] for ReLU, [slope, 1] for leaky ReLU, [alpha, 1] for ELU with
alpha != 1.  Every choice gives a defensible gradient; a value outside all of
them is a bug (`relu'(0) = 5`).

The bounds come from the article's equations run in interval arithmetic,
with the interval of slopes at the kinked units and the exact `h'(z)`
elsewhere (the forward pass does not depend on the choice: `h` is
continuous):

    delta^H = dJ/da^H ⊙ [h'(z^H)]
    delta^L = (W^{L+1} delta^{L+1}) ⊙ [h'(z^L)]
    dJ/dW^L = (1/d) (A^{L-1})^T Delta^L,     dJ/db^L = (1/d) 1^T Delta^L

Intervals travel as centre and radius, so products with the (exact) weights
and activations stay tight; a product with a slope interval takes the hull
of its four end products.  The bounds enclose every combination of choices
(they may be slightly wider where several kinked units combine).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference import ForwardPass, Network, forward_pass, output_delta

__all__ = ["delta_intervals", "kink_slopes", "slope_bound", "subgradient_bounds"]


def kink_slopes(act) -> tuple[float, float]:
    """The one-sided limits of `h'` at 0, lowest first: (0, 1) for ReLU."""
    tiny = np.finfo(np.float64).tiny
    assert act.h_prime is not None  # only element-wise activations have kinks
    left, right = float(act.h_prime(np.array(-tiny))), float(act.h_prime(np.array(tiny)))
    return min(left, right), max(left, right)


def subgradient_bounds(
    net: Network, X: np.ndarray, Y: np.ndarray, near: list[np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat lower and upper bounds of the gradient over every slope choice at kinked units.

    Parameters
    ----------
    net : Network
    X : ndarray, shape (d, n_in)
    Y : ndarray, shape (d, n_H)
    near : list, one entry per layer ``L = 0 .. H``
        A bool array of shape (d, N) marking the units whose `z^L` sits at
        (or within rounding of) a kink of layer `L`'s `h`, or None for none.

    Returns
    -------
    lower, upper : ndarray, shape (n_params,)
        In the flat order of NOTATION.md; equal where no kink reaches.
    """
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    d = X.shape[0]
    weights_lo, weights_hi, biases_lo, biases_hi = [], [], [], []
    for L, (centre, radius) in enumerate(delta_intervals(net, fw, Y, near)):
        a_prev = X if L == 0 else fw.A[L - 1]  # A^{-1} = X, never stored at index -1
        W_c, W_r = a_prev.T @ centre / d, np.abs(a_prev).T @ radius / d  # (1/d) A^T Delta
        b_c, b_r = centre.mean(axis=0), radius.mean(axis=0)  # (1/d) 1^T Delta
        weights_lo.append(W_c - W_r)
        weights_hi.append(W_c + W_r)
        biases_lo.append(b_c - b_r)
        biases_hi.append(b_c + b_r)
    lower = net.layout.join(weights_lo, biases_lo)
    upper = net.layout.join(weights_hi, biases_hi)
    return lower, upper


def delta_intervals(
    net: Network,
    fw: ForwardPass,
    Y: np.ndarray,
    near: Sequence[np.ndarray | None] | None,
    *,
    nan_as_zero: bool = False,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`Delta^L` for L = 0 .. H over every slope choice at the units `near` marks, as centre
    and radius (rows are examples); radius 0 and centre the reference's deltas where no kink
    reaches (`near` None: none anywhere). `nan_as_zero`: a cost undefined at the output
    counts as 0 (for sizes; the bounds keep the NaN)."""
    H = net.H
    near = [None] * (H + 1) if near is None else near

    def slopes(L: int) -> tuple[np.ndarray, np.ndarray]:
        act, mask = net.activations[L], near[L]
        assert act.h_prime is not None  # hidden layers and kinked outputs are element-wise
        exact = act.h_prime(fw.Z[L])
        if mask is None:
            return exact, exact
        lo, hi = kink_slopes(act)
        return np.where(mask, lo, exact), np.where(mask, hi, exact)

    if near[H] is None:  # delta^H is exact: the reference's own (fused forms included)
        centre = output_delta(fw.Z[H], fw.A[H], Y, net.output, net.cost_function)
        centre = np.nan_to_num(centre, nan=0.0) if nan_as_zero else centre
        radius = np.zeros_like(centre)
    else:
        G = net.cost_function.dJ_da(fw.A[H], Y)
        G = np.nan_to_num(G, nan=0.0) if nan_as_zero else G
        centre, radius = _times_slopes(G, np.zeros_like(G), *slopes(H))
    intervals = [(centre, radius)]
    for L in range(H, 0, -1):
        W = net.weights[L]
        q_c, q_r = centre @ W.T, radius @ np.abs(W).T  # W^L delta^L, before h'
        centre, radius = _times_slopes(q_c, q_r, *slopes(L - 1))
        intervals.append((centre, radius))
    return intervals[::-1]


def slope_bound(act, Z: np.ndarray, near: np.ndarray | None) -> np.ndarray:
    """`|h'(z)|`, and at the units `near` marks the steeper one-sided slope: a bound on `|h'|`
    over every slope a kinked unit may take (what a candidate's rounding of the other side of
    the kink, and its other slope, carry)."""
    assert act.h_prime is not None  # only element-wise activations have h'
    exact = np.abs(act.h_prime(Z))
    if near is None:
        return exact
    return np.where(near, max(np.abs(kink_slopes(act))), exact)


def _times_slopes(
    centre: np.ndarray, radius: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[centre ± radius] ⊙ [lo, hi] as centre and radius (the hull of the four end products)."""
    ends = [(centre + s * radius) * t for s in (-1.0, 1.0) for t in (lo, hi)]
    low, high = np.minimum.reduce(ends), np.maximum.reduce(ends)
    return (low + high) / 2, (high - low) / 2
