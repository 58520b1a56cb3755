"""Hypothesis strategies: ``from gradcheck.strategies import problems`` (see `gradcheck.adapters.strategies`)."""

from gradcheck.adapters.strategies import batches, networks, problems, sizes

__all__ = ["sizes", "networks", "batches", "problems"]
