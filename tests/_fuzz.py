"""Hypothesis strategies for fuzzing the public API: arbitrary-ish inputs raise nothing but
`ValueError`/`TypeError`, valid ones never raise, and invalid ones never pass silently.

`clean` draws what the API must accept, `junk` what it must refuse, `values` a mix of both;
`expected_array` says which is which, so that each fuzz test can state its verdict exactly.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import Network

#: hypothesis settings for the fuzz tests: no deadline on a shared machine, derandomized for CI
FUZZ = settings(deadline=None, derandomize=True, max_examples=100)
FUZZ_SLOW = settings(deadline=None, derandomize=True, max_examples=40)

ALLOWED = (ValueError, TypeError)
KINDS = ["float64", "float64", "float64", "float32", "int64", "bool", "complex128", "object", "str"]
CLEAN_KINDS = ["float64", "float64", "float32", "int64"]
SPECIALS = [np.nan, np.inf, -np.inf]


@st.composite
def arrays(draw, shape=None, *, low=-8.0, high=8.0, kinds=KINDS, specials=True):
    """An array of a drawn dtype (ints, bools, complex, objects, strings among them), NaN/Inf sprinkled."""
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    n = int(np.prod(shape))
    values = np.array(
        draw(st.lists(st.floats(low, high), min_size=n, max_size=n)), dtype=np.float64
    ).reshape(shape)
    special = draw(st.none() | st.sampled_from(SPECIALS)) if n and specials else None
    if special is not None:
        values.flat[draw(st.integers(0, n - 1))] = special
    kind = draw(st.sampled_from(kinds))
    if kind == "float32":
        return values.astype(np.float32)
    if kind == "int64":
        return np.nan_to_num(values, nan=0.0, posinf=3.0, neginf=-3.0).astype(np.int64)
    if kind == "bool":
        return values > 0
    if kind == "complex128":
        return values + 1j
    if kind in ("object", "str"):
        return values.astype(kind)
    return values


def clean(shape, **bounds):
    """A finite real array (float64, float32 or int64) of exactly `shape`: what the API must accept."""
    return arrays(shape, kinds=CLEAN_KINDS, specials=False, **bounds)


def junk(shape=None, **bounds):
    """An array of any dtype with NaN/Inf, its nested list, a ragged list, None, a string, a scalar..."""
    return st.one_of(
        arrays(shape, **bounds),
        arrays(shape, **bounds).map(lambda a: a.tolist()),
        st.just([[1.0, 2.0], [3.0]]),
        st.none(),
        st.text(max_size=3),
        st.floats(allow_nan=True),
        st.just(object()),
    )


def values(shape=None, **bounds):
    """Mostly `clean` (as an array or a nested list), often `junk`."""
    tidy = (
        clean(shape, **bounds) if shape is not None else arrays(None, kinds=CLEAN_KINDS, **bounds)
    )
    return st.one_of(tidy, tidy.map(lambda a: a.tolist()), junk(shape, **bounds))


def shapes_near(shape):
    """Mostly the right shape, often a wrong one (0-sized, transposed, extra axis)."""
    wrong = st.one_of(
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        st.just(tuple(reversed(shape))),
        st.just((0,) + tuple(shape[1:])),
        st.just((1,) + tuple(shape)),
    )
    return st.one_of(st.just(tuple(shape)), st.just(tuple(shape)), wrong)


def expected_array(value, ndim):
    """The float64 array the API must accept `value` as, or None where it must refuse it."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    if array.dtype.kind not in "biuf" or array.ndim != ndim:
        return None
    array = array.astype(np.float64)
    return array if np.isfinite(array).all() else None


#: (hidden, output, cost) the fuzzing draws networks from. Not among them: a softplus output with
#: categorical CE and a softmax output with binary CE, which `Network` refuses (test_network pins
#: the refusal; test_oracle checks a user's own softplus pair at saturation).
FUZZ_CONFIGS = [
    ("tanh", None, "quadratic"),
    ("sigmoid", "sigmoid", "cross_entropy"),
    ("relu", "softmax", "categorical_cross_entropy"),
    ("elu", "identity", "quadratic"),
    ("softplus", "sigmoid", "categorical_cross_entropy"),
    ("leaky_relu", "softmax", "quadratic"),
]


@st.composite
def networks(draw, max_layers=3, max_width=3):
    sizes = draw(st.lists(st.integers(1, max_width), min_size=2, max_size=max_layers + 1))
    hidden, output, cost = draw(st.sampled_from(FUZZ_CONFIGS))
    if output == "softmax" and sizes[-1] == 1 and cost != "quadratic":
        sizes[-1] = 2
    seed = draw(st.integers(0, 2**16))
    return Network.random(sizes, hidden=hidden, output=output, cost=cost, seed=seed)


@st.composite
def batches(draw, net):
    """(X, Y, valid): data for `net`, tidy half the time, and whether the API must accept it."""
    d = draw(st.integers(1, 4))
    n_in, n_out = net.sizes[0], net.sizes[-1]
    probability = net.cost_function.probability_targets
    target_bounds = dict(low=0.0, high=1.0) if probability and draw(st.booleans()) else {}
    if draw(st.booleans()):  # tidy: must be accepted
        X = draw(clean((d, n_in)))
        Y = draw(clean((d, n_out), **target_bounds))
    else:
        X = draw(values(draw(shapes_near((d, n_in)))))
        Y = draw(values(draw(shapes_near((d, n_out))), **target_bounds))
    Xa, Ya = expected_array(X, 2), expected_array(Y, 2)
    valid = (
        Xa is not None
        and Ya is not None
        and Xa.shape[0] >= 1
        and Xa.shape[1] == n_in
        and Ya.shape == (Xa.shape[0], n_out)
        and not (probability and ((Ya < 0).any() or (Ya > 1).any()))
    )
    return X, Y, valid


def outcome(call):
    """('ok', result) or ('refused', exception); anything else propagates and fails the test."""
    try:
        result = "ok", call()
    except ALLOWED as exc:
        result = "refused", exc
    event(result[0])  # --hypothesis-show-statistics: both outcomes must be common
    return result


def draw_options(data, good, bad):
    """One draw per argument: all of them good half the time, else one or two from `bad`."""
    corrupt = data.draw(
        st.one_of(
            st.just(frozenset()),
            st.frozensets(st.sampled_from(sorted(good)), min_size=1, max_size=2),
        ),
        label="corrupt",
    )
    return {key: data.draw(bad[key] if key in corrupt else good[key], label=key) for key in good}


def thetas():
    return st.integers(1, 4).flatmap(lambda n: clean((n,)))


def draw_gradient_case(data):
    """theta and grad for `check_gradient` and `taylor_test` (f = sum of sines): tidy or junk.

    Returns a namespace: `theta`, `grad` as drawn; `t` theta as the API reads it (or None);
    `theta_ok`, `grad_ok` whether the API must accept them; `g` grad as an array (or None);
    `truth` whether a tidy grad is right (None for junk).
    """
    options = draw_options(
        data,
        good={"theta": thetas(), "grad": st.sampled_from(["right", "wrong"])},
        bad={"theta": junk(), "grad": junk()},
    )
    theta, grad = options["theta"], options["grad"]
    t = expected_array(theta, 1)
    theta_ok = t is not None and t.size > 0 and np.asarray(theta).dtype.kind != "b"
    truth = None
    if isinstance(grad, str) and grad in ("right", "wrong"):
        truth = grad == "right"
        grad = (np.cos(t) + (0.0 if truth else 0.5)) if theta_ok else [1.0]
    try:
        g = None if grad is None or isinstance(grad, str) else np.asarray(grad)
    except ValueError:  # ragged
        g = None
    grad_ok = theta_ok and g is not None and g.dtype.kind in "iuf" and g.shape == t.shape
    return SimpleNamespace(
        theta=theta, grad=grad, t=t, theta_ok=theta_ok, g=g, truth=truth, grad_ok=grad_ok
    )
