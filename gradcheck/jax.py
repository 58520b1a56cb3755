"""JAX: ``from gradcheck.jax import check_grad_fn, check_vjp_fn`` (the public face of
`gradcheck.adapters.jax`)."""

from gradcheck.adapters.jax import BIAS_KEYS, WEIGHT_KEYS, check_grad_fn, check_vjp_fn

__all__ = ["check_grad_fn", "check_vjp_fn", "WEIGHT_KEYS", "BIAS_KEYS"]
