"""gradcheck.adapters.torch.activations: the reference activation each PyTorch module computes."""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from gradcheck.adapters.torch.activations import LOG_SOFTMAX, module_activation  # noqa: E402
from reference import ACTIVATIONS  # noqa: E402

# away from 0, where the kinked ones have no derivative; beyond softplus's threshold of 5 too
Z = np.concatenate([np.linspace(-8.0, -0.1, 40), np.linspace(0.1, 8.0, 40)])


@pytest.mark.parametrize(
    "module",
    [
        nn.Sigmoid(),
        nn.Tanh(),
        nn.ReLU(),
        nn.Identity(),
        nn.LeakyReLU(0.2),
        nn.ELU(alpha=0.5),
        nn.Softplus(threshold=5.0),
    ],
    ids=lambda m: repr(m),
)
def test_h_and_h_prime_are_what_torch_computes(module):
    act = module_activation(module, 1, {})
    z = torch.tensor(Z, requires_grad=True)
    a = module(z)
    a.sum().backward()
    np.testing.assert_allclose(act.h(Z), a.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(act.h_prime(Z), z.grad.numpy(), rtol=1e-14, atol=1e-15)


def test_default_parameters_give_the_registrys_activation():
    assert module_activation(nn.LeakyReLU(), 0, {}) is ACTIVATIONS["leaky_relu"]
    assert module_activation(nn.ELU(), 0, {}) is ACTIVATIONS["elu"]
    assert module_activation(nn.LeakyReLU(0.2), 0, {}).name == "leaky_relu[slope=0.2]"
    assert module_activation(nn.LeakyReLU(0.2), 0, {}) is module_activation(
        nn.LeakyReLU(0.2), 3, {}
    )


def test_softmax_and_log_softmax_end_a_model():
    assert module_activation(nn.Softmax(dim=-1), 2, {}) is ACTIVATIONS["softmax"]
    assert module_activation(nn.LogSoftmax(dim=1), 2, {}) is LOG_SOFTMAX
    rows = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(np.exp(LOG_SOFTMAX.h(rows)).sum(axis=-1), [1.0], rtol=1e-15)


def test_a_users_module_is_looked_up_first_and_others_are_no_activation():
    class MySigmoid(nn.Module):
        def forward(self, z):
            return torch.sigmoid(z)

    assert module_activation(MySigmoid(), 1, {MySigmoid: "sigmoid"}) is ACTIVATIONS["sigmoid"]
    assert module_activation(nn.Tanh(), 1, {nn.Tanh: ACTIVATIONS["relu"]}) is ACTIVATIONS["relu"]
    assert module_activation(MySigmoid(), 1, {}) is None
    assert module_activation(nn.Linear(2, 2), 0, {}) is None


@pytest.mark.parametrize(
    "module, message",
    [
        (
            nn.Softplus(beta=2.0),
            "model[1] is nn.Softplus(beta=2.0); check_module supports beta=1 (the reference's "
            "softplus log(1 + e^z))",
        ),
        (
            nn.Softmax(dim=0),
            "model[1] is nn.Softmax(dim=0); check_module needs the softmax over the outputs of "
            "each example: dim=-1 (or 1)",
        ),
        (
            nn.LogSoftmax(dim=0),
            "model[1] is nn.LogSoftmax(dim=0); check_module needs the log-softmax over the "
            "outputs of each example: dim=-1 (or 1)",
        ),
    ],
    ids=["softplus-beta", "softmax-dim", "log-softmax-dim"],
)
def test_unsupported_parameters_are_refused(module, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        module_activation(module, 1, {})
