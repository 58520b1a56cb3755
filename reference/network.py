"""`Network` (weights, biases, activations, cost) and `Gradients`; the flat order is `layout`'s.

Layers are numbered `L = 0 .. H` (NOTATION.md): layer 0 is the first hidden
layer and layer `H` the output layer.  `weights[L]` is `W^L`, shape `(M, N)`,
with `W^L[m, n] = w^L_{mn}` (the transpose of PyTorch's `nn.Linear.weight`).
The input `x` plays the part of `a^{-1}`; it is never stored at index -1,
which in Python is the output layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import batch_array, checked_l2, class_labels_to_one_hot, data_arrays, real_array
from .activations import ACTIVATIONS, Activation, get_activation
from .costs import FUSED_FORMS, Cost, Fused, get_cost
from .layout import ParameterLayout

__all__ = [
    "ForwardPass",
    "Gradients",
    "Network",
    "checked_problem",
    "example_costs",
    "forward_pass",
    "hidden_activations",
    "is_per_layer",
]

# Costs that take logarithms of the outputs accept only built-in output
# activations whose range keeps the logarithms finite (custom ones are trusted).
# Cross-entropies take the outputs as probabilities: binary cross-entropy
# treats each output as its own Bernoulli (sigmoid), the categorical one reads
# them as a distribution (softmax) or as independent probabilities (sigmoid).
# softmax + binary cross-entropy (coupled outputs scored as independent) and
# softplus outputs (not probabilities) are modelling errors, refused with a hint.
_OUTPUTS_FOR_COST = {
    "cross_entropy": ("sigmoid",),
    "categorical_cross_entropy": ("softmax", "sigmoid"),
}


@dataclass(frozen=True, eq=False)
class Gradients:
    """The batch-averaged gradient: ``weights[L]`` is `dJ/dW^L` (M, N), ``biases[L]`` is `dJ/db^L` (N,)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def flat(self) -> np.ndarray:
        """The flat vector in the order of NOTATION.md (a new array)."""
        return ParameterLayout(self.sizes).join(self.weights, self.biases)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes ``(n_in, n_0, ..., n_H)`` read off the weight shapes."""
        return (self.weights[0].shape[0],) + tuple(W.shape[1] for W in self.weights)

    @classmethod
    def from_flat(cls, theta: np.ndarray, sizes: Sequence[int]) -> Gradients:
        """The gradient whose flat vector is `theta` (copies, so `theta` is not aliased)."""
        layout = ParameterLayout(_checked_sizes(sizes))
        # NaN/Inf are let through: a numerical gradient marks unverifiable entries with them.
        theta = real_array(theta, name="theta", ndim=1, finite=False)
        if theta.shape != (layout.size,):
            raise ValueError(
                f"`theta` must have shape ({layout.size},) for sizes {list(sizes)}, got {theta.shape}"
            )
        weights, biases = layout.split(theta)
        return cls(weights, biases)

    def __iter__(self) -> Iterator[list[np.ndarray]]:
        """Unpack as ``dJ_dW, dJ_db = backprop(net, X, Y)``."""
        return iter((self.weights, self.biases))

    def __repr__(self) -> str:
        return f"Gradients(sizes={list(self.sizes)})"


# ---------------------------------------------------------- forward pass


@dataclass(frozen=True, eq=False)
class ForwardPass:
    """Every `Z^L` and `A^L` of a batch, ``L = 0 .. H`` (rows are examples)."""

    Z: list[np.ndarray]
    A: list[np.ndarray]

    @property
    def output(self) -> np.ndarray:
        """`A^H`, the network's output, shape (d, n_H)."""
        return self.A[-1]


def forward_pass(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    activations: Sequence[Activation],
    X: np.ndarray,
) -> ForwardPass:
    """`Z^L = A^{L-1} W^L + 1 (b^L)^T`, `A^L = h(Z^L)`, with `A^{-1} = X`. No validation; complex-safe."""
    Z: list[np.ndarray] = []
    A: list[np.ndarray] = []
    a_prev = X  # A^{-1} = X
    for W, b, act in zip(weights, biases, activations):
        z = a_prev @ W
        z += b  # Z^L = A^{L-1} W^L + 1 b^T, in place: no second temporary
        a_prev = z if act.is_identity else act.h(z)  # A^L = h(Z^L)
        Z.append(z)
        A.append(a_prev)
    return ForwardPass(Z, A)


def example_costs(
    Z_H: np.ndarray, A_H: np.ndarray, Y: np.ndarray, output: Activation, cost: Cost
) -> np.ndarray:
    """`J_i` for every example, from `z^H` where a fused form exists (no log 0 at saturation).

    Works along the last axis: a stack `(k, d, n_H)` gives `(k, d)`.
    """
    fused = FUSED_FORMS.get((output.name, cost.name))
    if fused is not None:
        return fused.J_from_z(Z_H, Y)
    return cost.J(A_H, Y)


# ----------------------------------------------------------------- network


class Network:
    """A fully connected feed-forward network in the article's notation.

    Parameters
    ----------
    weights : sequence of array_like, each shape (M, N)
        ``weights[L]`` is `W^L`; column `n` holds the incoming weights of
        neuron `n` of layer `L`.
    biases : sequence of array_like, each shape (N,)
        ``biases[L]`` is `b^L`.
    hidden : str, Activation, (h, h_prime) pair, or a list of them
        The activation of layers ``0 .. H-1``: one for all, or a list of `H`,
        one per hidden layer (``["relu", "tanh"]``). Names may carry
        parameters: ``"leaky_relu:0.2"`` or ``("elu", {"alpha": 0.1})``.
    output : str, Activation, (h, h_prime) pair or None
        The activation of layer `H`; None means the same as `hidden` (for a
        list, its last entry).
    cost : str or Cost
        ``"quadratic"`` (the article's `J_i = 1/2 ||a - y||^2`), ``"mse"``
        (`J_i = (1/n_H) ||a - y||^2`, torch's ``MSELoss``), ``"cross_entropy"``
        (binary) or ``"categorical_cross_entropy"`` (targets one-hot or
        probabilities, or integer class labels of shape (d,)), or a `Cost`.
    l2 : float
        `lam >= 0`: the cost gains `(lam/2) sum_L ||W^L||^2` (the weights
        only, as in Nielsen's network2.py, whose `lambda/n` is `lam`), and
        every `dJ/dW^L` the term `lam W^L`.

    Attributes
    ----------
    activations : list of Activation
        `h` of every layer ``L = 0 .. H``: the one source of truth.
    hidden : Activation
        The first hidden layer's activation (all hidden layers' unless
        `hidden` was a list; then see `hidden_layers`, or `hidden_name`).
    hidden_layers : tuple of Activation or None
        One per hidden layer when `hidden` was a list, else None.

    The network keeps float64 copies of `weights` and `biases`: the caller's
    arrays are never aliased or modified.

    Examples
    --------
    >>> import numpy as np
    >>> net = Network([np.ones((2, 3)), np.ones((3, 1))], [np.zeros(3), np.zeros(1)])
    >>> net.sizes
    (2, 3, 1)
    >>> net.forward(np.zeros((5, 2))).output.shape
    (5, 1)
    """

    def __init__(
        self,
        weights: Sequence[Any],
        biases: Sequence[Any],
        *,
        hidden: Any = "sigmoid",
        output: str | Activation | tuple | None = None,
        cost: str | Cost = "quadratic",
        l2: float = 0.0,
    ) -> None:
        self.weights, self.biases = _checked_parameters(weights, biases)
        spec = hidden_activations(hidden, self.H)
        #: one Activation per hidden layer when `hidden` was a list, else None
        self.hidden_layers: tuple[Activation, ...] | None = (
            None if isinstance(spec, Activation) else tuple(spec)
        )
        if output is not None:
            self.output = get_activation(output, argument="output activation")
        elif isinstance(spec, Activation):
            self.output = spec
        elif spec:
            self.output = spec[-1]
        else:
            raise ValueError(
                "`output` is None, which means the hidden activation, but `hidden` is an "
                "empty list (no hidden layer): name the output activation"
            )
        if isinstance(spec, Activation):
            self.hidden = spec
        else:
            self.hidden = spec[0] if spec else self.output
        self.cost_function = get_cost(cost)
        self.l2 = checked_l2(l2)
        _check_activations(self.activations[:-1], self.output, self.cost_function)

    # ------------------------------------------------------------ shape

    @property
    def H(self) -> int:
        """The index of the output layer (the number of hidden layers)."""
        return len(self.weights) - 1

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(n_in, n_0, ..., n_H)``."""
        return (self.weights[0].shape[0],) + tuple(W.shape[1] for W in self.weights)

    @property
    def layout(self) -> ParameterLayout:
        """The flat parameter order for this network's sizes."""
        return ParameterLayout(self.sizes)

    @property
    def activations(self) -> list[Activation]:
        """`h` of each layer ``L = 0 .. H`` (a new list)."""
        hidden = self.hidden_layers if self.hidden_layers is not None else [self.hidden] * self.H
        return [*hidden, self.output]

    @property
    def hidden_spec(self) -> Activation | tuple[Activation, ...]:
        """What `hidden` was: one Activation for every hidden layer, or a tuple, one per layer.

        ``Network(W, b, hidden=net.hidden_spec, ...)`` rebuilds the same activations.
        """
        return self.hidden if self.hidden_layers is None else self.hidden_layers

    @property
    def hidden_name(self) -> str | list[str]:
        """The hidden activation's name, or the list of names, one per hidden layer."""
        if self.hidden_layers is None:
            return self.hidden.name
        return [act.name for act in self.hidden_layers]

    def penalty(self, weights: Sequence[np.ndarray] | None = None) -> Any:
        """The L2 penalty `(lam/2) sum_L ||W^L||^2` (of `weights`, default the network's own).

        Written as a sum of squares ``W * W``, not ``|W|^2``, so a complex `W` works.
        """
        if self.l2 == 0.0:
            return 0.0
        weights = self.weights if weights is None else weights
        return 0.5 * self.l2 * sum(np.einsum("mn,mn->", W, W) for W in weights)

    @property
    def fused(self) -> Fused | None:
        """The fused (output activation, cost) form, if this pair has one."""
        return FUSED_FORMS.get((self.output.name, self.cost_function.name))

    def __repr__(self) -> str:
        l2 = f", l2={self.l2:g}" if self.l2 else ""
        return (
            f"Network(sizes={list(self.sizes)}, hidden={self.hidden_name!r}, "
            f"output={self.output.name!r}, cost={self.cost_function.name!r}{l2})"
        )

    # ------------------------------------------------------- construction

    @classmethod
    def random(
        cls,
        sizes: Sequence[int],
        *,
        hidden: Any = "sigmoid",
        output: str | Activation | tuple | None = None,
        cost: str | Cost = "quadratic",
        seed: int | np.random.Generator | None = 0,
        scale: float = 1.0,
        l2: float = 0.0,
    ) -> Network:
        """A network with seeded random weights `W^L ~ N(0, scale^2 / M)` and biases `b^L ~ N(0, 0.1^2)`.

        The `1/M` variance keeps every `z^L` of order one whatever the widths;
        nonzero biases make the bias gradients worth checking.

        Examples
        --------
        >>> Network.random([4, 8, 3], hidden="tanh", output="softmax",
        ...                cost="categorical_cross_entropy", seed=1).sizes
        (4, 8, 3)
        """
        sizes = _checked_sizes(sizes)
        _check_seed_and_scale(seed, scale)
        rng = np.random.default_rng(seed)
        weights = [rng.normal(0.0, scale / np.sqrt(M), (M, N)) for M, N in zip(sizes, sizes[1:])]
        biases = [rng.normal(0.0, 0.1, N) for N in sizes[1:]]
        return cls(weights, biases, hidden=hidden, output=output, cost=cost, l2=l2)

    def with_flat(self, theta: Any) -> Network:
        """A network like this one with the parameters of the flat vector `theta`."""
        theta = real_array(theta, name="theta", ndim=1)
        if theta.shape != (self.layout.size,):
            raise ValueError(
                f"`theta` must have shape ({self.layout.size},) for sizes {list(self.sizes)}, "
                f"got {theta.shape}"
            )
        weights, biases = self.layout.split(theta)
        return Network(
            weights,
            biases,
            hidden=self.hidden_spec,
            output=self.output,
            cost=self.cost_function,
            l2=self.l2,
        )

    def flat(self) -> np.ndarray:
        """The parameters as one flat vector, in the order of NOTATION.md (a new array)."""
        return self.layout.join(self.weights, self.biases)

    # ----------------------------------------------------------- evaluate

    def check_data(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated float64 ``(X, Y)`` for this network, or a clear `ValueError`/`TypeError`."""
        if self.cost_function.name == "categorical_cross_entropy":
            Y = class_labels_to_one_hot(Y, self.sizes[-1])
        X, Y = data_arrays(X, Y, n_in=self.sizes[0], n_out=self.sizes[-1])
        if self.cost_function.probability_targets and ((Y < 0).any() or (Y > 1).any()):
            bad = np.argwhere((Y < 0) | (Y > 1))[0]
            raise ValueError(
                f"cost {self.cost_function.name!r} needs targets in [0, 1]; "
                f"Y[{bad[0]},{bad[1]}] = {Y[tuple(bad)]} (Y has shape {Y.shape})"
            )
        return X, Y

    def forward(self, X: Any) -> ForwardPass:
        """Feed the batch `X` (d, n_in) through layers ``0 .. H``, keeping every `Z^L` and `A^L`."""
        X = batch_array(X, n_in=self.sizes[0])
        return forward_pass(self.weights, self.biases, self.activations, X)

    def cost(self, X: Any, Y: Any, *, theta: np.ndarray | None = None) -> float | complex:
        """`J = (1/d) sum_i J_i` on the batch, plus `(lam/2) sum_L ||W^L||^2` when ``l2 = lam > 0``.

        With `theta`, the cost at those parameters instead of the network's
        own; `theta` may be complex (complex-step differentiation).
        """
        X, Y = self.check_data(X, Y)
        if theta is None:
            weights, biases = self.weights, self.biases
        else:
            theta = real_array(theta, name="theta", ndim=1, copy=False, allow_complex=True)
            if theta.shape != (self.layout.size,):
                raise ValueError(
                    f"`theta` must have shape ({self.layout.size},), got {theta.shape}"
                )
            weights, biases = self.layout.split(theta)
        forward = forward_pass(weights, biases, self.activations, X)
        J = example_costs(forward.Z[-1], forward.output, Y, self.output, self.cost_function).mean()
        J = J + self.penalty(weights)  # + (lam/2) sum_L ||W^L||^2
        return complex(J) if np.iscomplexobj(J) else float(J)


# ------------------------------------------------------------- validation


def _checked_sizes(sizes: Any) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"`sizes` must be a sequence of layer widths like [4, 8, 3], got {sizes!r}")
    if isinstance(
        sizes, (set, frozenset, Mapping)
    ):  # no order (a set) or keys, not widths (a dict)
        raise TypeError(
            f"`sizes` must be an ordered sequence of layer widths like [4, 8, 3], got a "
            f"{type(sizes).__name__} {sizes!r}, whose order is not the layers'"
        )
    if len(sizes) < 2:
        raise ValueError(
            f"`sizes` must list at least the input and output widths [n_in, ..., n_H], got {list(sizes)}"
        )
    out = []
    for k, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"`sizes[{k}]` must be an integer, got {n!r}")
        if n < 1:
            raise ValueError(
                f"`sizes[{k}]` must be a positive width, got {n} (sizes {list(sizes)})"
            )
        out.append(int(n))
    return tuple(out)


def _check_seed_and_scale(seed: Any, scale: Any) -> None:
    if seed is not None and not isinstance(seed, np.random.Generator):
        expected = "`seed` must be None, a non-negative integer or a numpy Generator"
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"{expected}, got {seed!r}")
        if seed < 0:
            raise ValueError(f"{expected}, got {seed}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"`scale` must be a positive finite number, got {scale!r}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"`scale` must be a positive finite number, got {scale!r}")


def _checked_parameters(weights: Any, biases: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    for name, value in (("weights", weights), ("biases", biases)):
        if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__len__"):
            raise TypeError(
                f"`{name}` must be a list with one array per layer, got {type(value).__name__}"
            )
    if len(weights) == 0:
        raise ValueError("`weights` is empty; a network needs at least the output layer's W^0")
    if len(weights) != len(biases):
        raise ValueError(
            f"`weights` has {len(weights)} layers but `biases` has {len(biases)}; "
            "give one W^L and one b^L per layer L = 0 .. H"
        )
    Ws = [real_array(W, name=f"weights[{L}] (W^{L})", ndim=2) for L, W in enumerate(weights)]
    bs = [real_array(b, name=f"biases[{L}] (b^{L})", ndim=1) for L, b in enumerate(biases)]
    for L, (W, b) in enumerate(zip(Ws, bs)):
        if 0 in W.shape:
            raise ValueError(f"`weights[{L}]` (W^{L}) has an empty shape {W.shape}")
        if L > 0 and W.shape[0] != Ws[L - 1].shape[1]:
            raise ValueError(
                f"layer sizes do not chain: W^{L} has shape {W.shape}, so layer {L - 1} would "
                f"have {W.shape[0]} neurons, but W^{L - 1} has shape {Ws[L - 1].shape} "
                f"({Ws[L - 1].shape[1]} neurons); W^L must be (M, N) with M the width of layer L-1"
            )
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"`biases[{L}]` (b^{L}) must have shape ({W.shape[1]},) to match W^{L} {W.shape}, "
                f"got {b.shape}"
            )
    return Ws, bs


def is_per_layer(spec: Any) -> bool:
    """Whether `hidden` lists one activation per layer (a list, or a tuple that is not one activation)."""
    single = (
        isinstance(spec, tuple)
        and len(spec) == 2
        and (
            all(callable(f) for f in spec)
            or (isinstance(spec[0], str) and isinstance(spec[1], dict))
        )
    )
    return isinstance(spec, (list, tuple)) and not single


def hidden_activations(spec: Any, H: int) -> Activation | list[Activation]:
    """`hidden` as one `Activation` for all hidden layers, or a list of `H`, one per layer.

    A list (or a tuple that is not itself one activation, such as ``("relu",
    "tanh")``) is per layer; a name, an `Activation`, an ``(h, h')`` pair or a
    ``(name, {parameters})`` pair is one activation for every hidden layer.
    """
    single = (
        isinstance(spec, tuple)
        and len(spec) == 2
        and (
            all(callable(f) for f in spec)
            or (isinstance(spec[0], str) and isinstance(spec[1], dict))
        )
    )
    if not isinstance(spec, (list, tuple)) or single:
        return get_activation(spec, argument="hidden activation")
    if len(spec) != H:
        raise ValueError(
            f"`hidden` lists {len(spec)} activation{'s' * (len(spec) != 1)} but the network has "
            f"H = {H} hidden layer{'s' * (H != 1)}; give one per hidden layer, or one name for all"
        )
    return [
        get_activation(a, argument=f"hidden activation of layer {L}") for L, a in enumerate(spec)
    ]


def _check_activations(hidden: Sequence[Activation], output: Activation, cost: Cost) -> None:
    """Every hidden `h` element-wise with an `h'`; the output's range fit for the cost."""
    for L, act in enumerate(hidden):
        if not act.elementwise:
            raise ValueError(
                f"hidden activation {act.name!r} is not element-wise; it can only be "
                f"the output activation (output=...), not hidden layer {L}"
            )
        if act.h_prime is None:
            raise ValueError(
                f"hidden activation {act.name!r} has no derivative h_prime (layer {L})"
            )
    if output.elementwise and output.h_prime is None:
        raise ValueError(f"output activation {output.name!r} has no derivative h_prime")
    if cost.name == "mse" and not output.elementwise:
        raise ValueError(
            f"cost 'mse' with output activation {output.name!r} makes no sense: mse scores each "
            "output as a value of its own, softmax makes them a distribution; use "
            "cost='categorical_cross_entropy' with softmax, or an element-wise output with mse"
        )
    allowed = _OUTPUTS_FOR_COST.get(cost.name)
    if allowed and output.name in ACTIVATIONS and ACTIVATIONS[output.name] is output:
        if output.name not in allowed:
            raise ValueError(
                f"cost {cost.name!r} reads the outputs as probabilities, which output activation "
                f"{output.name!r} does not give; use output={allowed[0]!r} (allowed: {', '.join(allowed)})"
                + (
                    "; for softmax outputs use cost='categorical_cross_entropy'"
                    if output.name == "softmax"
                    else ""
                )
            )


def checked_problem(net: Any, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    """`net` checked to be a `Network`, and its batch `X` (d, n_in) and targets `Y` (d, n_H).

    The one check every `backprop*` function starts with; returns the checked
    float64 `X` and `Y` (see `data_arrays`).
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"`net` must be a reference.Network, got {type(net).__name__}; "
            "build one with Network(weights, biases, ...)"
        )
    return net.check_data(X, Y)
