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
    for _, name, _ in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if name != "gradcheck.__main__"
]


#: modules of optional extras, by name prefix
OPTIONAL = {
    "gradcheck.torch": "torch",
    "gradcheck.adapters.torch": "torch",
    "gradcheck.jax": "jax",
    "gradcheck.adapters.jax": "jax",
    "gradcheck.html.plots": "matplotlib",
}


def _extra(name: str) -> str | None:
    return next((extra for prefix, extra in OPTIONAL.items() if name.startswith(prefix)), None)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if _extra(name):
        pytest.importorskip(_extra(name))
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
