"""gradcheck.torch.check_module: slipped backward() functions fail at their layer, named in both notations."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from _torch_models import BiaslessLinear, SlippedSigmoid, make_data, make_model, sigmoid_module  # noqa: E402

from gradcheck.torch import check_module  # noqa: E402


class ForgetfulSigmoid(torch.autograd.Function):
    """grad_input not multiplied by grad_output: the chain rule dropped."""

    @staticmethod
    def forward(ctx, z):
        s = torch.sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return s * (1 - s)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("function", [SlippedSigmoid, ForgetfulSigmoid], ids=lambda f: f.__name__)
def test_custom_autograd_function_with_a_slipped_backward_fails_at_its_layer(function, dtype):
    model = make_model(
        nn.Linear(4, 6), sigmoid_module(function), nn.Linear(6, 3), nn.Sigmoid(), dtype=dtype
    )
    report = check_module(model, *make_data(dtype=dtype), nn.MSELoss())
    assert not report.passed
    errors = {b.name: b.failing for b in report.trials[0].blocks}
    assert errors["W^0"] > 0 and errors["b^0"] > 0
    assert errors["W^1"] == 0 and errors["b^1"] == 0  # the output layer is right: layer 0 is named
    assert any("layer 0" in line for line in report.diagnosis)


def test_a_slip_in_the_output_activation_names_the_output_layer():
    model = make_model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), sigmoid_module(SlippedSigmoid))
    report = check_module(model, *make_data(), nn.BCELoss())
    assert not report.passed
    assert {b.name for b in report.trials[0].blocks if b.failing} == {"W^0", "b^0", "W^1", "b^1"}
    # every block's worst entry carries both names
    for block in report.trials[0].blocks:
        assert re.fullmatch(
            r"[Wb]\^\d\[[\d,]+\] \(= model\[\d\]\.(weight|bias)\[[\d,]+\]\)", block.worst_entry
        )


def test_monkey_patched_linear_that_drops_the_bias_gradient_fails():
    model = make_model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Sigmoid())
    layer = model[2]
    layer.forward = lambda x: BiaslessLinear.apply(x, layer.weight, layer.bias)  # patched instance
    report = check_module(model, *make_data(), nn.MSELoss())
    assert not report.passed
    trial = report.trials[0]
    assert {b.name for b in trial.blocks if b.failing} == {"b^1"}
    assert "model[2].bias.grad was None after backward()" in "\n".join(trial.problems)
    worst = report.worst_entries[0]
    assert re.fullmatch(r"b\^1\[(\d)\] \(= model\[2\]\.bias\[\1\]\)", worst.name)
    assert "b^1[" in str(report) and "(= model[2].bias[" in str(report)
    assert all(p.grad is None for p in model.parameters())  # ran in place, and restored


def test_wrong_weight_entries_are_named_in_both_notations():
    """One wrong entry dJ/dW^0[m, n] must be reported as model[0].weight[n, m]."""

    class OneWrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias):
            ctx.save_for_backward(x, weight)
            return x @ weight.T + bias

        @staticmethod
        def backward(ctx, grad_output):
            x, weight = ctx.saved_tensors
            dW = grad_output.T @ x  # (N, M), torch layout
            dW[4, 1] += 1.0  # W^0[m=1, n=4]
            return grad_output @ weight, dW, grad_output.sum(0)

    model = make_model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    layer = model[0]
    layer.forward = lambda x: OneWrong.apply(x, layer.weight, layer.bias)
    report = check_module(model, *make_data(), nn.MSELoss())
    assert [e.name for e in report.worst_entries] == ["W^0[1,4] (= model[0].weight[4,1])"]


def test_a_custom_backward_halving_grad_input_is_located_in_the_recursion():
    """grad_input halved by layer 1's own backward: layer 0 is 1/2 times right, layer 1 right."""

    class HalvesGradInput(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias):
            ctx.save_for_backward(x, weight)
            return x @ weight.T + bias

        @staticmethod
        def backward(ctx, grad_output):
            x, weight = ctx.saved_tensors
            return 0.5 * (grad_output @ weight), grad_output.T @ x, grad_output.sum(0)

    model = make_model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    layer = model[2]
    layer.forward = lambda x: HalvesGradInput.apply(x, layer.weight, layer.bias)
    report = check_module(model, *make_data(), nn.MSELoss())
    cause = report.causes[0]
    assert (cause.equation, cause.layers) == ("recursion", (0,)), cause.text
    assert "the recursion into layer 0 carries it" in cause.text
