"""Input validation for `gradcheck`: clear errors naming the argument, layer and shapes.

Plumbing only; the math lives elsewhere. It ends with the checks of a whole problem (network
and batch) beyond shapes: a cost that must be finite, a front door's batch-or-trials choice.
Every public function here is used by more than one module of the package; each returns a
fresh array (or a plain Python value), so nothing downstream can mutate what the caller
handed in.
Messages name the parameter in backticks, as scipy's do, and the tests pin them.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reference import Network, real_array, refuse_masked

__all__ = [
    "batch_or_trials",
    "printable",
    "real_float_copy",
    "EPS64",
    "as_grad",
    "as_step",
    "as_theta",
    "as_vector",
    "check_callable",
    "check_choice",
    "check_command",
    "check_configurations",
    "check_count",
    "check_edge_cases",
    "check_executor",
    "check_finite_cost",
    "check_penalty",
    "MAX_PENALTY",
    "check_flag",
    "check_int",
    "check_labelled",
    "check_method",
    "check_network",
    "check_new_file",
    "check_optional_callable",
    "check_rtol",
    "check_shape_lists",
    "checked_data",
    "delta_arrays",
    "evaluated_grad",
    "gradient_arrays",
    "gradient_lists",
    "is_real_number",
    "check_timeout",
    "check_bytes",
    "check_fits_in_memory",
    "total_memory",
    "MAX_TIMEOUT",
    "check_trial_options",
    "check_weight_scale",
    "real_block",
]

EPS64 = float(np.finfo(np.float64).eps)


def as_vector(value: Any, name: str) -> np.ndarray:
    """`value` as a fresh 1-D array of real numbers (a floating dtype is kept), or a clear error."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be a 1-D array of real numbers, got a string")
    refuse_masked(value, name)
    try:
        array = np.array(value)  # a copy: the caller's array is never aliased
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a 1-D array of real numbers ({exc})") from None
    if array.dtype.kind == "c":
        raise TypeError(
            f"`{name}` must be real, got complex dtype {array.dtype} "
            "(for the complex step, pass a real point and method='complex')"
        )
    if array.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be a 1-D array of real numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D (a flat vector), got shape {array.shape}; "
            "flatten it with `.ravel()`"
        )
    if array.size == 0:
        raise ValueError(f"`{name}` must not be empty")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def as_theta(theta: Any) -> np.ndarray:
    """θ as a fresh finite float64 vector, or a clear error."""
    theta = as_vector(theta, "theta").astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(theta))
    if bad.size:
        raise ValueError(f"`theta` must be finite, got {theta[bad[0]]} at index {bad[0]}")
    return theta


def as_grad(grad: Any, n: int) -> np.ndarray:
    """The candidate as a fresh 1-D float vector of length n (NaN allowed: it fails)."""
    grad = as_vector(grad, "grad")
    if grad.shape != (n,):
        raise ValueError(
            f"`grad` has shape {grad.shape} but `theta` has shape ({n},); they must match"
        )
    return grad


def evaluated_grad(grad: Any, theta: np.ndarray) -> Any:
    """`grad` itself, or, for a callable (scipy.optimize.check_grad's convention), `grad(theta)`.

    The callable gets a copy of `theta`, so it cannot modify the caller's point;
    what it returns must have the shape of `theta`.
    """
    if not callable(grad):
        return grad
    value = grad(theta.copy())
    if value is None:
        raise TypeError("`grad` is a callable, but grad(theta) returned None; return the gradient")
    shape = np.shape(value)
    if shape != theta.shape:
        raise ValueError(
            f"`grad` is a callable, but grad(theta) returned shape {shape}; `theta` has "
            f"shape {theta.shape}: return the gradient as a 1-D array of that shape"
        )
    return value


def real_float_copy(value: Any, name: str, *, expected: str) -> np.ndarray:
    """`value` as a fresh float64 array, or TypeError(`expected`); complex refused by `name`."""
    try:
        array = np.array(value)  # a copy; cast to float64 once known to be real
    except (TypeError, ValueError):
        raise TypeError(expected) from None
    if array.dtype.kind == "c":  # casting would drop the imaginary part (ComplexWarning)
        raise TypeError(f"`{name}` must be real, got complex dtype {array.dtype}")
    if array.dtype.kind not in "iuf":  # numpy would parse '1' and take True as 1.0
        raise TypeError(expected)
    return array.astype(np.float64)


def as_step(step: Any, n: int) -> np.ndarray | None:
    if step is None:
        return None
    expected = f"`step` must be a positive number or an array of them, got {step!r}"
    array = real_float_copy(step, "step", expected=expected)
    if array.ndim == 0:
        array = np.full(n, array[()])
    if array.shape != (n,):
        raise ValueError(
            f"`step` must be a scalar or have the shape of `theta`, ({n},), got shape {array.shape}"
        )
    bad = np.flatnonzero(~(np.isfinite(array) & (array > 0)))
    if bad.size:
        value = array[bad[0]]
        where = f" at index {bad[0]}" if np.ndim(step) else ""
        raise ValueError(
            f"`step` must be {'positive' if np.isfinite(value) else 'finite'}, got {value}{where}"
        )
    return array


def is_real_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def check_callable(f: Any, name: str) -> None:
    if not callable(f):
        raise TypeError(f"`{name}` must be callable, got {type(f).__name__}")


def check_executor(executor: Any) -> None:
    """Refuse anything but None or an executor (an object with ``submit``), naming `executor`."""
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            "`executor` must be a concurrent.futures.Executor (a thread or process pool, or "
            f"distributed.Client.get_executor()), got {type(executor).__name__}"
        )


def check_flag(value: Any, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {value!r}")


def check_int(value: Any, name: str, *, low: int) -> int:
    """`value` as a Python int of at least `low` (0 or 1; numpy integers too, not bools), or a clear error."""
    expected = f"`{name}` must be a {'positive' if low == 1 else 'non-negative'} integer"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{expected}, got {value!r}")
    if value < low:
        raise ValueError(f"{expected}, got {value}")
    return int(value)  # a Python int: numpy integers overflow in arithmetic on large seeds


def check_network(net: Any, name: str = "net") -> None:
    """Refuse anything but a `reference.Network`, naming the argument."""
    from reference import Network

    if not isinstance(net, Network):
        raise TypeError(
            f"`{name}` must be a reference.Network, got {type(net).__name__}; "
            "build one with Network(weights, biases, ...)"
        )


#: the longest wall-clock limit: a million seconds (11.6 days) stays below what the waits
#: behind a timeout take (epoll counts int32 milliseconds: 24.8 days; threads' TIMEOUT_MAX)
MAX_TIMEOUT = 1e6


def check_timeout(value: Any, name: str = "timeout") -> float:
    """A wall-clock limit in seconds: a positive number up to `MAX_TIMEOUT`, or a clear error."""
    if not is_real_number(value):
        raise TypeError(f"`{name}` must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a positive, finite number of seconds, got {value!r}")
    if value > MAX_TIMEOUT:
        raise ValueError(
            f"`{name}` must be at most {MAX_TIMEOUT:g} seconds (11.6 days), got {value!r}"
        )
    return float(value)


#: the edge-case trials of `check_backprop`, by the name `edge_cases` takes
EDGE_CASES = ("width1", "no_hidden", "batch1")


def check_edge_cases(value: Any) -> frozenset[str]:
    """`edge_cases` (True, False, or a subset of `EDGE_CASES`) as the set of edge trials to run."""
    if isinstance(value, (bool, np.bool_)):
        return frozenset(EDGE_CASES) if value else frozenset()
    if isinstance(value, str) or not isinstance(value, (set, frozenset, list, tuple)):
        raise TypeError(
            f"`edge_cases` must be True, False or a set of names from {set(EDGE_CASES)}, "
            f"got {value!r}"
        )
    unknown = sorted(str(v) for v in value if v not in EDGE_CASES)
    if unknown:
        raise ValueError(
            f"unknown `edge_cases` {', '.join(map(repr, unknown))}; known edge cases: "
            f"{', '.join(EDGE_CASES)}"
        )
    return frozenset(value)


def check_trial_options(
    *, trials: Any, batch_size: Any, seed: Any, edge_cases: Any
) -> dict[str, Any]:
    """`check_backprop`'s trials (counts, seed, edge cases), validated, as its report records them."""
    trials = check_count(trials, "trials")
    batch_size = check_count(batch_size, "batch_size")
    seed = check_int(seed, "seed", low=0)  # a Python int: 1000 * seed + k must not overflow
    edges = check_edge_cases(edge_cases)
    recorded = bool(edge_cases) if isinstance(edge_cases, (bool, np.bool_)) else sorted(edges)
    return {"trials": trials, "seed": seed, "batch_size": batch_size, "edge_cases": recorded}


#: arrays the size of all parameters that certainly coexist in a check: the network's weights,
#: the candidate's copy and its answer, the reference gradient, the finite differences' point,
#: gradient and error estimate (a lower bound: the refusal is for what surely cannot work)
PARAMETER_COPIES = 7
#: arrays of `d` rows per layer that coexist: the batch (X, Y), then Z^L, A^L and Delta^L of
#: the reference's forward and backward pass, and the finite differences' base forward pass
LAYER_COPIES = 5
#: bytes one trial leaves in a report at the least (its row, verdict and plan entry)
TRIAL_RECORD_BYTES = 1024


def total_memory() -> int | None:
    """This machine's physical memory in bytes (`os.sysconf`, else /proc/meminfo); None if unknown."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_bytes(sizes: Any, d: Any, *, trials: int = 1, fd_chunk: int = 0) -> int:
    """The bytes the largest arrays of a check of a `sizes` network at `d` examples take at once.

    Weights and their gradients (`PARAMETER_COPIES` of them), the batch and `Z^L`, `A^L`,
    `Delta^L` per layer (`LAYER_COPIES`), one chunk `fd_chunk` of the finite differences'
    stacked activations, and `TRIAL_RECORD_BYTES` per trial.  0 when `sizes` or `d` are not
    counts yet (their own validation speaks then).  Python ints: no overflow.
    """
    if isinstance(sizes, np.ndarray):
        sizes = sizes.tolist()
    if not isinstance(sizes, (list, tuple)) or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in sizes
    ):
        return 0
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        return 0
    sizes = [int(n) for n in sizes]
    parameters = sum(M * N + N for M, N in zip(sizes, sizes[1:], strict=False))
    rows = int(d) * (sizes[0] + LAYER_COPIES * sum(sizes))
    return 8 * (PARAMETER_COPIES * parameters + rows) + fd_chunk + trials * TRIAL_RECORD_BYTES


def check_fits_in_memory(n_bytes: int, what: str) -> None:
    """Refuse, before any work, a check whose arrays (`check_bytes`) exceed this machine's memory."""
    memory = total_memory()
    if memory is None or n_bytes <= memory:
        return
    raise ValueError(
        f"{what} needs ~{_gigabytes(n_bytes)} of memory at the least (weights, batch, Z^L, A^L "
        f"and Delta^L per layer, finite-difference buffers, a record per trial); this machine has "
        f"{_gigabytes(memory)}: use smaller sizes, a smaller batch or fewer trials"
    )


def _gigabytes(n_bytes: int) -> str:
    gb = n_bytes / 1e9
    return f"{gb:.3g} GB" if gb < 1e6 else f"{gb:.2e} GB"


def check_weight_scale(value: Any) -> float:
    """`weight_scale` as a positive finite float, or a clear error."""
    if not is_real_number(value):
        raise TypeError(f"`weight_scale` must be a positive finite number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`weight_scale` must be a positive finite number, got {value!r}")
    return float(value)


def check_command(cmd: Any, name: str = "cmd") -> list[str]:
    """A command line (a string split like a POSIX shell, or a list of strings) whose program exists.

    Returns the argument vector; refuses an empty command, a program that is
    not on PATH, and a path that is not an executable file.
    """
    if isinstance(cmd, str):
        try:
            argv = shlex.split(cmd)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"`{name}` {cmd!r} cannot be split into words: {exc}") from None
    elif isinstance(cmd, (list, tuple)) and all(isinstance(word, str) for word in cmd):
        argv = list(cmd)
    else:
        raise TypeError(
            f"`{name}` must be a command line (a string, or a list of strings), got {cmd!r}"
        )
    if not argv or not argv[0]:
        raise ValueError(f"`{name}` is empty; give the program to run, e.g. './my_backprop'")
    program = argv[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        if not os.path.isfile(program):
            raise ValueError(f"`{name}`: no program {program!r} (no such file)")
        if not os.access(program, os.X_OK):
            raise ValueError(
                f"`{name}`: {program!r} is not executable; chmod +x it, or run it "
                "through its interpreter"
            )
    elif shutil.which(program) is None:
        raise ValueError(
            f"`{name}`: no program {program!r} on PATH; for a file in this directory write ./{program}"
        )
    return argv


def check_method(method: Any, methods: Sequence[str]) -> str:
    """`method` if it is one of `methods` (the finite-difference schemes), or a clear error."""
    if method not in methods:
        raise ValueError(f"unknown `method` {method!r}; known methods: {', '.join(methods)}")
    return method


def checked_data(net: Any, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    """`net` refused unless a `reference.Network`; `X`, `Y` as its checked float64 copies."""
    check_network(net)
    return net.check_data(X, Y)


def check_rtol(rtol: Any) -> float:
    """`rtol` as a float in (0, 1), or a clear error."""
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.integer, np.floating)):
        raise TypeError(f"`rtol` must be a real number, got {type(rtol).__name__}")
    if not 0.0 < rtol < 1.0:
        raise ValueError(f"`rtol` must be a positive number below 1, got {rtol}")
    return float(rtol)


def _is_list(value: Any) -> bool:
    return not isinstance(value, (np.ndarray, str, bytes)) and isinstance(value, Sequence)


def real_block(
    value: Any,
    name: str,
    *,
    symbol: str = "",
    shape: tuple[int, ...] | None = None,
    expected: str = "",
) -> tuple[np.ndarray, float]:
    """One block (`dJ/dW^L`, `delta^L`, ...) as a float64 copy, and the eps of its own dtype.

    Any real dtype is taken (float32 welcome: the caller scales its tolerance
    by the eps returned; integers count as float64). With `shape`, the block
    must have it (`expected` says what it means, e.g. ``"(M, N) like W^0"``)
    and be finite; without, any shape and NaN/Inf are let through (a wrong
    gradient may be both). Messages name the argument and, after it, the
    block's `symbol` (e.g. ``"dJ/dW^0"``).
    """
    try:
        return _real_block(value, name, shape=shape, expected=expected)
    except (TypeError, ValueError) as exc:
        if not symbol:
            raise
        raise type(exc)(str(exc).replace(f"`{name}`", f"`{name}` ({symbol})", 1)) from None


def _real_block(
    value: Any, name: str, *, shape: tuple[int, ...] | None, expected: str
) -> tuple[np.ndarray, float]:
    try:
        ndim = np.ndim(value)
    except (ValueError, TypeError):  # ragged nested lists: real_array names them
        ndim = 0
    array = real_array(value, name=name, ndim=ndim, finite=False)
    if shape is not None:
        if array.shape != shape:
            raise ValueError(f"`{name}` has shape {array.shape} but must be {expected} = {shape}")
        real_array(array, name=name, ndim=ndim, copy=False)  # finite, or a message naming the entry
    dtype = np.asarray(value).dtype
    eps = float(np.finfo(dtype).eps) if dtype.kind == "f" else EPS64
    return array, max(eps, EPS64)


def gradient_lists(
    gradients: Any, name: str = "gradients", *, layers: int | None = None, sizes: Any = None
) -> tuple[Sequence[Any], Sequence[Any]]:
    """Read a gradient structure into its lists ``(dJ_dW, dJ_db)``; the arrays are not checked.

    Accepted: a `reference.Gradients`, a ``(dJ_dW, dJ_db)`` pair of lists, or
    a dict with ``"weights"`` and ``"biases"``. With `layers` (``H + 1``, the
    network's `sizes` for the message), each list must hold that many arrays;
    without, the two lists must be equally long and not empty.
    """
    from reference import Gradients

    if isinstance(gradients, Gradients):
        weights, biases = gradients.weights, gradients.biases
    elif isinstance(gradients, dict) and {"weights", "biases"} <= set(gradients):
        weights, biases = gradients["weights"], gradients["biases"]
    elif isinstance(gradients, (tuple, list)) and len(gradients) == 2:
        weights, biases = gradients
    else:
        raise TypeError(
            f"`{name}` must be a Gradients, a (dJ_dW, dJ_db) pair of lists or a dict with "
            f"'weights' and 'biases', got {type(gradients).__name__}"
        )
    for arrays, symbol, label in ((weights, "W", "weights"), (biases, "b", "biases")):
        if not _is_list(arrays):
            raise TypeError(
                f"`{name}.{label}` must be a list of arrays, one dJ/d{symbol}^L per layer, "
                f"got {type(arrays).__name__}"
            )
        if layers is not None and len(arrays) != layers:
            raise ValueError(
                f"`{name}.{label}` must hold one dJ/d{symbol}^L per layer L = 0 .. H, that is "
                f"{layers} arrays for sizes {list(sizes)}, got {len(arrays)}"
            )
    if len(weights) != len(biases) or not weights:
        raise ValueError(
            f"`{name}` must have one dJ/dW^L and one dJ/db^L per layer, got "
            f"{len(weights)} weight and {len(biases)} bias arrays"
        )
    return weights, biases


def gradient_arrays(
    gradients: Any, name: str = "gradients", *, sizes: Sequence[int] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """A gradient structure (see `gradient_lists`) as float64 copies, and its coarsest eps.

    With the network's `sizes`, every `dJ/dW^L` must have shape (M, N) and
    every `dJ/db^L` shape (N,), all finite; without, any shapes and values
    pass (what a wrong gradient looks like is for the caller to judge).
    """
    layers = None if sizes is None else len(sizes) - 1
    weights, biases = gradient_lists(gradients, name, layers=layers, sizes=sizes)
    checked: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    eps = EPS64
    for k, (arrays, symbol, label) in enumerate(
        ((weights, "W", "weights"), (biases, "b", "biases"))
    ):
        for L, value in enumerate(arrays):
            shape: tuple[int, ...] | None = None
            expected = ""
            if sizes is not None:
                M, N = sizes[L], sizes[L + 1]
                shape = (M, N) if symbol == "W" else (N,)
                expected = f"(M, N) like W^{L}" if symbol == "W" else f"(N,) like b^{L}"
            array, e = real_block(
                value,
                f"{name}.{label}[{L}]",
                symbol=f"dJ/d{symbol}^{L}",
                shape=shape,
                expected=expected,
            )
            checked[k].append(array)
            eps = max(eps, e)
    return checked[0], checked[1], eps


def delta_arrays(deltas: Any, sizes: Sequence[int], d: int) -> tuple[list[np.ndarray], float]:
    """A candidate's per-example deltas, ``deltas[L]`` of shape (d, N_L), as float64 copies.

    Returns the arrays and the eps of the coarsest dtype among them.
    """
    H = len(sizes) - 2
    if not _is_list(deltas):
        raise TypeError(
            f"`deltas` must be a list of arrays, one Delta^L of shape (d, N_L) per layer "
            f"L = 0 .. H, got {type(deltas).__name__}"
        )
    if len(deltas) != H + 1:
        raise ValueError(
            f"`deltas` must hold one Delta^L per layer L = 0 .. H, that is {H + 1} arrays for "
            f"sizes {list(sizes)}, got {len(deltas)}"
        )
    out, eps = [], EPS64
    for L, value in enumerate(deltas):
        array, e = real_block(
            value,
            f"deltas[{L}]",
            symbol=f"Delta^{L}",
            shape=(d, sizes[L + 1]),
            expected=f"(d, N_{L}) (one row per example, one column per neuron of layer {L})",
        )
        out.append(array)
        eps = max(eps, e)
    return out, eps


def check_labelled(reports: Any, report_type: type) -> list[tuple[str, Any]]:
    """`reports` as a list of ``(label, report)`` pairs, each report a `report_type`."""
    what = report_type.__name__
    if not _is_list(reports):
        raise TypeError(
            f"`reports` must be a list of (label, {what}) pairs, got {type(reports).__name__}"
        )
    if not reports:
        raise ValueError(f"`reports` is empty; give at least one (label, {what}) pair")
    for k, item in enumerate(reports):
        if not (
            isinstance(item, (tuple, list))
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], report_type)
        ):
            raise TypeError(
                f"each of `reports` must be a (label, {what}) pair as run_equation_checks "
                f"gives; entry {k} is {item!r:.80}"
            )
    return [(label, report) for label, report in reports]


def check_configurations(configurations: Any) -> list[tuple[Any, Any, Any]]:
    """`configurations` as a list of ``(hidden, output, cost)`` triples (names checked later)."""
    if not _is_list(configurations):
        raise TypeError(
            "`configurations` must be a list of (hidden, output, cost) triples, "
            f"got {type(configurations).__name__}"
        )
    for k, item in enumerate(configurations):
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise TypeError(
                "each of `configurations` must be a (hidden, output, cost) triple such as "
                f"('tanh', None, 'quadratic'); entry {k} is {item!r:.80}"
            )
    return [tuple(item) for item in configurations]


def check_shape_lists(
    shapes_W: Any, shapes_b: Any
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """`shapes_W`, `shapes_b` as lists of tuples of non-negative ints, or a clear error."""
    out = []
    for argument, shapes in (("shapes_W", shapes_W), ("shapes_b", shapes_b)):
        if isinstance(shapes, (str, bytes)) or not isinstance(shapes, (list, tuple)):
            raise TypeError(
                f"`{argument}` must be a list of shapes like [(3, 4), (4, 2)], "
                f"got {type(shapes).__name__}"
            )
        checked = []
        for L, shape in enumerate(shapes):
            if not isinstance(shape, (list, tuple)) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
                for n in shape
            ):
                raise TypeError(
                    f"`{argument}[{L}]` must be a shape, a tuple of non-negative integers, "
                    f"got {shape!r}"
                )
            checked.append(tuple(int(n) for n in shape))
        out.append(checked)
    return out[0], out[1]


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """`value` if it is one of `choices`, or a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown `{name}` {value!r}; known {name}s: {', '.join(choices)}")
    return value


def check_count(value: Any, name: str, *, low: int = 1) -> int:
    """`value` as a Python int of at least `low` (numpy integers too, not bools), or a clear error.

    The oracle's wording for `trials` and `batch_size` ("must be at least 1");
    `check_int` says "must be a positive integer".
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"`{name}` must be at least {low}, got {value}")
    return int(value)


def check_optional_callable(value: Any, name: str, *, takes: str) -> None:
    """Refuse anything but None or a callable; `takes` says what it is called with."""
    if value is not None and not callable(value):
        raise TypeError(
            f"`{name}` must be None or a callable taking {takes}, got {type(value).__name__}"
        )


def check_new_file(path: Any, *, force: bool, what: str = "the file") -> Path:
    """`path` as a Path a file may be written to: its directory exists and takes new files, and
    nothing is at `path` (not even a dangling symbolic link) unless `force`.

    Writability is probed with a real temporary file (permission bits say nothing to root,
    nor of a read-only file system), so that a front door refuses before any work.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a file path, got {type(path).__name__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(
            f"cannot write {what} to {str(target)!r}: the directory "
            f"{str(target.parent)!r} does not exist"
        )
    if target.is_dir():
        raise ValueError(f"cannot write {what} to {str(target)!r}: it is a directory")
    if os.path.lexists(target) and not force:
        raise FileExistsError(f"{str(target)!r} exists; pass force=True (--force) to overwrite it")
    try:
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as exc:
        raise ValueError(
            f"cannot write {what} to {str(target)!r}: the directory {str(target.parent)!r} "
            f"does not take new files ({exc.strerror or type(exc).__name__})"
        ) from None
    return target


def batch_or_trials(trials: Any, X: Any, Y: Any, default: int) -> int:
    """`trials` checked with the batch: given, or 0 with `X` and `Y`, else `default`.

    For the front doors that check at a given batch, at random trials, or both
    (`torch.check_module`, `jax.check_grad_fn`).
    """
    if (X is None) != (Y is None):
        raise ValueError("give both `X` and `Y` (a batch to check at), or neither (random trials)")
    if trials is None:
        trials = 0 if X is not None else default
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 0:
        raise ValueError(f"`trials` must be a non-negative integer, got {trials!r}")
    if X is None and trials == 0:
        raise ValueError("nothing to check: give `X` and `Y`, or `trials` >= 1")
    return int(trials)


#: the largest L2 penalty `(lam/2) sum_L ||W^L||^2` a check takes: the tolerances multiply the
#: gradient (which holds `lam W^L`) by factors up to ~1e150 before float64 overflows at 1.8e308
MAX_PENALTY = 1e150


def check_penalty(net: Network) -> None:
    """Refuse an `l2` whose penalty is beyond `MAX_PENALTY` for `net`'s weights: the cost, its
    gradient or their bounds would overflow float64, and the check could only fail."""
    if net.l2 == 0.0:
        return
    with np.errstate(all="ignore"):
        squares = sum(float(np.sum(np.square(W))) for W in net.weights)
        penalty = 0.5 * net.l2 * squares
    if not penalty <= MAX_PENALTY:
        raise ValueError(
            f"`l2` = {net.l2:g} makes the penalty (lam/2) sum_L ||W^L||^2 = {penalty:.3g} at "
            f"these weights (sum of squares {squares:.3g}), beyond {MAX_PENALTY:g}: the cost, "
            "its gradient and their bounds would overflow float64; use a smaller `l2`"
        )


def check_finite_cost(net: Network, X: np.ndarray, Y: np.ndarray) -> None:
    """Refuse a batch at which the cost `J` overflows: finite differences cannot check it there.

    `X` and `Y` are already checked (finite, float64, shapes matching `net`).
    """
    check_penalty(net)
    with np.errstate(all="ignore"):
        J = net.cost(X, Y)
    if not np.isfinite(J):
        raise ValueError(
            f"the cost J is {J} at this network and batch (float64 overflow), so finite "
            f"differences cannot check a gradient there: max |`X`| = {np.abs(X).max():.3g} "
            f"(shape {X.shape}), max |`Y`| = {np.abs(Y).max():.3g} (shape {Y.shape}); "
            "scale the data down"
        )


def printable(text: str) -> str:
    r"""`text` with every control character escaped (``\\x1b``): words of user code shown in a
    report cannot move the terminal's cursor, clear lines or paint a verdict over the report's.

    Examples
    --------
    >>> printable("ok\x1b[2K PASSED")
    'ok\\x1b[2K PASSED'
    """
    return "".join(ch if ch.isprintable() or ch == "\t" else repr(ch)[1:-1] for ch in text)
