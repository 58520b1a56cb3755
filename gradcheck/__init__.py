"""gradcheck: is your backprop right, and if not, which entry, which layer, and why?

from gradcheck import check_backprop, assert_backprop, BackpropReport
from gradcheck import network_numerical_gradient
from gradcheck import GradientMismatch      # subclass of AssertionError
"""

from .network_fd import NetworkNumericalGradient, network_numerical_gradient
from .oracle import assert_backprop, check_backprop, check_backprop_at, trial_case
from .report import BackpropReport, GradientMismatch

__all__ = [
    "BackpropReport",
    "GradientMismatch",
    "NetworkNumericalGradient",
    "assert_backprop",
    "check_backprop",
    "check_backprop_at",
    "network_numerical_gradient",
    "trial_case",
]
