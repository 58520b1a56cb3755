"""`check_module` for any `nn.Module`: the loss's gradient w.r.t. every parameter, by `check_call`.

A model that is not the article's network (convolutions, normalisation,
dropout, attention, nested modules) has no reference to compare with; its
loss ``loss_fn(model(X), Y)`` is checked as `check_function` checks any
callable: autograd's backward at the model's dtype against finite differences
of a float64 copy, one parameter entry at a time, with random state replayed
and buffers restored for every evaluation.  Parameters are named by their
`state_dict` names (``conv1.weight[3,1,0,2]``).
"""

from __future__ import annotations

from typing import Any

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise ImportError(
        "gradcheck.torch needs PyTorch: pip install 'backprop-gradcheck[torch]'"
    ) from exc

from gradcheck.adapters.torch.function import FLOATING, check_call
from gradcheck.results.vjp_report import VJPReport
from gradcheck.validate import check_callable

__all__ = ["check_any_module"]

#: a random multiple of a scalar loss checks what any other would: one cotangent is enough
LOSS_COTANGENTS = 1


class _Loss(nn.Module):
    """``loss_fn(model(*X), Y)`` as one module, so that copies of both run at the same dtype."""

    def __init__(self, model: nn.Module, loss_fn: Any) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, *tensors: torch.Tensor) -> Any:
        return self.loss_fn(self.model(*tensors[:-1]), tensors[-1])


def check_any_module(model: Any, X: Any, Y: Any, loss_fn: Any, *, seed: int = 0) -> VJPReport:
    """Check the gradient of ``loss_fn(model(X), Y)`` w.r.t. every parameter of `model`.

    `X` is a tensor, or a tuple of tensors for ``model(*X)``; floating ones are
    cast to the model's dtype, integer ones (token ids, labels) kept.  Neither
    `X` nor `Y` is differentiated.  Parameters with ``requires_grad=False``
    are not checked.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.GELU(), nn.Flatten(), nn.Linear(6, 1))
    >>> X, Y = torch.randn(4, 2, 4, dtype=torch.float64), torch.randn(4, 1, dtype=torch.float64)
    >>> check_any_module(model.double(), X, Y, nn.MSELoss()).passed
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be an nn.Module, got {type(model).__name__}")
    if loss_fn is None:
        raise TypeError("`loss_fn` is required: a loss module or function, loss_fn(model(X), Y)")
    check_callable(loss_fn, "loss_fn")
    if X is None or Y is None:
        raise ValueError(
            "give `X` and `Y`: a model other than the article's network is checked at the batch "
            "you give (random trials draw only the article's networks)"
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("`model` has no parameter that requires grad: nothing to check")
    dtype = _floating_dtype(model)
    Xs = list(X) if isinstance(X, (tuple, list)) else [X]
    names = ["X"] if len(Xs) == 1 else [f"X{i}" for i in range(len(Xs))]
    tensors = [_constant(x, n, dtype) for x, n in zip(Xs, names, strict=True)]
    tensors.append(_constant(Y, "Y", dtype))
    return check_call(
        lambda call, *args: call(*args),
        tensors,
        module=_Loss(model, loss_fn),
        names=[*names, "Y"],
        seed=seed,
        cotangents=LOSS_COTANGENTS,
        prefix="model.",
    )


def _floating_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's floating parameters (the first one's, where they differ)."""
    return next((p.dtype for p in model.parameters() if p.dtype in FLOATING), torch.float32)


def _constant(value: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    """A detached copy of `X` or `Y` as a tensor; floating data in the model's dtype."""
    try:
        tensor = torch.as_tensor(value)
    except Exception as exc:
        raise TypeError(f"`{name}` must be a tensor or an array: {exc}") from None
    if tensor.is_floating_point():
        tensor = tensor.to(dtype)
    return tensor.detach().clone()
