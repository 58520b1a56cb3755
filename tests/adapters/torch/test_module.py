"""gradcheck.torch.check_module: a PyTorch model checked by the .grad its own backward() leaves."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from gradcheck.torch import check_module  # noqa: E402
from reference import COSTS  # noqa: E402


def _data(d=8, n_in=4, n_out=3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, n_in, generator=g, dtype=dtype), torch.rand(
        d, n_out, generator=g, dtype=dtype
    )


def _model(*modules, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(*modules).to(dtype)


# ------------------------------------------------------------ correct models pass


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "hidden, output, loss_fn",
    [
        (nn.Sigmoid, nn.Sigmoid, nn.MSELoss()),
        (nn.Tanh, nn.Sigmoid, nn.BCELoss()),
        (nn.ReLU, nn.Identity, nn.MSELoss(reduction="sum")),
        (nn.Tanh, None, nn.BCEWithLogitsLoss()),
        (nn.Sigmoid, nn.Softmax, nn.MSELoss()),
        (nn.ELU, nn.Sigmoid, nn.BCELoss(reduction="sum")),
        (nn.Softplus, None, nn.MSELoss()),
        (nn.LeakyReLU, None, nn.BCEWithLogitsLoss(reduction="sum")),
    ],
    ids=lambda v: getattr(v, "__name__", type(v).__name__),
)
def test_correct_sequential_passes(hidden, output, loss_fn, dtype):
    tail = [] if output is None else [output(dim=-1) if output is nn.Softmax else output()]
    model = _model(
        nn.Linear(4, 6), hidden(), nn.Linear(6, 5), hidden(), nn.Linear(5, 3), *tail, dtype=dtype
    )
    X, Y = _data(dtype=dtype)
    report = check_module(model, X, Y, loss_fn)
    assert report.passed, str(report)
    assert report.trials[0].dtype == str(dtype).removeprefix("torch.")
    assert report.trials[0].kind == "given"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_from_logits_with_class_labels_or_probabilities(dtype, smoothing):
    model = _model(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), dtype=dtype)
    X, _ = _data(d=10, dtype=dtype)
    labels = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2, 1])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    assert check_module(model, X, labels, loss_fn).passed
    probabilities = torch.softmax(
        torch.randn(10, 3, generator=torch.Generator().manual_seed(1)), -1
    )
    assert check_module(model, X, probabilities.to(dtype), loss_fn).passed
    assert check_module(model, X.numpy(), labels.numpy(), loss_fn).passed  # numpy data too


def test_random_trials_without_data_and_with_it():
    model = _model(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    report = check_module(model, loss_fn=nn.CrossEntropyLoss(), trials=2, seed=3)
    assert report.passed and [t.kind for t in report.trials] == ["random", "random"]
    X, Y = _data()
    both = check_module(model, X, Y, nn.MSELoss(), trials=2)
    assert both.passed and [t.kind for t in both.trials] == ["given", "random", "random"]
    assert [t.index for t in both.trials] == [0, 1, 2]


def test_reduction_sum_scales_with_each_batch_size():
    model = _model(
        nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3), nn.Sigmoid(), dtype=torch.float64
    )
    X, Y = _data(d=5, dtype=torch.float64)
    report = check_module(model, X, Y, nn.BCELoss(reduction="sum"), trials=1, batch_size=7)
    assert report.passed, str(report)
    assert report.options["loss"].startswith("BCELoss(reduction='sum') = d x the reference cost")


def test_options_say_how_the_loss_maps_to_the_reference_cost():
    model = _model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid())
    report = check_module(model, *_data(), nn.MSELoss())
    if "mse" in COSTS:
        assert report.options["cost"] == "mse"
        assert report.options["loss"] == "MSELoss(reduction='mean') is the reference cost 'mse'"
    else:
        assert report.options["cost"] == "quadratic"
        assert report.options["loss"] == (
            "MSELoss(reduction='mean') = 2/n_H x the reference cost 'quadratic'; the model's "
            "gradients are divided by 2/n_H before the comparison"
        )
    assert (
        report.options["layers"]
        == "W^0 = model[0].weight.T, h = tanh; W^1 = model[2].weight.T, h = sigmoid"
    )
    assert report.options["dtype"] == "float32"
    assert report.options["model"] == "nn.Sequential(Linear(4, 5), Tanh, Linear(5, 3), Sigmoid)"
    assert report.to_dict()["options"]["loss_fn"] == "MSELoss"


@pytest.mark.parametrize(
    "module, name",
    [
        (lambda: nn.LeakyReLU(0.2), "leaky_relu[slope=0.2]"),
        (lambda: nn.LeakyReLU(), "leaky_relu"),
        (lambda: nn.ELU(alpha=0.5), "elu[alpha=0.5]"),
        (lambda: nn.ELU(), "elu"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_parameterised_activations_follow_the_module(module, name):
    model = _model(
        nn.Linear(4, 6), module(), nn.Linear(6, 6), module(), nn.Linear(6, 2), dtype=torch.float64
    )
    X, Y = _data(n_out=2, dtype=torch.float64)
    report = check_module(model, X, Y, nn.MSELoss(), trials=1)
    assert report.passed, str(report)
    assert report.options["hidden"] == name


def test_a_wrong_slope_is_caught():
    """A leaky ReLU whose backward uses 0.01 while its forward uses 0.2."""

    class WrongSlope(nn.LeakyReLU):
        def forward(self, z):
            return torch.where(z > 0, z, 0.2 * z.detach() + 0.01 * (z - z.detach()))

    model = _model(nn.Linear(4, 6), WrongSlope(0.2), nn.Linear(6, 2), dtype=torch.float64)
    report = check_module(model, *_data(n_out=2, dtype=torch.float64), nn.MSELoss())
    assert not report.passed
    assert {b.name for b in report.trials[0].blocks if b.failing} == {"W^0", "b^0"}


def test_mixed_hidden_activations_need_per_layer_support_in_the_reference():
    model = _model(
        nn.Linear(4, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6), nn.ELU(alpha=0.5), nn.Linear(6, 2)
    )
    X, Y = _data(n_out=2)
    try:
        report = check_module(model, X, Y, nn.MSELoss())
    except ValueError as exc:
        assert str(exc).startswith(
            "the model's hidden layers use different activations (leaky_relu[slope=0.2], "
            "elu[alpha=0.5]), which this version of the reference cannot express"
        )
    else:
        assert report.passed, str(report)


def test_softplus_follows_torchs_linearisation_above_the_threshold():
    """torch's softplus is z itself above z = 20: 2e-9 from log(1 + e^z), beyond float64 rounding."""
    model = _model(nn.Linear(2, 3), nn.Softplus(), nn.Linear(3, 1), dtype=torch.float64)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[10.0, 0.0], [0.0, 12.0], [1.0, 1.0]]))
    X = torch.tensor(
        [[2.05, 1.0], [2.5, 1.9], [-1.0, 0.5]], dtype=torch.float64
    )  # z = 20.5, 25, ...
    Y = torch.zeros(3, 1, dtype=torch.float64)
    report = check_module(model, X, Y, nn.MSELoss())
    assert report.passed, str(report)
    assert report.options["hidden"] == "softplus[threshold=20]"


def test_custom_activation_modules_are_declared():
    class MySigmoid(nn.Module):
        def forward(self, z):
            return 1 / (1 + torch.exp(-z))

    model = _model(nn.Linear(4, 5), MySigmoid(), nn.Linear(5, 3), MySigmoid())
    assert check_module(model, *_data(), nn.MSELoss(), activations={MySigmoid: "sigmoid"}).passed


def test_frozen_parameters_are_checked_and_stay_frozen():
    model = _model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid())
    model[0].weight.requires_grad_(False)
    assert check_module(model, *_data(), nn.MSELoss()).passed
    assert not model[0].weight.requires_grad


# ------------------------------------------------------ slipped backwards fail


class SlippedSigmoid(torch.autograd.Function):
    """sigmoid' computed as s (1 + s) instead of s (1 - s)."""

    @staticmethod
    def forward(ctx, z):
        s = torch.sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return grad_output * s * (1 + s)


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


def _sigmoid_module(function):
    class Custom(nn.Sigmoid):
        def forward(self, z):
            return function.apply(z)

    return Custom()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("function", [SlippedSigmoid, ForgetfulSigmoid], ids=lambda f: f.__name__)
def test_custom_autograd_function_with_a_slipped_backward_fails_at_its_layer(function, dtype):
    model = _model(
        nn.Linear(4, 6), _sigmoid_module(function), nn.Linear(6, 3), nn.Sigmoid(), dtype=dtype
    )
    report = check_module(model, *_data(dtype=dtype), nn.MSELoss())
    assert not report.passed
    errors = {b.name: b.failing for b in report.trials[0].blocks}
    assert errors["W^0"] > 0 and errors["b^0"] > 0
    assert errors["W^1"] == 0 and errors["b^1"] == 0  # the output layer is right: layer 0 is named
    assert any("layer 0" in line for line in report.diagnosis)


def test_a_slip_in_the_output_activation_names_the_output_layer():
    model = _model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), _sigmoid_module(SlippedSigmoid))
    report = check_module(model, *_data(), nn.BCELoss())
    assert not report.passed
    assert {b.name for b in report.trials[0].blocks if b.failing} == {"W^0", "b^0", "W^1", "b^1"}
    # every block's worst entry carries both names
    for block in report.trials[0].blocks:
        assert re.fullmatch(
            r"[Wb]\^\d\[[\d,]+\] \(= model\[\d\]\.(weight|bias)\[[\d,]+\]\)", block.worst_entry
        )


class BiaslessLinear(torch.autograd.Function):
    """A hand-written linear layer whose backward forgets the bias gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        return grad_output @ weight, grad_output.T @ x, None


def test_monkey_patched_linear_that_drops_the_bias_gradient_fails():
    model = _model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Sigmoid())
    layer = model[2]
    layer.forward = lambda x: BiaslessLinear.apply(x, layer.weight, layer.bias)  # patched instance
    report = check_module(model, *_data(), nn.MSELoss())
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

    model = _model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    layer = model[0]
    layer.forward = lambda x: OneWrong.apply(x, layer.weight, layer.bias)
    report = check_module(model, *_data(), nn.MSELoss())
    assert [e.name for e in report.worst_entries] == ["W^0[1,4] (= model[0].weight[4,1])"]


# ------------------------------------------------------- LogSoftmax + NLLLoss


LABELS = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2, 1])


def _classifier(dtype=torch.float64, hidden=nn.Tanh, seed=0):
    """The logits model: Linear, hidden, Linear (10 examples of 4 inputs, 3 classes)."""
    return _model(nn.Linear(4, 8), hidden(), nn.Linear(8, 3), dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dim", [1, -1])
def test_log_softmax_with_nll_loss_passes(dtype, reduction, dim):
    model = nn.Sequential(*_classifier(dtype), nn.LogSoftmax(dim=dim))
    X, _ = _data(d=10, dtype=dtype)
    report = check_module(model, X, LABELS, nn.NLLLoss(reduction=reduction), trials=1)
    assert report.passed, str(report)
    assert [t.kind for t in report.trials] == ["given", "random"]
    assert report.trials[0].dtype == str(dtype).removeprefix("torch.")
    assert (report.options["output"], report.options["cost"]) == (
        "softmax",
        "categorical_cross_entropy",
    )
    factor = "is the reference cost" if reduction == "mean" else "= d x the reference cost"
    assert report.options["loss"].startswith(
        f"NLLLoss(reduction={reduction!r}) {factor} 'categorical_cross_entropy'"
    )
    assert report.options["loss"].endswith(
        "(model[3] nn.LogSoftmax, then NLLLoss: the softmax of the logits)"
    )
    assert report.options["layers"].endswith("W^1 = model[2].weight.T, h = softmax")
    assert check_module(model, X.numpy(), LABELS.numpy(), nn.NLLLoss()).passed  # numpy data


def test_log_softmax_with_nll_loss_random_trials_alone():
    model = nn.Sequential(*_classifier(torch.float32), nn.LogSoftmax(dim=1))
    report = check_module(model, loss_fn=nn.NLLLoss(reduction="sum"), trials=2, seed=5)
    assert report.passed, str(report)
    assert [t.kind for t in report.trials] == ["random", "random"]


def _torch_grads(model, loss_fn, X, labels):
    model.zero_grad()
    loss_fn(model(X), labels).backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nll_loss_after_log_softmax_agrees_with_cross_entropy_on_the_logits(dtype, reduction):
    logits = _classifier(dtype)
    log_probabilities = nn.Sequential(*logits, nn.LogSoftmax(dim=1))  # the same Linear modules
    X, _ = _data(d=10, dtype=dtype)
    ce = check_module(logits, X, LABELS, nn.CrossEntropyLoss(reduction=reduction), trials=1)
    nll = check_module(log_probabilities, X, LABELS, nn.NLLLoss(reduction=reduction), trials=1)
    assert ce.passed and nll.passed
    for key in ("output", "cost", "layers"):
        assert ce.options[key] == nll.options[key]
    assert [t.d for t in ce.trials] == [t.d for t in nll.trials]
    # the gradients themselves, as torch computes them: equal within rounding
    by_ce = _torch_grads(logits, nn.CrossEntropyLoss(reduction=reduction), X, LABELS)
    by_nll = _torch_grads(log_probabilities, nn.NLLLoss(reduction=reduction), X, LABELS)
    for g_ce, g_nll in zip(by_ce, by_nll):
        torch.testing.assert_close(g_nll, g_ce)
    # a slip in a hidden layer is caught the same way through either loss
    hidden = _sigmoid_module(SlippedSigmoid)
    broken = _model(nn.Linear(4, 8), hidden, nn.Linear(8, 3), dtype=dtype)
    ce = check_module(broken, X, LABELS, nn.CrossEntropyLoss(reduction=reduction))
    broken_log = nn.Sequential(*broken, nn.LogSoftmax(dim=1))
    nll = check_module(broken_log, X, LABELS, nn.NLLLoss(reduction=reduction))
    assert not ce.passed and not nll.passed
    failing = [{b.name for b in r.trials[0].blocks if b.failing} for r in (ce, nll)]
    assert failing[0] == failing[1] == {"W^0", "b^0"}


class ForgetfulLogSoftmax(torch.autograd.Function):
    """log-softmax whose backward drops the sum: g - softmax instead of g - softmax * sum(g)."""

    @staticmethod
    def forward(ctx, z):
        out = torch.log_softmax(z, dim=1)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output - out.exp()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_a_log_softmax_with_a_slipped_backward_fails_with_a_cause(dtype):
    class Slipped(nn.LogSoftmax):
        def forward(self, z):
            return ForgetfulLogSoftmax.apply(z)

    model = nn.Sequential(*_classifier(dtype), Slipped(dim=1))
    X, _ = _data(d=10, dtype=dtype)
    report = check_module(model, X, LABELS, nn.NLLLoss())
    assert not report.passed
    assert {b.name for b in report.trials[0].blocks if b.failing} == {"W^0", "b^0", "W^1", "b^1"}
    assert report.causes, str(report)
    assert report.causes[0].equation == "delta^H", report.causes[0]


@pytest.mark.parametrize(
    "loss_fn, tail, error, message",
    [
        (
            nn.NLLLoss(),
            [],
            ValueError,
            "`loss_fn` nn.NLLLoss expects log-probabilities: end the model with nn.LogSoftmax(dim=1), "
            "or use nn.CrossEntropyLoss on logits (the model ends with model[2], identity)",
        ),
        (
            nn.NLLLoss(),
            [nn.Softmax(dim=1)],
            ValueError,
            "`loss_fn` nn.NLLLoss expects log-probabilities: end the model with nn.LogSoftmax(dim=1), "
            "or use nn.CrossEntropyLoss on logits (the model ends with model[3], softmax)",
        ),
        (
            nn.CrossEntropyLoss(),
            [nn.LogSoftmax(dim=1)],
            ValueError,
            "`loss_fn` CrossEntropyLoss applies its own log-softmax, but the model ends with "
            "nn.LogSoftmax (model[3]): a double softmax; use nn.NLLLoss after nn.LogSoftmax, or "
            "drop the nn.LogSoftmax and keep CrossEntropyLoss on logits",
        ),
        (
            nn.MSELoss(),
            [nn.LogSoftmax(dim=1)],
            ValueError,
            "the model ends with nn.LogSoftmax (model[3]), whose log-probabilities check_module "
            "checks with nn.NLLLoss only; `loss_fn` is MSELoss",
        ),
        (
            nn.NLLLoss(weight=torch.ones(3)),
            [nn.LogSoftmax(dim=1)],
            ValueError,
            "`loss_fn` is NLLLoss with `weight`; check_module supports unweighted losses",
        ),
        (
            nn.NLLLoss(ignore_index=0),
            [nn.LogSoftmax(dim=1)],
            ValueError,
            "`loss_fn` is NLLLoss(ignore_index=0); check_module counts every example: leave "
            "ignore_index at its default (-100)",
        ),
        (
            nn.CrossEntropyLoss(ignore_index=2),
            [],
            ValueError,
            "`loss_fn` is CrossEntropyLoss(ignore_index=2); check_module counts every example: "
            "leave ignore_index at its default (-100)",
        ),
        (
            nn.NLLLoss(reduction="none"),
            [nn.LogSoftmax(dim=1)],
            ValueError,
            "`loss_fn` is NLLLoss(reduction='none'); use reduction='mean' or 'sum' (backward() "
            "needs a scalar loss)",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_log_softmax_and_nll_loss_refusals(loss_fn, tail, error, message):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3), *tail)
    with pytest.raises(error) as info:
        check_module(model, _data(d=3)[0], torch.tensor([0, 1, 2]), loss_fn)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "modules, message",
    [
        (
            lambda: [nn.Linear(4, 3), nn.LogSoftmax(dim=0)],
            "model[1] is nn.LogSoftmax(dim=0); check_module needs the log-softmax over the "
            "outputs of each example: dim=-1 (or 1)",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.LogSoftmax()],
            "model[1] is nn.LogSoftmax(dim=None); check_module needs the log-softmax over the "
            "outputs of each example: dim=-1 (or 1)",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.LogSoftmax(dim=1), nn.Linear(3, 3)],
            "model[1] is nn.LogSoftmax but not the last module; log-softmax is supported as the "
            "output activation only",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.Sigmoid(), nn.LogSoftmax(dim=1)],
            "model[2] (LogSoftmax) follows the activation model[1] (Sigmoid); put one activation "
            "after each nn.Linear",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_log_softmax_anywhere_but_last_after_a_linear_is_refused(modules, message):
    with pytest.raises(ValueError) as info:
        check_module(
            nn.Sequential(*modules()), _data(d=3)[0], torch.tensor([0, 1, 2]), nn.NLLLoss()
        )
    assert str(info.value) == message


def test_nll_loss_takes_class_labels_only():
    model = nn.Sequential(*_classifier(torch.float32), nn.LogSoftmax(dim=1))
    X, Y = _data(d=10)
    with pytest.raises(ValueError) as info:
        check_module(model, X, Y, nn.NLLLoss())
    assert str(info.value) == (
        "`Y` must be (10,) integer class labels for nn.NLLLoss (it takes class indices, not "
        "probabilities), got shape (10, 3) of torch.float32"
    )
    with pytest.raises(ValueError) as info:
        check_module(model, X, torch.full((10,), 3), nn.NLLLoss())
    assert str(info.value) == (
        "`Y[0]` = 3 is not a class of the model's 3 outputs (labels 0 .. 2; ignore_index is not "
        "supported)"
    )


# --------------------------------------------------------- the model is untouched


def test_the_users_model_and_data_are_untouched():
    model = _model(nn.Linear(4, 6), _sigmoid_module(SlippedSigmoid), nn.Linear(6, 3), nn.Sigmoid())
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)  # the user's own accumulated grad
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, Y = _data()
    X0, Y0 = X.clone(), Y.clone()
    check_module(model, X, Y, nn.MSELoss(), trials=1)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert model[0].bias.grad is None and model[2].weight.grad is None
    assert torch.equal(X, X0) and torch.equal(Y, Y0)
    assert model.training


# ----------------------------------------------------------- clear refusals


@pytest.mark.parametrize(
    "modules, error, message",
    [
        (
            lambda: [nn.Conv1d(1, 1, 3)],
            TypeError,
            "model[0] is Conv1d, which check_module cannot check; supported: nn.Linear, nn.Sigmoid, "
            "nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Softplus, nn.Identity, nn.Softmax (last only), "
            "nn.LogSoftmax (last only, with nn.NLLLoss) (declare a custom activation module with activations={MyModule: 'sigmoid'})",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 3)],
            TypeError,
            "model[1] is Dropout, which check_module cannot check",
        ),
        (
            lambda: [],
            ValueError,
            "`model` is an empty nn.Sequential; it needs at least one nn.Linear",
        ),
        (
            lambda: [nn.Linear(4, 3, bias=False)],
            ValueError,
            "model[0] is nn.Linear(bias=False); check_module checks layers with a bias b^L "
            "(the article's network): build it with bias=True",
        ),
        (
            lambda: [nn.Tanh(), nn.Linear(4, 3)],
            ValueError,
            "model[0] (Tanh) comes before any nn.Linear; the model must start with an nn.Linear",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.Tanh(), nn.Sigmoid()],
            ValueError,
            "model[2] (Sigmoid) follows the activation model[1] (Tanh); put one activation after each nn.Linear",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.Softmax(dim=-1), nn.Linear(3, 3)],
            ValueError,
            "model[1] is nn.Softmax but not the last module; softmax is supported as the output activation only",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.Softmax(dim=0)],
            ValueError,
            "model[1] is nn.Softmax(dim=0); check_module needs the softmax over the outputs of each "
            "example: dim=-1 (or 1)",
        ),
        (
            lambda: [nn.Linear(4, 3), nn.Softplus(beta=2)],
            ValueError,
            "model[1] is nn.Softplus(beta=2); check_module supports beta=1 (the reference's softplus log(1 + e^z))",
        ),
        (
            lambda: [nn.Linear(4, 5), nn.Linear(6, 3)],
            ValueError,
            "model[1] is nn.Linear(6, ...) but the layer before it has 5 outputs",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unsupported_models_are_refused_clearly(modules, error, message):
    model = nn.Sequential(*modules())
    with pytest.raises(error) as info:
        check_module(model, *_data(), nn.MSELoss())
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    "loss_fn, tail, error, message",
    [
        (
            torch.nn.functional.mse_loss,
            [nn.Sigmoid()],
            TypeError,
            "`loss_fn` must be one of nn.MSELoss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, "
            "nn.NLLLoss (after nn.LogSoftmax) (a loss module, so that its reduction is known), got "
            "mse_loss",
        ),
        (
            nn.L1Loss(),
            [],
            TypeError,
            "`loss_fn` must be one of nn.MSELoss, nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, "
            "nn.NLLLoss (after nn.LogSoftmax) (a loss module, so that its reduction is known), got "
            "L1Loss",
        ),
        (
            nn.MSELoss(reduction="none"),
            [],
            ValueError,
            "`loss_fn` is MSELoss(reduction='none'); use reduction='mean' or 'sum' (backward() needs a scalar loss)",
        ),
        (
            nn.BCEWithLogitsLoss(pos_weight=torch.ones(3)),
            [],
            ValueError,
            "`loss_fn` is BCEWithLogitsLoss with `pos_weight`; check_module supports unweighted losses",
        ),
        (
            nn.CrossEntropyLoss(weight=torch.ones(3)),
            [],
            ValueError,
            "`loss_fn` is CrossEntropyLoss with `weight`; check_module supports unweighted losses",
        ),
        (
            nn.CrossEntropyLoss(),
            [nn.Softmax(dim=-1)],
            ValueError,
            "`loss_fn` CrossEntropyLoss takes logits, but the model ends with an activation "
            "(model[3], softmax); drop it: CrossEntropyLoss applies its own",
        ),
        (
            nn.BCELoss(),
            [nn.Tanh()],
            ValueError,
            "`loss_fn` nn.BCELoss needs probabilities: end the model with nn.Sigmoid (it ends with tanh), "
            "or use nn.BCEWithLogitsLoss on logits",
        ),
        (None, [], TypeError, "`loss_fn` is required: one of nn.MSELoss, nn.BCELoss"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_unsupported_losses_are_refused_clearly(loss_fn, tail, error, message):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3), *tail)
    with pytest.raises(error) as info:
        check_module(model, *_data(), loss_fn)
    assert str(info.value).startswith(message)


def test_bad_arguments_are_refused_clearly():
    model = _model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    X, Y = _data()
    cases = [
        (
            dict(model=nn.Linear(4, 3)),
            TypeError,
            "`model` must be an nn.Sequential of nn.Linear and activation modules, got Linear",
        ),
        (
            dict(X=torch.zeros(8, 5)),
            ValueError,
            "`X` must have shape (d, 4) with d >= 1 (rows are examples; the model's first nn.Linear takes 4 inputs), got (8, 5)",
        ),
        (
            dict(X=torch.zeros(8, 4, dtype=torch.complex64)),
            TypeError,
            "`X` must hold real numbers, got dtype torch.complex64",
        ),
        (dict(X="abc"), TypeError, "`X` must be a tensor or an array of shape (d, 4)"),
        (dict(Y=torch.zeros(8, 2)), ValueError, "`Y` must have shape (8, 3), got (8, 2)"),
        (
            dict(Y=torch.zeros(8, dtype=torch.int64)),
            ValueError,
            "`Y` must have shape (8, 3), got (8,)",
        ),
        (
            dict(Y=None),
            ValueError,
            "give both `X` and `Y` (a batch to check at), or neither (random trials)",
        ),
        (dict(trials=-1), ValueError, "`trials` must be a non-negative integer, got -1"),
        (dict(trials=True), ValueError, "`trials` must be a non-negative integer, got True"),
        (
            dict(X=None, Y=None, trials=0),
            ValueError,
            "nothing to check: give `X` and `Y`, or `trials` >= 1",
        ),
        (
            dict(activations=["sigmoid"]),
            TypeError,
            "`activations` must be a mapping like {MySigmoid: 'sigmoid'}, got list",
        ),
        (
            dict(activations={"x": "sigmoid"}),
            TypeError,
            "`activations` keys must be nn.Module subclasses, got 'x'",
        ),
        (
            dict(activations={nn.Tanh: "swish"}),
            ValueError,
            "`activations[Tanh]` must be an activation name or an Activation; 'swish' is unknown",
        ),
    ]
    for change, error, message in cases:
        arguments = dict(model=model, X=X, Y=Y, loss_fn=nn.MSELoss()) | change
        with pytest.raises(error) as info:
            check_module(**arguments)
        assert str(info.value).startswith(message), (change, str(info.value))


def test_class_labels_are_checked():
    model = _model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    X, _ = _data(d=4)
    with pytest.raises(ValueError) as info:
        check_module(model, X, torch.tensor([0, 1, 3, 2]), nn.CrossEntropyLoss())
    assert (
        str(info.value)
        == "`Y[2]` = 3 is not a class of the model's 3 outputs (labels 0 .. 2; ignore_index is not supported)"
    )
    with pytest.raises(ValueError, match=r"^`Y` holds 3 class labels but `X` has 4 rows$"):
        check_module(model, X, torch.tensor([0, 1, 2]), nn.CrossEntropyLoss())
    with pytest.raises(ValueError) as info:
        check_module(
            model, X, torch.tensor([0, 1, 2, 2]), nn.CrossEntropyLoss(label_smoothing=0.1), trials=1
        )
    assert str(info.value) == (
        "`loss_fn` has label_smoothing, which the random trials cannot reproduce; give `X` and `Y` and trials=0"
    )


def test_model_dtypes_are_checked():
    mixed = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3).double())
    with pytest.raises(ValueError) as info:
        check_module(mixed, *_data(), nn.MSELoss())
    assert (
        str(info.value)
        == "`model` must have parameters of one floating dtype, found: torch.float32, torch.float64"
    )
    brain = nn.Sequential(nn.Linear(4, 3)).to(torch.bfloat16)
    with pytest.raises(TypeError) as info:
        check_module(brain, *_data(), nn.MSELoss())
    assert str(info.value) == (
        "`model` has dtype torch.bfloat16; check_module derives tolerances for torch.float16, "
        "torch.float32, torch.float64: convert with model.float() or model.double()"
    )


def test_a_forward_patched_with_a_closure_over_the_original_runs_in_place_and_is_restored():
    """`layer.forward = lambda x: f(x, layer.weight)` reaches the original even from a deep copy."""
    model = _model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Sigmoid())
    layer = model[2]
    layer.forward = lambda x: BiaslessLinear.apply(x, layer.weight, layer.bias)
    model[2].weight.requires_grad_(False)
    model[0].bias.grad = torch.ones(6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = check_module(model, *_data(), nn.MSELoss(), trials=1)
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
    model = _model(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    assert (
        check_module(model, *_data(), nn.MSELoss()).options["ran_on"] == "a deep copy of the model"
    )


def test_readme_pytorch_example_runs(capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("## PyTorch and JAX") :]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "check_module" in block
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out == "True\n"
