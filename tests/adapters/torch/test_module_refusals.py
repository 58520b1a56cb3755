"""gradcheck.torch.check_module: unsupported models, losses and arguments are refused clearly; every message pinned."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from _torch_models import make_data, make_model  # noqa: E402

from gradcheck.results.vjp_report import VJPReport  # noqa: E402
from gradcheck.torch import check_module  # noqa: E402


def test_a_broken_article_network_is_still_refused_clearly():
    model = nn.Sequential(nn.Linear(4, 5), nn.Linear(6, 3))
    with pytest.raises(ValueError) as info:
        check_module(model, *make_data(), nn.MSELoss())
    assert str(info.value) == "model[1] is nn.Linear(6, ...) but the layer before it has 5 outputs"


@pytest.mark.parametrize(
    "modules, checked",
    [
        (lambda: [nn.Conv1d(1, 1, 3), nn.Flatten(), nn.Linear(2, 3)], ["0.weight", "0.bias"]),
        (lambda: [nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 3)], ["0.weight", "0.bias"]),
        (lambda: [nn.Linear(4, 3, bias=False)], ["0.weight"]),
        (lambda: [nn.Tanh(), nn.Linear(4, 3)], ["1.weight", "1.bias"]),
        (lambda: [nn.Linear(4, 3), nn.Tanh(), nn.Sigmoid()], ["0.weight", "0.bias"]),
        (lambda: [nn.Linear(4, 3), nn.Softmax(dim=-1), nn.Linear(3, 3)], ["0.weight", "0.bias"]),
        (lambda: [nn.Linear(4, 3), nn.Softmax(dim=0)], ["0.weight", "0.bias"]),
        (lambda: [nn.Linear(4, 3), nn.Softplus(beta=2)], ["0.weight", "0.bias"]),
    ],
    ids=[
        "Conv1d",
        "Dropout",
        "no bias",
        "activation first",
        "two activations",
        "softmax not last",
        "softmax over the batch",
        "softplus beta=2",
    ],
)
def test_models_other_than_the_article_network_are_checked_by_differences(modules, checked):
    # Once refused ("which check_module cannot check"): now the loss's gradient w.r.t. every
    # parameter is checked by differences, named by state_dict names, in a VJPReport.
    model = nn.Sequential(*modules()).double()
    X, Y = make_data(dtype=torch.float64)
    if isinstance(model[0], nn.Conv1d):
        X = X.reshape(8, 1, 4)
    report = check_module(model, X, Y, nn.MSELoss())
    assert isinstance(report, VJPReport) and report.passed, str(report)
    assert [s.name for s in report.inputs if s.differentiated][: len(checked)] == checked
    assert [s.name for s in report.inputs if not s.differentiated] == ["X", "Y"]


def test_models_other_than_the_article_network_refuse_what_does_not_apply():
    X, Y = make_data()
    conv = nn.Sequential(nn.Conv1d(1, 1, 3), nn.Flatten(), nn.Linear(2, 3))
    cases = [
        (
            dict(model="abc"),
            TypeError,
            "`model` must be an nn.Module, got str",
        ),
        (
            dict(model=nn.Sequential()),
            ValueError,
            "`model` has no parameter that requires grad: nothing to check",
        ),
        (
            dict(loss_fn=None),
            TypeError,
            "`loss_fn` is required: a loss module or function, loss_fn(model(X), Y)",
        ),
        (dict(loss_fn="mse"), TypeError, "`loss_fn` must be callable"),
        (
            dict(X=None, Y=None),
            ValueError,
            "give `X` and `Y`: a model other than the article's network is checked at the batch "
            "you give (random trials draw only the article's networks)",
        ),
        (
            dict(trials=2),
            ValueError,
            "`trials` draws random networks of the article's shape, and model[0] is Conv1d: give "
            "`X` and `Y`, and leave `trials` unset",
        ),
        (dict(X="abc"), TypeError, "`X` must be a tensor or an array:"),
    ]
    for change, error, message in cases:
        arguments = dict(model=conv, X=X.reshape(8, 1, 4), Y=Y, loss_fn=nn.MSELoss()) | change
        with pytest.raises(error) as info:
            check_module(**arguments)
        assert str(info.value).startswith(message), (change, str(info.value))


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
        check_module(model, *make_data(), loss_fn)
    assert str(info.value).startswith(message)


def test_bad_arguments_are_refused_clearly():
    model = make_model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    X, Y = make_data()
    cases = [
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
    model = make_model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    X, _ = make_data(d=4)
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
        check_module(mixed, *make_data(), nn.MSELoss())
    assert (
        str(info.value)
        == "`model` must have parameters of one floating dtype, found: torch.float32, torch.float64"
    )
    brain = nn.Sequential(nn.Linear(4, 3)).to(torch.bfloat16)
    with pytest.raises(TypeError) as info:
        check_module(brain, *make_data(), nn.MSELoss())
    assert str(info.value) == (
        "`model` has dtype torch.bfloat16; check_module derives tolerances for torch.float16, "
        "torch.float32, torch.float64: convert with model.float() or model.double()"
    )
