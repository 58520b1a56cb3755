"""What wrong gradient shapes suggest: `diagnose_shapes`, one plain sentence per slip.

Before any number is compared, the shapes of a candidate's gradients often
tell the slip on their own: `dJ/dW^L` transposed (PyTorch's layout), the
layers in reverse order, one gradient per example not averaged, a bias
returned as a column. `gradcheck.diagnosis.diagnose` matches numbers; this module
reads shapes only.
"""

from __future__ import annotations

from collections.abc import Sequence

from gradcheck.diagnosis.bugs import BUGS_BY_NAME
from gradcheck.results.causes import Cause
from gradcheck.validate import check_network, check_shape_lists
from reference import Network

__all__ = ["diagnose_shapes", "shape_causes"]


def diagnose_shapes(
    shapes_W: Sequence[Sequence[int]],
    shapes_b: Sequence[Sequence[int]],
    net: Network,
    *,
    layout: str = "article",
) -> list[str]:
    """What wrong gradient shapes suggest, one plain sentence each; [] if the shapes are right.

    Parameters
    ----------
    shapes_W : sequence of tuple of int
        The shapes of the candidate's `dJ/dW^L`, ``L = 0 .. H`` as returned;
        the article's are `(M, N)`.
    shapes_b : sequence of tuple of int
        The shapes of its `dJ/db^L`; the article's are `(N,)`.
    net : Network
        The network the gradients are for.
    layout : {"article", "torch"}
        The candidate's layout. Under ``"torch"``, `shapes_W` are still in the
        article's orientation (the candidate's own, transposed, as the oracle
        reads them) and every message prints the candidate's own shapes,
        expected `(N, M)`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from reference import Network
    >>> net = Network.random([3, 4, 2], seed=0)
    >>> diagnose_shapes([(4, 3), (2, 4)], [(4,), (2,)], net)[0][:40]
    'every dJ/dW^L is transposed, (N, M) inst'
    """
    check_network(net)
    if layout not in ("article", "torch"):
        raise ValueError(f"`layout` must be 'article' or 'torch', got {layout!r}")
    got_W, got_b = check_shape_lists(shapes_W, shapes_b)
    want_W = [W.shape for W in net.weights]
    want_b = [b.shape for b in net.biases]
    # a bias block is not transposed: a swapped torch candidate's "biases" are its (N, M) weights
    own_W = want_W if layout == "article" else [w[::-1] for w in want_W]
    if (got_W, got_b) == (want_b, own_W) and want_W != want_b:
        swapped = BUGS_BY_NAME["gradients_swapped"]
        return [f"{swapped.description}? Fix: {swapped.fix}"]
    messages = _list_messages("dJ/dW", got_W, want_W)
    if messages is None:
        messages = _weight_messages(got_W, want_W, torch=layout == "torch")
    bias_messages = _list_messages("dJ/db", got_b, want_b)
    messages += _bias_messages(got_b, want_b) if bias_messages is None else bias_messages
    return messages


def _list_messages(
    kind: str, got: list[tuple[int, ...]], want: list[tuple[int, ...]]
) -> list[str] | None:
    """Messages about the list as a whole (count, order); None to look layer by layer."""
    H = len(want) - 1
    if got == want:
        return []
    if len(got) == len(want) and got == want[::-1]:
        return [
            f"the {kind}^L are in reverse order (the output layer's first)? "
            f"Return [{kind}^0, ..., {kind}^{H}]: reverse the list built while going backwards"
        ]
    if len(got) == len(want) + 1:
        return [
            f"one {kind} too many ({len(got)} for the {len(want)} layers L = 0 .. {H}): "
            "the input layer counted as a layer? The input x is a^{-1}; it has no weights"
        ]
    if len(got) == len(want) - 1 and got == want[1:]:
        return [
            f"{kind}^0 missing: the loop over layers stops before layer 0, "
            "e.g. range(H, 0, -1) where range(H, -1, -1) belongs?"
        ]
    if len(got) == len(want) - 1 and got == want[:-1]:
        return [f"{kind}^{H} of the output layer missing: the loop over layers starts at H - 1?"]
    if len(got) != len(want):
        return [
            f"{len(got)} {kind} arrays for the {len(want)} layers L = 0 .. {H} "
            f"(expected shapes {want})"
        ]
    return None


def _weight_messages(
    got: list[tuple[int, ...]], want: list[tuple[int, ...]], *, torch: bool = False
) -> list[str]:
    """Per layer, in the candidate's own terms: article shapes `(M, N)`, or `(N, M)` under torch."""
    own = (lambda shape: shape[::-1]) if torch else (lambda shape: shape)  # noqa: E731
    order, other = ("(N, M)", "(M, N)") if torch else ("(M, N)", "(N, M)")
    retry = "article" if torch else "torch"
    transposed = [g == w[::-1] for g, w in zip(got, want, strict=True)]
    if all(transposed) and got != want:
        return [
            f"every dJ/dW^L is transposed, {other} instead of {order}: "
            + (
                "(M, N) is the article's layout; try layout='article', or return "
                "delta^L (a^{L-1})^T, PyTorch's nn.Linear.weight layout"
                if torch
                else "(N, M) is PyTorch's nn.Linear.weight layout; try layout='torch', or "
                "return a^{L-1} (delta^L)^T, not delta^L (a^{L-1})^T"
            )
        ]
    messages = []
    for L, (g, w) in enumerate(zip(got, want, strict=True)):
        M, N = w
        name = f"dJ/dW^{L} has shape {own(g)}, expected {order} = {own(w)}"
        if g == w:
            continue
        if g == (N, M):
            messages.append(
                f"{name}: transposed? {other} is "
                f"{'the article' if torch else 'PyTorch'}'s "
                f"{'' if torch else 'nn.Linear.weight '}layout; try layout='{retry}'"
                + ("" if torch else ", or return a^{L-1} (delta^L)^T")
            )
        elif g == (N, N):
            messages.append(
                f"{name}: a^L used where a^{{L-1}} belongs in dJ/dW^L = a^{{L-1}} (delta^L)^T?"
            )
        elif len(g) == 3 and g[1:] in (w, (N, M)):
            messages.append(
                f"{name}: one gradient per example, not averaged? "
                "Take the mean over the examples (axis 0)"
            )
        elif g in want:
            messages.append(f"{name}, the shape of W^{want.index(g)}: a layer index off by one?")
        else:
            messages.append(name)
    return messages


def _bias_messages(got: list[tuple[int, ...]], want: list[tuple[int, ...]]) -> list[str]:
    messages = []
    for L, (g, w) in enumerate(zip(got, want, strict=True)):
        (N,) = w
        name = f"dJ/db^{L} has shape {g}, expected (N,) = {w}"
        if g == w:
            continue
        if g == (1, N):
            messages.append(
                f"{name}: keepdims=True or a row vector? Return shape (N,), "
                "e.g. Delta.sum(axis=0) / d without keepdims"
            )
        elif g == (N, 1):
            messages.append(
                f"{name}: a column vector (as in Nielsen's network.py)? "
                "Return shape (N,), e.g. np.ravel"
            )
        elif len(g) == 2 and g[1] == N:
            messages.append(
                f"{name}: one row per example, not averaged? "
                "dJ/db^L = (1/d) 1^T Delta^L, i.e. Delta.mean(axis=0)"
            )
        elif g == ():
            messages.append(
                f"{name}: a scalar, summed over every axis? Sum over the examples only (axis=0)"
            )
        elif g in want:
            messages.append(f"{name}, the shape of b^{want.index(g)}: a layer index off by one?")
        else:
            messages.append(name)
    return messages


#: The catalogue bugs a shape message names, by a phrase only that message has.
_NAMED_BY = (
    ("the weight and bias gradients swapped", "gradients_swapped"),
    ("are in reverse order", "layers_reversed"),
    ("every dJ/dW^L is transposed", "dW_transposed"),
)


def shape_causes(
    shapes_W: Sequence[Sequence[int]],
    shapes_b: Sequence[Sequence[int]],
    net: Network,
    *,
    layout: str = "article",
) -> list[Cause]:
    """`diagnose_shapes` as `gradcheck.results.causes.Cause` objects, with the catalogue bug where one is named.

    Examples
    --------
    >>> from reference import Network
    >>> net = Network.random([3, 4, 2], seed=0)
    >>> shape_causes([(4,), (2,)], [(3, 4), (4, 2)], net)[0].bug
    'gradients_swapped'
    """
    causes = []
    for text in diagnose_shapes(shapes_W, shapes_b, net, layout=layout):
        bug = next((name for phrase, name in _NAMED_BY if phrase in text), None)
        equation = BUGS_BY_NAME[bug].equation if bug else None
        causes.append(
            Cause(bug, equation, (), text, {"shapes_W": list(shapes_W), "shapes_b": list(shapes_b)})
        )
    return causes
