"""gradcheck.torch.check_module: unsupported models, losses and arguments are refused clearly; every message pinned."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from _torch_models import make_data, make_model  # noqa: E402

from gradcheck.torch import check_module  # noqa: E402


@pytest.mark.parametrize(
    "modules, error, message",
    [
        (
            lambda: [nn.Conv1d(1, 1, 3)],
            TypeError,
            "model[0] is Conv1d, which check_module cannot check; supported: nn.Linear, nn.Identity, "
            "nn.Sigmoid, nn.Tanh, nn.ReLU, nn.LeakyReLU, nn.Softplus, nn.ELU, nn.Softmax (last only), "
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
        check_module(model, *make_data(), nn.MSELoss())
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
        check_module(model, *make_data(), loss_fn)
    assert str(info.value).startswith(message)


def test_bad_arguments_are_refused_clearly():
    model = make_model(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    X, Y = make_data()
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
