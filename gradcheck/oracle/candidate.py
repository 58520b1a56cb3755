"""The candidate: checking it, calling it, reading what it returns (layouts, copies, structure).

Plumbing only.  A candidate is called with copies of the network's arrays in
its layout, and whatever it returns (`(dW_list, db_list)`, a `Gradients`, a
dict with ``weights``/``biases``, or a flat vector for ``layout="flat"``;
numpy arrays or anything numpy converts: PyTorch tensors, JAX arrays, nested
lists) is turned into float arrays in the article's layout, or into a list of
plain-words problems: it raised, returned None, the wrong number of layers,
wrong shapes (transposed?), NaN/Inf, mutated or aliased its inputs, answered
otherwise when called again (`check_repeatable`).  Before
any call, `check_candidate` refuses what is not callable and `check_h_prime`
refuses a user's own activation whose `h'` is not the derivative of its `h`.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from gradcheck.fd.check import compare_gradient
from gradcheck.fd.numerical import numerical_gradient
from gradcheck.tolerance.compare import compare, rounding_tolerance
from gradcheck.tolerance.policy import XLA_LIBM_ULPS
from gradcheck.validate import printable
from reference import Gradients, Network

__all__ = [
    "LAYOUTS",
    "CandidateFailure",
    "CandidateOutput",
    "CandidateTimeout",
    "call_candidate",
    "check_candidate",
    "check_h_prime",
    "check_repeatable",
    "check_signature",
    "describe_candidate",
    "oracle_call",
]

LAYOUTS = ("article", "torch", "flat")
# Points where a user's h' is checked against differences of h: off 0, where h' of a
# ReLU-like h is a convention.
H_PRIME_GRID = np.linspace(-4.0, 4.0, 33) + 0.0123


def check_candidate(candidate: Any) -> None:
    """Refuse a candidate that is not callable, naming the argument and the expected call."""
    if not callable(candidate):
        raise TypeError(
            f"`candidate` must be callable as candidate(weights, biases, X, Y), got "
            f"{type(candidate).__name__}"
        )


def oracle_call(layout: str) -> tuple[str, ...]:
    """The arguments the oracle passes a candidate in `layout`, by name."""
    return ("theta", "X", "Y") if layout == "flat" else ("weights", "biases", "X", "Y")


#: Parameter names that say "the data" and "the parameters": a candidate whose first
#: parameter is data and whose later one is parameters takes them in another order.
_DATA_NAMES = {"x", "xs", "inputs", "input", "data", "batch"}
_PARAMETER_NAMES = {"w", "ws", "weights", "weight", "params", "parameters", "theta", "b", "biases"}


def check_signature(candidate: Any, *, layout: str) -> None:
    """Refuse, before any call, a candidate whose signature cannot take the oracle's call.

    Raises TypeError naming the call the oracle makes (and the layout whose call
    would fit, if one does); also when the parameter names say the arguments
    come in another order, e.g. ``candidate(X, Y, weights, biases)``.
    """
    import inspect

    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):  # a builtin or an extension: no signature to read
        return
    call = oracle_call(layout)
    try:
        signature.bind(*call)
    except TypeError as exc:
        fits = [
            other
            for other in ("article", "flat")
            if oracle_call(other) != call and _binds(signature, oracle_call(other))
        ]
        hint = (
            f"; it would take the {fits[0]!r} layout's call: pass layout={fits[0]!r} "
            f"(--layout {fits[0]} on the command line)"
            if fits
            else ""
        )
        raise TypeError(
            f"`candidate` has signature {signature} ({exc}), but the oracle calls "
            f"candidate({', '.join(call)}) in layout {layout!r}{hint}"
        ) from None
    names = [p.name.lower() for p in signature.parameters.values()][: len(call)]
    if names and names[0] in _DATA_NAMES and set(names[1:]) & _PARAMETER_NAMES:
        raise TypeError(
            f"`candidate` takes ({', '.join(names)}): data first, parameters after; the oracle "
            f"calls candidate({', '.join(call)}) in layout {layout!r}. Wrap it: "
            f"lambda {', '.join(call)}: candidate({', '.join(call[-2:] + call[:-2])})"
        )


def _binds(signature: Any, call: tuple[str, ...]) -> bool:
    try:
        signature.bind(*call)
    except TypeError:
        return False
    return True


def describe_candidate(candidate: Callable[..., Any]) -> str:
    """The name a report gives the candidate: ``module.qualname`` (no module for ``__main__``).

    A closure reads as its own name and where it was made, ``candidate (made in
    students.make)``, rather than ``students.make.<locals>.candidate``.
    """
    module = getattr(candidate, "__module__", None)
    name = getattr(candidate, "__qualname__", None) or type(candidate).__name__
    outer, _, inner = name.rpartition(".<locals>.")
    if outer:
        where = f"{module}.{outer}" if module and module != "__main__" else outer
        return f"{inner} (made in {where})"
    return f"{module}.{name}" if module and module != "__main__" else name


def check_h_prime(act: Any, *, role: str) -> None:
    """A user's own `(h, h')` pair: `h'` must be the derivative of `h`, or every verdict is moot.

    Raises ValueError naming the `role` ("hidden" or "output"), the activation and
    the first point of `H_PRIME_GRID` where `h'` and differences of `h` disagree.
    """
    z = H_PRIME_GRID
    with np.errstate(all="ignore"):
        claimed = np.asarray(act.h_prime(z.copy()), dtype=np.float64)
        check = compare_gradient(
            claimed,
            numerical_gradient(lambda x: float(np.sum(act.h(x))), z),
            names=lambda j: f"z={z[j]:.4g}",
        )
    if not check.passed:
        j = int(check.failures[0])
        raise ValueError(
            f"the {role} activation {act.name!r}: h_prime is not the derivative of h; "
            f"at z = {z[j]:.4g}, h_prime gives {claimed[j]:.10g} but differences of h give "
            f"{check.numerical.gradient[j]:.10g} ({check.failures.size} of {z.size} points "
            "checked on [-4, 4] disagree)"
        )


@dataclass(frozen=True)
class CandidateOutput:
    """What one call of the candidate gave: the gradient (float, article layout) or problems."""

    gradient: np.ndarray | None = None  # flat, in the candidate's own float dtype
    deltas: list | None = None  # the candidate's per-example delta^L, if it returned them
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float64))
    # each block's own dtype, in the flat order (W^0, b^0, W^1, ...); () means all `dtype`
    block_dtypes: tuple[np.dtype, ...] = ()
    problems: tuple[str, ...] = ()
    # the shapes the candidate returned, when they were wrong
    shapes: tuple[list[tuple[int, ...]], list[tuple[int, ...]]] | None = None
    # the accuracy of the libm its arrays' framework computes with, in ulps, where that is
    # known to differ from numpy's (`gradcheck.tolerance.saturation.libm_accuracy`)
    libm_ulps: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(self.problems))

    def with_problems(self, *problems: str) -> CandidateOutput:
        """A copy with `problems` added after the ones found so far."""
        return replace(self, problems=self.problems + problems)


class CandidateFailure(RuntimeError):
    """A candidate that failed as a whole, whose message says it all: the trial reports it as is.

    Adapters raise subclasses (a program behind ``--exec`` that crashed or
    answered nonsense: `gradcheck.adapters.protocol.program.CandidateProgramError`).
    """


class CandidateTimeout(CandidateFailure):
    """A Python candidate that did not return within the wall-clock `timeout`."""


def _call(candidate: Callable[..., Any], args: list[Any], timeout: float | None) -> Any:
    """`candidate(*args)`, in a watched thread when a wall-clock `timeout` (seconds) is set.

    A Python function cannot be stopped from outside: past the timeout it goes
    on in a daemon thread and the call reports it (a program behind --exec is
    killed instead, by `gradcheck.adapters.protocol.program`).
    """
    if timeout is None:
        return candidate(*args)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = candidate(*args)
        except BaseException as exc:  # re-raised in the caller's thread below
            result["error"] = exc

    thread = threading.Thread(target=run, name="gradcheck-candidate", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise CandidateTimeout(
            f"the candidate did not return within the timeout of {timeout:g} s (a Python "
            "function cannot be stopped: it goes on in a background thread)"
        )
    if "error" in result:
        raise result["error"]
    return result["value"]


def call_candidate(
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    layout: str,
    timeout: float | None = None,
) -> CandidateOutput:
    """Call `candidate` on copies of `net`'s parameters and `(X, Y)`; read and check its answer.

    With a `timeout` (seconds), a call that has not returned by then is a failure.
    """
    args: list[Any]  # arrays, and for the layered layouts lists of arrays
    if layout == "flat":
        args = [net.flat(), X.copy(), Y.copy()]
    else:
        weights = [W.T.copy() if layout == "torch" else W.copy() for W in net.weights]
        args = [weights, [b.copy() for b in net.biases], X.copy(), Y.copy()]
    pristine = _snapshot(args)
    try:
        returned = _call(candidate, args, timeout)
    except CandidateFailure as exc:  # its message says it all
        return CandidateOutput(problems=(str(exc),))
    except SystemExit as exc:  # not the end of the check, with the exit status it chose
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return CandidateOutput(
            problems=(
                f"the candidate called sys.exit({exc.code!r}) (at {frame.filename}:"
                f"{frame.lineno}, in {frame.name}); a backprop must return its gradient",
            )
        )
    except Exception as exc:  # the candidate's own failure is a finding, not a crash of ours
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        hint = _torch_layout_hint(candidate, net, X, Y, layout, exc, timeout)
        return CandidateOutput(
            problems=(
                f"the candidate raised {printable(type(exc).__name__)}: {printable(str(exc))} "
                f"(at {frame.filename}:{frame.lineno}, in {frame.name}){hint}",
            )
        )
    out = _read(returned, net, layout)
    if _from_xla(returned):  # jax arrays: XLA's libm, whose tanh errs by up to 7 u near 1
        out = replace(out, libm_ulps=XLA_LIBM_ULPS)
    mutated = _mutations(args, pristine, layout)
    if mutated:
        out = out.with_problems(
            f"the candidate modified its inputs ({', '.join(mutated)}); a backprop must not "
            "change the weights, biases or data it is given"
        )
    aliased = _aliases(returned, args, layout)
    if aliased:
        out = out.with_problems(
            f"the candidate returned arrays that share memory with its inputs "
            f"({', '.join(aliased)}); return new arrays"
        )
    return out


def _from_xla(returned: Any, depth: int = 0) -> bool:
    """Whether any array the candidate returned is a JAX array (computed by XLA)."""
    if depth > 4:
        return False
    if isinstance(returned, (list, tuple)):
        return any(_from_xla(item, depth + 1) for item in returned)
    if isinstance(returned, dict):
        return any(_from_xla(item, depth + 1) for item in returned.values())
    return type(returned).__module__.split(".")[0] in ("jax", "jaxlib")


#: Words of numpy's and PyTorch's shape errors ("shapes (4,8) and (4,1) not aligned").
_SHAPE_WORDS = ("shape", "align", "broadcast", "dimension", "size mismatch", "matmul")


def _torch_layout_hint(
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    layout: str,
    exc: Exception,
    timeout: float | None,
) -> str:
    """A hint to try ``layout='torch'`` when a shape error goes away with the weights transposed.

    Nielsen's network.py and PyTorch keep `W^L` as (N, M); such code given the
    article's (M, N) fails in its first product. One more call, with the
    transposes, tells that apart from any other shape slip.
    """
    text = str(exc).lower()
    if layout != "article" or not any(word in text for word in _SHAPE_WORDS):
        return ""
    if all(W.shape[0] == W.shape[1] for W in net.weights):
        return ""  # square everywhere: the transposes cannot fit where the weights did not
    args = [[W.T.copy() for W in net.weights], [b.copy() for b in net.biases], X.copy(), Y.copy()]
    try:
        _call(candidate, args, timeout)
    except Exception:  # it fails either way: not a matter of layout
        return ""
    return (
        "; with every W^L transposed, (N, M) as in Nielsen's network.py and PyTorch's "
        "nn.Linear.weight, it runs: try layout='torch'"
    )


def check_repeatable(
    candidate: Callable[..., Any],
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    layout: str,
    first: CandidateOutput,
    timeout: float | None = None,
) -> CandidateOutput:
    """`first`, with a problem added if a second call on the same input answers otherwise.

    A candidate with hidden state (gradients accumulated across calls and never
    reset) is right once and wrong ever after: one more call exposes it. The
    two answers must agree to what rounding in the candidate's dtype explains.
    """
    again = call_candidate(candidate, net, X, Y, layout=layout, timeout=timeout)
    if again.problems or again.gradient is None:
        return first.with_problems(
            "the candidate behaved differently when called a second time on the same input: "
            + "; ".join(again.problems)
        )
    assert first.gradient is not None  # called only for an answer without problems
    tolerance = rounding_tolerance(net, X, Y, first.dtype)
    c = compare(again.gradient.astype(np.float64), first.gradient.astype(np.float64), tolerance)
    if c.passed:
        return first
    j = int(c.failing[0])
    before, after = _distinct_texts(float(first.gradient[j]), float(again.gradient[j]))
    return first.with_problems(
        "the candidate returned a different answer when called twice on the same input "
        f"({net.layout.name(j)}: {before}, then {after}): "
        "hidden state, such as gradients accumulated across calls and never reset?"
    )


def _distinct_texts(a: float, b: float) -> tuple[str, str]:
    """`a` and `b` printed with the fewest digits (at least 6) that show them different."""
    for digits in range(6, 18):
        texts = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if texts[0] != texts[1]:
            return texts
    return repr(a), repr(b)


# Reading what the candidate returned.


def _read(returned: Any, net: Network, layout: str) -> CandidateOutput:
    if returned is None:
        expected = "the flat gradient (a 1-D array)" if layout == "flat" else "(dW_list, db_list)"
        return CandidateOutput(problems=(f"the candidate returned None; return {expected}",))
    if layout == "flat":
        return _read_flat(returned, net)
    parts = _split(returned)
    if isinstance(parts, str):
        return CandidateOutput(problems=(parts,))
    dW, db, deltas = parts
    H1 = net.H + 1
    if len(dW) != H1 or len(db) != H1:
        return CandidateOutput(
            problems=(
                f"the candidate returned {len(dW)} weight gradients and {len(db)} bias gradients; "
                f"the network has {H1} layers (L = 0 .. {net.H}), so expected {H1} of each",
            ),
            shapes=(_shapes(dW), _shapes(db)),
        )
    read = [
        _as_float_array(value, f"{kind}^{L}")
        for L in range(H1)
        for kind, value in (("dJ/dW", dW[L]), ("dJ/db", db[L]))
    ]
    problems = tuple(a for a in read if isinstance(a, str))
    if problems:
        return CandidateOutput(problems=problems)
    arrays = cast(list[np.ndarray], read)  # no problem: every one is an array
    arrays_W, arrays_b = arrays[0::2], arrays[1::2]
    if layout == "torch":
        arrays_W = [W.T for W in arrays_W]
    problems = _shape_problems(arrays_W, arrays_b, net, layout)
    if problems:
        return CandidateOutput(
            problems=problems,
            shapes=([W.shape for W in arrays_W], [b.shape for b in arrays_b]),
        )
    dtype = np.result_type(*arrays_W, *arrays_b)
    flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in zip(arrays_W, arrays_b)])
    block_dtypes = tuple(a.dtype for W, b in zip(arrays_W, arrays_b) for a in (W, b))
    out = _finite(CandidateOutput(flat.astype(dtype), dtype=dtype, block_dtypes=block_dtypes), net)
    if deltas is None:
        return out
    converted = [_as_float_array(D, f"delta^{L}") for L, D in enumerate(deltas)]
    bad = [c for c in converted if isinstance(c, str)]
    return out.with_problems(*bad) if bad else replace(out, deltas=converted)


def _shape_problems(
    arrays_W: list[np.ndarray], arrays_b: list[np.ndarray], net: Network, layout: str
) -> tuple[str, ...]:
    """One sentence per block of the wrong shape (in the candidate's layout), with a hint."""
    problems = []
    for L, (W, b) in enumerate(zip(net.weights, net.biases)):
        if arrays_W[L].shape != W.shape:
            got = arrays_W[L].T.shape if layout == "torch" else arrays_W[L].shape
            want = W.shape[::-1] if layout == "torch" else W.shape
            hint = ""
            if got == want[::-1]:
                other = "article" if layout == "torch" else "torch"
                hint = f": transposed? try layout='{other}'"
            problems.append(f"dJ/dW^{L} has shape {got}, expected {want}{hint}")
        if arrays_b[L].shape != b.shape:
            hint = ""
            if arrays_b[L].size == b.shape[0]:
                hint = f": return a 1-D array of shape {b.shape} (ravel it)"
            problems.append(f"dJ/db^{L} has shape {arrays_b[L].shape}, expected {b.shape}{hint}")
    return tuple(problems)


def _read_flat(returned: Any, net: Network) -> CandidateOutput:
    if isinstance(returned, Gradients) or (isinstance(returned, dict) and "weights" in returned):
        return CandidateOutput(
            problems=(
                f"the candidate returned a {type(returned).__name__} of per-layer gradients; "
                "with layout='flat' return the flat gradient (a 1-D array, e.g. its .flat()), "
                "or check it with layout='article'",
            )
        )
    array = _as_float_array(returned, "the flat gradient")
    if isinstance(array, str):
        return CandidateOutput(problems=(array,))
    if array.shape != (net.layout.size,):
        return CandidateOutput(
            problems=(
                f"the flat gradient has shape {array.shape}, expected ({net.layout.size},) "
                f"for sizes {list(net.sizes)} (order: W^0 row-major, b^0, W^1, b^1, ...)",
            )
        )
    return _finite(CandidateOutput(array, dtype=array.dtype), net)


def _finite(out: CandidateOutput, net: Network) -> CandidateOutput:
    """`out`, with a problem added if its gradient holds NaN or Inf (naming the first entries)."""
    assert out.gradient is not None  # both callers pass a gradient
    bad = ~np.isfinite(out.gradient)
    if not bad.any():
        return out
    names = [net.layout.name(int(j)) for j in np.flatnonzero(bad)[:5]]
    more = f" and {int(bad.sum()) - 5} more" if bad.sum() > 5 else ""
    return out.with_problems(
        f"the candidate returned NaN or Inf in {int(bad.sum())} entries: {', '.join(names)}{more}"
    )


def _split(returned: Any) -> tuple[list, list, list | None] | str:
    """(dW_list, db_list, deltas or None) from any accepted return structure, or a problem sentence.

    Deltas (`delta^L` per example, (d, N_L) each) come as a third element of
    the tuple or under the key ``"deltas"``.
    """
    if isinstance(returned, Gradients):
        return list(returned.weights), list(returned.biases), None
    if isinstance(returned, dict):
        if "weights" in returned and "biases" in returned:
            deltas = returned.get("deltas")
            return (
                _as_list(returned["weights"]),
                _as_list(returned["biases"]),
                None if deltas is None else _as_list(deltas),
            )
        return (
            f"the candidate returned a dict with keys {sorted(map(str, returned))}; "
            "expected keys 'weights' and 'biases' (and optionally 'deltas')"
        )
    if isinstance(returned, (tuple, list)) and len(returned) in (2, 3):
        dW, db = returned[0], returned[1]
        deltas = returned[2] if len(returned) == 3 else None
        if _is_sequence(dW) and _is_sequence(db) and (deltas is None or _is_sequence(deltas)):
            return _as_list(dW), _as_list(db), None if deltas is None else _as_list(deltas)
    kind = type(returned).__name__
    if hasattr(returned, "__next__"):
        return f"the candidate returned a generator ({kind}); return (dW_list, db_list) as lists"
    return (
        f"the candidate returned a {kind}; expected (dW_list, db_list), a Gradients, "
        "or a dict with 'weights' and 'biases'"
    )


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _as_list(value: Any) -> list:
    return list(value) if _is_sequence(value) else [value]


def _as_float_array(value: Any, name: str) -> np.ndarray | str:
    if hasattr(value, "detach"):  # a PyTorch tensor, possibly requiring grad or on a device
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        return f"{name} is a string ({value!r:.30}), not an array"
    try:
        array = np.asarray(value)
    except Exception as exc:
        return f"{name} could not be converted to an array: {exc}"
    if array.dtype.kind == "c":
        return f"{name} is complex ({array.dtype}); gradients of a real cost are real"
    if array.dtype.kind not in "biuf":
        return f"{name} has dtype {array.dtype}, not a number type"
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    return array


def _shapes(values: list) -> list[tuple[int, ...]]:
    out = []
    for v in values:
        try:
            out.append(tuple(np.shape(v)))
        except Exception:
            out.append(())
    return out


# Input integrity: the candidate must neither change nor alias what it is given.


def _snapshot(args: list) -> list:
    return [[a.copy() for a in arg] if isinstance(arg, list) else arg.copy() for arg in args]


def _argument_names(layout: str) -> list[str]:
    return ["theta", "X", "Y"] if layout == "flat" else ["weights", "biases", "X", "Y"]


def _mutations(args: list, pristine: list, layout: str) -> list[str]:
    changed = []
    for name, now, before in zip(_argument_names(layout), args, pristine):
        if isinstance(before, list):
            if not isinstance(now, list) or len(now) != len(before):
                changed.append(f"the list {name}")
                continue
            for L, (a, b) in enumerate(zip(now, before)):
                if not isinstance(a, np.ndarray) or a.shape != b.shape or not np.array_equal(a, b):
                    changed.append(f"{name}[{L}]")
        elif not np.array_equal(now, before):
            changed.append(name)
    return changed


def _aliases(returned: Any, args: list, layout: str) -> list[str]:
    given = []
    for name, arg in zip(_argument_names(layout), args):
        for k, a in enumerate(arg if isinstance(arg, list) else [arg]):
            given.append((f"{name}[{k}]" if isinstance(arg, list) else name, a))
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, np.ndarray):
            found.extend(n for n, a in given if np.shares_memory(value, a) and n not in found)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, Gradients):
            visit(value.weights)
            visit(value.biases)

    visit(returned)
    return found
