"""PyTorch: ``from gradcheck.torch import check_module`` (the public face of `gradcheck.adapters.torch`)."""

from gradcheck.adapters.torch.module import SUPPORTED_LOSSES, SUPPORTED_MODULES, check_module

__all__ = ["check_module", "SUPPORTED_LOSSES", "SUPPORTED_MODULES"]
