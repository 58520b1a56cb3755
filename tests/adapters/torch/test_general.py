"""gradcheck.torch.check_module on modules other than the article's network: every parameter's
gradient of the loss checked by differences, named by state_dict names, state left as it was."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import _torch_layers as layers  # noqa: E402

from gradcheck.adapters.torch.general import check_any_module  # noqa: E402
from gradcheck.results.vjp_report import VJPReport  # noqa: E402
from gradcheck.torch import check_module  # noqa: E402


class ConvNet(nn.Module):
    """Nested: a conv block (Conv2d, BatchNorm2d, ReLU, MaxPool2d), then Flatten and Linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))

    def forward(self, x):
        return self.head(self.features(x))


class SelfAttention(nn.Module):
    def __init__(self, dim=4, heads=2):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x + self.attention(x, x, x, need_weights=False)[0])


def _data(*shape, outputs, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype), torch.randn(
        outputs, generator=g, dtype=dtype
    )


MODELS = {
    "conv net": (ConvNet, (4, 1, 4, 4), (4, 2)),
    "layer norm": (lambda: nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)), (5, 3), (5, 4)),
    "dropout": (
        lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.3), nn.Linear(4, 2)),
        (5, 3),
        (5, 2),
    ),
    "gelu": (lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)), (5, 3), (5, 2)),
    "attention": (SelfAttention, (2, 3, 4), (2, 3, 4)),
}


@pytest.mark.parametrize("name", MODELS)
def test_any_module_passes_with_every_parameter_checked(name):
    make, x_shape, y_shape = MODELS[name]
    torch.manual_seed(0)
    model = make().double().train()
    X, Y = _data(*x_shape, outputs=y_shape)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = check_module(model, X, Y, nn.MSELoss())
    assert isinstance(report, VJPReport) and report.passed, str(report)
    checked = {s.name: s.entries for s in report.inputs if s.differentiated}
    assert checked == {n: p.numel() for n, p in model.named_parameters()}
    after = model.state_dict()  # BatchNorm's running statistics and batch count among them
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())


def test_a_float32_model_is_judged_at_float32_rounding():
    torch.manual_seed(0)
    model = ConvNet().train()
    X, Y = _data(4, 1, 4, 4, outputs=(4, 2), dtype=torch.float32)
    report = check_module(model, X, Y, nn.MSELoss())
    assert report.passed, str(report)


class Slipped(nn.Module):
    """A layer norm with a hand-written backward (its slip: dx halved), then a linear layer."""

    def __init__(self, slip):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(4, dtype=torch.float64))
        self.beta = nn.Parameter(torch.zeros(4, dtype=torch.float64))
        self.out = nn.Linear(4, 2).double()
        self.norm = layers.layer_norm(slip)

    def forward(self, x):
        return self.out(self.norm(x, self.gamma, self.beta))


def test_a_slipped_backward_inside_a_module_is_named_by_state_dict_names():
    torch.manual_seed(0)
    X, Y = _data(5, 4, outputs=(5, 2))
    assert check_module(Slipped(slip=False), X, Y, nn.MSELoss()).passed
    report = check_module(
        nn.Sequential(nn.Linear(4, 4).double(), Slipped(slip=True)), X, Y, nn.MSELoss()
    )
    assert not report.passed
    assert {s.name for s in report.inputs if s.failing} == {"0.weight", "0.bias"}  # below the slip
    assert report.failures[0].startswith("0.")


def test_tuples_of_inputs_integer_targets_and_any_loss_function():
    torch.manual_seed(0)
    model = nn.Bilinear(3, 2, 4).double()
    g = torch.Generator().manual_seed(1)
    X = (
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(5, 2, generator=g, dtype=torch.float64),
    )
    report = check_any_module(model, X, torch.tensor([0, 3, 1, 2, 0]), nn.functional.cross_entropy)
    assert report.passed, str(report)
    assert [s.name for s in report.inputs] == ["X0", "X1", "Y", "weight", "bias"]
