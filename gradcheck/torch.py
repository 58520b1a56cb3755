"""PyTorch: ``from gradcheck.torch import check_function, check_module``.

The public face of `gradcheck.adapters.torch`.
"""

from gradcheck.adapters.torch.function import check_function
from gradcheck.adapters.torch.module import SUPPORTED_LOSSES, check_module, supported_modules

__all__ = ["check_function", "check_module", "SUPPORTED_LOSSES", "supported_modules"]
