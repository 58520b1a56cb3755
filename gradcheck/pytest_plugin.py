"""The pytest plugin (entry point ``pytest11``): a `backprop_oracle` fixture.

A user's test is two lines::

    def test_my_backprop(backprop_oracle):
        backprop_oracle(my_backprop, sizes=[4, 8, 3], hidden="tanh")

A failure raises `GradientMismatch`, whose message is the report; pytest
shows it from the user's line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from reference import Gradients

    from .report import BackpropReport

__all__ = ["BackpropOracle", "backprop_oracle"]


class BackpropOracle:
    """Calling it asserts (`assert_backprop`); `.check` returns the report without raising."""

    def __call__(self, candidate: Callable[..., Any], **options: Any) -> BackpropReport:
        from .oracle import assert_backprop

        __tracebackhide__ = True
        return assert_backprop(candidate, **options)

    def check(self, candidate: Callable[..., Any], **options: Any) -> BackpropReport:
        from .oracle import check_backprop

        return check_backprop(candidate, **options)

    @staticmethod
    def reference(net: Any, X: Any, Y: Any) -> Gradients:
        """The oracle's own gradient (`reference.backprop`)."""
        from reference import backprop

        return backprop(net, X, Y)


@pytest.fixture
def backprop_oracle() -> BackpropOracle:
    """Check a backprop implementation: ``backprop_oracle(my_backprop, sizes=[4, 8, 3])``."""
    return BackpropOracle()
