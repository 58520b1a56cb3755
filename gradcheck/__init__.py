"""gradcheck: verify backpropagation against the reference and against finite differences.

    from gradcheck import network_numerical_gradient
"""

from .network_fd import NetworkNumericalGradient, network_numerical_gradient

__all__ = ["NetworkNumericalGradient", "network_numerical_gradient"]
