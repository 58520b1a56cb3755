"""gradcheck.torch.check_module: correct PyTorch models pass, checked by the .grad their own backward() leaves."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from _torch_models import make_data, make_model  # noqa: E402

from gradcheck.torch import check_module  # noqa: E402
from reference import COSTS  # noqa: E402


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
    model = make_model(
        nn.Linear(4, 6), hidden(), nn.Linear(6, 5), hidden(), nn.Linear(5, 3), *tail, dtype=dtype
    )
    X, Y = make_data(dtype=dtype)
    report = check_module(model, X, Y, loss_fn)
    assert report.passed, str(report)
    assert report.trials[0].dtype == str(dtype).removeprefix("torch.")
    assert report.trials[0].kind == "given"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_from_logits_with_class_labels_or_probabilities(dtype, smoothing):
    model = make_model(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), dtype=dtype)
    X, _ = make_data(d=10, dtype=dtype)
    labels = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2, 1])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=smoothing)
    assert check_module(model, X, labels, loss_fn).passed
    probabilities = torch.softmax(
        torch.randn(10, 3, generator=torch.Generator().manual_seed(1)), -1
    )
    assert check_module(model, X, probabilities.to(dtype), loss_fn).passed
    assert check_module(model, X.numpy(), labels.numpy(), loss_fn).passed  # numpy data too


def test_random_trials_without_data_and_with_it():
    model = make_model(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    report = check_module(model, loss_fn=nn.CrossEntropyLoss(), trials=2, seed=3)
    assert report.passed and [t.kind for t in report.trials] == ["random", "random"]
    X, Y = make_data()
    both = check_module(model, X, Y, nn.MSELoss(), trials=2)
    assert both.passed and [t.kind for t in both.trials] == ["given", "random", "random"]
    assert [t.index for t in both.trials] == [0, 1, 2]


def test_reduction_sum_scales_with_each_batch_size():
    model = make_model(
        nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3), nn.Sigmoid(), dtype=torch.float64
    )
    X, Y = make_data(d=5, dtype=torch.float64)
    report = check_module(model, X, Y, nn.BCELoss(reduction="sum"), trials=1, batch_size=7)
    assert report.passed, str(report)
    assert report.options["loss"].startswith("BCELoss(reduction='sum') = d x the reference cost")


def test_options_say_how_the_loss_maps_to_the_reference_cost():
    model = make_model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid())
    report = check_module(model, *make_data(), nn.MSELoss())
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
    model = make_model(
        nn.Linear(4, 6), module(), nn.Linear(6, 6), module(), nn.Linear(6, 2), dtype=torch.float64
    )
    X, Y = make_data(n_out=2, dtype=torch.float64)
    report = check_module(model, X, Y, nn.MSELoss(), trials=1)
    assert report.passed, str(report)
    assert report.options["hidden"] == name


def test_a_wrong_slope_is_caught():
    """A leaky ReLU whose backward uses 0.01 while its forward uses 0.2."""

    class WrongSlope(nn.LeakyReLU):
        def forward(self, z):
            return torch.where(z > 0, z, 0.2 * z.detach() + 0.01 * (z - z.detach()))

    model = make_model(nn.Linear(4, 6), WrongSlope(0.2), nn.Linear(6, 2), dtype=torch.float64)
    report = check_module(model, *make_data(n_out=2, dtype=torch.float64), nn.MSELoss())
    assert not report.passed
    assert {b.name for b in report.trials[0].blocks if b.failing} == {"W^0", "b^0"}


def test_mixed_hidden_activations_need_per_layer_support_in_the_reference():
    model = make_model(
        nn.Linear(4, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6), nn.ELU(alpha=0.5), nn.Linear(6, 2)
    )
    X, Y = make_data(n_out=2)
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
    model = make_model(nn.Linear(2, 3), nn.Softplus(), nn.Linear(3, 1), dtype=torch.float64)
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

    model = make_model(nn.Linear(4, 5), MySigmoid(), nn.Linear(5, 3), MySigmoid())
    assert check_module(
        model, *make_data(), nn.MSELoss(), activations={MySigmoid: "sigmoid"}
    ).passed


def test_frozen_parameters_are_checked_and_stay_frozen():
    model = make_model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid())
    model[0].weight.requires_grad_(False)
    assert check_module(model, *make_data(), nn.MSELoss()).passed
    assert not model[0].weight.requires_grad


def test_docs_pytorch_example_runs(capsys):
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[3] / "docs" / "pytorch.md").read_text()
    block = re.search(r"```python\n(.*?)```", guide, re.S).group(1)
    assert "check_module" in block
    exec(compile(block, "docs/pytorch.md", "exec"), {})
    assert capsys.readouterr().out == "True\n"
