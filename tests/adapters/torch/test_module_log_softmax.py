"""gradcheck.torch.check_module: LogSoftmax followed by NLLLoss, checked as softmax with the categorical cross-entropy."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from _torch_models import SlippedSigmoid, make_data, make_model, sigmoid_module  # noqa: E402

from gradcheck.results.vjp_report import VJPReport  # noqa: E402
from gradcheck.torch import check_module  # noqa: E402

LABELS = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2, 1])


def _classifier(dtype=torch.float64, hidden=nn.Tanh, seed=0):
    """The logits model: Linear, hidden, Linear (10 examples of 4 inputs, 3 classes)."""
    return make_model(nn.Linear(4, 8), hidden(), nn.Linear(8, 3), dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dim", [1, -1])
def test_log_softmax_with_nll_loss_passes(dtype, reduction, dim):
    model = nn.Sequential(*_classifier(dtype), nn.LogSoftmax(dim=dim))
    X, _ = make_data(d=10, dtype=dtype)
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
    X, _ = make_data(d=10, dtype=dtype)
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
    hidden = sigmoid_module(SlippedSigmoid)
    broken = make_model(nn.Linear(4, 8), hidden, nn.Linear(8, 3), dtype=dtype)
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
    X, _ = make_data(d=10, dtype=dtype)
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
        check_module(model, make_data(d=3)[0], torch.tensor([0, 1, 2]), loss_fn)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "modules",
    [
        lambda: [nn.Linear(4, 3), nn.LogSoftmax(dim=0)],
        lambda: [nn.Linear(4, 3), nn.LogSoftmax(dim=1), nn.Linear(3, 3)],
        lambda: [nn.Linear(4, 3), nn.Sigmoid(), nn.LogSoftmax(dim=1)],
    ],
    ids=["dim=0", "not last", "after an activation"],
)
def test_log_softmax_anywhere_else_is_checked_by_differences(modules):
    # Not the article's network (once refused): its loss's gradient w.r.t. every parameter is
    # checked by differences alone, entries named by state_dict names.
    model = nn.Sequential(*modules()).double()
    X = make_data(d=3, dtype=torch.float64)[0]
    report = check_module(model, X, torch.tensor([0, 1, 2]), nn.NLLLoss())
    assert isinstance(report, VJPReport) and report.passed, str(report)
    assert [s.name for s in report.inputs if s.differentiated][:2] == ["0.weight", "0.bias"]


def test_nll_loss_takes_class_labels_only():
    model = nn.Sequential(*_classifier(torch.float32), nn.LogSoftmax(dim=1))
    X, Y = make_data(d=10)
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
