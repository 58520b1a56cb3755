"""`network_numerical_gradient`: every entry of a network's gradient by finite differences, fast.

A finite difference in one parameter needs the cost of the network with that
parameter moved.  Done naively, that is a full forward pass per evaluation.
This engine exploits the network's structure instead:

- moving `W^L[m,n]` or `b^L[n]` leaves layers `0 .. L-1` unchanged, so their
  cached forward pass is reused;
- it changes `z^L` in column `n` only, by `t a^{L-1}_m` (or `t`): a rank-1
  change, and for an element-wise `h`, `a^L` changes in column `n` only, so
  `z^{L+1}` changes by the outer product of that column with row `n` of
  `W^{L+1}`: no matrix product until layer `L+2`;
- many perturbations run as one stacked array computation `(P, d, N)`, in
  chunks under a memory cap.

The differences are formed and combined (centred, Richardson, complex step)
by `gradcheck.stencils`; this module only evaluates the cost at the stencil's
points.  `structured=False` takes the naive path (two full forward passes per
step), which the tests hold equal to the fast one to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reference import Gradients, Network
from reference.network import ForwardPass, example_costs, forward_pass

from . import stencils

__all__ = ["NetworkNumericalGradient", "network_numerical_gradient", "DEFAULT_MEMORY_LIMIT"]

ROUGH, KINK = 1, 2  # a stencil crossed a jump of h'' (ELU) / of h' (ReLU), as bit flags
DEFAULT_MEMORY_LIMIT = 256 * 2**20  # bytes per chunk of stacked activations: fits any laptop
CACHE_CHUNK = 8 * 2**20  # bytes: chunks this size stay in cache and run 2x faster than huge ones


@dataclass(frozen=True, eq=False)
class NetworkNumericalGradient(Gradients):
    """A network's gradient by finite differences, in the `Gradients` layout.

    ``weights``/``biases`` hold the numerical `dJ/dW^L`, `dJ/db^L`;
    ``error`` the per-entry error estimates in the same layout;
    ``unverifiable`` boolean masks of the entries whose differences straddle
    a kink (a pre-activation of a ReLU-like layer changes sign within the
    stencil), where no finite difference measures `h'` and no verdict is given.
    """

    error: Gradients
    unverifiable: Gradients
    method: str
    n_evaluations: int

    @property
    def n_unverifiable(self) -> int:
        """How many entries differences cannot verify (kinks)."""
        return int(self.unverifiable.flat().sum())

    def __repr__(self) -> str:
        return (
            f"NetworkNumericalGradient(sizes={list(self.sizes)}, method={self.method!r}, "
            f"n_unverifiable={self.n_unverifiable})"
        )


def network_numerical_gradient(
    net: Network,
    X: Any,
    Y: Any,
    *,
    method: str = "richardson",
    structured: bool = True,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> NetworkNumericalGradient:
    """Every entry of the batch-averaged gradient of `net` on `(X, Y)` by finite differences.

    Parameters
    ----------
    net : reference.Network
    X : array_like, shape (d, n_in)
    Y : array_like, shape (d, n_H)
    method : {"richardson", "central", "complex"}
        Richardson extrapolation of centred differences (default, ~1e-10
        relative), plain centred differences, or the complex step (exact to
        rounding; passes through the reference's complex-safe forward pass).
    structured : bool
        Exploit the network's structure (default). False evaluates every
        point with a full forward pass (for testing the fast path).
    memory_limit : int
        Bytes one chunk of stacked perturbed activations may take.

    Returns
    -------
    NetworkNumericalGradient
        The gradient in the `Gradients` layout, with ``.error`` and
        ``.unverifiable`` in the same layout.

    Examples
    --------
    >>> import numpy as np
    >>> from reference import Network, backprop
    >>> net = Network.random([3, 4, 2], hidden="tanh", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> fd = network_numerical_gradient(net, X, Y)
    >>> bool(np.allclose(fd.flat(), backprop(net, X, Y).flat(), rtol=1e-9, atol=1e-12))
    True
    """
    X, Y = _validate(net, X, Y, method, memory_limit)
    theta = net.flat()
    evaluate = _evaluate_structured if structured else _evaluate_naive
    f0 = net.cost(X, Y)

    plan = stencils.plan(theta, method=method)
    values, crossed = evaluate(net, X, Y, plan.offsets, memory_limit)
    result = stencils.combine(plan, values, f0)
    n_evaluations = values.size
    gradient, error = result.gradient, result.error
    crossed = np.bitwise_or.reduce(crossed, axis=1)
    if method == "complex":  # the complex step never straddles: it is one-sided in i h
        crossed[:] = 0

    # Where the stencil crossed a point at which h is not smooth (ReLU's kink,
    # ELU's jump of h''), extrapolation is unsound: retry those entries with
    # ever smaller stencils until one fits between the kinks.
    for step in stencils.RETRY_STEPS:
        retry = np.flatnonzero(crossed)
        if retry.size == 0:
            break
        tight = stencils.plan(theta, method=method, step=step, entries=retry)
        values, again = evaluate(net, X, Y, tight.offsets, memory_limit, entries=retry)
        second = stencils.combine(tight, values, f0)
        n_evaluations += values.size
        again = np.bitwise_or.reduce(again, axis=1)
        fits = again == 0
        gradient[retry[fits]], error[retry[fits]] = second.gradient[fits], second.error[fits]
        crossed[retry] = again
    # Still crossing at the smallest step: across a jump of h'' (ELU) a centred
    # difference converges as O(h), and its estimate allows for that; across a
    # jump of h' (ReLU) no difference measures h', and the entry is unverifiable.
    retry = np.flatnonzero(crossed)
    if retry.size:
        tight = stencils.plan(theta, method="central", step=stencils.KINK_STEP, entries=retry)
        values, again = evaluate(net, X, Y, tight.offsets, memory_limit, entries=retry)
        second = stencils.combine(tight, values, f0, first_order=True)
        n_evaluations += values.size
        gradient[retry], error[retry] = second.gradient, second.error
        crossed[retry] = np.bitwise_or.reduce(again, axis=1)
    unverifiable = (crossed & KINK) > 0

    sizes = net.sizes
    return NetworkNumericalGradient(
        *Gradients.from_flat(gradient, sizes),
        error=Gradients.from_flat(error, sizes),
        unverifiable=_mask_gradients(unverifiable, net),
        method=method,
        n_evaluations=int(n_evaluations),
    )


# ------------------------------------------------------------- evaluation


def _evaluate_structured(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    offsets: np.ndarray,
    memory_limit: int,
    entries: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """J(theta + t e_j) for every entry j and stencil offset t, and what it crossed (ROUGH/KINK flags).

    `offsets` has shape (n_entries, S) (complex for the complex step);
    `entries` are the flat indices they belong to (default: all, in order).
    """
    fw = forward_pass(net.weights, net.biases, net.activations, X)
    layout = net.layout
    entries = np.arange(layout.size) if entries is None else entries
    S = offsets.shape[1]
    values = np.empty(offsets.shape, dtype=offsets.dtype)
    crossed = np.zeros(offsets.shape, dtype=np.int8)
    d = X.shape[0]
    for name, block, shape in layout.blocks:
        rows = np.flatnonzero((entries >= block.start) & (entries < block.stop))
        if rows.size == 0:
            continue
        L = int(name[2:])
        local = entries[rows] - block.start
        if name[0] == "W":
            m, n = np.unravel_index(local, shape)
        else:
            m, n = None, local
        t = offsets[rows].ravel()  # (P,), S consecutive offsets per entry
        m_p = None if m is None else np.repeat(m, S)
        n_p = np.repeat(n, S)
        widest = max(net.sizes[L + 1 :])
        per_point = d * widest * 8 * (4 if np.iscomplexobj(t) else 3)  # Z, A, and a temporary
        chunk = max(1, min(memory_limit, CACHE_CHUNK) // per_point)
        v = np.empty(t.shape, dtype=values.dtype)
        f = np.empty(t.shape, dtype=np.int8)
        for start in range(0, t.size, chunk):
            part = slice(start, start + chunk)
            v[part], f[part] = _perturbed_costs(
                net, fw, X, Y, L, None if m_p is None else m_p[part], n_p[part], t[part]
            )
        values[rows] = v.reshape(-1, S)
        crossed[rows] = f.reshape(-1, S)
    return values, crossed


def _perturbed_costs(
    net: Network,
    fw: ForwardPass,
    X: np.ndarray,
    Y: np.ndarray,
    L: int,
    m: np.ndarray | None,
    n: np.ndarray,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The cost of P networks, the p-th with `W^L[m_p, n_p]` (or `b^L[n_p]` if m is None) moved by t_p."""
    h, H = net.activations, net.H
    a_prev = X if L == 0 else fw.A[L - 1]  # A^{L-1}, with A^{-1} = X
    # Column n_p of Z^L moves by t_p a^{L-1}_{m_p} (a weight) or by t_p (a bias).
    shift = t[:, None] * (a_prev[:, m].T if m is not None else 1.0)  # (P, d)
    z_col = fw.Z[L][:, n].T + shift  # (P, d)
    crossed = _crossings(h[L], z_col, fw.Z[L][:, n].T, axis=1)

    if L == H or not h[L].elementwise:
        Z = np.empty((t.size,) + fw.Z[L].shape, dtype=z_col.dtype)  # (P, d, N_H)
        Z[...] = fw.Z[L]
        Z[np.arange(t.size), :, n] = z_col
        A = Z if h[L].is_identity else h[L].h(Z)
    else:
        # a^L changes in column n only, so z^{L+1} by that change times row n of W^{L+1}.
        a_col = z_col if h[L].is_identity else h[L].h(z_col)
        dA = a_col - fw.A[L][:, n].T  # (P, d)
        Z = fw.Z[L + 1][None] + dA[:, :, None] * net.weights[L + 1][n][:, None, :]
        for K in range(L + 1, H + 1):
            if K > L + 1:  # A^{K-1} W^K + b^K for all P networks as one matrix product
                P, d, M = A.shape
                Z = (A.reshape(P * d, M) @ net.weights[K]).reshape(P, d, -1)
                Z += net.biases[K]
            crossed |= _crossings(h[K], Z, fw.Z[K][None], axis=(1, 2))
            A = Z if h[K].is_identity else h[K].h(Z)
    J = example_costs(Z, A, Y, net.output, net.cost_function).mean(axis=-1)
    return J, crossed


def _crossings(act, Z_new: np.ndarray, Z_old: np.ndarray, axis) -> np.ndarray:
    """Per perturbation: 0 if no pre-activation crossed a non-smooth point of `h`,
    KINK if one crossed a jump of h' (ReLU), ROUGH if one crossed a jump of h'' (ELU)."""
    if act.smooth:
        return np.zeros(Z_new.shape[0], dtype=np.int8)
    crossed = ((Z_new.real > 0) != (Z_old > 0)).any(axis=axis)
    return crossed.astype(np.int8) * (KINK if act.kink else ROUGH)


def _evaluate_naive(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    offsets: np.ndarray,
    memory_limit: int,
    entries: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The same values by two (or more) full forward passes per entry: the yardstick."""
    theta = net.flat()
    layout, h = net.layout, net.activations
    entries = np.arange(layout.size) if entries is None else entries
    fw = forward_pass(net.weights, net.biases, h, X)
    values = np.empty(offsets.shape, dtype=offsets.dtype)
    crossed = np.zeros(offsets.shape, dtype=np.int8)
    for row, j in enumerate(entries):
        for s, t in enumerate(offsets[row]):
            moved = theta.astype(offsets.dtype)
            moved[j] += t
            weights, biases = layout.split(moved)
            out = forward_pass(weights, biases, h, X)
            J = example_costs(out.Z[-1], out.output, Y, net.output, net.cost_function)
            values[row, s] = J.mean()
            for act, Z, Z0 in zip(h, out.Z, fw.Z):
                crossed[row, s] |= _crossings(act, Z[None], Z0[None], axis=(1, 2))[0]
    return values, crossed


# -------------------------------------------------------------- plumbing


def _mask_gradients(mask: np.ndarray, net: Network) -> Gradients:
    weights, biases = net.layout.split(mask.copy())
    return Gradients(weights, biases)


def _validate(
    net: Any, X: Any, Y: Any, method: Any, memory_limit: Any
) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(net, Network):
        raise TypeError(f"`net` must be a reference.Network, got {type(net).__name__}")
    if method not in stencils.METHODS:
        raise ValueError(f"unknown `method` {method!r}; known methods: {', '.join(stencils.METHODS)}")
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer)):
        raise TypeError(f"`memory_limit` must be an integer number of bytes, got {memory_limit!r}")
    if memory_limit <= 0:
        raise ValueError(f"`memory_limit` must be positive, got {memory_limit}")
    return net.check_data(X, Y)
