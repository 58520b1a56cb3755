"""gradcheck.torch.check_function: autograd's backward of any callable on tensors, entry by entry.

Hand-written `autograd.Function`s (tests/_torch_layers.py) pass, and each one's slip fails with
the wrong entries named; modules' parameters go by their state_dict names; random state and
buffers are replayed for every evaluation, and the caller's module and tensors never change.
"""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import _torch_layers as layers  # noqa: E402
from _torch_layers import tensors  # noqa: E402

from gradcheck.torch import check_function  # noqa: E402

#: layer -> (its factory, the shapes and names of its inputs, the input its slip gets wrong)
LAYERS = {
    "affine": (layers.affine, {"x": (4, 3), "W": (3, 3), "b": (3,)}, "W"),
    "conv2d": (layers.conv2d, {"x": (2, 2, 5, 5), "W": (3, 2, 3, 3), "b": (3,)}, "x"),
    "max_pool": (layers.max_pool, {"x": (1, 2, 4, 4)}, "x"),
    "batch_norm": (layers.batch_norm, {"x": (5, 3), "gamma": (3,), "beta": (3,)}, "x"),
    "layer_norm": (layers.layer_norm, {"x": (4, 5), "gamma": (5,), "beta": (5,)}, "x"),
    "attention": (layers.attention, {"Q": (4, 3), "K": (4, 3), "V": (4, 3)}, "K"),
    "dropout": (layers.dropout, {"x": (4, 5)}, "x"),
}


def _check(name, slip):
    factory, shapes, _ = LAYERS[name]
    return check_function(factory(slip=slip), *tensors(*shapes.values()), names=list(shapes))


def _failing(report):
    return {s.name for s in report.inputs if s.failing}


@pytest.mark.parametrize("name", LAYERS)
def test_a_hand_written_backward_passes(name):
    report = _check(name, slip=False)
    assert report.passed, str(report)
    assert all(s.differentiated and s.entries for s in report.inputs)


@pytest.mark.parametrize("name", LAYERS)
def test_a_slip_in_the_backward_fails_naming_the_wrong_input(name):
    report = _check(name, slip=True)
    assert not report.passed
    assert _failing(report) == {LAYERS[name][2]}, str(report)
    assert report.failures[0].startswith(LAYERS[name][2] + "[")


def test_a_transposed_dW_fails_off_its_diagonal_only():
    report = _check("affine", slip=True)
    (W,) = [s for s in report.inputs if s.name == "W"]
    assert W.failing == 6  # the 3 x 3 W's off-diagonal entries: the diagonal is its own transpose
    for row in W.worst:
        m, n = map(int, re.fullmatch(r"W\[(\d),(\d)\]", row.entry).groups())
        assert m != n


def test_a_conv_border_slip_names_the_border_entries_only():
    report = _check("conv2d", slip=True)
    (x,) = [s for s in report.inputs if s.name == "x"]
    assert x.failing == 2 * 2 * 5  # every example, channel and column of the top row
    assert all(re.fullmatch(r"x\[\d,\d,0,\d\]", row.entry) for row in x.worst)


def test_float32_is_judged_at_float32_rounding():
    x, W, b = tensors((4, 3), (3, 3), (3,), dtype=torch.float32)
    assert check_function(layers.affine(), x, W, b).passed
    assert not check_function(layers.affine(slip=True), x, W, b).passed


def test_a_module_is_checked_with_its_parameters_named_by_state_dict():
    class Block(nn.Module):
        def __init__(self, slip):
            super().__init__()
            self.W = nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
            self.b = nn.Parameter(torch.randn(3, dtype=torch.float64))
            self.apply_ = layers.affine(slip)

        def forward(self, x):
            return self.apply_(x, self.W, self.b)

    class Net(nn.Module):
        def __init__(self, slip):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 2, 3).double()
            self.block = Block(slip)

        def forward(self, x):
            return self.block(self.conv1(x).reshape(-1, 3)[:, :3])

    torch.manual_seed(0)
    (x,) = tensors((2, 1, 3, 5))
    report = check_function(Net(slip=False), x, names=["image"])
    assert report.passed, str(report)
    names = [s.name for s in report.inputs]
    assert names == ["image", "conv1.weight", "conv1.bias", "block.W", "block.b"]
    report = check_function(Net(slip=True), x.detach())  # x is a constant: not differentiated
    assert _failing(report) == {"block.W"}
    assert report.failures[0].startswith("block.W[")
    assert not report.inputs[0].differentiated


def test_dropout_masks_repeat_and_the_callers_random_and_thread_state_is_kept():
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    torch.set_num_threads(2)  # the check runs on one thread, then puts the caller's number back
    try:
        (x,) = tensors((6, 5))
        assert check_function(nn.Dropout(0.5), x).passed  # torch's own dropout: masks repeat
        assert check_function(layers.dropout(), x).passed
        assert torch.equal(torch.get_rng_state(), state)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_module_buffers_are_restored_and_the_callers_module_and_tensors_never_change():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU()).double()
    model.train()
    (x,) = tensors((4, 2, 3, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_before = x.detach().clone()
    report = check_function(model, x)
    assert report.passed, str(report)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running_mean, var, batches
    assert int(after["1.num_batches_tracked"]) == 0
    assert torch.equal(x, x_before) and x.grad is None
    assert all(p.grad is None for p in model.parameters())


def test_randomness_that_cannot_be_replayed_is_reported():
    def noisy(x):  # a generator seeded from the OS: no replay can repeat it
        g = torch.Generator()
        g.seed()
        return x * (1 + 1e-3 * torch.rand(x.shape, generator=g, dtype=x.dtype))

    (x,) = tensors((3,))
    report = check_function(noisy, x)
    assert not report.passed
    assert report.unsteady.f > 0 and report.unsteady.vjp > 0


def test_a_buffer_the_forward_reads_and_updates_is_fresh_for_every_evaluation():
    class Counting(nn.Module):  # reads what it wrote last time, as a running statistic would
        def __init__(self):
            super().__init__()
            self.register_buffer("calls", torch.zeros((), dtype=torch.float64))

        def forward(self, x):
            self.calls += 1
            return x * self.calls

    (x,) = tensors((3,))
    counting = Counting()
    assert check_function(counting, x).passed
    assert float(counting.calls) == 0


def test_inputs_changed_in_place_are_reported():
    class Doubles(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)  # without ctx.mark_dirty: the caller's tensor changes under it
            return x * 1

        @staticmethod
        def backward(ctx, dout):
            return dout * 2

    for dtype in (torch.float64, torch.float32):  # a view of the check's copy, and a cast copy
        (x,) = tensors((3,), dtype=dtype)
        report = check_function(Doubles.apply, x, names=["z"])
        assert report.mutated == ("z",), str(report)
        assert "changed in place by f or the vjp" in str(report)

    class ZeroesItsInput(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1

        @staticmethod
        def backward(ctx, dout):
            (x,) = ctx.saved_tensors
            return dout + x.zero_()  # the backward writes into the caller's tensor

    (x,) = tensors((3,))
    assert check_function(ZeroesItsInput.apply, x).mutated == ("x0",)

    def shifts(x, s):
        s.add_(1)
        return x * s

    x, s = tensors((3,), (3,))
    report = check_function(shifts, x, s.detach())
    assert report.mutated == ("x1",)
    assert not report.inputs[1].differentiated


def test_a_backward_that_forgets_an_input_fails_and_an_unused_input_passes():
    class Forgets(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W):
            ctx.save_for_backward(x, W)
            return x @ W

        @staticmethod
        def backward(ctx, dout):
            x, W = ctx.saved_tensors
            return dout @ W.T, None  # dW forgotten: autograd reads it as no gradient

    x, W, unused = tensors((2, 3), (3, 2), (4,))
    report = check_function(Forgets.apply, x, W, names=["x", "W"])
    assert _failing(report) == {"W"}
    report = check_function(lambda x, W, u: x @ W, x, W, unused)
    assert report.passed and report.inputs[2].entries == 4


def test_a_detached_output_fails():
    (x,) = tensors((3,))
    report = check_function(lambda x: torch.tanh(x.detach()), x)
    assert not report.passed and report.inputs[0].failing == 3


def test_integer_tensors_and_tuples_of_outputs():
    (x,) = tensors((1, 2, 4, 4))
    report = check_function(lambda x: nn.functional.max_pool2d(x, 2, return_indices=True), x)
    assert report.passed and report.output_shape == (8,)  # the pooled values; indices dropped
    index = torch.tensor([3, 0, 2])
    mask = torch.tensor([True, False, True])
    report = check_function(lambda x, i, m: x.reshape(-1)[i] * m, x, index, mask)
    assert report.passed
    assert [s.differentiated for s in report.inputs] == [True, False, False]


def test_bad_arguments_are_refused_clearly():
    (x,) = tensors((3,))
    cases = [
        (("tanh", x), {}, TypeError, "`fn` must be callable, got str"),
        ((torch.tanh, [1.0]), {}, TypeError, "`tensors[0]` (x0) must be a torch.Tensor, got list"),
        (
            (torch.tanh, x.detach().to(torch.complex64)),
            {},
            TypeError,
            "`tensors[0]` (x0) has dtype torch.complex64; check_function takes torch.float16, "
            "torch.float32, torch.float64 (checked), and integer or bool tensors (passed as they "
            "are): convert with .double()",
        ),
        ((torch.tanh, x), {"names": ["a", "b"]}, ValueError, "`names` must be 1 strings"),
        ((torch.tanh, x), {"names": "a"}, TypeError, "`names` must be a sequence of strings"),
        (
            (nn.Linear(3, 2).double(), x),
            {"names": ["weight"]},
            ValueError,
            "`names` must be distinct: weight also name parameters of `fn`, got ['weight']",
        ),
        (
            (torch.tanh, x.detach()),
            {},
            ValueError,
            "nothing to check: no floating tensor of `tensors` has requires_grad=True; set "
            "requires_grad=True on the tensors to check",
        ),
        ((torch.tanh,), {}, ValueError, "`tensors` is empty: give the tensors to call `fn` with"),
        (
            (lambda x: "out", x),
            {},
            TypeError,
            "`fn` must return a tensor or a tuple of tensors, got str",
        ),
        ((lambda x: (x > 0,), x), {}, TypeError, "`fn` returned a tuple without floating tensors"),
        ((torch.tanh, x), {"seed": -1}, ValueError, "`seed` must be"),
        ((torch.tanh, x), {"cotangents": 0}, ValueError, "`cotangents` must be"),
    ]
    for args, options, error, message in cases:
        with pytest.raises(error) as info:
            check_function(*args, **options)
        assert str(info.value).startswith(message), (args, str(info.value))


def test_the_mode_reaches_check_vjp_and_is_validated():
    x = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64, requires_grad=True)
    assert check_function(torch.tanh, x, mode="screen").method == "screen"
    assert check_function(torch.tanh, x, mode="entries").method == "entries"
    with pytest.raises(ValueError, match="mode"):
        check_function(torch.tanh, x, mode="fast")


def test_on_a_thread_pool_the_report_is_the_serial_one_bit_for_bit():
    from concurrent.futures import ThreadPoolExecutor

    x = torch.linspace(-1.0, 1.0, 70, dtype=torch.float64).reshape(7, 10).requires_grad_()
    serial = check_function(torch.tanh, x)
    with ThreadPoolExecutor(2) as pool:
        pooled = check_function(torch.tanh, x, executor=pool)
    assert repr(pooled.to_dict()) == repr(serial.to_dict())
