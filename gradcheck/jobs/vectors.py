"""Golden test vectors: networks, data, expected gradients and tolerances, for tests in any language.

`python -m gradcheck vectors --out DIR` writes, for each case:

- ``DIR/vectors.json``: everything, readable with any JSON parser. Every
  float is a JSON number written as Python's shortest round-trip repr, which
  every correct float64 parser (C ``strtod``, Rust ``str::parse::<f64>``,
  JavaScript ``JSON.parse``) reads back to the identical double. For
  bit-level paranoia each array also carries ``"hex"``: the same values as
  C99 hexadecimal float literals (``float.hex``; C ``strtod`` reads them).
- ``DIR/<case>.npz``: the same arrays for numpy users.

The JSON layout (``"format": "gradcheck-vectors/1"``)::

    {"format": ..., "notation": {...conventions...},
     "cases": [{"name": "sigmoid-quadratic-4-8-3-d5", "sizes": [4, 8, 3], "d": 5,
                "hidden": "sigmoid", "output": "sigmoid", "cost": "quadratic",
                "W": [{"shape": [4, 8], "data": [...row-major...], "hex": [...]}, ...],
                "b": [...], "X": {...}, "Y": {...},
                "dJ_dW": [...], "dJ_db": [...],            # the expected gradient
                "tolerance": {"float64": {"dJ_dW": [...], "dJ_db": [...]},
                              "float32": {...}},           # per-entry allowed |yours - expected|
                "J": cost value}]}

An implementation passes a case when ``|yours - expected| <= tolerance``
entry by entry, with the tolerance of the dtype it computes in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gradcheck.oracle.backprop import trial_case
from gradcheck.tolerance.compare import rounding_tolerance
from gradcheck.validate import check_flag, check_int
from reference import ACTIVATIONS, Network, backprop

__all__ = [
    "FORMAT",
    "LINEAR",
    "PAIRINGS",
    "SHAPES",
    "case_network",
    "cases",
    "read_vectors",
    "write_vectors",
]

FORMAT = "gradcheck-vectors/1"

#: (sizes, d) the activations' own cases take in turn, in registry order
SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((4, 8, 3), 5),
    ((3, 6, 5, 2), 4),
    ((5, 7, 3), 6),
    ((4, 5, 2), 3),
    ((2, 3, 2), 4),
    ((3, 4, 4, 3), 2),
)
#: the identity's case, last: no hidden layer (a hidden identity layer would add nothing)
LINEAR: tuple[tuple[int, ...], int] = ((3, 2), 4)

#: (hidden, output, cost, sizes, d) after the activations' own: the output/cost pairings and
#: edge shapes (a hidden layer of width 1, an output of width 1 and a batch of 1).
PAIRINGS: tuple[tuple[str, str | None, str, tuple[int, ...], int], ...] = (
    ("sigmoid", "sigmoid", "cross_entropy", (4, 6, 3), 5),
    ("tanh", "softmax", "categorical_cross_entropy", (4, 8, 3), 6),
    ("relu", "softmax", "quadratic", (3, 5, 4), 3),
    ("sigmoid", None, "quadratic", (3, 1, 2), 4),
    ("tanh", "sigmoid", "cross_entropy", (5, 4, 1), 1),
)


def cases() -> tuple[tuple[str, str | None, str, tuple[int, ...], int], ...]:
    """(hidden, output, cost, sizes, d): the golden vectors' cases, from the registry as it stands.

    One case per activation of `reference.ACTIVATIONS` whose `Coverage` asks for
    one (every built-in element-wise activation; a user's registered with
    ``coverage=``), as hidden with its ``(output, cost)``, in registry order
    on `SHAPES` in turn, the identity last on `LINEAR`; then `PAIRINGS`.

    Examples
    --------
    >>> cases()[0]
    ('sigmoid', None, 'quadratic', (4, 8, 3), 5)
    """
    covered = [
        (name, act)
        for name, act in ACTIVATIONS.items()
        if act.coverage is not None and act.coverage.vectors is not None
    ]
    covered.sort(key=lambda item: item[1].is_identity)  # stable: the identity moves last
    own = []
    for k, (name, act) in enumerate(covered):
        assert act.coverage is not None and act.coverage.vectors is not None
        sizes, d = LINEAR if act.is_identity else SHAPES[k % len(SHAPES)]
        own.append((name, *act.coverage.vectors, sizes, d))
    return (*own, *PAIRINGS)


NOTATION = {
    "layers": "L = 0 .. H; layer 0 is the first hidden layer, H the output layer; a^{-1} = x",
    "W": "W^L has shape (M, N): W^L[m, n] is the weight from neuron m of layer L-1 to neuron n "
    "of layer L (the transpose of PyTorch's nn.Linear.weight); data is row-major",
    "forward": "z^L = (W^L)^T a^{L-1} + b^L, a^L = h(z^L); rows of X are examples",
    "cost": "J = (1/d) sum_i J_i; quadratic J_i = 1/2 ||a^H - y||^2; cross_entropy J_i = "
    "-sum_n [y log a + (1-y) log(1-a)]; categorical_cross_entropy J_i = -sum_n y log a",
    "gradient": "dJ_dW[L] = dJ/dW^L (M, N), dJ_db[L] = dJ/db^L (N,), averaged over the batch",
}
#: conventions no parameter of the registry states
CONVENTIONS = ("relu'(0) = 0", "softmax along each row")


def _notation() -> dict[str, str]:
    """`NOTATION` and the activations' conventions: the registry's parameter defaults first."""
    defaults = [f"{a.name} {k} {v:g}" for a in ACTIVATIONS.values() for k, v in a.parameters]
    return {**NOTATION, "activations": "; ".join([*defaults, *CONVENTIONS])}


def _array(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float64)
    flat = a.ravel().tolist()
    return {"shape": list(a.shape), "data": flat, "hex": [float(v).hex() for v in flat]}


def _case(
    hidden: str, output: str | None, cost: str, sizes: tuple[int, ...], d: int, seed: int
) -> tuple[str, dict, dict]:
    net, X, Y = trial_case(sizes, d, seed, hidden=hidden, output=output, cost=cost)
    g = backprop(net, X, Y)
    name = f"{hidden}-{net.output.name}-{cost}-{'-'.join(map(str, sizes))}-d{d}"
    tolerance = {}
    for dtype in ("float64", "float32"):
        tol = net.layout.split(rounding_tolerance(net, X, Y, np.dtype(dtype)))
        tolerance[dtype] = {
            "dJ_dW": [_array(t) for t in tol[0]],
            "dJ_db": [_array(t) for t in tol[1]],
        }
    J = net.cost(X, Y)
    assert isinstance(J, float)  # real parameters and data: a real cost
    case = {
        "name": name,
        "sizes": list(net.sizes),
        "d": d,
        "hidden": net.hidden_name,
        "output": net.output.name,
        "cost": cost,
        "seed": seed,
        "W": [_array(W) for W in net.weights],
        "b": [_array(b) for b in net.biases],
        "X": _array(X),
        "Y": _array(Y),
        "J": J,
        "dJ_dW": [_array(W) for W in g.weights],
        "dJ_db": [_array(b) for b in g.biases],
        "tolerance": tolerance,
    }
    arrays = {"X": X, "Y": Y}
    for L in range(net.H + 1):
        arrays[f"W{L}"], arrays[f"b{L}"] = net.weights[L], net.biases[L]
        arrays[f"dJ_dW{L}"], arrays[f"dJ_db{L}"] = g.weights[L], g.biases[L]
    return name, case, arrays


def write_vectors(out: str | Path, *, force: bool = False, seed: int = 0) -> Path:
    """Write the golden vectors into directory `out`; refuses a non-empty `out` unless `force`.

    Returns the path of ``vectors.json``. Nothing is written outside `out`,
    and nothing at all if an argument is refused.
    """
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(
            f"`out` must be a directory path (str or PathLike), got {type(out).__name__}"
        )
    check_flag(force, "force")  # a truthy non-bool such as "no" must never overwrite
    seed = check_int(seed, "seed", low=0)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out` {str(out)!r} exists and is not a directory")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ValueError(
            f"`out` {str(out)!r} cannot be created: {str(blocker)!r} is a file, not a directory"
        )
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(
            f"`out` {str(out)!r} is not empty; pass --force (force=True) to overwrite the vectors in it"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # permissions, a read-only file system...
        raise ValueError(f"`out` {str(out)!r} cannot be created: {exc.strerror or exc}") from None
    written = []
    for k, (hidden, output, cost, sizes, d) in enumerate(cases()):
        name, case, arrays = _case(hidden, output, cost, sizes, d, seed * 1000 + k)
        np.savez(out / f"{name}.npz", **arrays)
        case["npz"] = f"{name}.npz"
        written.append(case)
    document = {"format": FORMAT, "notation": _notation(), "cases": written}
    path = out / "vectors.json"
    path.write_text(json.dumps(document, indent=1))
    return path


def read_vectors(path: str | Path) -> list[dict[str, Any]]:
    """The cases of a ``vectors.json``, arrays as numpy float64 (rebuilt from the JSON numbers)."""
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not a {FORMAT} file: invalid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ValueError(
            f"{str(path)!r} is not a {FORMAT} file: the document is a JSON "
            f"{type(document).__name__}, not an object"
        )
    if document.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a {FORMAT} file (format {document.get('format')!r})"
        )
    if not isinstance(document.get("cases"), list):
        raise ValueError(f'{str(path)!r} is malformed: it has no list of "cases"')

    def arr(a: dict) -> np.ndarray:
        return np.array(a["data"], dtype=np.float64).reshape(a["shape"])

    cases = []
    for index, case in enumerate(document["cases"]):
        try:
            c = dict(case)
            for key in ("W", "b", "dJ_dW", "dJ_db"):
                c[key] = [arr(a) for a in case[key]]
            c["X"], c["Y"] = arr(case["X"]), arr(case["Y"])
            c["tolerance"] = {
                dtype: {k: [arr(a) for a in v] for k, v in t.items()}
                for dtype, t in case["tolerance"].items()
            }
        except KeyError as exc:
            raise ValueError(
                f"{str(path)!r} is malformed: case {index} has no {exc.args[0]!r} entry"
            ) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"{str(path)!r} is malformed: case {index} could not be read "
                f"({type(exc).__name__}: {exc})"
            ) from None
        cases.append(c)
    return cases


def case_network(case: dict[str, Any]) -> Network:
    """The `reference.Network` of a case read by `read_vectors` (for numpy users).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     case = read_vectors(write_vectors(out))[0]
    >>> case_network(case).sizes == tuple(case["sizes"])
    True
    """
    return Network(
        case["W"], case["b"], hidden=case["hidden"], output=case["output"], cost=case["cost"]
    )


# The first release's name, kept for one release: it builds a network, it checks nothing
# (`validate.check_network` is the check).
check_network = case_network
