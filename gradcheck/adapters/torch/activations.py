"""Which reference activation `h` a PyTorch activation module computes, parameters included.

The mapping is the registry's: each `reference.Activation` names the `torch.nn`
classes that compute it (`Activation.torch`) and the module attribute of each
parameter (`Activation.torch_parameters`), so `nn.LeakyReLU(0.2)` becomes the
reference's leaky ReLU with slope 0.2, and an activation registered with
``torch="SiLU"`` is found without an edit here. What is torch's own stays here:
`nn.Softplus`'s linearisation above its threshold, the softmax's `dim`, and
`nn.LogSoftmax`, which is vector-valued and, like `nn.Softmax`, may only end a
model (for `nn.NLLLoss`: gradcheck.adapters.torch.losses).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

try:
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise ImportError(
        "gradcheck.torch needs PyTorch: pip install 'backprop-gradcheck[torch]'"
    ) from exc

from scipy.special import expit, log_softmax

from reference import ACTIVATIONS, get_activation
from reference.activations import Activation, softplus

__all__ = ["LOG_SOFTMAX", "module_activation", "supported_modules"]

#: What `nn.LogSoftmax` computes: log-probabilities, which only `nn.NLLLoss` takes.  Never
#: handed to the reference: gradcheck.adapters.torch.losses reads the pair as softmax + categorical
#: cross-entropy.  Not element-wise, so, like softmax, it may only end the model.
LOG_SOFTMAX = Activation("log_softmax", lambda Z: log_softmax(Z, axis=-1), elementwise=False)


def supported_modules() -> tuple[str, ...]:
    """The modules `check_module` reads, as its messages list them: the registry's, as it stands.

    Examples
    --------
    >>> supported_modules()[:3]
    ('nn.Linear', 'nn.Identity', 'nn.Sigmoid')
    """
    return (
        "nn.Linear",
        *(
            f"nn.{name}" + ("" if act.elementwise else " (last only)")
            for act in ACTIVATIONS.values()
            for name in act.torch
        ),
        "nn.LogSoftmax (last only, with nn.NLLLoss)",
    )


@functools.cache  # one object per activation and parameter values: layers that agree share it
def _with_parameters(act: Activation, values: tuple[float, ...]) -> Activation:
    """`act` at the parameter `values` a module holds: `act` itself at its defaults.

    Otherwise the reference's `act` at those values, named with them in
    brackets (``leaky_relu[slope=0.2]``), as the model's report shows it.
    """
    if values == tuple(v for _, v in act.parameters):
        return act
    names = [k for k, _ in act.parameters]
    label = ", ".join(f"{k}={v:g}" for k, v in zip(names, values))
    return replace(
        get_activation((act.name, dict(zip(names, values)))), name=f"{act.name}[{label}]"
    )


def _registered(module: nn.Module) -> Activation | None:
    """The registry's activation whose `torch` classes `module` is an instance of, if any."""
    for act in ACTIVATIONS.values():
        if any(isinstance(module, kind) for kind in _classes(act.torch)):
            values = tuple(
                float(getattr(module, attribute)) for _, attribute in act.torch_parameters
            )
            return _with_parameters(act, values)
    return None


def _classes(names: tuple[str, ...]) -> tuple[type, ...]:
    """The `torch.nn` classes of `names`; a name this torch lacks (an older release) matches none."""
    return tuple(kind for name in names if isinstance(kind := getattr(nn, name, None), type))


@functools.cache  # one object per parameter value: layers that agree share it
def _softplus(threshold: float) -> Activation:
    """PyTorch's softplus: `log(1 + e^z)`, but `z` itself (and `h' = 1`) once `z > threshold`.

    The linearisation moves `h` by `e^-threshold` (2e-9 at the default 20):
    invisible in float32, but far beyond float64 rounding, so the reference
    follows it rather than flag a correct float64 model.
    """

    def h(z: np.ndarray) -> np.ndarray:
        above = (z.real if np.iscomplexobj(z) else z) > threshold
        return np.where(above, z, softplus(np.where(above, 0.0, z)))

    def h_prime(z: np.ndarray) -> np.ndarray:
        return np.where(z > threshold, 1.0, expit(z))

    return Activation(f"softplus[threshold={threshold:g}]", h, h_prime, lower=0.0, smooth=False)


def module_activation(
    module: nn.Module, index: int, custom: Mapping[type, Any]
) -> Activation | None:
    """The reference activation `model[index]` computes, or None if it is no activation module.

    Parameters
    ----------
    module : nn.Module
        The module at `model[index]`.
    index : int
        Its place in the model, for messages.
    custom : mapping
        The caller's own activation module types and what they compute:
        ``{MySigmoid: "sigmoid"}`` (a name or an `Activation`); checked first.

    Examples
    --------
    >>> module_activation(nn.LeakyReLU(0.2), 1, {}).name
    'leaky_relu[slope=0.2]'
    >>> module_activation(nn.LogSoftmax(dim=1), 3, {}) is LOG_SOFTMAX
    True
    """
    for kind, spec in custom.items():
        if isinstance(module, kind):
            return spec if isinstance(spec, Activation) else ACTIVATIONS[spec]
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(
                f"model[{index}] is nn.Softplus(beta={module.beta}); check_module supports beta=1 "
                "(the reference's softplus log(1 + e^z))"
            )
        return _softplus(float(module.threshold))
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)) and module.dim not in (-1, 1):
        softmax = isinstance(module, nn.Softmax)
        which, what = ("Softmax", "softmax") if softmax else ("LogSoftmax", "log-softmax")
        raise ValueError(
            f"model[{index}] is nn.{which}(dim={module.dim}); check_module needs the "
            f"{what} over the outputs of each example: dim=-1 (or 1)"
        )
    if isinstance(module, nn.LogSoftmax):
        return LOG_SOFTMAX
    return _registered(module)
