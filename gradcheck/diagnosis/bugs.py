"""The catalogue of known backprop bugs, each with the reference gradient computed *with* that bug.

`gradcheck.diagnosis.diagnose` recognises a wrong gradient by comparing it with every
gradient below: when a candidate equals, to rounding, the reference computed
with a bug on purpose, that bug is the likely cause.

The math of the bugs is in `gradcheck.diagnosis.variants`: one batch-form backprop,
`backprop_variant`, whose keyword switches each replace one equation of
NOTATION.md by its broken form (with the defaults it *is* the article's
backprop). Each `Bug` here is a thin `partial` of it, or a small change of
what is returned (the sign, the order of the layers, an update instead of a
gradient), with the predicate that says where it can show.

    from gradcheck.diagnosis.bugs import BUGS
    [bug.name for bug in BUGS if bug.applies(net, d)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from gradcheck.diagnosis.variants import (
    H_PRIME_IN_A,
    backprop_variant,
    dW_transposed,
    gradients_swapped,
    is_builtin,
    layers_reversed,
    mean_over_outputs,
    on_rows,
    sign_flipped,
    updated_weights,
)

# `updated_weights`' default eta, defined beside it: importable from here as before
from gradcheck.diagnosis.variants import LEARNING_RATE as LEARNING_RATE
from reference import Activation, Gradients, Network

__all__ = ["BUGS", "BUGS_BY_NAME", "Bug", "always"]


@dataclass(frozen=True)
class Bug:
    """One known backprop bug: what it looks like, how to fix it, and the gradient it produces.

    Attributes
    ----------
    name : str
        Identifier, e.g. ``"summed_not_averaged"``.
    description : str
        What the candidate's gradient is, in plain words and the article's
        notation. The symbol ``d`` is the batch size; ``c`` and ``eta`` are
        constants that `diagnose` fits and prints.
    fix : str
        What to change, in the article's notation.
    gradient : callable ``(net, X, Y) -> Gradients``
        The reference gradient computed *with* the bug, `X` (d, n_in) and
        `Y` (d, n_H) as for `reference.backprop`. A bug with a free constant
        takes it as a keyword too: ``gradient(net, X, Y, eta=0.5)``.
    applies : callable ``(net, d) -> bool``
        Whether the bug can show at all on this network with a batch of `d`
        examples (softmax bugs need a softmax output, hidden-layer bugs a
        hidden layer, batch bugs ``d >= 2``). Where it applies, the buggy
        gradient may still coincide with the correct one on some input
        (a ReLU's ``h'(a) = h'(z)``); `diagnose` never reports it there.
    constant : str or None
        The name of a free constant on which `gradient` depends affinely
        (``"eta"``), fitted to the candidate by `diagnose`; None if none.
    equation : str or None
        The article's equation the bug breaks (`gradcheck.results.causes.EQUATIONS`):
        ``"delta^H"``, ``"recursion"``, ``"dJ/dW"``, ``"dJ/db"``; None for a
        fault outside them (the batch average, the forward pass, the order).
    """

    name: str
    description: str
    fix: str
    gradient: Callable[..., Gradients]
    applies: Callable[[Network, int], bool]
    constant: str | None = None
    equation: str | None = None

    def __repr__(self) -> str:
        return f"Bug({self.name!r})"


def always(net: Network, d: int) -> bool:
    """`Bug.applies` of a bug that can show on any network and batch."""
    return True


def _batch(net: Network, d: int) -> bool:
    return d >= 2


def _hidden(net: Network, d: int) -> bool:
    return net.H >= 1


def _hidden_nonlinear(net: Network, d: int) -> bool:
    return any(not h.is_identity for h in net.activations[:-1])


def _penalised(net: Network, d: int) -> bool:
    return net.l2 > 0


def _output_nonlinear(net: Network, d: int) -> bool:
    return not net.output.is_identity


def _output_elementwise(net: Network, d: int) -> bool:
    return net.output.elementwise


def _h_prime_of_a_differs(act: Activation) -> bool:
    # ReLU-like: h(z) > 0 exactly where z > 0, so h'(a) = h'(z) and the bug cannot show.
    return not act.is_identity and not is_builtin(act, "relu", "leaky_relu")


def _square_recursion(net: Network, d: int) -> bool:
    # (W^{L+1})^T delta needs W^{L+1} square, and differs from W^{L+1} delta only beyond 1 x 1.
    Ws = net.weights[1:]
    return net.H >= 1 and all(W.shape[0] == W.shape[1] for W in Ws) and Ws[0].shape[0] > 1


def _equal_widths(net: Network, d: int) -> bool:
    return net.H >= 1 and len(set(net.sizes)) == 1


BUGS: tuple[Bug, ...] = (
    Bug(
        "summed_not_averaged",
        "the gradient is d times the reference: summed over the batch instead of averaged",
        "divide dJ/dW^L and dJ/db^L by the batch size d (J is the mean of the J_i)",
        partial(backprop_variant, average="none"),
        _batch,
    ),
    Bug(
        "sign_flipped",
        "the gradient is -1 times the reference: the gradient of -J (the ascent direction), "
        "e.g. y - a^H where a^H - y belongs",
        "dJ/da^H = a^H - y for the quadratic cost; the minus sign belongs to the update "
        "W^L <- W^L - eta dJ/dW^L, not to the gradient",
        sign_flipped,
        always,
        equation="delta^H",
    ),
    Bug(
        "quadratic_half_missing",
        "the gradient is 2 times the reference: the 1/2 missing from the quadratic cost, "
        "dJ/da^H = 2 (a^H - y)",
        "J_i = 1/2 ||a^H - y||^2, so dJ/da^H = a^H - y",
        partial(backprop_variant, dJ_da="2(a-y)"),
        lambda net, d: net.cost_function.name == "quadratic",
        equation="delta^H",
    ),
    Bug(
        "mean_over_outputs",
        "the cost averaged over the outputs as well, with no 1/2, as torch.nn.MSELoss does: the "
        "gradient is 2/n_H times the reference's, dJ/da^H = (2/n_H) (a^H - y)",
        "the article's quadratic cost is J_i = 1/2 ||a^H - y||^2 (no mean over outputs), so "
        "dJ/da^H = a^H - y; or check against cost='mse' if MSELoss is what you meant",
        mean_over_outputs,
        lambda net, d: net.cost_function.name == "quadratic" and net.sizes[-1] > 2,
        equation="delta^H",
    ),
    Bug(
        "bias_not_averaged",
        "dJ/db^L is d times the reference while dJ/dW^L is right: the bias gradient summed "
        "over the batch, not averaged",
        "dJ/db^L = (1/d) 1^T Delta^L: divide by d, as for dJ/dW^L",
        partial(backprop_variant, average="weights_only"),
        _batch,
        equation="dJ/db",
    ),
    Bug(
        "output_h_prime_missing",
        "h' missing in the output layer: delta^H = dJ/da^H, without the factor h'(z^H)",
        "delta^H = dJ/da^H ⊙ h'(z^H) (softmax: J_h(z^H)^T dJ/da^H; sigmoid or softmax with "
        "its cross-entropy: simply a^H - y)",
        partial(backprop_variant, output_factor="1"),
        _output_nonlinear,
        equation="delta^H",
    ),
    Bug(
        "hidden_h_prime_missing",
        "h' missing in the hidden layers: delta^L = W^{L+1} delta^{L+1}, without ⊙ h'(z^L)",
        "delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L)",
        partial(backprop_variant, hidden_factor="1"),
        _hidden_nonlinear,
        equation="recursion",
    ),
    Bug(
        "softmax_elementwise",
        "softmax treated as element-wise: delta^H = dJ/da^H ⊙ a^H (1 - a^H), only the diagonal "
        "of its Jacobian",
        "delta^H = J_h(z^H)^T dJ/da^H = a ⊙ (g - (a · g)) with g = dJ/da^H; with categorical "
        "cross-entropy this is simply a^H - y",
        partial(backprop_variant, output_factor="a(1-a)"),
        lambda net, d: not net.output.elementwise,
        equation="delta^H",
    ),
    Bug(
        "quadratic_delta_for_cross_entropy",
        "the quadratic cost's delta used with a cross-entropy cost: delta^H = (a^H - y) ⊙ h'(z^H)",
        "use the cost's own dJ/da^H; for sigmoid + cross-entropy or softmax + categorical "
        "cross-entropy, delta^H = a^H - y, without h'",
        partial(backprop_variant, dJ_da="a-y"),
        lambda net, d: net.cost_function.name != "quadratic",
        equation="delta^H",
    ),
    Bug(
        "hidden_h_for_h_prime",
        "h used for h' in the hidden layers: delta^L = (W^{L+1} delta^{L+1}) ⊙ h(z^L)",
        "call the derivative: ⊙ h'(z^L), not h(z^L)",
        partial(backprop_variant, hidden_factor="h(z)"),
        _hidden,
        equation="recursion",
    ),
    Bug(
        "output_h_for_h_prime",
        "h used for h' in the output layer: delta^H = dJ/da^H ⊙ h(z^H)",
        "call the derivative: delta^H = dJ/da^H ⊙ h'(z^H), not h(z^H)",
        partial(backprop_variant, output_factor="h(z)"),
        _output_elementwise,
        equation="delta^H",
    ),
    Bug(
        "hidden_h_prime_of_a",
        "h' applied to a instead of z in the hidden layers: ⊙ h'(a^L) where h'(z^L) belongs "
        "(e.g. sigmoid_prime(a) where a (1 - a) was meant)",
        "⊙ h'(z^L); for sigmoid, either sigmoid_prime(z^L) or a^L (1 - a^L), not "
        "sigmoid_prime(a^L)",
        partial(backprop_variant, hidden_factor="h'(a)"),
        lambda net, d: any(_h_prime_of_a_differs(h) for h in net.activations[:-1]),
        equation="recursion",
    ),
    Bug(
        "output_h_prime_of_a",
        "h' applied to a instead of z in the output layer: delta^H = dJ/da^H ⊙ h'(a^H)",
        "delta^H = dJ/da^H ⊙ h'(z^H); for sigmoid, a^H (1 - a^H) is h'(z^H), "
        "sigmoid_prime(a^H) is not",
        partial(backprop_variant, output_factor="h'(a)"),
        lambda net, d: net.output.elementwise and _h_prime_of_a_differs(net.output),
        equation="delta^H",
    ),
    Bug(
        "hidden_h_prime_formula_of_z",
        "h' written in terms of a but fed z in the hidden layers: z^L (1 - z^L) for sigmoid "
        "(1 - (z^L)^2 for tanh) where a^L (1 - a^L) belongs",
        "feed the formula a^L = h(z^L), not z^L: h'(z^L) = a^L (1 - a^L) for sigmoid, "
        "1 - (a^L)^2 for tanh",
        partial(backprop_variant, hidden_factor="h'_in_a(z)"),
        lambda net, d: any(is_builtin(h, *H_PRIME_IN_A) for h in net.activations[:-1]),
        equation="recursion",
    ),
    Bug(
        "output_h_prime_formula_of_z",
        "h' written in terms of a but fed z in the output layer: z^H (1 - z^H) for sigmoid "
        "(1 - (z^H)^2 for tanh) where a^H (1 - a^H) belongs",
        "feed the formula a^H = h(z^H), not z^H: h'(z^H) = a^H (1 - a^H) for sigmoid, "
        "1 - (a^H)^2 for tanh",
        partial(backprop_variant, output_factor="h'_in_a(z)"),
        lambda net, d: is_builtin(net.output, *H_PRIME_IN_A),
        equation="delta^H",
    ),
    Bug(
        "recursion_untransposed",
        "the delta recursion with (W^{L+1})^T delta^{L+1} where W^{L+1} delta^{L+1} belongs "
        "(W^L is M x N in the article, the transpose of PyTorch's)",
        "delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L); batch form "
        "Delta^L = (Delta^{L+1} (W^{L+1})^T) ⊙ h'(Z^L)",
        partial(backprop_variant, recursion="(W^{L+1})^T"),
        _square_recursion,
        equation="recursion",
    ),
    Bug(
        "recursion_wrong_layer",
        "the delta recursion with the wrong layer's weights: W^L delta^{L+1} where "
        "W^{L+1} delta^{L+1} belongs (an index off by one)",
        "delta^L = (W^{L+1} delta^{L+1}) ⊙ h'(z^L): the weights of the layer after L",
        partial(backprop_variant, recursion="W^L"),
        _equal_widths,
        equation="recursion",
    ),
    Bug(
        "a_same_layer_in_dW",
        "a^L used where a^{L-1} belongs: dJ/dW^L = a^L (delta^L)^T",
        "dJ/dW^L = a^{L-1} (delta^L)^T, the activations of the layer before L "
        "(a^{-1} = x for layer 0)",
        partial(backprop_variant, dW_uses="a^L"),
        always,
        equation="dJ/dW",
    ),
    Bug(
        "dW_transposed",
        "dJ/dW^L transposed: delta^L (a^{L-1})^T, shape (N, M), which is PyTorch's "
        "nn.Linear.weight layout",
        "dJ/dW^L = a^{L-1} (delta^L)^T, shape (M, N); or check with layout='torch'",
        dW_transposed,
        always,
        equation="dJ/dW",
    ),
    Bug(
        "layers_reversed",
        "the layers in reverse order: the list starts with dJ/dW^H, the output layer",
        "return [dJ/dW^0, ..., dJ/dW^H]: reverse the lists built while going backwards",
        layers_reversed,
        _hidden,
    ),
    Bug(
        "last_example_only",
        "the gradient of the last example only: the per-example gradients overwritten "
        "instead of accumulated",
        "accumulate (+=, not =) dJ_i/dW^L and dJ_i/db^L over all d examples, then divide by d",
        partial(on_rows, "last"),
        _batch,
    ),
    Bug(
        "first_example_only",
        "the gradient of the first example only: a return or break inside the loop over examples",
        "loop over all d examples and average their gradients",
        partial(on_rows, "first"),
        _batch,
    ),
    Bug(
        "mean_example",
        "the gradient at the averaged example (the mean of X and of Y): the inputs averaged "
        "instead of the gradients",
        "backprop every example (x_i, y_i) and average the gradients: "
        "J = (1/d) sum_i J_i, and backprop is not linear in x",
        partial(on_rows, "mean"),
        _batch,
    ),
    Bug(
        "bias_missing_in_forward",
        "the bias left out of the forward pass: z^L = (W^L)^T a^{L-1}, without + b^L",
        "z^L = (W^L)^T a^{L-1} + b^L in the forward pass that backprop uses",
        partial(backprop_variant, bias_in_forward=False),
        always,
    ),
    Bug(
        "l2_missing",
        "the L2 penalty left out: dJ/dW^L without its term lam W^L (the cost has "
        "(lam/2) sum_L ||W^L||^2)",
        "add lam W^L to every dJ/dW^L: the gradient of (lam/2) ||W^L||^2",
        partial(backprop_variant, penalty="none"),
        _penalised,
        equation="dJ/dW",
    ),
    Bug(
        "l2_half_missing",
        "the L2 penalty's term doubled: 2 lam W^L in dJ/dW^L, the 1/2 of (lam/2) ||W^L||^2 missing",
        "the gradient of (lam/2) ||W^L||^2 is lam W^L, not 2 lam W^L",
        partial(backprop_variant, penalty="2 lam W"),
        _penalised,
        equation="dJ/dW",
    ),
    Bug(
        "l2_on_biases",
        "the L2 penalty applied to the biases too: dJ/db^L has an extra lam b^L",
        "the penalty (lam/2) sum_L ||W^L||^2 is on the weights only: dJ/db^L = (1/d) 1^T Delta^L, "
        "without lam b^L",
        partial(backprop_variant, penalty="lam W, lam b"),
        _penalised,
        equation="dJ/db",
    ),
    Bug(
        "updated_weights",
        "updated parameters returned instead of gradients: W^L - eta dJ/dW^L and "
        "b^L - eta dJ/db^L (with eta = 0, the parameters themselves)",
        "return dJ/dW^L and dJ/db^L themselves; the update W^L <- W^L - eta dJ/dW^L belongs "
        "to the training loop",
        updated_weights,
        always,
        constant="eta",
    ),
    Bug(
        "gradients_swapped",
        "the weight and bias gradients swapped: (dJ/db, dJ/dW) returned where (dJ/dW, dJ/db) "
        "belongs",
        "return the weight gradients first: (dW_list, db_list), or a dict with 'weights' and "
        "'biases' (Nielsen's network.py returns (nabla_b, nabla_w): swap them)",
        gradients_swapped,
        # shapes only: gradcheck.diagnosis.shapes names it before any number is compared
        lambda net, d: False,
    ),
)
"""Every known bug, most common first; `diagnose` breaks ties between coinciding bugs so."""

BUGS_BY_NAME: dict[str, Bug] = {bug.name: bug for bug in BUGS}
"""The catalogue by name."""
