"""The flat parameter order of NOTATION.md: `ParameterLayout`, each block a `LayerBlock`.

Where parameters or gradients travel as one flat vector, the order is: for
`L = 0 .. H`, all of `W^L` row-major (`m` slow, `n` fast), then `b^L`. A flat
index maps back to `(kind, L, index)`, and to its name, `W^1[3,0]` or `b^2[4]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["LayerBlock", "ParameterLayout"]


class LayerBlock(NamedTuple):
    """One block of the flat parameter vector, `W^L` or `b^L`, with its layer as a number."""

    kind: str  # "W" or "b"
    L: int
    slice: slice  # where the block sits in the flat vector
    shape: tuple[int, ...]  # (M, N) for W^L, (N,) for b^L

    @property
    def name(self) -> str:
        """``"W^1"`` or ``"b^1"``."""
        return f"{self.kind}^{self.L}"


@dataclass(frozen=True)
class ParameterLayout:
    """The flat parameter order of NOTATION.md for layer sizes ``[n_in, n_0, ..., n_H]``.

    For `L = 0 .. H`: all of `W^L` row-major (`m` slow, `n` fast), then `b^L`.
    """

    sizes: tuple[int, ...]

    @property
    def H(self) -> int:
        """The index of the output layer."""
        return len(self.sizes) - 2

    @property
    def layer_blocks(self) -> list[LayerBlock]:
        """Each block in the flat order: ``LayerBlock("W", 0, slice(0, 12), (3, 4))``, ..."""
        out: list[LayerBlock] = []
        start = 0
        for L in range(self.H + 1):
            M, N = self.sizes[L], self.sizes[L + 1]
            out.append(LayerBlock("W", L, slice(start, start + M * N), (M, N)))
            start += M * N
            out.append(LayerBlock("b", L, slice(start, start + N), (N,)))
            start += N
        return out

    @property
    def blocks(self) -> list[tuple[str, slice, tuple[int, ...]]]:
        """``(name, slice, shape)`` of each block: ``("W^0", slice(0, 12), (3, 4))``, ..."""
        return [(b.name, b.slice, b.shape) for b in self.layer_blocks]

    @property
    def size(self) -> int:
        """The number of parameters."""
        return sum(M * N + N for M, N in zip(self.sizes[:-1], self.sizes[1:]))

    def locate(self, j: int) -> tuple[str, int, tuple[int, ...]]:
        """Flat index `j` -> ``(kind, L, index)``, e.g. ``("W", 1, (3, 0))`` or ``("b", 2, (4,))``."""
        if not 0 <= j < self.size:
            raise IndexError(f"flat index {j} out of range for {self.size} parameters")
        for kind, L, block, shape in self.layer_blocks:
            if block.start <= j < block.stop:
                return kind, L, tuple(int(k) for k in np.unravel_index(j - block.start, shape))
        raise AssertionError("unreachable")

    def name(self, j: int) -> str:
        """Flat index `j` -> its name in the notation, e.g. ``"W^1[3,0]"`` or ``"b^2[4]"``."""
        kind, L, index = self.locate(j)
        return f"{kind}^{L}[{','.join(map(str, index))}]"

    def split(self, theta: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views of a flat vector as ``(weights, biases)``; any dtype (complex for complex step)."""
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        for kind, _, block, shape in self.layer_blocks:
            (weights if kind == "W" else biases).append(theta[block].reshape(shape))
        return weights, biases

    def join(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> np.ndarray:
        """``(weights, biases)`` -> one flat vector (a new array)."""
        parts = []
        for W, b in zip(weights, biases):
            parts.append(np.ravel(W))
            parts.append(np.ravel(b))
        return np.concatenate(parts)


# -------------------------------------------------------------- gradients
