"""The registry is the one list of activations: a new one is one definition, and every job and
adapter finds it there (the self-check, the soak, the golden vectors, torch's module mapping).

The activation added here is SiLU/swish, `h(z) = z sigma(z)`, registered as a user would, with
its independent formula for the soak (the one other place a built-in needs: independence is the
point). Nothing else is edited, and the fixture leaves the registry as it found it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import reference.activations as activations
from gradcheck.jobs import soak
from gradcheck.jobs.selfcheck import PAIRINGS, default_configurations, run_selfcheck
from gradcheck.jobs.vectors import cases, write_vectors
from gradcheck.tolerance.independent import EXACT_FORMULAS, FORMULAS
from reference import ACTIVATIONS, get_activation, register_activation
from reference.activations import Coverage, sigmoid


def swish(z):
    return z * sigmoid(z)  # h(z) = z sigma(z); analytic, so complex steps pass through


def swish_prime(z):
    s = sigmoid(z)
    return s + z * s * (1 - s)  # h'(z) = sigma(z) + z sigma(z) (1 - sigma(z))


def _sigma(z):
    return np.exp(-np.logaddexp(0, -z))  # 1 / (1 + e^-z), to a few ulps also where it is tiny


def _independent_swish(z):
    return z * _sigma(z)


def _independent_swish_prime(z, a):
    s = _sigma(z)
    return s * (1 + z * (1 - s))


@pytest.fixture
def registry():
    """The registry (its families with parameters too) as it was, restored after the test."""
    saved = [(table, dict(table)) for table in (ACTIVATIONS, activations._FAMILIES)]
    try:
        yield
    finally:
        for table, before in saved:
            table.clear()
            table.update(before)


@pytest.fixture
def silu(registry, monkeypatch):
    """SiLU in every job and torch's mapping: one registration, plus its independent formula."""
    monkeypatch.setitem(FORMULAS, "silu", (_independent_swish, _independent_swish_prime))
    return register_activation("silu", swish, swish_prime, coverage=True, torch="SiLU")


def test_the_builtins_reach_every_job_in_registry_order():
    builtin = [
        name
        for name, act in ACTIVATIONS.items()
        if name in activations._BUILTIN_NAMES and act.elementwise
    ]
    assert [c[0] for c in default_configurations()][: len(builtin)] == builtin
    assert list(soak.hidden_activations()) == builtin
    vector_hidden = [c[0] for c in cases()][: len(builtin)]
    assert sorted(vector_hidden) == sorted(builtin) and vector_hidden[-1] == "identity"
    assert "softmax" not in soak.hidden_activations()  # output only: rows of its own


def test_every_soak_activation_has_an_independent_formula():
    for name in soak.hidden_activations():
        assert name in FORMULAS and name in EXACT_FORMULAS, name


def test_a_registered_activation_reaches_the_selfcheck(silu):
    configurations = default_configurations()
    own = len(configurations) - len(PAIRINGS)
    assert configurations[own - 1] == ("silu", None, "quadratic")  # after the built-ins
    assert configurations[own:] == PAIRINGS
    (row,) = run_selfcheck(configurations=[configurations[own - 1]])
    assert row.passed and (row.hidden, row.output, row.cost) == ("silu", "silu", "quadratic")


def test_a_registered_activation_reaches_the_vectors(silu, tmp_path):
    assert ("silu", None, "quadratic") in [c[:3] for c in cases()]
    document = json.loads(write_vectors(tmp_path).read_text())
    (case,) = [c for c in document["cases"] if c["hidden"] == "silu"]
    assert case["output"] == "silu" and case["name"].startswith("silu-silu-quadratic-")


def test_a_registered_activation_reaches_the_soak(silu):
    assert soak.hidden_activations()[-1] == "silu"
    seed = next(s for s in range(500) if " hidden=silu " in soak.correct_case(s).description)
    outcome = soak.seed_outcome(seed)
    assert outcome.false_alarm is None and outcome.miss is None


def test_the_soak_names_a_missing_independent_formula(registry):
    register_activation("silu", swish, swish_prime, coverage=True)
    with pytest.raises(ValueError, match="activation 'silu' has no independent formula"):
        for seed in range(500):  # the first case that draws silu
            soak.correct_case(seed)


def test_torch_maps_its_module_to_the_registered_activation(silu):
    torch = pytest.importorskip("torch")
    from gradcheck.adapters.torch.activations import module_activation
    from gradcheck.torch import check_module, supported_modules

    assert module_activation(torch.nn.SiLU(), 1, {}) is silu
    assert "nn.SiLU" in supported_modules()
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.SiLU(), torch.nn.Linear(6, 2)
    ).double()
    X = torch.randn(5, 4, dtype=torch.float64)
    report = check_module(model, X, torch.zeros(5, 2, dtype=torch.float64), torch.nn.MSELoss())
    assert report.passed, str(report)
    assert report.options["hidden"] == "silu"


def test_torch_maps_a_registered_parameter_from_its_attribute(registry):
    torch = pytest.importorskip("torch")
    from gradcheck.adapters.torch.activations import module_activation

    act = register_activation(
        "scaled_silu",
        lambda z, beta=1.0: z * sigmoid(beta * z),
        lambda z, beta=1.0: sigmoid(beta * z) * (1 + beta * z * (1 - sigmoid(beta * z))),
        parameters={"beta": 1.0},
        torch="Softshrink",  # a stand-in class with a float attribute: lambd
        torch_parameters={"beta": "lambd"},
    )
    assert module_activation(torch.nn.Softshrink(1.0), 1, {}) is act
    scaled = module_activation(torch.nn.Softshrink(0.5), 1, {})
    assert scaled.name == "scaled_silu[beta=0.5]"
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(scaled.h(z), get_activation("scaled_silu", beta=0.5).h(z))


def test_a_registration_without_coverage_stays_out_of_the_jobs(registry):
    register_activation("silu", swish, swish_prime)
    assert "silu" not in [c[0] for c in default_configurations()]
    assert "silu" not in [c[0] for c in cases()]
    assert "silu" not in soak.hidden_activations()


def test_coverage_chooses_the_jobs(registry):
    act = register_activation(
        "silu", swish, swish_prime, coverage=Coverage(selfcheck=("identity", "mse"), soak=False)
    )
    assert act.coverage == Coverage(selfcheck=("identity", "mse"), soak=False)
    assert ("silu", "identity", "mse") in default_configurations()
    assert "silu" not in soak.hidden_activations()
    assert ("silu", None, "quadratic") in [c[:3] for c in cases()]


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"coverage": "all"}, TypeError, "`coverage` must be True, False or a Coverage, got 'all'"),
        ({"torch": 3}, TypeError, "`torch` must name torch.nn module classes, e.g. 'SiLU'"),
        ({"torch": "nn.SiLU"}, TypeError, "`torch` must name torch.nn module classes"),
        ({"torch": "ReLU"}, ValueError, "`torch`: nn.ReLU already computes the activation 'relu'"),
        (
            {"torch": "SiLU", "torch_parameters": ["beta"]},
            TypeError,
            "`torch_parameters` must map parameter names to module attribute names",
        ),
        (
            {"torch": "SiLU", "torch_parameters": {"beta": "beta"}},
            ValueError,
            "`torch_parameters` names 'beta', which is no parameter; `parameters`: none",
        ),
    ],
)
def test_registration_refuses_bad_coverage_and_torch_facts(registry, options, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        register_activation("silu", swish, swish_prime, **options)
    assert "silu" not in ACTIVATIONS
