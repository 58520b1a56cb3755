"""Per-thread buffers for `backprop`'s temporaries, and the element-wise steps that fill them.

A call of `backprop` on a big batch needs megabytes of temporaries (every
`Z^L`, `A^L`, `Delta^L`, `h'(Z^L)`). Fresh arrays that large come from the
allocator as fresh pages, and each 4 KiB page faults on first touch: on
[1024, 1024, 1024, 10] with d = 512, ~300 faults a call, which measured
more than the element-wise arithmetic. Here each thread keeps its buffers,
keyed by (name, shape), from one call to the next, so a repeated call
touches no new page. Results handed to the caller are never taken from
here (`backprop` returns fresh arrays).

The element-wise steps are the same functions as `reference.activations`,
to a few ulps, written into buffers:

- `sigmoid(z) = e / (1 + e)`, `e = exp(min(z, SIGMOID_CLAMP))`: one exp,
  exact to a few ulps everywhere (the clamp only stops `inf / inf`; at
  z >= 40 both forms give 1.0), against scipy's `expit`, a scalar loop 4x
  slower than numpy's vectorised `exp`;
- `sigmoid'(z) = e / (1 + e)^2` and `tanh'(z) = 4 e / (1 + e)^2` with
  `e = exp(-|z|)` (resp. `exp(-2|z|)`), the formulas of
  `reference.activations`, exact when saturated.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activations import Activation, is_builtin
from .network import ForwardPass

__all__ = ["BufferedForwardPass", "buffer", "forward_pass_into", "multiply_by_h_prime"]

MAX_BUFFERS = 64  # per thread: enough for every temporary of a few networks' shapes
SIGMOID_CLAMP = 700.0  # exp(700) is finite; sigma(700) rounds to 1 either way

_local = threading.local()


def buffer(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """This thread's float64 buffer `name` of `shape`, kept for the next call (contents stale)."""
    buffers: OrderedDict | None = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = OrderedDict()
    key = (name, shape)
    array = buffers.get(key)
    if array is None:
        array = buffers[key] = np.empty(shape)
        while len(buffers) > MAX_BUFFERS:
            buffers.popitem(last=False)  # the least recently used
    else:
        buffers.move_to_end(key)
    return array


@dataclass(frozen=True)
class BufferedForwardPass(ForwardPass):
    """A `ForwardPass` in this thread's buffers, with what the backward pass reuses.

    ``denominators[L]``: `1 + e^z` of a built-in sigmoid layer (else None), so
    that `sigma'(z) = sigma(z) / (1 + e^z)` takes no exp. Held here, not looked
    up by name later: a deep net's buffers may leave the cache in between.
    """

    denominators: list[np.ndarray | None] = field(default_factory=list)


def forward_pass_into(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activations: Sequence[Activation],
    X: np.ndarray,
) -> BufferedForwardPass:
    """`network.forward_pass` (real input) with every `Z^L` and `A^L` in this thread's buffers."""
    fw = BufferedForwardPass([], [], [])
    a_prev = X  # A^{-1} = X
    for L, (W, b, act) in enumerate(zip(weights, biases, activations)):
        z = np.matmul(a_prev, W, out=buffer(f"Z{L}", (X.shape[0], W.shape[1])))
        z += b  # Z^L = A^{L-1} W^L + 1 b^T
        a_prev, denominator = _activate_into(act, z, L)  # A^L = h(Z^L)
        fw.Z.append(z)
        fw.A.append(a_prev)
        fw.denominators.append(denominator)
    return fw


def multiply_by_h_prime(
    Delta: np.ndarray, act: Activation, fw: BufferedForwardPass, L: int
) -> None:
    """`Delta *= h'(Z^L)` in place, for the forward pass `fw` of `forward_pass_into`.

    The built-in sigmoid reuses the forward's `1 + e^z`: `sigma'(z) = sigma(z) /
    (1 + e^z)`, two passes and no exp, a few ulps everywhere (`e^z / (1 + e^z)^2`
    without the cancellation of `a (1 - a)`); where the forward clamped `z`, and for
    tanh, `h'` is computed afresh into a buffer.
    """
    builtin = is_builtin(act)
    Z, denominator = fw.Z[L], fw.denominators[L]
    if builtin and denominator is not None and not _clamped(Z):
        Delta *= fw.A[L]
        Delta /= denominator
        return
    into = _H_PRIME_INTO.get(act.name) if builtin else None
    if into is None:
        assert act.h_prime is not None  # checked by Network (_check_activations)
        Delta *= act.h_prime(Z)
        return
    Delta *= into(Z)


def _clamped(Z: np.ndarray) -> bool:
    return bool(Z.max(initial=-np.inf) > SIGMOID_CLAMP)


def _activate_into(act: Activation, Z: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray | None]:
    """`h(Z^L)`, and `1 + e^z` for a built-in sigmoid."""
    if act.is_identity:
        return Z, None
    if not is_builtin(act):
        return act.h(Z), None
    if act.name == "sigmoid":
        return _sigmoid_into(Z, L)
    into = _H_INTO.get(act.name)
    return (act.h(Z) if into is None else into(Z, L)), None


def _sigmoid_into(Z: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray]:
    """sigma(z) = e / (1 + e), e = exp(min(z, SIGMOID_CLAMP)): one exp, a few ulps; and 1 + e."""
    out, denominator = buffer(f"A{L}", Z.shape), buffer(f"1+e{L}", Z.shape)
    np.minimum(Z, SIGMOID_CLAMP, out=out)
    np.exp(out, out=out)
    np.add(out, 1.0, out=denominator)
    out /= denominator
    return out, denominator


def _tanh_into(Z: np.ndarray, L: int) -> np.ndarray:
    return np.tanh(Z, out=buffer(f"A{L}", Z.shape))


def _saturating_prime(Z: np.ndarray, rate: float, factor: float) -> np.ndarray:
    """`factor e / (1 + e)^2` with `e = exp(-rate |z|)`, into buffers."""
    e, denominator = buffer("h' e", Z.shape), buffer("h' denominator", Z.shape)
    np.abs(Z, out=e)
    e *= -rate
    np.exp(e, out=e)
    np.add(e, 1.0, out=denominator)
    np.square(denominator, out=denominator)
    if factor != 1.0:
        e *= factor
    e /= denominator
    return e


def _sigmoid_prime_into(Z: np.ndarray) -> np.ndarray:
    return _saturating_prime(Z, 1.0, 1.0)  # e / (1 + e)^2, e = exp(-|z|)


def _tanh_prime_into(Z: np.ndarray) -> np.ndarray:
    return _saturating_prime(Z, 2.0, 4.0)  # 4 e / (1 + e)^2, e = exp(-2|z|)


_H_INTO: dict[str, Callable[[np.ndarray, int], Any]] = {
    "sigmoid": lambda Z, L: _sigmoid_into(Z, L)[0],
    "tanh": _tanh_into,
}
_H_PRIME_INTO: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": _sigmoid_prime_into,
    "tanh": _tanh_prime_into,
}
