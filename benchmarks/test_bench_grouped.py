"""Grouped differences on the convolution of issue 20: every entry of a hand-written backward checked.

The convolution: float64, batch 4, 8 input channels, 16 x 16, 16 output channels, 3 x 3, padding 1
(8,192 input entries, 1,168 weights and biases).  Side by side, in one group:

- a numpy im2col convolution through `check_layer`, grouped (the default) and entry by entry;
- torch's `F.conv2d` as a numpy `f`, autograd's vjp as the candidate, through `check_vjp`.

The comparison with `torch.autograd.gradcheck` in slow mode on the same function (the issue's
goal: 20x faster at a 10x smaller max error) is `test_bench_conv_torch.py`'s, through
`gradcheck.torch.check_function`: torch's slow mode takes minutes, and runs once.

``extra_info`` records the evaluations of `f` each took and, for the torch form, the max error of
the grouped differences against autograd's vjp (exact to rounding for a convolution) over every
entry, under `check_vjp`'s first cotangent.  All are slow (one round): plain ``pytest`` skips
them, ``pytest --benchmark-only`` times them.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck import check_layer, check_vjp
from gradcheck.fd.grouped import grouped_differences

from ._cases import timed

GROUP = "conv 4x8x16x16 16x3x3 pad 1, every entry"
SHAPES = {"x": (4, 8, 16, 16), "w": (16, 8, 3, 3), "b": (16,)}


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20)
    return {name: rng.standard_normal(shape) for name, shape in SHAPES.items()}


def conv_forward(x, w, b):
    """Stride 1, padding 1, im2col by a sliding window view (one matrix product)."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # n c h w 3 3
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(x.shape[0], x.shape[2], x.shape[3], -1)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.transpose(0, 3, 1, 2), (x, w, cols)


def conv_backward(dout, cache):
    x, w, cols = cache
    d = dout.transpose(0, 2, 3, 1)  # n h w f
    dw = np.einsum("nhwf,nhwp->fp", d, cols).reshape(w.shape)
    dcols = (d @ w.reshape(w.shape[0], -1)).reshape(*d.shape[:3], x.shape[1], 3, 3)
    dxp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2, x.shape[3] + 2))
    for i in range(3):
        for j in range(3):
            dxp[:, :, i : i + x.shape[2], j : j + x.shape[3]] += dcols[..., i, j].transpose(
                0, 3, 1, 2
            )
    return dxp[:, :, 1:-1, 1:-1], dw, d.sum(axis=(0, 1, 2))


def _record(benchmark, report, form: str) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(
        form=form, n_evaluations=report.n_evaluations, groups=report.groups, passed=report.passed
    )


def test_numpy_conv_grouped(benchmark):
    report = timed(benchmark, check_layer, conv_forward, conv_backward, _inputs(), slow=True)
    _record(benchmark, report, "check_layer numpy im2col, grouped")
    assert report.passed and report.groups > 0, str(report)


def test_numpy_conv_entry_by_entry(benchmark, monkeypatch):
    monkeypatch.setattr("gradcheck.oracle.layers.GROUPED_FROM", 10**9)
    report = timed(benchmark, check_layer, conv_forward, conv_backward, _inputs(), slow=True)
    _record(benchmark, report, "check_layer numpy im2col, entry by entry")
    assert report.passed and report.groups == 0, str(report)


@pytest.fixture
def one_thread():
    """torch on one thread, as in `benchmarks.goals`: on a shared 2-core machine its second
    thread waits for the other processes (a conv2d took 32 ms on two threads, 0.35 ms on one)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _torch_pair():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    def f(x, w, b):
        with torch.no_grad():
            return F.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), padding=1).numpy()

    def vjp(c, x, w, b):
        leaves = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        out = F.conv2d(*leaves, padding=1)
        grads = torch.autograd.grad(out, leaves, torch.from_numpy(c))
        return tuple(g.numpy() for g in grads)

    return torch, F, f, vjp


def test_torch_conv_check_vjp_grouped(benchmark, one_thread):
    _, _, f, vjp = _torch_pair()
    inputs = _inputs()
    report = timed(benchmark, check_vjp, f, vjp, inputs, slow=True)
    _record(benchmark, report, "check_vjp F.conv2d, grouped")
    assert report.passed and report.groups > 0, str(report)
    # the max error of the grouped differences against autograd, every entry, first cotangent
    c = np.random.default_rng(0).standard_normal(f(**inputs).shape)
    truth = np.concatenate([g.ravel() for g in vjp(c, *inputs.values())])
    theta = np.concatenate([a.ravel() for a in inputs.values()])
    sizes = np.cumsum([a.size for a in inputs.values()])[:-1]

    def f_vec(t):
        parts = np.split(t, sizes)
        return f(*(p.reshape(s) for p, s in zip(parts, SHAPES.values(), strict=True))).ravel()

    grouped = grouped_differences(f_vec, theta, c.ravel()[None], list(SHAPES.values()), c.shape)
    assert grouped is not None
    benchmark.extra_info["max_error"] = float(np.max(np.abs(grouped.estimates[0] - truth)))
    benchmark.extra_info["max_error_estimate"] = float(np.max(grouped.errors[0]))
