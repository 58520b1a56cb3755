"""A function of many inputs, cheap to evaluate, for the screen (gradcheck.fd.screen): ``y = w
tanh(x)``, ``out = y[:-STRIDE] + y[STRIDE:]`` (each output mixes two inputs STRIDE apart, so an
input's footprint is two outputs), its right backward, and backwards with slips."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

STRIDE = 1000  # outputs mix inputs this far apart (by default)
SLIP = 1e-3  # a slipped entry is off by this fraction of the input's largest gradient


class Wide:
    """`f(x)` of `n` inputs and its backward; `vjp(c, x)` is right, `slipped(...)` is not."""

    def __init__(self, n: int, seed: int = 0, stride: int = STRIDE) -> None:
        rng = np.random.default_rng(seed)
        self.x, self.w, self.stride = rng.standard_normal(n), rng.standard_normal(n), stride

    def f(self, x: np.ndarray) -> np.ndarray:
        y = self.w * np.tanh(x)
        return y[: -self.stride] + y[self.stride :]

    def vjp(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        dy = np.zeros_like(x)
        dy[: -self.stride] += c
        dy[self.stride :] += c
        return dy * self.w * (1 - np.tanh(x) ** 2)

    def slipped(
        self, wrong: Sequence[int] = (), *, factor: float = 1.0
    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """A backward whose entries `wrong` are off by `SLIP` of the largest gradient, and every
        entry times `factor` (1.001: an error spread over all entries)."""

        def vjp(c: np.ndarray, x: np.ndarray) -> np.ndarray:
            g = self.vjp(c, x) * factor
            g[list(wrong)] += SLIP * np.max(np.abs(g))
            return g

        return vjp
