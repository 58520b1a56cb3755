"""Input validation for `gradcheck`: clear errors naming the argument, layer and shapes.

Plumbing only; the math lives elsewhere.  Every public function here is used
by more than one module of the package; each returns a fresh array (or a plain
Python value), so nothing downstream can mutate what the caller handed in.
Messages name the parameter in backticks, as scipy's do, and the tests pin them.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
from typing import Any

import numpy as np

__all__ = [
    "as_grad",
    "as_step",
    "as_theta",
    "as_vector",
    "check_callable",
    "check_command",
    "check_flag",
    "check_int",
    "check_network",
    "is_real_number",
    "check_timeout",
]


def as_vector(value: Any, name: str) -> np.ndarray:
    """`value` as a fresh 1-D array of real numbers (a floating dtype is kept), or a clear error."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be a 1-D array of real numbers, got a string")
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


def as_step(step: Any, n: int) -> np.ndarray | None:
    if step is None:
        return None
    expected = f"`step` must be a positive number or an array of them, got {step!r}"
    try:
        array = np.array(step)  # a copy; cast to float64 once known to be real
    except (TypeError, ValueError):
        raise TypeError(expected) from None
    if array.dtype.kind == "c":  # casting would drop the imaginary part (ComplexWarning)
        raise TypeError(f"`step` must be real, got complex dtype {array.dtype}")
    try:
        array = array.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(expected) from None
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


def check_timeout(value: Any, name: str = "timeout") -> float:
    """A wall-clock limit in seconds: a positive finite number, as a float, or a clear error."""
    if not is_real_number(value):
        raise TypeError(f"`{name}` must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a positive, finite number of seconds, got {value!r}")
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
