"""gradcheck: is your backprop right, and if not, which entry, which layer, and why?

from gradcheck import check_backprop, assert_backprop, BackpropReport
from gradcheck import numerical_gradient, check_gradient, taylor_test
from gradcheck import network_numerical_gradient
from gradcheck import GradientMismatch      # subclass of AssertionError
"""

from gradcheck.fd.check import GradientCheck, check_gradient
from gradcheck.fd.network import NetworkNumericalGradient, network_numerical_gradient
from gradcheck.fd.numerical import NumericalGradient, numerical_gradient
from gradcheck.fd.taylor import TaylorResult, taylor_test
from gradcheck.oracle.backprop import assert_backprop, check_backprop, check_backprop_at, trial_case
from gradcheck.oracle.equations import check_equations
from gradcheck.oracle.layers import check_layer, check_vjp
from gradcheck.results.report import BackpropReport, GradientMismatch
from gradcheck.results.vjp_report import VJPReport

__all__ = [
    "BackpropReport",
    "GradientCheck",
    "GradientMismatch",
    "NetworkNumericalGradient",
    "NumericalGradient",
    "TaylorResult",
    "VJPReport",
    "assert_backprop",
    "check_backprop",
    "check_backprop_at",
    "check_equations",
    "check_gradient",
    "check_layer",
    "check_vjp",
    "network_numerical_gradient",
    "numerical_gradient",
    "taylor_test",
    "trial_case",
]
