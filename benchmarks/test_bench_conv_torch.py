"""A convolution's backward checked entry by entry: `gradcheck.torch.check_function` against
``torch.autograd.gradcheck`` in slow mode, on the same function (issue 20's goal: 20x faster at a
max error 10x smaller).

The function is the issue's: ``F.conv2d`` with autograd in float64, a batch of 4 with 8 input
channels of 16 x 16, 16 output channels, 3 x 3 kernels, padding 1 (8,192 input entries, 1,152
weights and 16 biases).  Both check every entry of `x`, `W` and `b`.

Accuracy is recorded next to the time, in ``extra_info``: the largest error of each one's finite
differences against the exact derivative, which for a convolution is autograd's to rounding
(``max_abs_error``, and ``max_rel_error``: over the largest exact entry).  For torch, the entries
of its numerical Jacobian against its analytical one, read where it compares them; for
check_function, its differences of ``sum(c * f)`` against autograd's vector-Jacobian product,
read where check_vjp compares them.  Both are read by wrapping the comparison, so neither is
computed twice.

torch's slow mode builds the 16,384 x 9,360 Jacobian twice (2.4 GB) and takes minutes: it runs
once, and only under ``pytest --benchmark-only`` (marked slow); so does check_function.
Without torch both skip (the `torch` fixture).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from ._cases import label, timed

GROUP = "convolution 4x8x16x16, 16x3x3, padding 1, float64"
SHAPE = "conv2d 4x8x16x16,16x3x3"


def _conv(torch: Any) -> tuple[Any, tuple[Any, Any, Any]]:
    """The issue's convolution and its seeded inputs (each requires grad)."""
    g = torch.Generator().manual_seed(0)

    def tensor(*shape: int) -> Any:
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    def conv(x: Any, W: Any, b: Any) -> Any:
        return torch.nn.functional.conv2d(x, W, b, padding=1)

    return conv, (tensor(4, 8, 16, 16), tensor(16, 8, 3, 3), tensor(16))


class _Errors:
    """The largest |numerical - exact| seen by a wrapped comparison, and the largest |exact|."""

    def __init__(self) -> None:
        self.error, self.scale, self.calls = 0.0, 0.0, 0

    def see(self, exact: np.ndarray, numerical: np.ndarray) -> None:
        self.calls += 1
        self.error = max(self.error, float(np.max(np.abs(numerical - exact))))
        self.scale = max(self.scale, float(np.max(np.abs(exact))))

    def record(self, benchmark: Any) -> None:
        assert self.calls, "the wrapped comparison was never called: the spy needs updating"
        benchmark.extra_info.update(max_abs_error=self.error, max_rel_error=self.error / self.scale)


def test_check_function(benchmark, torch, monkeypatch):
    from gradcheck.oracle import layers
    from gradcheck.torch import check_function

    conv, inputs = _conv(torch)
    label(benchmark, group=GROUP, form="check_function", kind="layer", shape=SHAPE)
    errors = _Errors()
    verdict = layers._verdict  # one cotangent's comparison, grouped or entry by entry

    def spy(*args: Any) -> Any:
        check, kinks = verdict(*args)
        errors.see(np.asarray(check.gradient), np.asarray(check.numerical.gradient))
        return check, kinks

    monkeypatch.setattr(layers, "_verdict", spy)
    report = timed(benchmark, check_function, conv, *inputs, names=["x", "W", "b"], slow=True)
    assert report.passed, str(report)
    errors.record(benchmark)
    benchmark.extra_info.update(
        n_evaluations=report.n_evaluations, entries=sum(s.entries for s in report.inputs)
    )


@pytest.mark.slow
def test_torch_gradcheck_slow_mode(benchmark, torch, monkeypatch):
    module = sys.modules["torch.autograd.gradcheck"]
    conv, inputs = _conv(torch)
    label(benchmark, group=GROUP, form="torch gradcheck", kind="layer", shape=SHAPE)
    errors = _Errors()
    compare = module._allclose_with_type_promotion

    def spy(a: Any, b: Any, rtol: float, atol: float) -> Any:
        errors.see(a.detach().cpu().numpy(), b.detach().cpu().numpy())  # analytical, numerical
        return compare(a, b, rtol, atol)

    monkeypatch.setattr(module, "_allclose_with_type_promotion", spy)
    passed = timed(benchmark, torch.autograd.gradcheck, conv, inputs, slow=True)
    assert passed is True
    errors.record(benchmark)
    benchmark.extra_info.update(n_evaluations=2 * sum(t.numel() for t in inputs))
