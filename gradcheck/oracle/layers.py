"""Checking a hand-written backward of any numpy function: `check_vjp` and `check_layer`.

The truth never comes from the candidate's backward.  For each of a few seeded
random cotangents `c` (standard normal), the scalar ``g(x) = sum(c * f(x))`` has
the gradient ``vjp(c)``; `check_gradient` compares it, entry by entry, with
finite differences of `g`, each entry held to the differences' own error
estimate (times the safety) plus the candidate dtype's rounding.  Several
random cotangents, not an all-ones one: an error that sums to zero over the
output (a backward reading `dout` with two entries swapped) hides under ones.

From `GROUPED_FROM` entries on, the differences are grouped (`gradcheck.fd.grouped`): entries
whose footprints (the outputs they reach, measured from `f`) do not overlap are moved together
and read apart, every group verified from `f`, and one difference of the vector `f` serves every
cotangent; entries whose grouped estimate is not finite or loosely bounded are differenced again
entry by entry as above.  The report says so (`groups`) and how many evaluations of `f` it
took: the 9,360 entries of a convolution, ~1,000 instead of ~100,000.

An entry beyond its bound is first tested for a kink (ReLU at 0, a max-pool
tie): when the jump of its one-sided differences does not shrink as the step
halves, `f` is not smooth there, no difference can verify the entry, and it is
counted as a kink, never failed.  Entries whose differences are not finite
(`check_gradient`'s unverifiable ones) are counted the same way.

`f` and the vjp get copies of the inputs on every call; an input they change in
place is reported by name.

Random state: numpy's global RNG (`np.random.random_sample`, `np.random.rand`...)
is set to the state it had when the check began before every call of `f` and of
the vjp, so a dropout mask drawn from it repeats, and it is left in that state
afterwards (the check consumes none of the caller's random numbers).  A
generator made inside `f` with a fixed seed repeats by itself; one made
without a seed cannot be replayed: `f` is evaluated twice at the inputs and
the vjp called twice with the first cotangent, and a difference is reported as
nondeterminism, with its size.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from gradcheck.diagnosis.patterns import pattern_causes
from gradcheck.fd.check import GradientCheck, check_gradient
from gradcheck.fd.grouped import GroupedDifferences, grouped_check, grouped_differences
from gradcheck.fd.scatter import Scatter
from gradcheck.fd.steps import RICHARDSON_STEP, power_of_two
from gradcheck.oracle.screening import screen_vjp, screens
from gradcheck.results.vjp_report import VJP_ROWS, EntryRow, InputMap, InputSummary, VJPReport
from gradcheck.results.vjp_report import Unsteady as _Unsteady
from gradcheck.tolerance.policy import KINK_JUMP_RATIO, KINK_NOISE_ULPS
from gradcheck.validate import check_callable, check_executor, check_int

#: floats of f's values kept for the cotangents that follow (32 MB): memory, not a verdict
CACHED_VALUES = 2**22

#: entries from which the differences are grouped (`gradcheck.fd.grouped`): below, the footprint
#: probes cost about what checking entry by entry does; speed, not a verdict
GROUPED_FROM = 64

__all__ = ["check_layer", "check_vjp"]


class _Inputs:
    """The caller's inputs (float64 copies), their names, and the flat vector of the differentiated."""

    def __init__(self, names: list[str], arrays: list[np.ndarray]) -> None:
        self.names, self.arrays = names, arrays
        self.mutated: set[str] = set()
        self.rng_state = np.random.get_state()  # noqa: NPY002 (the global RNG user code draws from)
        self.differentiated: list[int] = []
        self.offsets = np.zeros(1, dtype=int)

    def select(self, differentiated: list[int]) -> np.ndarray:
        self.differentiated = differentiated
        sizes = [self.arrays[i].size for i in differentiated]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        return np.concatenate([self.arrays[i].ravel() for i in differentiated])

    def unpacked(self, theta: np.ndarray) -> list[np.ndarray]:
        """Fresh arrays: the differentiated inputs taken from `theta`, the others copied."""
        arrays = [a.copy() for a in self.arrays]
        for k, i in enumerate(self.differentiated):
            part = theta[self.offsets[k] : self.offsets[k + 1]]
            arrays[i] = part.reshape(self.arrays[i].shape).copy()
        return arrays

    def entry(self, j: int) -> str:
        k = int(np.searchsorted(self.offsets, j, side="right")) - 1
        i = self.differentiated[k]
        index = np.unravel_index(j - self.offsets[k], self.arrays[i].shape)
        return (
            f"{self.names[i]}[{','.join(str(int(n)) for n in index)}]" if index else self.names[i]
        )

    def call(self, fn: Callable[..., Any], leading: tuple, arrays: list[np.ndarray]) -> Any:
        """`fn(*leading, *copies)`, noting any input it changes in place."""
        copies = [a.copy() for a in arrays]
        np.random.set_state(self.rng_state)  # noqa: NPY002
        try:
            result = fn(*leading, *copies)
        finally:
            np.random.set_state(self.rng_state)  # noqa: NPY002
        for name, before, after in zip(self.names, arrays, copies, strict=True):
            if not np.array_equal(before, after, equal_nan=True):
                self.mutated.add(name)
        return result


def check_vjp(
    f: Callable[..., Any],
    vjp: Callable[..., Any],
    inputs: Sequence[Any] | Mapping[str, Any],
    *,
    names: Sequence[str] | None = None,
    seed: int = 0,
    cotangents: int = 3,
    mode: str = "auto",
    executor: Executor | None = None,
) -> VJPReport:
    """Check a hand-written vector-Jacobian product of `f` entry by entry, by finite differences.

    Parameters
    ----------
    f : callable
        ``f(*inputs) -> array`` of any shape.
    vjp : callable
        ``vjp(cotangent, *inputs) -> grads``: one gradient per input, of its
        shape, or None for an input that is not differentiated.
    inputs : sequence of arrays, or dict name -> array
        The point.  Never modified: `f` and `vjp` get copies.
    names : sequence of str, optional
        The inputs' names in the report (default: the dict's keys, or
        ``x0, x1, ...``).
    seed : int
        Seeds the random cotangents (standard normal); the report prints it.
    cotangents : int
        How many random cotangents.  Default 3.
    mode : {"auto", "entries", "screen"}
        ``"entries"``: every entry by its own differences; ``"screen"``: differences along
        seeded random directions, then bisection down to the wrong entries, each judged by
        its own differences (`gradcheck.oracle.screening`: a million inputs in a few hundred
        evaluations of `f`); ``"auto"`` (default): entries up to `policy.SCREEN_ABOVE`
        differentiated entries, screened above.  The report says which (``.method``) and, when
        screened, what the screen could not have missed.
    executor : concurrent.futures.Executor, optional
        Evaluate `f` at the grouped differences' points on this executor's
        workers (a thread pool, a process pool, or a Dask cluster's
        ``distributed.Client.get_executor()``; `gradcheck.fd.scatter`): the
        report is the serial one, bit for bit.  For a process pool `f` must
        be picklable (a module-level function, not a lambda or a closure;
        the vjp stays here).  A thread pool shares numpy's global RNG among
        the calls of `f`: an `f` drawing from it needs a process pool.  The
        entry-by-entry differences of a small input go there too (all the
        points of a cotangent's differences at once).  The footprint probes
        and the noise (a few dozen points, each chosen after the last), the
        second look at entries the grouped estimates leave doubtful, the
        kink tests and the screen (``mode="screen"``: each bisection level
        depends on the last) run here, one point after another.

    Returns
    -------
    VJPReport
        ``.passed``; per input the entries checked, failing and on a kink, the
        worst entries named as ``W[3,1]``; ``.n_evaluations`` of `f`, and
        ``.groups`` when the differences were grouped; ``str()`` is a
        screenful.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.arange(6.0).reshape(2, 3)
    >>> f = lambda x, W: x @ W
    >>> vjp = lambda c, x, W: (c @ W.T, np.outer(x, c))
    >>> check_vjp(f, vjp, {"x": np.ones(2), "W": W}).passed
    True
    """
    check_callable(f, "f")
    check_callable(vjp, "vjp")
    _check_pool(executor, f, "f")
    seed, count = check_int(seed, "seed", low=0), check_int(cotangents, "cotangents", low=1)
    screens(mode, 0)  # validates `mode` before any work
    given = _as_inputs(inputs, names)
    out = _output(given.call(f, (), given.arrays))
    rng = np.random.default_rng(seed)
    cs = [rng.standard_normal(out.shape) for _ in range(count)]
    grads = [_gradients(given.call(vjp, (c,), given.arrays), given) for c in cs]
    unsteady = _Unsteady(  # f and the vjp once more, at the same point and cotangent
        f=_largest_change([out], [_output(given.call(f, (), given.arrays))]),
        vjp=_largest_change(grads[0], _gradients(given.call(vjp, (cs[0],), given.arrays), given)),
    )
    differentiated = [i for i, g in enumerate(grads[0]) if g is not None]
    _check_same_inputs(grads, given)
    if not differentiated:
        raise ValueError("`vjp` returned None for every input: there is nothing to check")
    theta = given.select(differentiated)
    f_at = _FAt(f, given, executor)  # one evaluation of f per point, shared by every cotangent
    f_at.keep(theta, out)  # f at the inputs is known: the differences' centre is no new call
    if screens(mode, theta.size):  # a million inputs: gradcheck.oracle.screening
        shape, kink = out.shape, _on_kink
        report = screen_vjp(f_at, cs, grads, theta, given, seed=seed, shape=shape, on_kink=kink)
        return replace(report, n_evaluations=f_at.calls + 2, unsteady=unsteady)
    try:
        grouped = _grouped(f_at, theta, cs, given, seed) if theta.size >= GROUPED_FROM else None
    finally:
        f_at.close()
    verdicts = []
    for index, (c, grad) in enumerate(zip(cs, grads, strict=True)):
        candidate = np.concatenate([np.ravel(g) for g in grad if g is not None])
        verdicts.append(_verdict(f_at, c, candidate, theta, given, grouped and (grouped, index)))
    report = _report(verdicts, given, seed, out.shape, f_at.calls + 2)
    return replace(report, unsteady=unsteady, groups=grouped.groups if grouped else 0)


def check_layer(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    inputs: Sequence[Any] | Mapping[str, Any],
    *,
    names: Sequence[str] | None = None,
    seed: int = 0,
    cotangents: int = 3,
    mode: str = "auto",
    executor: Executor | None = None,
) -> VJPReport:
    """`check_vjp` for a course-style layer: ``forward(*inputs) -> (out, cache)``,
    ``backward(dout, cache) -> grads`` (one per input; a bare array for one input).
    With a process pool as `executor`, `forward` must be picklable (`check_vjp`).

    Examples
    --------
    >>> import numpy as np
    >>> forward = lambda x: (np.tanh(x), x)
    >>> backward = lambda dout, x: dout * (1 - np.tanh(x) ** 2)
    >>> check_layer(forward, backward, [np.linspace(-1, 1, 5)]).passed
    True
    """
    check_callable(forward, "forward")
    check_callable(backward, "backward")
    _check_pool(executor, forward, "forward")
    f, vjp = _LayerF(forward), _LayerVJP(forward, backward)
    return check_vjp(
        f, vjp, inputs, names=names, seed=seed, cotangents=cotangents, mode=mode, executor=executor
    )


class _LayerF:
    """A layer's `f`: the output of ``forward(*xs)`` (a class: picklable for a process pool)."""

    def __init__(self, forward: Callable[..., Any]) -> None:
        self.forward = forward

    def __call__(self, *xs: np.ndarray) -> Any:
        return _forward_pair(self.forward(*xs))[0]


class _LayerVJP:
    """A layer's vjp: ``backward(dout, cache)`` with the cache of ``forward(*xs)``."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any]) -> None:
        self.forward, self.backward = forward, backward

    def __call__(self, dout: np.ndarray, *xs: np.ndarray) -> Any:
        return self.backward(dout, _forward_pair(self.forward(*xs))[1])


def _check_pool(executor: Any, fn: Callable[..., Any], name: str) -> None:
    """Validate `executor`; on a process pool, `fn` must pickle (a clear error, not a traceback
    from a worker). Other executors pickle their own way (Dask's cloudpickle takes a lambda)."""
    check_executor(executor)
    if isinstance(executor, ProcessPoolExecutor):
        try:
            pickle.dumps(fn)
        except Exception as exc:
            raise TypeError(
                f"`{name}` must be picklable to run on a process pool (`executor`): a "
                f"module-level function, not a lambda or a closure ({type(exc).__name__}: {exc})"
            ) from None


def _forward_pair(result: Any) -> tuple[Any, Any]:
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(
            f"`forward` must return a pair (out, cache), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    return result


class _FAt:
    """`f` at a point `theta` of the differentiated entries, as float64, evaluated once however
    many cotangents ask: the differences visit the same points under each cotangent.

    Values are kept up to `CACHED_VALUES` floats in all (then evaluated afresh); `calls` counts
    the evaluations of `f`, here or on `executor`'s workers (`many`).
    """

    def __init__(self, f: Callable[..., Any], given: _Inputs, executor: Executor | None) -> None:
        self.f, self.given, self.executor = f, given, executor
        self.scatter: Scatter | None = None  # made at the first batch, closed by `close`
        self.values: dict[bytes, np.ndarray] = {}
        self.kept = 0
        self.calls = 0

    def __call__(self, theta: np.ndarray, *, keep: bool = True) -> np.ndarray:
        """f at `theta`; `keep=False`: a point no other cotangent visits (grouped differences
        serve them all at once), not kept."""
        key = theta.tobytes()
        value = self.values.get(key)
        if value is None:
            value = np.asarray(self.given.call(self.f, (), self.given.unpacked(theta)), dtype=float)
            self.calls += 1
            if keep:
                self.keep(theta, value)
        return value

    def keep(self, theta: np.ndarray, value: np.ndarray) -> None:
        """Keep f's `value` at `theta`, evaluated elsewhere (within `CACHED_VALUES`)."""
        value = np.asarray(value, dtype=float)
        if self.kept + value.size <= CACHED_VALUES:
            self.values[theta.tobytes()] = value
            self.kept += value.size

    def many(self, points: Sequence[np.ndarray], *, keep: bool = False) -> list:
        """f at every point, those not kept evaluated on the executor's workers (each distinct
        point once); an exception in place of a value where f raised.  `keep` as for a call."""
        if self.scatter is None:
            self.scatter = Scatter(self.executor, (self.f, self.given))
        keys = [p.tobytes() for p in points]
        found: dict[bytes, Any] = {k: self.values[k] for k in keys if k in self.values}
        first: dict[bytes, np.ndarray] = {}  # each missing point once, in order of first ask
        for key, point in zip(keys, points, strict=True):
            if key not in found:
                first.setdefault(key, point)
        missing = list(first)
        results = self.scatter.map(_f_there, list(first.values()))
        for key, (value, mutated) in zip(missing, results, strict=True):
            found[key] = value
            self.given.mutated.update(mutated)
            self.calls += 1
            if keep and not isinstance(value, BaseException):
                self.keep(first[key], value)
        return [found[k] for k in keys]

    def close(self) -> None:
        if self.scatter is not None:
            self.scatter.close()


def _f_there(shared: tuple[Callable[..., Any], _Inputs], theta: np.ndarray) -> tuple[Any, tuple]:
    """On a worker: f at `theta` as float64 and the inputs it changed, or the exception it raised
    (the NaN probe's to judge)."""
    f, given = shared
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = np.asarray(given.call(f, (), given.unpacked(theta)), dtype=float)
    except Exception as exc:
        return exc, tuple(given.mutated)
    return value, tuple(given.mutated)


def _grouped(f_at: _FAt, theta: np.ndarray, cs: list, given: _Inputs, seed: int):
    """`gradcheck.fd.grouped`'s differences of f under every cotangent, or None (per entry)."""
    shapes = [given.arrays[i].shape for i in given.differentiated]
    cotangents = np.array([c.ravel() for c in cs])

    def many(points: list[np.ndarray]) -> list:
        return [v if isinstance(v, BaseException) else v.ravel() for v in f_at.many(points)]

    return grouped_differences(
        lambda x: f_at(x, keep=False).ravel(),
        theta,
        cotangents,
        shapes,
        cs[0].shape,
        seed=seed,
        f_many=many if f_at.executor is not None else None,
    )


def _verdict(
    f_at: _FAt,
    c: np.ndarray,
    candidate: np.ndarray,
    theta: np.ndarray,
    given: _Inputs,
    grouped: tuple[GroupedDifferences, int] | None,
) -> tuple[GradientCheck, np.ndarray]:
    """The comparison under one cotangent, and the kink entries among those beyond their bound."""

    def g(x: np.ndarray) -> float:
        return float(np.sum(c * f_at(x)))

    def g_rows(rows: np.ndarray) -> np.ndarray:  # g at each row, f on the executor's workers
        return np.array([float(np.sum(c * _value(v))) for v in f_at.many(list(rows), keep=True)])

    if grouped is None and f_at.executor is not None:  # the same points and values, scattered
        check = check_gradient(g_rows, candidate, theta, names=given.entry, vectorized=True)
    elif grouped is None:
        check = check_gradient(g, candidate, theta, names=given.entry)
    else:
        check = grouped_check(*grouped, g, candidate, theta, given.entry)
    suspects = check.failures
    g0 = g(theta) if suspects.size else 0.0
    kinks = [int(j) for j in suspects if _on_kink(g, theta, int(j), g0)]
    return check, np.union1d(check.unverifiable, kinks).astype(int)


def _value(value: Any) -> np.ndarray:
    """A value from `_FAt.many`: f's raised exception raised here, as in a serial call."""
    if isinstance(value, BaseException):
        raise value
    return value


def _on_kink(g: Callable[[np.ndarray], float], theta: np.ndarray, j: int, g0: float) -> bool:
    """Whether `g` has a kink along entry `j` near `theta`: the jump of the one-sided differences,
    |g(x+s) + g(x-s) - 2 g(x)| / s, keeps its size when `s` halves (smooth: it shrinks)."""
    step = float(power_of_two(np.array(RICHARDSON_STEP * max(abs(theta[j]), 1.0))))
    jumps, scale = [], abs(g0)
    for s in (step, step / 2):
        plus, minus = theta.copy(), theta.copy()
        plus[j] += s
        minus[j] -= s
        up, down = g(plus), g(minus)
        scale = max(scale, abs(up), abs(down))
        jumps.append(abs(up + down - 2 * g0) / s)
    floor = KINK_NOISE_ULPS * np.finfo(np.float64).eps * scale / (step / 2)
    return bool(jumps[1] > floor and jumps[1] >= KINK_JUMP_RATIO * jumps[0])


def _report(verdicts, given: _Inputs, seed: int, shape: tuple[int, ...], calls: int) -> VJPReport:
    kinks = np.unique(np.concatenate([k for _, k in verdicts])).astype(int)
    rows: dict[int, EntryRow] = {}
    for index, (check, _) in enumerate(verdicts):
        for j in np.setdiff1d(check.failures, kinks):
            row = _row(check, int(j), index, given)
            old = rows.get(int(j))
            if old is None or _excess(row) > _excess(old):
                rows[int(j)] = row
    summaries = []
    for i, name in enumerate(given.names):
        if i not in given.differentiated:
            summaries.append(InputSummary(name, given.arrays[i].shape, False, 0, 0, 0))
            continue
        k = given.differentiated.index(i)
        low, high = given.offsets[k], given.offsets[k + 1]
        mine = sorted((r for j, r in rows.items() if low <= j < high), key=_excess, reverse=True)
        kink_here = kinks[(kinks >= low) & (kinks < high)]
        summaries.append(
            InputSummary(
                name=name,
                shape=given.arrays[i].shape,
                differentiated=True,
                entries=int(high - low),
                failing=len(mine),
                kinks=int(kink_here.size),
                worst=tuple(mine[:VJP_ROWS]),
                kink_entries=tuple(given.entry(int(j)) for j in kink_here[:VJP_ROWS]),
            )
        )
    inconclusive = not rows and any(check.inconclusive for check, _ in verdicts)
    under = [_input_maps(check, kinks, given, index) for index, (check, _) in enumerate(verdicts)]
    maps = _worst_maps(under)
    return VJPReport(
        passed=not rows and not inconclusive,
        seed=seed,
        cotangents=len(verdicts),
        output_shape=tuple(shape),
        inputs=tuple(summaries),
        n_evaluations=calls,
        mutated=tuple(n for n in given.names if n in given.mutated),
        inconclusive=inconclusive,
        resolution=max(_differences_resolution(check) for check, _ in verdicts),
        causes=pattern_causes(maps, under),
        maps=maps,
    )


def _input_maps(
    check: GradientCheck, kinks: np.ndarray, given: _Inputs, cotangent: int
) -> list[InputMap]:
    """Every differentiated input's entries under one cotangent (views of `check`'s arrays)."""
    kink = np.zeros(check.gradient.size, dtype=bool)
    kink[kinks] = True
    failing = np.zeros(check.gradient.size, dtype=bool)
    failing[check.failures] = True
    failing &= ~kink
    maps = []
    for k, i in enumerate(given.differentiated):
        part, shape = slice(given.offsets[k], given.offsets[k + 1]), given.arrays[i].shape
        maps.append(
            InputMap(
                name=given.names[i],
                shape=shape,
                cotangent=cotangent,
                **{
                    key: np.reshape(values[part], shape)
                    for key, values in (
                        ("candidate", check.gradient),
                        ("numerical", check.numerical.gradient),
                        ("difference", check.error),
                        ("bound", check.tolerance),
                        ("failing", failing),
                        ("kinks", kink),
                    )
                },
            )
        )
    return maps


def _worst_maps(under: list[list[InputMap]]) -> tuple[InputMap, ...]:
    """Each input's map under the cotangent of its largest |diff| / bound (kinks aside), copied."""
    worst = []
    for k in range(len(under[0])):
        excess = [m[k].worst_excess for m in under]
        chosen = under[int(np.argmax(excess))][k]
        worst.append(
            InputMap(
                chosen.name,
                chosen.shape,
                chosen.cotangent,
                *(
                    np.array(getattr(chosen, key))
                    for key in ("candidate", "numerical", "difference", "bound", "failing", "kinks")
                ),
            )
        )
    return tuple(worst)


def _differences_resolution(check: GradientCheck) -> float:
    """The median over nonzero entries of safety x the differences' error / |difference|: how
    wrong an entry may be and still pass for the differences' sake alone (the candidate
    dtype's rounding aside: a float32 backward's own bound is no fault of f's)."""
    size, error = np.abs(check.numerical.gradient), check.safety * check.numerical.error
    seen = (size > 0) & np.isfinite(error) & np.isfinite(size)
    return float(np.median(error[seen] / size[seen])) if seen.any() else 0.0


def _row(check: GradientCheck, j: int, cotangent: int, given: _Inputs) -> EntryRow:
    return EntryRow(
        entry=given.entry(j),
        cotangent=cotangent,
        candidate=float(check.gradient[j]),
        numerical=float(check.numerical.gradient[j]),
        difference=float(check.error[j]),
        bound=float(check.tolerance[j]),
    )


def _excess(row: EntryRow) -> float:
    ratio = row.difference / row.bound if row.bound > 0 else np.inf
    return np.inf if np.isnan(ratio) else float(ratio)


def _largest_change(first: Sequence[Any], second: Sequence[Any]) -> float:
    """The largest |first - second| over matching arrays (None pairs skipped; NaN counts as inf)."""
    largest = 0.0
    for a, b in zip(first, second, strict=True):
        if a is None or b is None:
            continue
        change = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
        largest = max(largest, float(np.nanmax(np.where(np.isnan(change), np.inf, change))))
    return largest


def _as_inputs(inputs: Any, names: Sequence[str] | None) -> _Inputs:
    if isinstance(inputs, Mapping):
        if names is not None:
            raise ValueError("`names` must be None when `inputs` is a dict: the keys name them")
        names, values = [str(k) for k in inputs], list(inputs.values())
    elif isinstance(inputs, (list, tuple)):
        values = list(inputs)
        names = [f"x{i}" for i in range(len(values))] if names is None else list(names)
    else:
        raise TypeError(
            f"`inputs` must be a list or tuple of arrays or a dict name -> array, "
            f"got {type(inputs).__name__}"
        )
    if not values:
        raise ValueError("`inputs` is empty: give at least one array")
    if len(names) != len(values) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"`names` must be {len(values)} strings, one per input, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"`names` must be distinct, got {names!r}")
    return _Inputs(list(names), [_input_array(v, n) for v, n in zip(values, names, strict=True)])


def _input_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"input `{name}` must be real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"input `{name}` is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"input `{name}` has NaN or Inf entries")
    return array.astype(np.float64)  # a copy: the caller's array is never touched


def _output(value: Any) -> np.ndarray:
    out = np.asarray(value)
    if out.dtype.kind not in "iuf":
        raise TypeError(f"`f` must return real numbers, got dtype {out.dtype}")
    if out.size == 0:
        raise ValueError(f"`f` returned an empty array (shape {out.shape})")
    if not np.all(np.isfinite(out)):
        bad = int(np.sum(~np.isfinite(out)))
        raise ValueError(f"`f` returned {bad} NaN or Inf entries of {out.size} at the inputs")
    return out


def _gradients(value: Any, given: _Inputs) -> list[np.ndarray | None]:
    n = len(given.names)
    if n == 1 and isinstance(value, np.ndarray):
        value = (value,)
    if not isinstance(value, (list, tuple)) or len(value) != n:
        got = f"{len(value)} values" if isinstance(value, (list, tuple)) else type(value).__name__
        raise ValueError(f"`vjp` must return {n} gradients, one per input, got {got}")
    grads: list[np.ndarray | None] = []
    for g, name, x in zip(value, given.names, given.arrays, strict=True):
        if g is None:
            grads.append(None)
            continue
        g = np.asarray(g)
        if g.dtype.kind not in "iuf":
            raise TypeError(f"the gradient of `{name}` must be real numbers, got dtype {g.dtype}")
        if g.shape != x.shape:
            raise ValueError(
                f"the gradient of `{name}` has shape {g.shape}, but `{name}` has shape {x.shape}"
            )
        grads.append(g)
    return grads


def _check_same_inputs(grads: list[list[np.ndarray | None]], given: _Inputs) -> None:
    first = [g is None for g in grads[0]]
    for later in grads[1:]:
        for name, was, now in zip(given.names, first, [g is None for g in later], strict=True):
            if was != now:
                raise ValueError(f"`vjp` returned None for `{name}` under one cotangent only")
