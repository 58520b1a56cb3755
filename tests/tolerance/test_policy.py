"""`gradcheck.tolerance.policy`: one module holds every verdict-shaping constant, each with its reason.

Pinned here: every constant carries a ``#:`` reason and is defined nowhere else; the module
imports nothing from `gradcheck` or `reference` (the finite-difference layer reads it); the
diagnosis rtol follows the candidate's dtype, never decreasing in eps; and with it a float16
gradient summed over the batch is named `summed_not_averaged`, as a float32 one always was.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from candidates import make_numpy_backprop

import gradcheck.oracle.trial as trial_module
import gradcheck.tolerance.allowed as allowed_module
from gradcheck import check_backprop, trial_case
from gradcheck.diagnosis.diagnose import diagnose
from gradcheck.tolerance import compare, policy
from gradcheck.tolerance.policy import CLEARLY_WRONG, DIAGNOSIS_RTOL, diagnosis_rtol
from reference import COSTS, Gradients

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "gradcheck" / "tolerance" / "policy.py"


def _constants(tree: ast.Module) -> dict[str, int]:
    """Module-level UPPER_CASE names assigned in `tree`, with the line of each assignment."""
    found = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id.isupper():
                found[target.id] = node.lineno
    return found


# ----------------------------------------------------------------------------- the module


def test_every_constant_has_a_reason_comment_above_it():
    lines = POLICY.read_text().splitlines()
    constants = _constants(ast.parse(POLICY.read_text()))
    assert len(constants) >= 20
    missing = [name for name, line in constants.items() if not lines[line - 2].startswith("#: ")]
    assert missing == []


def test_every_constant_is_public_and_every_public_name_exists():
    constants = set(_constants(ast.parse(POLICY.read_text())))
    assert constants <= set(policy.__all__)
    assert all(hasattr(policy, name) for name in policy.__all__)


def test_policy_imports_nothing_from_gradcheck_or_reference():
    imported = set()
    for node in ast.walk(ast.parse(POLICY.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
    assert imported <= {"__future__", "numpy"}


def test_no_other_module_defines_its_own_copy_of_a_policy_constant():
    names = set(policy.__all__)
    copies = []
    for path in sorted((ROOT / "gradcheck").rglob("*.py")):
        if path == POLICY:
            continue
        for name in set(_constants(ast.parse(path.read_text()))) & names:
            copies.append(f"{path.relative_to(ROOT).as_posix()}: {name}")
    assert copies == []


def test_the_old_homes_hand_out_the_policy_values():
    from gradcheck.diagnosis import explain
    from gradcheck.fd import check, noise, numerical, taylor
    from gradcheck.jobs import soak
    from gradcheck.tolerance import saturation

    assert compare.SAFETY is policy.SAFETY and compare.FD_SAFETY is policy.FD_SAFETY
    assert check.CHECK_SAFETY is policy.CHECK_SAFETY
    assert check.CANDIDATE_ULPS is policy.CANDIDATE_ULPS
    assert noise.ROUNDING_ULPS is policy.ROUNDING_ULPS
    assert numerical.CENTRAL_TRUNCATION_SAFETY is policy.CENTRAL_TRUNCATION_SAFETY
    assert taylor.PASS_RATE is policy.PASS_RATE
    assert saturation.SATURATED is policy.SATURATED
    assert explain.TINY is policy.TINY
    assert soak.FLOOR_FACTOR is policy.FLOOR_FACTOR


# ------------------------------------------------------------------ the diagnosis rtol


def _eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def test_diagnosis_rtol_never_decreases_with_eps():
    dtypes = sorted([np.float16, np.float32, np.float64, np.longdouble], key=_eps)
    rtols = [diagnosis_rtol(t) for t in dtypes]
    assert rtols == sorted(rtols)
    listed = sorted(DIAGNOSIS_RTOL, key=_eps)
    assert [DIAGNOSIS_RTOL[t] for t in listed] == sorted(set(DIAGNOSIS_RTOL.values()))


@pytest.mark.parametrize("dtype", list(DIAGNOSIS_RTOL))
def test_each_entry_lies_between_rounding_and_a_slip(dtype):
    rtol = diagnosis_rtol(dtype)
    assert rtol >= 10 * _eps(dtype)  # a correct candidate's rounding is a few eps
    assert CLEARLY_WRONG * rtol <= 0.1  # a slip of the equations changes a gradient by O(1)


def test_dtypes_outside_the_table():
    assert diagnosis_rtol(np.longdouble) == DIAGNOSIS_RTOL[np.dtype(np.float64)]
    assert diagnosis_rtol(np.int32) == DIAGNOSIS_RTOL[np.dtype(np.float64)]  # read as float64
    assert diagnosis_rtol("float16") == 1e-2


def test_a_correct_float16_gradient_is_right_to_rounding_for_the_diagnosis():
    net, X, Y = trial_case([3, 6, 2], 8, seed=1000, hidden="tanh", output="sigmoid")
    dW, db = make_numpy_backprop("tanh", "sigmoid", "quadratic", dtype=np.float16)(
        net.weights, net.biases, X, Y
    )
    candidate = Gradients([W.astype(float) for W in dW], [b.astype(float) for b in db])
    assert diagnose(candidate, net, X, Y, rtol=diagnosis_rtol(np.float16)) == []


def _summed(dtype):
    inner = make_numpy_backprop("tanh", "sigmoid", "quadratic", dtype=dtype)

    def summed(weights, biases, X, Y):
        dW, db = inner(weights, biases, X, Y)
        return [len(X) * W for W in dW], [len(X) * b for b in db]

    return summed


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_a_gradient_summed_over_the_batch_is_named_in_every_dtype(dtype):
    report = check_backprop(
        _summed(dtype), sizes=[3, 6, 2], hidden="tanh", output="sigmoid", trials=2, seed=1
    )
    first = next(t for t in report.trials if not t.passed)
    assert first.dtype == np.dtype(dtype).name
    assert first.causes[0].bug == "summed_not_averaged"
    likely = str(report).split("Likely cause:")[1]
    assert likely.lstrip().startswith("- the gradient is d times the reference: summed over")


# ------------------------------------------------------------- the rounding model's data


def test_the_dJ_da_error_models_are_keyed_by_built_in_cost_names():
    assert set(compare.DJ_DA_ERRORS) <= set(COSTS)
    assert set(compare.DJ_DA_ERRORS) == {"quadratic", "cross_entropy", "categorical_cross_entropy"}


def test_the_reference_rounding_tolerance_is_computed_once_per_trial(monkeypatch):
    float64_calls = []

    def counting(net, X, Y, dtype, *, kinks=None):
        if np.dtype(dtype) == np.float64 and kinks is None:  # with kinks: another quantity
            float64_calls.append(1)
        return compare.rounding_tolerance(net, X, Y, dtype, kinks=kinks)

    monkeypatch.setattr(trial_module, "rounding_tolerance", counting)
    monkeypatch.setattr(allowed_module, "rounding_tolerance", counting)
    candidate = make_numpy_backprop("tanh", "sigmoid", "quadratic", dtype=np.float32)
    report = check_backprop(candidate, sizes=[3, 4, 2], hidden="tanh", output="sigmoid", trials=1)
    assert report.passed
    assert len(float64_calls) == len(report.trials)


# ------------------------------------------------------------------------------ the screen


def test_the_screens_constants_and_what_they_promise():
    """check_vjp screens above 2^14 entries (issue 20's convolution, 9,360, entry by entry); a single entry beyond 2 bounds fails its set; the
    candidate's rounding escapes its allowance of 6 root-mean-squares with probability 3e-8."""
    from gradcheck.fd.screen import miss_probability
    from gradcheck.oracle.screening import screens
    from gradcheck.tolerance.policy import (
        SCREEN_ABOVE,
        SCREEN_CAUGHT_FACTOR,
        SCREEN_ROUNDING_SIGMAS,
    )

    assert (SCREEN_ABOVE, SCREEN_CAUGHT_FACTOR, SCREEN_ROUNDING_SIGMAS) == (2**14, 2.0, 6.0)
    assert not screens("auto", SCREEN_ABOVE) and screens("auto", SCREEN_ABOVE + 1)
    assert 2.9e-8 < miss_probability() < 3.1e-8
