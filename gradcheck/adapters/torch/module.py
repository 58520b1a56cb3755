"""`check_module`: any PyTorch module; the article's `nn.Sequential` by the `.grad` its `backward()` leaves.

A model of the article's shape (below) is read into the article's notation (`W^L = model[i].weight.T`,
`b^L = model[i].bias`, `h` of layer `L` = the activation module after it),
the loss module is matched to a reference cost, and a deep copy of the model
runs the user's own forward, `loss_fn` and `.backward()`.  Only the
parameters' `.grad` is read, so custom `torch.autograd.Function`s, custom
kernels and monkey-patched layers are checked for what they really compute.
Where a loss is a constant factor times the reference cost
(`gradcheck.adapters.torch.losses`), the model's gradients are divided by it first.
Any other model goes to `gradcheck.adapters.torch.general`: its loss's gradient
w.r.t. every parameter, checked by differences alone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise ImportError(
        "gradcheck.torch needs PyTorch: pip install 'backprop-gradcheck[torch]'"
    ) from exc

from gradcheck.adapters.torch.activations import module_activation, supported_modules
from gradcheck.adapters.torch.general import check_any_module
from gradcheck.adapters.torch.losses import (
    INTEGER_DTYPES,
    SUPPORTED_LOSSES,
    LossMatch,
    drawn_targets,
    loss_targets,
    match_loss,
    reference_targets,
)
from gradcheck.oracle.backprop import (
    DEFAULT_BATCH,
    DEFAULT_TRIALS,
    check_backprop,
    check_backprop_at,
)
from gradcheck.results.report import BackpropReport, TrialReport
from gradcheck.results.vjp_report import VJPReport
from gradcheck.validate import batch_or_trials
from reference import ACTIVATIONS, Network
from reference.activations import Activation

__all__ = ["check_module", "SUPPORTED_LOSSES", "supported_modules"]

DTYPES = (torch.float16, torch.float32, torch.float64)  # those numpy has: tolerances follow them


# ----------------------------------------------------------------- layers


@dataclass(frozen=True)
class _Layer:
    """Layer `L` of the article: the nn.Linear at `model[index]` and the activation after it."""

    index: int
    linear: nn.Linear
    h: Activation


class _OtherModel(Exception):
    """The model is not the article's network: it goes to `check_any_module` (the reason says why)."""


def _layers(model: Any, custom: Mapping[type, Any]) -> list[_Layer]:
    if not isinstance(model, nn.Sequential):
        raise _OtherModel(f"`model` is {type(model).__name__}, not an nn.Sequential")
    modules = list(model)
    if not modules:
        raise _OtherModel("`model` is an empty nn.Sequential")
    kinds = []
    for i, module in enumerate(modules):
        try:
            act = None if isinstance(module, nn.Linear) else module_activation(module, i, custom)
        except ValueError as exc:  # an activation the reference does not compute
            raise _OtherModel(str(exc)) from None
        if act is None and not isinstance(module, nn.Linear):
            raise _OtherModel(f"model[{i}] is {type(module).__name__}")
        kinds.append(act)
    layers: list[_Layer] = []
    for i, (module, act) in enumerate(zip(modules, kinds)):
        if act is None:  # an nn.Linear: a new layer, identity until an activation follows
            if module.bias is None:
                raise _OtherModel(f"model[{i}] is nn.Linear(bias=False)")
            assert isinstance(module, nn.Linear)
            layers.append(_Layer(i, module, ACTIVATIONS["identity"]))
        elif not layers:
            raise _OtherModel(f"model[{i}] ({type(module).__name__}) comes before any nn.Linear")
        elif i > 0 and kinds[i - 1] is not None:
            raise _OtherModel(f"model[{i}] follows the activation model[{i - 1}]")
        elif not act.elementwise and i != len(modules) - 1:
            raise _OtherModel(f"model[{i}] ({type(module).__name__}) is not the last module")
        else:
            layers[-1] = replace(layers[-1], h=act)
    for L in range(1, len(layers)):
        M, N = layers[L - 1].linear.out_features, layers[L].linear.in_features
        if M != N:
            raise ValueError(
                f"model[{layers[L].index}] is nn.Linear({N}, ...) but the layer before it has "
                f"{M} outputs"
            )
    return layers


# ------------------------------------------------------------------- data


def _inputs(X: Any, dtype: torch.dtype, n_in: int) -> torch.Tensor:
    try:
        X = torch.as_tensor(X)
    except Exception as exc:
        raise TypeError(f"`X` must be a tensor or an array of shape (d, {n_in}): {exc}") from None
    if X.ndim != 2 or X.shape[1] != n_in or X.shape[0] == 0:
        raise ValueError(
            f"`X` must have shape (d, {n_in}) with d >= 1 (rows are examples; the model's "
            f"first nn.Linear takes {n_in} inputs), got {tuple(X.shape)}"
        )
    if X.is_complex() or not (X.is_floating_point() or X.dtype in INTEGER_DTYPES):
        raise TypeError(f"`X` must hold real numbers, got dtype {X.dtype}")
    return X.detach().to(dtype=dtype).clone()


# ------------------------------------------------------------ the check


def check_module(
    model: Any,
    X: Any = None,
    Y: Any = None,
    loss_fn: Any = None,
    *,
    trials: int | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    activations: Mapping[type, Any] | None = None,
) -> BackpropReport | VJPReport:
    """Check the gradients a PyTorch model's own `backward()` computes, entry by entry.

    Any ``nn.Module`` is accepted, and checked one of two ways:

    - **the article's network** (an ``nn.Sequential`` as below): against the
      article's reference and finite differences, returning a
      `BackpropReport` that names entries in both notations and diagnoses
      known bugs; the loss must be one of `SUPPORTED_LOSSES`;
    - **any other module** (``Conv2d``, ``BatchNorm``, ``LayerNorm``,
      ``Dropout``, ``GELU``, ``MultiheadAttention``, nested modules): the
      gradient of ``loss_fn(model(X), Y)`` w.r.t. every parameter against
      finite differences, as `gradcheck.torch.check_function` checks any
      callable, returning a `VJPReport` whose entries carry `state_dict`
      names (``conv1.weight[3,1,0,2]``).  Any loss module or function;
      random state is replayed and buffers (BatchNorm's running statistics)
      restored for every evaluation; `X` and `Y` are required and `trials`
      does not apply.

    Both reports have ``.passed``, ``str()`` and ``to_dict()``.

    Parameters
    ----------
    model : nn.Module
        The article's network is an ``nn.Sequential`` of ``nn.Linear``
        layers with biases, each followed by at most one activation module
        (``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU``, ``ELU``,
        ``Softplus(beta=1)``, ``Identity``; ``Softmax(dim=-1)`` last only;
        ``LogSoftmax(dim=1)`` last only, with ``nn.NLLLoss``); any other
        module is checked by differences alone.
        Any forward or backward they really run is what gets checked: custom
        ``torch.autograd.Function``s, kernels, monkey-patched layers.  The
        model is never modified: a deep copy runs.
    X : tensor or array, shape (d, n_in), optional
        The batch to check at (converted to the model's dtype).
    Y : tensor or array, optional
        Targets as `loss_fn` takes them: shape (d, n_H), or for
        ``nn.CrossEntropyLoss`` also integer class labels of shape (d,)
        (``nn.NLLLoss``: those labels only).
    loss_fn : nn.Module
        One of `SUPPORTED_LOSSES` (``nn.MSELoss``, ``nn.BCELoss``,
        ``nn.BCEWithLogitsLoss``, ``nn.CrossEntropyLoss``, ``nn.NLLLoss``
        after ``nn.LogSoftmax``), with ``reduction="mean"`` or ``"sum"``,
        unweighted, without ``ignore_index``.
    trials : int, optional
        Random networks of the model's shape to check as well (the model's
        parameters are replaced by seeded ones in the copy).  Default: 0 when
        `X` and `Y` are given, else `gradcheck.oracle.backprop.DEFAULT_TRIALS`.
    seed, batch_size
        As in `check_backprop`, for the random trials.
    activations : mapping, optional
        Your own activation module types and what they compute, e.g.
        ``{MySigmoid: "sigmoid"}`` (a name or a `reference.Activation`).

    Returns
    -------
    BackpropReport or VJPReport
        For the article's network, a `BackpropReport`: entries named in both
        notations, e.g. ``W^0[2,1] (= model[0].weight[1,2])``;
        ``report.options`` says how the loss maps to the reference cost.
        For any other module, a `VJPReport`: per parameter the entries
        checked, failing and on a kink, the worst named ``conv1.weight[3,1,0,2]``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2), nn.Sigmoid())
    >>> X, Y = torch.randn(8, 3), torch.rand(8, 2)
    >>> check_module(model, X, Y, nn.MSELoss()).passed
    True
    """
    custom = _checked_custom(activations)
    try:
        layers = _layers(model, custom)
    except _OtherModel as reason:
        return _other_model(model, X, Y, loss_fn, trials=trials, seed=seed, reason=reason)
    dtype = _model_dtype(model)
    trials = batch_or_trials(trials, X, Y, DEFAULT_TRIALS)
    if loss_fn is None:
        raise TypeError(f"`loss_fn` is required: one of {', '.join(SUPPORTED_LOSSES)}")

    n_in, n_H = layers[0].linear.in_features, layers[-1].linear.out_features
    X_t = None if X is None else _inputs(X, dtype, n_in)
    loss = match_loss(loss_fn, layers[-1].h, len(model) - 1, n_H)  # the last module
    if trials and loss.smoothing:
        raise ValueError(
            "`loss_fn` has label_smoothing, which the random trials cannot reproduce; give "
            "`X` and `Y` and trials=0"
        )
    hidden = _hidden([layer.h for layer in layers[:-1]])
    spec = {"hidden": hidden, "output": loss.output, "cost": loss.cost}

    runner = _Runner(model, layers, loss_fn, loss, dtype)
    reports: list[BackpropReport] = []
    if X_t is not None:
        Y_t = loss_targets(Y, loss, dtype, X_t.shape[0], n_H)
        net = _network(layers, spec)
        X_ref, Y_ref = X_t.cpu().double().numpy(), reference_targets(Y_t, loss, n_H)
        runner.given_targets = Y_t
        reports.append(check_backprop_at(runner, net, X_ref, Y_ref, layout="torch"))
        runner.given_targets = None
    if trials:
        sizes = [n_in] + [layer.linear.out_features for layer in layers]
        reports.append(
            check_backprop(
                runner,
                sizes=sizes,
                layout="torch",
                trials=int(trials),
                seed=seed,
                batch_size=batch_size,
                edge_cases=False,  # the model's shape is fixed: no width-1 or no-hidden networks
                **spec,
            )
        )
    return _renamed(_merged(reports), layers, model, loss_fn, loss, dtype, runner)


def _other_model(
    model: Any, X: Any, Y: Any, loss_fn: Any, *, trials: Any, seed: int, reason: _OtherModel
) -> VJPReport:
    """A model that is not the article's network: its loss checked by differences alone."""
    if trials:
        raise ValueError(
            f"`trials` draws random networks of the article's shape, and {reason}: give `X` "
            "and `Y`, and leave `trials` unset"
        )
    return check_any_module(model, X, Y, loss_fn, seed=seed)


def _checked_custom(activations: Any) -> dict[type, Any]:
    if activations is None:
        return {}
    if not isinstance(activations, Mapping):
        raise TypeError(
            f"`activations` must be a mapping like {{MySigmoid: 'sigmoid'}}, got "
            f"{type(activations).__name__}"
        )
    for kind, spec in activations.items():
        if not (isinstance(kind, type) and issubclass(kind, nn.Module)):
            raise TypeError(f"`activations` keys must be nn.Module subclasses, got {kind!r}")
        if not isinstance(spec, Activation) and spec not in ACTIVATIONS:
            raise ValueError(
                f"`activations[{kind.__name__}]` must be an activation name or an Activation; "
                f"{spec!r} is unknown (known: {', '.join(sorted(ACTIVATIONS))})"
            )
    return dict(activations)


def _model_dtype(model: nn.Sequential) -> torch.dtype:
    dtypes = {p.dtype for p in model.parameters()}
    if len(dtypes) != 1:
        found = ", ".join(sorted(str(t) for t in dtypes)) or "none"
        raise ValueError(f"`model` must have parameters of one floating dtype, found: {found}")
    (dtype,) = dtypes
    if dtype not in DTYPES:
        raise TypeError(
            f"`model` has dtype {dtype}; check_module derives tolerances for "
            f"{', '.join(map(str, DTYPES))}: convert with model.float() or model.double()"
        )
    return dtype


def _hidden(acts: list[Activation]) -> Any:
    """One hidden activation when all agree (the reference's `hidden=`), else the list."""
    if all(h is acts[0] for h in acts):
        return acts[0] if acts else ACTIVATIONS["identity"]
    return acts


def _network(layers: list[_Layer], spec: dict[str, Any]) -> Network:
    """The reference network of the model: `W^L = model[i].weight.T`, `b^L = model[i].bias` (float64)."""
    weights = [layer.linear.weight.detach().cpu().double().numpy().T for layer in layers]
    biases = [layer.linear.bias.detach().cpu().double().numpy() for layer in layers]
    try:
        return Network(weights, biases, **spec)
    except TypeError as exc:
        if not isinstance(spec["hidden"], list):
            raise
        names = [h.name for h in spec["hidden"]]
        raise ValueError(
            f"the model's hidden layers use different activations ({', '.join(names)}), which "
            f"this version of the reference cannot express ({exc})"
        ) from None


class _Saved:
    """A model's parameters, their `.grad` and `requires_grad`, to prove them untouched or restore them."""

    def __init__(self, model: nn.Module) -> None:
        self.parameters = list(model.parameters())
        self.values = [p.detach().clone() for p in self.parameters]
        self.grads = [p.grad for p in self.parameters]
        self.grad_values = [None if g is None else g.detach().clone() for g in self.grads]
        self.requires_grad = [p.requires_grad for p in self.parameters]

    def touched(self) -> bool:
        return any(
            p.grad is not g
            or (g is not None and gv is not None and not torch.equal(g, gv))
            or not torch.equal(p.detach(), v)
            or p.requires_grad != r
            for p, v, g, gv, r in zip(
                self.parameters, self.values, self.grads, self.grad_values, self.requires_grad
            )
        )

    def restore(self) -> None:
        with torch.no_grad():
            for p, v, g, gv, r in zip(
                self.parameters, self.values, self.grads, self.grad_values, self.requires_grad
            ):
                p.copy_(v)
                p.grad = g
                if g is not None and gv is not None:
                    g.copy_(gv)
                p.requires_grad_(r)


class _Runner:
    """The candidate: the model's own forward, loss and backward(), on a deep copy of the model.

    A forward patched with a closure over the original module (``layer.forward
    = lambda x: f(x, layer.weight)``) reaches the original's parameters even
    from a copy.  That is detected (the original's `.grad` moves, or a
    parameter of the copy gets no `.grad` where the original does), undone,
    and from then on the original itself runs, its parameters, `.grad` and
    `requires_grad` restored after every call.
    """

    def __init__(
        self, model: nn.Sequential, layers: list[_Layer], loss_fn: Any, loss: LossMatch, dtype: Any
    ) -> None:
        self.original = model
        self.saved = _Saved(model)
        self.copy: nn.Sequential | None
        try:
            self.copy = copy.deepcopy(model)
        except Exception:  # not copyable: run in place, restoring after every call
            self.copy = None
        self.indices = [layer.index for layer in layers]
        self.loss_fn, self.loss, self.dtype = loss_fn, loss, dtype
        self.device = next(model.parameters()).device
        self.given_targets: torch.Tensor | None = None
        self.missing: set[str] = set()
        self.batch = 1
        self.__name__ = self.__qualname__ = "check_module"

    @property
    def where(self) -> str:
        if self.copy is not None:
            return "a deep copy of the model"
        return (
            "the model itself (a copy would not run the same code: a patched forward refers to "
            "the original's parameters, or the model cannot be deep-copied); its parameters, "
            ".grad and requires_grad are restored after every call"
        )

    def __call__(
        self, weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray, Y: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if self.copy is None:
            return self._in_place(weights, biases, X, Y)
        found, self.missing = self.missing, set()
        grads = self._run(self.copy, weights, biases, X, Y)
        from_copy, touched = self.missing, self.saved.touched()
        if touched:
            self.saved.restore()
        elif not from_copy:
            self.missing = found
            return grads
        # The original's .grad moved, or a parameter of the copy got none: does the original
        # itself run differently (a patched forward that closes over the original module)?
        self.missing = set()
        in_place = self._in_place(weights, biases, X, Y)
        if not touched and self.missing == from_copy:  # no: the copy was faithful
            self.missing = found | from_copy
            return grads
        self.copy, self.missing = None, found | self.missing
        return in_place

    def _in_place(
        self, weights: list[np.ndarray], biases: list[np.ndarray], X: np.ndarray, Y: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        try:
            return self._run(self.original, weights, biases, X, Y)
        finally:
            self.saved.restore()

    def _run(
        self,
        model: nn.Sequential,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        X: np.ndarray,
        Y: np.ndarray,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        linears: list[nn.Linear] = [model[i] for i in self.indices]  # type: ignore[misc]
        with torch.no_grad():
            for linear, W, b in zip(linears, weights, biases):
                linear.weight.copy_(torch.as_tensor(W))  # layout="torch": W is (N, M)
                linear.bias.copy_(torch.as_tensor(b))  # type: ignore[operator]
        for p in model.parameters():
            p.requires_grad_(True)  # frozen parameters are checked too
            p.grad = None
        X_t = torch.as_tensor(X).to(self.dtype).to(self.device)
        self.batch = X_t.shape[0]
        if self.given_targets is not None:
            Y_t = self.given_targets.clone().to(self.device)
        else:
            Y_t = drawn_targets(Y, self.loss, self.dtype).to(self.device)
        self.loss_fn(model(X_t), Y_t).backward()
        each = list(zip(self.indices, linears))
        dW = [self._grad(linear.weight, f"model[{i}].weight") for i, linear in each]
        db = [self._grad(linear.bias, f"model[{i}].bias") for i, linear in each]
        return dW, db

    def _grad(self, parameter: torch.Tensor, name: str) -> np.ndarray:
        if parameter.grad is None:
            self.missing.add(name)
            return np.zeros(tuple(parameter.shape), dtype=_numpy_dtype(self.dtype))
        g = parameter.grad.detach()
        scale = self.loss.scale(self.batch)
        if scale != 1.0:
            g = g / scale  # in the model's dtype: one rounding, within the derived tolerance
        return g.cpu().numpy().copy()


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return np.dtype(str(dtype).removeprefix("torch."))


# ------------------------------------------------------------- the report


def _merged(reports: list[BackpropReport]) -> BackpropReport:
    if len(reports) == 1:
        return reports[0]
    given, drawn = reports
    trials = tuple(replace(t, index=k) for k, t in enumerate(given.trials + drawn.trials))
    return replace(
        drawn,
        trials=trials,
        reference_problems=given.reference_problems + drawn.reference_problems,
    )


_ENTRY = re.compile(r"([Wb])\^(\d+)\[(\d+)(?:,(\d+))?\]")


def _torch_name(name: str, indices: list[int]) -> str:
    """`W^0[m,n]` -> `W^0[m,n] (= model[i].weight[n,m])`; `b^0[n]` -> `... (= model[i].bias[n])`."""
    name = name.partition(" (= ")[0]  # layout="torch" names `weights[L][n,m]`: the model's instead
    match = _ENTRY.fullmatch(name)
    if match is None:
        return name
    kind, L, first, second = match.groups()
    i = indices[int(L)]
    if kind == "W":
        return f"{name} (= model[{i}].weight[{second},{first}])"
    return f"{name} (= model[{i}].bias[{first}])"


def _renamed(
    report: BackpropReport,
    layers: list[_Layer],
    model: nn.Sequential,
    loss_fn: Any,
    loss: LossMatch,
    dtype: torch.dtype,
    runner: _Runner,
) -> BackpropReport:
    """Name entries in both notations and say how the model maps to the reference (new objects)."""
    indices = [layer.index for layer in layers]

    def trial(t: TrialReport) -> TrialReport:
        worst = tuple(replace(e, name=_torch_name(e.name, indices)) for e in t.worst)
        blocks = tuple(
            replace(b, worst_entry=_torch_name(b.worst_entry, indices)) for b in t.blocks
        )
        problems = t.problems + tuple(
            f"{name}.grad was None after backward(): the loss does not reach it through the "
            "model's backward (compared as zeros)"
            for name in sorted(runner.missing)
        )
        return replace(t, worst=worst, blocks=blocks, problems=problems)

    modules = ", ".join(_describe(m) for m in model)
    mapping = "; ".join(
        f"W^{L} = model[{layer.index}].weight.T, h = {layer.h.name if L < len(layers) - 1 else loss.output.name}"
        for L, layer in enumerate(layers)
    )
    options = dict(
        report.options,
        model=f"nn.Sequential({modules})",
        loss_fn=type(loss_fn).__name__,
        loss=loss.note,
        dtype=str(dtype).removeprefix("torch."),
        layers=mapping,
        ran_on=runner.where,
    )
    return replace(
        report,
        candidate=f"nn.Sequential({modules}) with {loss.note}",
        options=options,
        trials=tuple(trial(t) for t in report.trials),
    )


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"Linear({module.in_features}, {module.out_features})"
    return type(module).__name__
