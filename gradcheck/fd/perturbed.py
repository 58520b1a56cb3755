"""The cost of P perturbed networks at once: the fast path of `network_numerical_gradient`.

Moving `W^L[m,n]` or `b^L[n]` by `t` leaves layers `0 .. L-1` unchanged and
changes `z^L` in column `n` only, by `t a^{L-1}_m` (or `t`). For an
element-wise `h`, `a^L` then changes in column `n` only, so `z^{L+1}` changes
by the outer product of that column's change with row `n` of `W^{L+1}`: no
matrix product until layer `L+2`. P such moves are computed as one stacked
array computation, in chunks that stay in cache, into buffers reused from
chunk to chunk (`Workspace`). `Base` holds what every chunk reuses from the
network at theta.

The output layer's costs are taken in transposed layouts, the sums over the
output units running along whole rows of examples: `(P, n_H, d)` per move,
and for the moves of one unit of `W^{H-1}`, which share their row of `W^H`,
unit-major `(n_H, P d)` arrays holding one outer product (`plan_chunks`
keeps such moves together; `_moved_outputs` builds either layout). Kernels: a sigmoid with the quadratic cost
(`_sigmoid_quadratic_costs`), an identity output
with the quadratic cost (`_identity_quadratic_costs`), and the fused
softmax / categorical and sigmoid / binary cross-entropies (`_fused_costs`).
Other outputs take the general `(P, d, N)` path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from reference import Network
from reference.activations import is_builtin
from reference.network import ForwardPass, example_costs, forward_pass

__all__ = [
    "KINK",
    "ROUGH",
    "Base",
    "Workspace",
    "chunk_size",
    "plan_chunks",
    "costs_of_chunks",
    "crossings",
    "perturbed_costs",
]

CACHE_CHUNK = 2**20  # bytes: chunks this size stay in L2 (measured: 8 MiB ones ran 1.3x slower)
ROUGH, KINK = 1, 2  # an evaluation crossed a jump of h'' (ELU) / of h' (ReLU), as bit flags
SIGMOID_ONE_EXP_LIMIT = 600.0  # |z^H| below which e^z cannot overflow in a difference step
TANH_FORM_RESIDUAL = 2.0**-6  # |a - y| above which the tanh form's absolute u is < 64 u |a - y|
TANH_FORM_TARGET = 2.0**-4  # targets this far from 0 and 1: the exp form errs ~u/8 absolutely too
RUN_MIN = 16  # moves of one hidden unit a chunk for the unit-major layout
FUSED_TERMS = (("softmax", "categorical_cross_entropy"), ("sigmoid", "cross_entropy"))
FUSED_ARRAYS = 4  # stacked (n_H, P d) arrays of `_fused_costs`: z, a scratch, two tiles
UNIT_ROWS = 5  # (P, d) arrays of such a chunk besides the stacked one: z, its shift, a, its change


def chunk_size(sizes: tuple[int, ...], L: int, d: int, memory_limit: int, complex_: bool) -> int:
    """Perturbations per chunk: their stacked arrays (layers after L) fit in `CACHE_CHUNK`."""
    widest = max(sizes[L + 1 :]) if L + 2 == len(sizes) else max(sizes[L + 2 :])
    per_point = d * widest * 8 * (4 if complex_ else 3)
    return max(1, min(memory_limit, CACHE_CHUNK) // per_point)


def plan_chunks(
    base: Base, L: int, n: np.ndarray, memory_limit: int, *, weights: bool, complex_: bool
) -> list[slice]:
    """Chunks of a block's moves (sorted by unit `n` if `weights`), each fitting in cache.

    Moves of `W^{H-1}` into an output the transposed kernels serve (a sigmoid
    with the quadratic cost, a fused output and cost) are cut at unit
    boundaries wherever a unit has `RUN_MIN` moves or more on average, in
    pieces of equal size: each piece takes the unit-major layout, whose
    stacked arrays (with the moves' own `(P, d)` rows) may hold more moves
    than `chunk_size`'s three.
    """
    d, sizes = base.X.shape[0], base.net.sizes
    size = chunk_size(sizes, L, d, memory_limit, complex_)
    plain = [slice(start, start + size) for start in range(0, n.size, size)]
    if not (weights and not complex_ and L + 1 == base.net.H and base.stacked_output):
        return plain
    starts = np.flatnonzero(np.r_[True, n[1:] != n[:-1]])
    if n.size < RUN_MIN * starts.size:
        return plain
    # the stacked arrays and the tiles they add (`Base.tiled`), n_H d entries each, and the rows
    arrays = FUSED_ARRAYS if base.fused_terms is not None else 2
    size = max(1, min(memory_limit, CACHE_CHUNK) // ((arrays * sizes[-1] + UNIT_ROWS) * d * 8))
    pieces: list[slice] = []
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), n.size]):
        count = -(-(stop - start) // size)  # pieces of <= size, as equal as can be
        edges = [start + (stop - start) * j // count for j in range(count + 1)]
        pieces.extend(slice(a, b) for a, b in zip(edges[:-1], edges[1:]))
    return pieces


@dataclass(frozen=True, eq=False)
class Base:
    """The network at theta, and what the fast paths reuse from it, computed once.

    ``J_i``: the cost of each example; ``R = A^H - Y`` (quadratic cost).
    For a sigmoid output with the quadratic cost, ``sigmoid_terms`` =
    ``(Z^H, -Y, 1 - Y)``, transposed to (n_H, d): with `e = exp(z)`,
    `sigma(z) - y = ((1 - y) e - y) / (1 + e)`, one exp per entry and exact
    to a few ulps wherever `e` does not overflow (the base `|z^H|` is
    checked below `SIGMOID_ONE_EXP_LIMIT`; a step that still overflows gives
    NaN, an unusable value, never a wrong one). Where no residual is both
    small and next to a target of 0 or 1 (`_tanh_form_is_exact_enough`),
    ``tanh_terms`` = ``(Z^H / 2, 1 - 2Y)`` too: `sigma(z) - y = (tanh(z/2) +
    1 - 2y) / 2`, three passes over the stacked outputs fewer.
    """

    net: Network
    fw: ForwardPass
    X: np.ndarray
    Y: np.ndarray
    J_i: np.ndarray  # (d,)
    R: np.ndarray | None  # (d, n_H): A^H - Y, quadratic cost only
    # X^T, (Z^L)^T, (A^L)^T, C-contiguous (N, d): a move's column is a contiguous row to gather
    X_T: np.ndarray
    Z_T: tuple[np.ndarray, ...]
    A_T: tuple[np.ndarray, ...]
    sigmoid_terms: tuple[np.ndarray, ...] | None  # (Z^H, -Y, 1 - Y), each (n_H, d)
    tanh_terms: tuple[np.ndarray, np.ndarray] | None = None  # (Z^H / 2, 1 - 2Y), each (n_H, d)
    # an identity output with the quadratic cost: (A^H - Y)^T (n_H, d), the residual at theta
    identity_terms: np.ndarray | None = None
    # a built-in fused output and cost (`FUSED_TERMS`): (Y^T (n_H, d), sum_n y_n (d,))
    fused_terms: tuple[np.ndarray, np.ndarray] | None = None
    tiles: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # see `tiled`

    @cached_property  # asked once a chunk
    def stacked_output(self) -> bool:
        """Does an output kernel take this output and cost in the transposed layouts?"""
        return any(
            terms is not None
            for terms in (self.sigmoid_terms, self.identity_terms, self.fused_terms)
        )

    def tiled(self, term: np.ndarray, P: int) -> np.ndarray:
        """One of the (n_H, d) terms above, repeated P times along its examples: (n_H, P d).

        Built once per term and width (it is this Base's own array, so its id is stable).
        """
        tile = self.tiles.get(id(term))
        width = P * term.shape[1]
        if tile is None or tile.shape[1] < width:
            tile = self.tiles[id(term)] = np.tile(term, (1, P))
        return tile[:, :width]

    @classmethod
    def of(cls, net: Network, X: np.ndarray, Y: np.ndarray) -> Base:
        fw = forward_pass(net.weights, net.biases, net.activations, X)
        J_i = example_costs(fw.Z[-1], fw.output, Y, net.output, net.cost_function)
        quadratic = net.fused is None and net.cost_function.name == "quadratic"
        R = fw.output - Y if quadratic and net.output.elementwise else None
        Z_H = fw.Z[-1]
        terms = tanh_terms = None
        if (
            quadratic
            and is_builtin(net.output, "sigmoid")
            and np.abs(Z_H).max() < SIGMOID_ONE_EXP_LIMIT
        ):
            # Transposed: the stacked arrays are (P, n_H, d), so that numpy's inner
            # loops run over the d examples rather than over a few output units.
            terms = tuple(np.ascontiguousarray(T) for T in (Z_H.T, -Y.T, 1.0 - Y.T))
            if R is not None and _tanh_form_is_exact_enough(R, Y):
                tanh_terms = (
                    np.ascontiguousarray(0.5 * Z_H.T),
                    np.ascontiguousarray(1.0 - 2.0 * Y.T),
                )
        fused = None
        if any(is_builtin(net.output, o) and net.cost_function.name == c for o, c in FUSED_TERMS):
            fused = (np.ascontiguousarray(Y.T), Y.sum(axis=1))
        identity = None
        if R is not None and is_builtin(net.output, "identity"):
            identity = np.ascontiguousarray(R.T)
        return cls(
            net, fw, X, Y, J_i, R,
            identity_terms=identity,
            fused_terms=fused,
            X_T=np.ascontiguousarray(X.T),
            Z_T=tuple(np.ascontiguousarray(Z.T) for Z in fw.Z),
            A_T=tuple(np.ascontiguousarray(A.T) for A in fw.A),
            sigmoid_terms=terms,
            tanh_terms=tanh_terms,
        )  # fmt: skip


def _tanh_form_is_exact_enough(R: np.ndarray, Y: np.ndarray) -> bool:
    """May `sigma(z) - y` be taken as `(tanh(z/2) + 1 - 2y) / 2` without more noise in `J`?

    That form errs by about `u` absolutely; `((1 - y) e - y) / (1 + e)` by
    about `u y (1 - y)` (the same where `y` is mid-range), and only relatively
    where `y` is 0 or 1. So: every residual either at least `TANH_FORM_RESIDUAL`
    or next to a target at least `TANH_FORM_TARGET` from 0 and 1.
    """
    mid = np.minimum(Y, 1.0 - Y) >= TANH_FORM_TARGET
    return bool(np.all((np.abs(R) >= TANH_FORM_RESIDUAL) | mid))


def perturbed_costs(
    base: Base,
    L: int,
    m: np.ndarray | None,
    n: np.ndarray,
    t: np.ndarray,
    workspace: Workspace | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The cost of P networks, the p-th with `W^L[m_p, n_p]` (or `b^L[n_p]` if m is None) moved by t_p.

    The stacked `(P, d, N)` arrays go into `workspace` buffers, reused from
    chunk to chunk: fresh arrays of that size cost a page fault per 4 KiB,
    which measured more than the arithmetic itself.
    """
    net, fw = base.net, base.fw
    h, H = net.activations, net.H
    space = workspace if workspace is not None else Workspace()
    unit = _one_unit(n)
    units = n if unit is None else n[:1]  # moves of one unit share its rows: broadcast (1, d)
    z_col, z_old = _moved_column(base, L, m, units, t)
    crossed = crossings(h[L], z_col, z_old)
    real = not np.iscomplexobj(z_col)
    if L == H:  # (hidden activations are element-wise: Network refuses others)
        return _costs_of_output_moves(base, n, z_col, space), crossed
    # a^L changes in column n only, so z^{L+1} by that change times row n of W^{L+1}.
    if real and is_builtin(h[L], "tanh"):
        dA = np.tanh(z_col, out=z_col)  # z_col is not needed any more: a^L's column, in place
        dA -= base.A_T[L][units]
    else:
        a_col = z_col if h[L].is_identity else h[L].h(z_col)
        dA = a_col - base.A_T[L][units]  # (P, d)
    if L + 1 == H and base.stacked_output and real:
        moves = _Moves(dA, net.weights[H], n, unit)
        if base.sigmoid_terms is not None:
            return _sigmoid_quadratic_costs(base, moves, space), crossed
        if base.identity_terms is not None:
            return _identity_quadratic_costs(base, moves, space), crossed
        return _fused_costs_of_moves(base, moves, space), crossed
    rows = net.weights[L + 1][n]  # (P, N): row n_p of W^{L+1}
    Z = space.get("Z", (t.size,) + fw.Z[L + 1].shape, np.result_type(dA, rows))
    np.multiply(dA[:, :, None], rows[:, None, :], out=Z)
    Z += fw.Z[L + 1]  # z^{L+1} + (change of a^L_n) w^{L+1}_{n.}
    for K in range(L + 1, H + 1):
        crossed |= crossings(h[K], Z, fw.Z[K][None])
        if K == H and base.sigmoid_terms is not None and real:
            U = space.get("U", (t.size,) + base.sigmoid_terms[0].shape, np.float64)
            U[...] = Z.transpose(0, 2, 1)
            residual = _sigmoid_residual(U, space.get("A", U.shape, np.float64), base.sigmoid_terms)
            return 0.5 * np.einsum("pki,pki->pi", residual, residual).mean(axis=-1), crossed
        if K == H and base.fused_terms is not None and real:
            U = space.get("U", (t.size,) + base.Z_T[H].shape, np.float64)
            U[...] = Z.transpose(0, 2, 1)
            return _fused_costs(base, U, t.size, unit_major=False, space=space), crossed
        A = _activate(h[K], Z, space)
        if K < H:  # A^K W^{K+1} + b^{K+1} for all P networks as one matrix product
            P, d, M = A.shape
            Z = (A.reshape(P * d, M) @ net.weights[K + 1]).reshape(P, d, -1)
            Z += net.biases[K + 1]
    return _mean_cost(base, Z, A, space), crossed


def _moved_column(
    base: Base, L: int, m: np.ndarray | None, units: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Column n_p of `Z^L` moved by `t_p a^{L-1}_{m_p}` (a weight) or by `t_p` (a bias), as rows.

    Returns the moved columns `(P, d)` (a fresh array) and the unmoved ones
    (`units`' rows of `(Z^L)^T`: `(P, d)`, or `(1, d)` for one unit).
    """
    a_prev_T = base.X_T if L == 0 else base.A_T[L - 1]  # (A^{L-1})^T, with A^{-1} = X
    z_old = base.Z_T[L][units]
    if m is not None and not np.iscomplexobj(t):
        z_col = a_prev_T[m]  # a fresh (P, d) gather, worked on in place
        z_col *= t[:, None]
        z_col += z_old
    else:
        z_col = z_old + (t[:, None] * a_prev_T[m] if m is not None else t[:, None])
    return z_col, z_old


def _costs_of_output_moves(
    base: Base, n: np.ndarray, z_col: np.ndarray, space: Workspace
) -> np.ndarray:
    """`J` of P networks whose `z^H` moved in column `n_p` to `z_col` (P, d)."""
    net, fw, P, H = base.net, base.fw, z_col.shape[0], base.net.H
    act, real = net.output, not np.iscomplexobj(z_col)
    if base.R is not None and real:
        # Only column n of a^H changes: J_i moves by 1/2 [(a_n - y_n)^2 - (a0_n - y_n)^2].
        r_old = base.R[:, n].T  # (P, d)
        r_new = act.h(z_col) - base.Y[:, n].T
        J_i = base.J_i + 0.5 * (r_new - r_old) * (r_new + r_old)
        return J_i.mean(axis=-1)
    if base.fused_terms is not None and real:
        U = space.get("U", (P,) + base.Z_T[H].shape, np.float64)  # (P, n_H, d)
        U[...] = base.Z_T[H]
        U[np.arange(P), n] = z_col  # row n_p of (z^H)^T moved
        return _fused_costs(base, U, P, unit_major=False, space=space)
    Z = space.get("Z", (P,) + fw.Z[H].shape, z_col.dtype)  # (P, d, n_H)
    Z[...] = fw.Z[H]
    Z[np.arange(P), :, n] = z_col
    A = _activate(act, Z, space)
    return _mean_cost(base, Z, A, space)


_workspaces = threading.local()  # one workspace per thread (executor workers included)


def costs_of_chunks(base: Base, chunks: list[tuple]) -> list[tuple[np.ndarray, np.ndarray]]:
    """On a worker: `perturbed_costs` of each chunk ``(L, m, n, t)``, in its thread's workspace."""
    space = getattr(_workspaces, "space", None)
    if space is None:
        space = _workspaces.space = Workspace()
    return [perturbed_costs(base, L, m, n, t, space) for L, m, n, t in chunks]


def _one_unit(n: np.ndarray) -> int | None:
    """The unit all P moves share, if they are `RUN_MIN` or more (`plan_chunks` makes such chunks)."""
    if n.size < RUN_MIN or n[0] != n[-1] or not (n == n[0]).all():
        return None
    return int(n[0])


class _Moves(NamedTuple):
    """P moves of the last hidden layer: `a^{H-1}` moved by `dA` (P, d) in units `n` (P,),
    so `(z^H)^T` by `W^H[n_p] (x) dA_p`; `unit` if they all share one (then unit-major)."""

    dA: np.ndarray
    W_H: np.ndarray
    n: np.ndarray
    unit: int | None

    @property
    def unit_major(self) -> bool:
        return self.unit is not None


def _moved_outputs(
    base: Base, moves: _Moves, term: np.ndarray, space: Workspace, scale: float = 1.0
) -> np.ndarray:
    """`term + scale W^H[n_p] (x) dA_p` for each move, `term` one of Base's (n_H, d) arrays.

    Unit-major `(n_H, P d)` for moves of one unit, whose change is one outer
    product and whose passes run over `P d` contiguous entries (the per-move
    layout's inner loops are `d` long: measured 1.4x slower on 64-128-10);
    else `(P, n_H, d)`. Each entry is the same single product and sum either way.
    """
    dA, P = moves.dA, moves.dA.shape[0]
    if moves.unit is not None:
        U = _unit_major(space, "U_unit", (term.shape[0], P * term.shape[1]))
        np.multiply.outer(scale * moves.W_H[moves.unit], dA.reshape(-1), out=U)
        U += base.tiled(term, P)
        return U
    U = space.get("U", (P,) + term.shape, np.float64)
    np.einsum("pk,pi->pki", scale * moves.W_H[moves.n], dA, out=U)  # einsum: 3x np.multiply's speed
    U += term
    return U


def _unit_major(space: Workspace, name: str, shape: tuple[int, int]) -> np.ndarray:
    """A (n_H, P d) buffer of `space`: one flat buffer whatever P, reshaped."""
    return space.get(name, (shape[0] * shape[1],), np.float64).reshape(shape)


def _laid_out(base: Base, term: np.ndarray, P: int, unit_major: bool) -> np.ndarray:
    """A (n_H, d) term of Base laid out to meet `_moved_outputs`' arrays."""
    return base.tiled(term, P) if unit_major else term


def _mean_of_squares(U: np.ndarray, P: int, d: int, unit_major: bool) -> np.ndarray:
    """`mean_i sum_n U[.., n, .., i]^2` per network, U overwritten where unit-major.

    The sum over units, then the mean over examples (pairwise), in both
    layouts: unit-major through `np.add.reduce` (`.mean` without its wrapper),
    per move as `_mean_cost` does. The same bits either way (tested).
    """
    if not unit_major:
        return np.einsum("pki,pki->pi", U, U).mean(axis=-1)
    np.square(U, out=U)
    return np.add.reduce(np.add.reduce(U, axis=0).reshape(P, d), axis=-1) / d


def _sigmoid_quadratic_costs(base: Base, moves: _Moves, space: Workspace) -> np.ndarray:
    """`J` of P networks whose last hidden layer moved (`moves`): a sigmoid output, quadratic cost."""
    terms = base.sigmoid_terms
    assert terms is not None  # this path serves a sigmoid output only
    (P, d), unit_major = moves.dA.shape, moves.unit_major
    if base.tanh_terms is not None:  # U = z^H / 2: the halves are exact
        half_Z, C = base.tanh_terms
        U = _moved_outputs(base, moves, half_Z, space, 0.5)
        np.tanh(U, out=U)
        U += _laid_out(base, C, P, unit_major)  # 2 (sigma(z) - y) = tanh(z/2) + 1 - 2y
        return 0.125 * _mean_of_squares(U, P, d, unit_major)
    U = _moved_outputs(base, moves, terms[0], space)
    out = _unit_major(space, "A_unit", U.shape) if unit_major else space.get("A", U.shape, U.dtype)
    laid_out = tuple(_laid_out(base, T, P, unit_major) for T in terms)
    return 0.5 * _mean_of_squares(_sigmoid_residual(U, out, laid_out), P, d, unit_major)


def _identity_quadratic_costs(base: Base, moves: _Moves, space: Workspace) -> np.ndarray:
    """`J` of P networks whose last hidden layer moved (`moves`): an identity output with the
    quadratic cost, `a - y = (a_0 - y) + W^H[n_p] (x) dA_p`.

    The residual at theta is rounded once and shared by every move, so its
    rounding cancels in the differences.
    """
    R_T = base.identity_terms
    assert R_T is not None  # this path serves an identity output only
    U = _moved_outputs(base, moves, R_T, space)
    P, d = moves.dA.shape
    return 0.5 * _mean_of_squares(U, P, d, moves.unit_major)


def _sigmoid_residual(U: np.ndarray, out: np.ndarray, terms: tuple[np.ndarray, ...]) -> np.ndarray:
    """`sigma(z) - y` into `out` from `z^H` in `U` (overwritten), one exp an entry.

    `terms` are ``base.sigmoid_terms`` ``(Z^H, -Y, 1 - Y)``, laid out as U is.
    """
    _, C0, C1 = terms
    np.exp(U, out=U)  # e = exp(z), the only transcendental
    np.multiply(U, C1, out=out)
    out += C0
    U += 1.0
    out /= U  # sigma(z) - y = ((1 - y) e - y) / (1 + e)
    return out


def _fused_costs_of_moves(base: Base, moves: _Moves, space: Workspace) -> np.ndarray:
    """`J` of P networks whose last hidden layer moved (`moves`): a fused output and cost."""
    U = _moved_outputs(base, moves, base.Z_T[-1], space)
    return _fused_costs(base, U, moves.dA.shape[0], unit_major=moves.unit_major, space=space)


def _fused_costs(base: Base, U: np.ndarray, P: int, *, unit_major: bool, space: Workspace):
    """`mean_i J_i` of P networks from their `(z^H)^T` in `U` (overwritten), by the fused form.

    `U` is `(P, n_H, d)`, or unit-major `(n_H, P d)`; either way the sums
    over the output units run along whole rows of examples. The same
    formulas as `reference.costs`' fused forms, to rounding:
    softmax with categorical cross-entropy, `J_i = (sum_n y_n)
    logsumexp(z) - y . z` (shifted by the largest z); sigmoid with
    cross-entropy, `J_i = sum_n softplus(z_n) - y_n z_n`, with `softplus(z)
    = max(z, 0) + log1p(e^{-|z|})`.
    """
    Y_T, y_sum = base.fused_terms  # type: ignore[misc]
    d = Y_T.shape[1]
    axis = 0 if unit_major else 1  # the output units
    if unit_major:
        yz = np.einsum("kj,kj->j", base.tiled(Y_T, P), U).reshape(P, d)
    else:
        yz = np.einsum("ki,pki->pi", Y_T, U)
    if is_builtin(base.net.output, "softmax"):
        shift = np.maximum.reduce(U, axis=axis)  # (P d,) or (P, d)
        U -= shift if unit_major else shift[:, None, :]
        np.exp(U, out=U)
        total = np.add.reduce(U, axis=axis)
        np.log(total, out=total)
        total += shift
        J = y_sum * total.reshape(P, d) - yz
    else:  # sigmoid
        positive = space.get("U_positive", (U.size,), np.float64).reshape(U.shape)
        np.maximum(U, 0.0, out=positive)
        np.abs(U, out=U)
        np.negative(U, out=U)
        np.exp(U, out=U)
        np.log1p(U, out=U)
        U += positive  # softplus(z)
        J = np.add.reduce(U, axis=axis).reshape(P, d) - yz
    return np.add.reduce(J, axis=-1) / d  # the mean over examples, pairwise


class Workspace:
    """Buffers for the stacked arrays of `perturbed_costs`, kept from one chunk to the next."""

    def __init__(self) -> None:
        self.buffers: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A (P, ...) array for `name`: a view of a kept buffer with at least P rows."""
        key = (name, shape[1:], np.dtype(dtype))
        buffer = self.buffers.get(key)
        if buffer is None or buffer.shape[0] < shape[0]:
            buffer = self.buffers[key] = np.empty(shape, dtype=dtype)
        return buffer[: shape[0]]

    def owns(self, array: np.ndarray) -> bool:
        return any(np.shares_memory(array, b) for b in self.buffers.values())


def _sigmoid_into(Z: np.ndarray, space: Workspace) -> np.ndarray:
    """sigma(z) = e^{min(z,0)} / (1 + e^{-|z|}) into workspace buffers: both exponents <= 0
    (no overflow), relative accuracy of a few ulps like scipy's `expit`, and two
    vectorised exps run 1.7x faster than expit's scalar loop."""
    out, scratch = space.get("A", Z.shape, Z.dtype), space.get("A2", Z.shape, Z.dtype)
    np.minimum(Z, 0.0, out=out)
    np.exp(out, out=out)
    np.abs(Z, out=scratch)
    np.negative(scratch, out=scratch)
    np.exp(scratch, out=scratch)
    scratch += 1.0
    out /= scratch
    return out


def _tanh_into(Z: np.ndarray, space: Workspace) -> np.ndarray:
    return np.tanh(Z, out=space.get("A", Z.shape, Z.dtype))


# Built-in activations computed into workspace buffers (real input; the same function as
# the reference's h to a few ulps: tanh is the same ufunc, sigmoid a faster exact formula).
_INTO = {"sigmoid": _sigmoid_into, "tanh": _tanh_into}


def _activate(act: Any, Z: np.ndarray, space: Workspace) -> np.ndarray:
    """`h(Z)`, into workspace buffers where the activation allows it."""
    if act.is_identity:
        return Z
    into = _INTO.get(act.name)
    if into is not None and is_builtin(act) and not np.iscomplexobj(Z):
        return into(Z, space)
    return act.h(Z)


def _mean_cost(base: Base, Z: np.ndarray, A: np.ndarray, space: Workspace):
    """`J = mean_i J_i` of each of the P networks; the quadratic cost in place in A's buffer."""
    net = base.net
    if net.fused is None and net.cost_function.name == "quadratic" and space.owns(A):
        A -= base.Y  # a - y, in the buffer (Z is not needed any more: the cost is not fused)
        # J_i per example, then their mean (pairwise): one long einsum over (i, k) adds
        # rounding noise that made the differences 3-6x less accurate.
        return 0.5 * np.einsum("pik,pik->pi", A, A).mean(axis=-1)
    return example_costs(Z, A, base.Y, net.output, net.cost_function).mean(axis=-1)


def crossings(act: Any, Z_new: np.ndarray, Z_old: np.ndarray) -> np.ndarray:
    """Per perturbation (first axis): 0 if no pre-activation crossed a non-smooth point of
    `h`, KINK if one crossed a jump of h' (ReLU), ROUGH if one crossed a jump of h'' (ELU)."""
    if act.smooth:
        return np.zeros(Z_new.shape[0], dtype=np.int8)
    crossed = (Z_new.real > 0) != (Z_old > 0)
    if crossed.ndim > 1:
        crossed = crossed.any(axis=tuple(range(1, crossed.ndim)))
    return crossed.astype(np.int8) * np.int8(KINK if act.kink else ROUGH)
