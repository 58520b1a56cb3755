"""The pytest fixture beside PyTorch: a torch candidate checked after torch's thread pool has
worked in the same session (a forked copy of such a process hangs: the fixture runs it in place)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

pytest_plugins = ["pytester"]


def test_a_torch_candidate_after_torch_has_run_threads_does_not_hang(pytester):
    pytester.makepyfile(
        """
        import torch

        def test_warm():
            a = torch.randn(512, 512, dtype=torch.float64)
            for _ in range(3):
                a = a @ a / 512
            assert a.shape == (512, 512)

        def candidate(weights, biases, X, Y):
            Ws = [torch.tensor(W, requires_grad=True) for W in weights]
            bs = [torch.tensor(b, requires_grad=True) for b in biases]
            A = torch.tensor(X)
            for W, b in zip(Ws, bs):
                A = torch.sigmoid(A @ W + b)
            J = 0.5 * ((A - torch.tensor(Y)) ** 2).sum(dim=1).mean()
            J.backward()
            torch.randn(300, 300, dtype=torch.float64) @ torch.randn(300, 300, dtype=torch.float64)
            return [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]

        def test_oracle(backprop_oracle):
            backprop_oracle(candidate, sizes=[4, 8, 3])
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)


def test_with_torch_loaded_a_candidate_calling_os_exit_fails_its_test_not_the_session(pytester):
    pytester.makepyfile(
        """
        import os
        import torch

        def test_quits(backprop_oracle):
            torch.ones(3) @ torch.ones(3)
            backprop_oracle(lambda W, b, X, Y: os._exit(0), sizes=[3, 4, 2], trials=1)

        def test_after():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    assert "the check did not finish" in result.stdout.str()
