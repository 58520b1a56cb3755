"""The text of docs/PROTOCOL.md: requests written, answers read, every double exact.

`format_request` writes one case for a program's stdin, `parse_answer`
reads the gradient back from its stdout (with a message that says what is
wrong: words, NaN, too few or too many numbers), `format_answer` is what a
right program prints. `gradcheck.adapters.protocol.program` runs the programs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference import ParameterLayout

__all__ = ["MAGIC", "VERSION", "format_answer", "format_request", "parse_answer", "reported_error"]

MAGIC = "gradcheck"  # the first word of every request
VERSION = 1  # the second: programs refuse a version they do not know


def _row(values: np.ndarray) -> str:
    # repr is the shortest text that reads back to the same double (as in vectors.json)
    return " ".join(map(repr, values.tolist()))


def format_request(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    activations: Sequence[str],
    cost: str,
    l2: float = 0.0,
) -> str:
    """The request text of one case (docs/PROTOCOL.md).

    Parameters
    ----------
    weights : list of ndarray, ``weights[L]`` of shape (M, N)
    biases : list of ndarray, ``biases[L]`` of shape (N,)
    X : ndarray, shape (d, n_in)
    Y : ndarray, shape (d, n_H)
    activations : list of str
        The activation of each layer ``L = 0 .. H`` (H + 1 names).
    cost : str
    l2 : float
        The penalty `lam` of `J + (lam/2) sum_L ||W^L||^2`: a line ``l2 LAM``
        after ``cost`` when it is not 0 (requests without it are unchanged).

    Returns
    -------
    str
        Lines of text ending with ``END``; floats as shortest round-trip
        decimals (C ``strtod``/``scanf("%lf")`` read them back exactly).

    Examples
    --------
    >>> import numpy as np
    >>> text = format_request([np.ones((2, 1))], [np.zeros(1)], np.ones((1, 2)), np.zeros((1, 1)),
    ...                       activations=["sigmoid"], cost="quadratic")
    >>> print(text, end="")
    gradcheck 1
    layers 1
    sizes 2 1
    d 1
    activations sigmoid
    cost quadratic
    W 0 2 1
    1.0
    1.0
    b 0 1
    0.0
    X 1 2
    1.0 1.0
    Y 1 1
    0.0
    END
    """
    sizes = [weights[0].shape[0]] + [W.shape[1] for W in weights]
    lines = [
        f"{MAGIC} {VERSION}",
        f"layers {len(weights)}",
        "sizes " + " ".join(map(str, sizes)),
        f"d {X.shape[0]}",
        "activations " + " ".join(activations),
        f"cost {cost}",
    ]
    if l2:
        lines.append(f"l2 {float(l2)!r}")
    for L, (W, b) in enumerate(zip(weights, biases)):
        lines.append(f"W {L} {W.shape[0]} {W.shape[1]}")
        lines.extend(_row(row) for row in W)
        lines.append(f"b {L} {b.shape[0]}")
        lines.append(_row(b))
    for name, data in (("X", X), ("Y", Y)):
        lines.append(f"{name} {data.shape[0]} {data.shape[1]}")
        lines.extend(_row(row) for row in data)
    lines.append("END")
    return "\n".join(lines) + "\n"


def format_answer(dJ_dW: Sequence[np.ndarray], dJ_db: Sequence[np.ndarray]) -> str:
    """The answer text a right program prints for a gradient: one row per line, then END.

    Parameters
    ----------
    dJ_dW : list of ndarray, ``dJ_dW[L]`` of shape (M, N)
    dJ_db : list of ndarray, ``dJ_db[L]`` of shape (N,)

    Examples
    --------
    >>> import numpy as np
    >>> print(format_answer([np.array([[0.5], [-1.0]])], [np.array([0.25])]), end="")
    0.5
    -1.0
    0.25
    END
    """
    lines: list[str] = []
    for dW, db in zip(dJ_dW, dJ_db):
        lines.extend(_row(np.asarray(row, dtype=np.float64)) for row in dW)
        lines.append(_row(np.asarray(db, dtype=np.float64)))
    return "\n".join(lines + ["END"]) + "\n"


def reported_error(text: str) -> str | None:
    """The message of the first ``ERROR ...`` line of an answer, or None."""
    for line in text.splitlines():
        if line.strip().startswith("ERROR"):
            return line.strip()[len("ERROR") :].strip() or "(no message)"
    return None


def parse_answer(text: str, sizes: Sequence[int]) -> np.ndarray:
    """The flat gradient in an answer, or a ValueError saying what is wrong with it.

    Parameters
    ----------
    text : str
        What the program printed: numbers separated by any whitespace, in the
        flat order (``W^0`` row-major, ``b^0``, ``W^1``, ...), then an ``END``
        line (optional when the output ends there).
    sizes : sequence of int
        ``[n_in, n_0, ..., n_H]``.

    Returns
    -------
    ndarray, shape (P,)
        float64, P the number of parameters; every entry finite.

    Examples
    --------
    >>> parse_answer("0.5 -1\\n0.25\\nEND\\n", [2, 1])
    array([ 0.5 , -1.  ,  0.25])
    """
    layout = ParameterLayout(tuple(int(s) for s in sizes))
    message = reported_error(text)
    if message is not None:
        raise ValueError(f"the program reported an error: {message}")
    lines = text.splitlines()
    end = next((k for k, line in enumerate(lines) if line.strip() == "END"), len(lines))
    after = " ".join(" ".join(lines[end + 1 :]).split())
    if after:
        raise ValueError(f"the program wrote more after its END line: {after!r:.60}")
    tokens = " ".join(lines[:end]).split()
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        raise ValueError(_not_numbers(lines[:end])) from None
    if not tokens:
        raise ValueError(
            f"the answer has no numbers; expected {layout.size} for sizes {list(layout.sizes)}"
        )
    if values.size != layout.size:
        raise ValueError(_count_message(values.size, layout))
    nonfinite = np.flatnonzero(~np.isfinite(values))
    if nonfinite.size:
        shown = ", ".join(f"{layout.name(int(j))} ({tokens[j]!r})" for j in nonfinite[:5])
        more = f" and {nonfinite.size - 5} more" if nonfinite.size > 5 else ""
        entries = "entry" if nonfinite.size == 1 else "entries"
        raise ValueError(f"the answer has NaN or Inf in {nonfinite.size} {entries}: {shown}{more}")
    return values


def _not_numbers(lines: list[str]) -> str:
    """Where the first word that is not a number sits, for the message."""
    count = 0
    for number, line in enumerate(lines, start=1):
        for word in line.split():
            count += 1
            if not _is_number(word):
                return (
                    f"the answer is not all numbers: {word!r:.40} (word {count}, on line "
                    f"{number}: {line.strip()!r:.80})"
                )
    raise AssertionError("unreachable: numpy refused a word that float() reads")


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _count_message(count: int, layout: ParameterLayout) -> str:
    blocks = ", ".join(
        f"{name} {'x'.join(map(str, shape))}={block.stop - block.start}"
        for name, block, shape in layout.blocks
    )
    where = (
        f"{layout.size - count} short: it stops before {layout.name(count)}"
        if count < layout.size
        else f"{count - layout.size} too many"
    )
    return (
        f"the answer has {count} numbers, expected {layout.size} for sizes "
        f"{list(layout.sizes)} ({blocks}, in this order); {where}"
    )
