"""Bridges to other worlds: PyTorch, JAX, programs in any language (the protocol), pytest and hypothesis."""
