"""gradcheck: is your backprop right, and if not, which entry, which layer, and why?

from gradcheck import check_backprop, assert_backprop, BackpropReport
from gradcheck import numerical_gradient, check_gradient, taylor_test
from gradcheck import network_numerical_gradient
from gradcheck import GradientMismatch      # subclass of AssertionError
"""

from .equations import check_equations
from .finite_diff import NumericalGradient, numerical_gradient
from .gradient_check import GradientCheck, check_gradient
from .network_fd import NetworkNumericalGradient, network_numerical_gradient
from .oracle import assert_backprop, check_backprop, check_backprop_at, trial_case
from .report import BackpropReport, GradientMismatch
from .taylor import TaylorResult, taylor_test

__all__ = [
    "BackpropReport",
    "GradientCheck",
    "GradientMismatch",
    "NetworkNumericalGradient",
    "NumericalGradient",
    "TaylorResult",
    "assert_backprop",
    "check_backprop",
    "check_backprop_at",
    "check_equations",
    "check_gradient",
    "network_numerical_gradient",
    "numerical_gradient",
    "taylor_test",
    "trial_case",
]
