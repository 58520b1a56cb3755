"""Which reference activation `h` a PyTorch activation module computes, parameters included.

PyTorch's parameterised modules (`nn.LeakyReLU(0.2)`, `nn.ELU(alpha)`,
`nn.Softplus`'s linearisation above its threshold) become reference
`Activation`s with the same parameters; `nn.Softmax` and `nn.LogSoftmax` are
vector-valued and may only end a model (`nn.LogSoftmax` for `nn.NLLLoss`:
gradcheck.adapters.torch.losses).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

try:
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise ImportError(
        "gradcheck.torch needs PyTorch: pip install 'backprop-gradcheck[torch]'"
    ) from exc

from scipy.special import expit, log_softmax

from reference import ACTIVATIONS
from reference.activations import ELU_ALPHA, LEAKY_RELU_SLOPE, Activation, softplus

__all__ = ["LOG_SOFTMAX", "SUPPORTED_MODULES", "module_activation"]

SUPPORTED_MODULES = (
    "nn.Linear",
    "nn.Sigmoid",
    "nn.Tanh",
    "nn.ReLU",
    "nn.LeakyReLU",
    "nn.ELU",
    "nn.Softplus",
    "nn.Identity",
    "nn.Softmax (last only)",
    "nn.LogSoftmax (last only, with nn.NLLLoss)",
)

#: What `nn.LogSoftmax` computes: log-probabilities, which only `nn.NLLLoss` takes.  Never
#: handed to the reference: gradcheck.adapters.torch.losses reads the pair as softmax + categorical
#: cross-entropy.  Not element-wise, so, like softmax, it may only end the model.
LOG_SOFTMAX = Activation("log_softmax", lambda Z: log_softmax(Z, axis=-1), elementwise=False)


@functools.cache  # one object per parameter value: layers that agree share it
def _leaky_relu(slope: float) -> Activation:
    """Leaky ReLU with PyTorch's `negative_slope`: the registry's when it is the default."""
    builtin = ACTIVATIONS["leaky_relu"]
    if slope == LEAKY_RELU_SLOPE:
        return builtin
    return Activation(
        f"leaky_relu[slope={slope:g}]",
        lambda z: np.where(z.real > 0 if np.iscomplexobj(z) else z > 0, z, slope * z),
        lambda z: np.where(z > 0, 1.0, slope),
        kink=True,
        smooth=False,
    )


@functools.cache  # one object per parameter value: layers that agree share it
def _elu(alpha: float) -> Activation:
    """ELU with PyTorch's `alpha`: the registry's when it is the default (1)."""
    builtin = ACTIVATIONS["elu"]
    if alpha == ELU_ALPHA:
        return builtin

    def h(z: np.ndarray) -> np.ndarray:
        positive = z.real > 0 if np.iscomplexobj(z) else z > 0
        return np.where(positive, z, alpha * np.expm1(np.where(positive, 0.0, z)))

    def h_prime(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))

    # h' jumps at 0 from alpha to 1 unless alpha = 1
    return Activation(f"elu[alpha={alpha:g}]", h, h_prime, lower=-alpha, kink=True, smooth=False)


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
    if isinstance(module, nn.LeakyReLU):
        return _leaky_relu(float(module.negative_slope))
    if isinstance(module, nn.ELU):
        return _elu(float(module.alpha))
    if isinstance(module, nn.Softplus):
        if module.beta != 1:
            raise ValueError(
                f"model[{index}] is nn.Softplus(beta={module.beta}); check_module supports beta=1 "
                "(the reference's softplus log(1 + e^z))"
            )
        return _softplus(float(module.threshold))
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
        softmax = isinstance(module, nn.Softmax)
        if module.dim not in (-1, 1):
            which, what = ("Softmax", "softmax") if softmax else ("LogSoftmax", "log-softmax")
            raise ValueError(
                f"model[{index}] is nn.{which}(dim={module.dim}); check_module needs the "
                f"{what} over the outputs of each example: dim=-1 (or 1)"
            )
        return ACTIVATIONS["softmax"] if softmax else LOG_SOFTMAX
    for kind, name in _SIMPLE.items():
        if isinstance(module, kind):
            return ACTIVATIONS[name]
    return None


_SIMPLE = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.Identity: "identity"}
