"""Every docstring example runs (doctest); the README is tested in test_readme.py."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gradcheck
import reference

MODULES = [
    name
    for package in (reference, gradcheck)
    for _, name, _ in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    if name not in ("gradcheck.__main__", "gradcheck.plots")  # plots needs matplotlib
]


OPTIONAL = {  # modules of optional extras
    "gradcheck.torch": "torch",
    "gradcheck.torch_activations": "torch",
    "gradcheck.torch_losses": "torch",
    "gradcheck.jax": "jax",
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_names_of_the_design_contract():
    from gradcheck import (  # noqa: F401
        BackpropReport,
        GradientMismatch,
        assert_backprop,
        check_backprop,
        check_gradient,
        network_numerical_gradient,
        numerical_gradient,
        taylor_test,
    )
    from reference import Gradients, Network, backprop, backprop_examples, backprop_loops  # noqa: F401

    assert issubclass(GradientMismatch, AssertionError)
