"""How a PyTorch loss module relates to a reference cost: the output, the cost and the exact factor.

`check_module` (gradcheck.torch) compares a model's `.grad` with the
reference's gradient of a cost `J`.  A loss module computes `scale(d) x J`
for a known factor: `nn.MSELoss` = (2 / n_H) x the article's `quadratic`,
`nn.BCELoss` = (1 / n_H) x the reference's `cross_entropy` (which sums over
outputs), `reduction="sum"` multiplies by the batch size `d`.  The model's
gradients are divided by that exact factor before the comparison.

`nn.LogSoftmax(dim=1)` as the model's last module followed by `nn.NLLLoss`
is the reference's softmax output with `categorical_cross_entropy`, exactly
as `nn.CrossEntropyLoss` on the logits is.
"""

from __future__ import annotations

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

from gradcheck.adapters.torch.activations import LOG_SOFTMAX
from reference import ACTIVATIONS, COSTS
from reference.activations import Activation

__all__ = [
    "INTEGER_DTYPES",
    "LossMatch",
    "SUPPORTED_LOSSES",
    "drawn_targets",
    "loss_targets",
    "match_loss",
    "reference_targets",
]

SUPPORTED_LOSSES = (
    "nn.MSELoss",
    "nn.BCELoss",
    "nn.BCEWithLogitsLoss",
    "nn.CrossEntropyLoss",
    "nn.NLLLoss (after nn.LogSoftmax)",
)
_LOSSES = (nn.MSELoss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, nn.NLLLoss)
INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
IGNORE_INDEX = -100  # torch's default ignore_index: no label equals it, so every example counts


@dataclass(frozen=True)
class LossMatch:
    """How `loss_fn` relates to a reference cost: `loss_fn = scale(d) x J` on a batch of `d`."""

    output: Activation  # the reference's output activation (after the model's last module)
    cost: str
    mean_scale: float  # the factor with reduction="mean"
    sum_scale: float  # with reduction="sum", the factor is sum_scale x d
    reduction: str
    note: str  # how loss_fn relates to the reference cost, for the report
    class_targets: bool = False  # loss_fn takes integer class labels (CrossEntropyLoss, NLLLoss)
    labels_only: bool = False  # ... and nothing else (NLLLoss: no probability rows)
    smoothing: float = 0.0

    def scale(self, d: int) -> float:
        """`loss_fn / J` on a batch of `d` examples."""
        return self.mean_scale if self.reduction == "mean" else self.sum_scale * d


def match_loss(loss_fn: Any, last: Activation, last_index: int, n_H: int) -> LossMatch:
    """The reference output and cost `loss_fn` computes after the model's last activation.

    Parameters
    ----------
    loss_fn : nn.Module
        One of `SUPPORTED_LOSSES`, with ``reduction="mean"`` or ``"sum"``.
    last : Activation
        The activation of the model's last layer (`LOG_SOFTMAX` for ``nn.LogSoftmax``).
    last_index : int
        Where that activation sits in the model, for messages.
    n_H : int
        The number of outputs.

    Returns
    -------
    LossMatch

    Examples
    --------
    >>> match_loss(nn.NLLLoss(reduction="sum"), LOG_SOFTMAX, 2, 3).scale(8)
    8.0
    """
    name = _checked_module(loss_fn)
    reduction = loss_fn.reduction
    if isinstance(loss_fn, nn.NLLLoss) or last is LOG_SOFTMAX:
        return _after_log_softmax(loss_fn, name, last, last_index)
    logits = isinstance(loss_fn, (nn.BCEWithLogitsLoss, nn.CrossEntropyLoss))
    if logits and not last.is_identity:
        raise ValueError(
            f"`loss_fn` {name} takes logits, but the model ends with an activation "
            f"(model[{last_index}], {last.name}); drop it: {name} applies its own"
        )
    if isinstance(loss_fn, nn.MSELoss):
        # MSELoss: the mean of (a - y)^2 over outputs and examples, no 1/2
        # (the reference refuses mse after a softmax: that pair is checked as 2/n_H x quadratic)
        if "mse" in COSTS and last.elementwise:
            return _made(name, reduction, last, "mse", 1.0, "1", n_H, "d n_H")
        return _made(name, reduction, last, "quadratic", 2.0 / n_H, "2/n_H", 2.0, "2 d")
    if isinstance(loss_fn, (nn.BCELoss, nn.BCEWithLogitsLoss)):
        if not logits and last.name != "sigmoid":
            raise ValueError(
                f"`loss_fn` nn.BCELoss needs probabilities: end the model with nn.Sigmoid "
                f"(it ends with {last.name}), or use nn.BCEWithLogitsLoss on logits"
            )
        # the reference's cross_entropy sums over outputs; BCELoss averages over them
        sigmoid = ACTIVATIONS["sigmoid"]
        return _made(name, reduction, sigmoid, "cross_entropy", 1.0 / n_H, "1/n_H", 1.0, "d")
    loss = _categorical(name, reduction, "softmax of the logits")
    smoothing = float(loss_fn.label_smoothing)
    if not smoothing:
        return loss
    note = f"{loss.note}; targets smoothed as (1 - {smoothing:g}) y + {smoothing:g} / n_H, as torch does"
    return replace(loss, note=note, smoothing=smoothing)


def _checked_module(loss_fn: Any) -> str:
    """`loss_fn`'s class name, once it is a supported loss module with options the check models."""
    if not isinstance(loss_fn, _LOSSES):
        what = getattr(loss_fn, "__name__", type(loss_fn).__name__)
        raise TypeError(
            f"`loss_fn` must be one of {', '.join(SUPPORTED_LOSSES)} (a loss module, so that its "
            f"reduction is known), got {what}"
        )
    name = type(loss_fn).__name__
    if loss_fn.reduction not in ("mean", "sum"):
        raise ValueError(
            f"`loss_fn` is {name}(reduction={loss_fn.reduction!r}); use reduction='mean' or "
            "'sum' (backward() needs a scalar loss)"
        )
    for attribute in ("weight", "pos_weight"):
        if getattr(loss_fn, attribute, None) is not None:
            raise ValueError(
                f"`loss_fn` is {name} with `{attribute}`; check_module supports unweighted losses"
            )
    ignore_index = getattr(loss_fn, "ignore_index", IGNORE_INDEX)
    if ignore_index != IGNORE_INDEX:
        raise ValueError(
            f"`loss_fn` is {name}(ignore_index={ignore_index}); check_module counts every "
            f"example: leave ignore_index at its default ({IGNORE_INDEX})"
        )
    return name


def _after_log_softmax(loss_fn: Any, name: str, last: Activation, last_index: int) -> LossMatch:
    """`nn.NLLLoss` needs `nn.LogSoftmax` last, and `nn.LogSoftmax` last needs `nn.NLLLoss`."""
    if last is not LOG_SOFTMAX:
        raise ValueError(
            "`loss_fn` nn.NLLLoss expects log-probabilities: end the model with "
            "nn.LogSoftmax(dim=1), or use nn.CrossEntropyLoss on logits (the model ends with "
            f"model[{last_index}], {last.name})"
        )
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        # log_softmax of log-probabilities changes nothing, but the pair is a slip of idiom
        raise ValueError(
            f"`loss_fn` CrossEntropyLoss applies its own log-softmax, but the model ends with "
            f"nn.LogSoftmax (model[{last_index}]): a double softmax; use nn.NLLLoss after "
            "nn.LogSoftmax, or drop the nn.LogSoftmax and keep CrossEntropyLoss on logits"
        )
    if not isinstance(loss_fn, nn.NLLLoss):
        raise ValueError(
            f"the model ends with nn.LogSoftmax (model[{last_index}]), whose log-probabilities "
            f"check_module checks with nn.NLLLoss only; `loss_fn` is {name}"
        )
    what = f"model[{last_index}] nn.LogSoftmax, then NLLLoss: the softmax of the logits"
    return replace(_categorical(name, loss_fn.reduction, what), labels_only=True)


def _categorical(name: str, reduction: str, how: str) -> LossMatch:
    """Softmax and categorical cross-entropy on class labels: factor 1 (mean) or d (sum)."""
    softmax = ACTIVATIONS["softmax"]
    loss = _made(name, reduction, softmax, "categorical_cross_entropy", 1.0, "1", 1.0, "d")
    return replace(loss, note=f"{loss.note} ({how})", class_targets=True)


def _made(
    name: str,
    reduction: str,
    output: Activation,
    cost: str,
    mean_scale: float,
    mean_text: str,
    sum_scale: float,
    sum_text: str,
) -> LossMatch:
    text = mean_text if reduction == "mean" else sum_text
    if text == "1":
        note = f"{name}(reduction={reduction!r}) is the reference cost {cost!r}"
    else:
        note = (
            f"{name}(reduction={reduction!r}) = {text} x the reference cost {cost!r}; the "
            f"model's gradients are divided by {text} before the comparison"
        )
    return LossMatch(output, cost, mean_scale, sum_scale, reduction, note)


# ------------------------------------------------------------------ targets


def loss_targets(Y: Any, loss: LossMatch, dtype: torch.dtype, d: int, n_H: int) -> torch.Tensor:
    """The caller's targets as `loss_fn` takes them (class labels stay integers), checked.

    Parameters
    ----------
    Y : tensor or array, shape (d, n_H), or (d,) integer class labels
    loss : LossMatch
    dtype : torch.dtype
        The model's dtype, for targets that are not labels.
    d, n_H : int
        The batch size and the number of outputs.

    Returns
    -------
    Tensor, shape (d, n_H) of `dtype`, or (d,) of int64 labels

    Examples
    --------
    >>> loss = match_loss(nn.NLLLoss(), LOG_SOFTMAX, 2, 3)
    >>> loss_targets([2, 0], loss, torch.float32, 2, 3)
    tensor([2, 0])
    """
    try:
        Y = torch.as_tensor(Y)
    except Exception as exc:
        raise TypeError(f"`Y` must be a tensor or an array: {exc}") from None
    if loss.class_targets and Y.ndim == 1 and Y.dtype in INTEGER_DTYPES:
        if Y.shape[0] != d:
            raise ValueError(f"`Y` holds {Y.shape[0]} class labels but `X` has {d} rows")
        bad = (Y < 0) | (Y >= n_H)
        if bad.any():
            i = int(torch.nonzero(bad)[0, 0])
            raise ValueError(
                f"`Y[{i}]` = {int(Y[i])} is not a class of the model's {n_H} outputs "
                f"(labels 0 .. {n_H - 1}; ignore_index is not supported)"
            )
        return Y.detach().to(torch.int64).clone()
    if loss.labels_only:
        raise ValueError(
            f"`Y` must be ({d},) integer class labels for nn.NLLLoss (it takes class indices, "
            f"not probabilities), got shape {tuple(Y.shape)} of {Y.dtype}"
        )
    if Y.ndim != 2 or tuple(Y.shape) != (d, n_H):
        labels = " or (d,) integer class labels" if loss.class_targets else ""
        raise ValueError(f"`Y` must have shape ({d}, {n_H}){labels}, got {tuple(Y.shape)}")
    if Y.is_complex() or not (Y.is_floating_point() or Y.dtype in INTEGER_DTYPES):
        raise TypeError(f"`Y` must hold real numbers, got dtype {Y.dtype}")
    return Y.detach().to(dtype=dtype).clone()


def reference_targets(Y: torch.Tensor, loss: LossMatch, n_H: int) -> np.ndarray:
    """The targets of `loss_targets` as the reference cost takes them: float64 rows, (d, n_H).

    Class labels become one-hot rows; label smoothing is applied as torch applies it.

    Examples
    --------
    >>> loss = match_loss(nn.NLLLoss(), LOG_SOFTMAX, 2, 3)
    >>> reference_targets(torch.tensor([2, 0]), loss, 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    if Y.dtype == torch.int64:
        Y_ref = np.eye(n_H)[Y.cpu().numpy()]  # class labels -> one-hot rows
    else:
        Y_ref = Y.cpu().double().numpy()
    if loss.smoothing:
        Y_ref = (1.0 - loss.smoothing) * Y_ref + loss.smoothing / n_H
    return Y_ref


def drawn_targets(Y: np.ndarray, loss: LossMatch, dtype: torch.dtype) -> torch.Tensor:
    """The reference's drawn targets (one-hot rows for class costs) as `loss_fn` takes them.

    Examples
    --------
    >>> loss = match_loss(nn.NLLLoss(), LOG_SOFTMAX, 2, 3)
    >>> drawn_targets(np.eye(3)[[1, 2]], loss, torch.float32)
    tensor([1, 2])
    """
    Y_t = torch.as_tensor(Y)
    if loss.labels_only:
        return Y_t.argmax(dim=1)  # one-hot rows -> class labels: NLLLoss takes nothing else
    return Y_t.to(dtype)
