"""gradcheck.torch.check_module leaves the user's model untouched: its parameters, .grad, requires_grad, training mode and data."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from _torch_models import BiaslessLinear, SlippedSigmoid, make_data, make_model, sigmoid_module  # noqa: E402

from gradcheck.torch import check_module  # noqa: E402


def test_the_users_model_and_data_are_untouched():
    model = make_model(
        nn.Linear(4, 6), sigmoid_module(SlippedSigmoid), nn.Linear(6, 3), nn.Sigmoid()
    )
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)  # the user's own accumulated grad
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, Y = make_data()
    X0, Y0 = X.clone(), Y.clone()
    check_module(model, X, Y, nn.MSELoss(), trials=1)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert model[0].bias.grad is None and model[2].weight.grad is None
    assert torch.equal(X, X0) and torch.equal(Y, Y0)
    assert model.training


def test_a_forward_patched_with_a_closure_over_the_original_runs_in_place_and_is_restored():
    """`layer.forward = lambda x: f(x, layer.weight)` reaches the original even from a deep copy."""
    model = make_model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Sigmoid())
    layer = model[2]
    layer.forward = lambda x: BiaslessLinear.apply(x, layer.weight, layer.bias)
    model[2].weight.requires_grad_(False)
    model[0].bias.grad = torch.ones(6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = check_module(model, *make_data(), nn.MSELoss(), trials=1)
    assert report.options["ran_on"].startswith("the model itself")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model[0].bias.grad, torch.ones(6))
    assert model[0].weight.grad is None and model[2].weight.grad is None
    assert not model[2].weight.requires_grad and model[0].weight.requires_grad
    assert [sorted({b.name for b in t.blocks if b.failing}) for t in report.trials] == [
        ["b^1"],
        ["b^1"],
    ]


def test_a_correct_model_runs_on_a_copy():
    model = make_model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    assert (
        check_module(model, *make_data(), nn.MSELoss()).options["ran_on"]
        == "a deep copy of the model"
    )
