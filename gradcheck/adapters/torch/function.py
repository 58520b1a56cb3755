"""`check_function`: any callable on PyTorch tensors, autograd's backward checked entry by entry.

Built on `gradcheck.oracle.layers.check_vjp`: `fn` is handed to it as a numpy
``f`` and ``vjp`` pair, so every part of check_vjp's engine (seeded random
cotangents, per-entry bounds, kinks, in-place mutations) applies as it is.

- The candidate is autograd's backward at the tensors' own dtypes:
  ``torch.autograd.grad(out, inputs, grad_outputs=c, materialize_grads=True)``.
  A float32 kernel is judged at float32 rounding.  A differentiated input the
  backward leaves out (None) is checked as zeros: a hand-written backward that
  forgets an input is caught, and an input `fn` really does not use passes.
- The truth is finite differences of the forward in float64: the floating
  tensors are cast, and a module runs as a float64 deep copy of itself.
- Inputs are the floating tensors with ``requires_grad=True`` and, when `fn` is
  an ``nn.Module``, its parameters with ``requires_grad``, named by their
  `state_dict` names (``conv1.weight[3,1,0,2]``) and swapped in by
  ``torch.func.functional_call``.  Integer and bool tensors, and tensors
  without ``requires_grad``, are passed as they are and not differentiated.

State hygiene, for every evaluation of the forward and of the backward:

- random numbers are replayed: each starts with torch's generator seeded
  with `seed` (``torch.default_generator.manual_seed(seed)``, and
  ``torch.cuda.manual_seed_all(seed)`` inside ``torch.random.fork_rng`` for
  tensors on a GPU), so dropout draws the same mask every time, and ends with
  the caller's random state put back as it was;
- module buffers (BatchNorm's running statistics, ``num_batches_tracked``) are
  handed in as fresh copies of their values at the start: what one evaluation
  writes, the next never sees, and the caller's module never changes;
- torch runs on `THREADS` intra-op thread(s) during the check (restored after):
  the check is thousands of small evaluations in a row;
- the tensors are built from check_vjp's own copies, and whatever `fn` or its
  backward writes into them in place is written back to those copies, so the
  report names the input that was changed.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
    from torch.func import functional_call
except ImportError as exc:  # pragma: no cover - exercised only without PyTorch
    raise ImportError(
        "gradcheck.torch needs PyTorch: pip install 'backprop-gradcheck[torch]'"
    ) from exc

from gradcheck.oracle.layers import check_vjp
from gradcheck.results.vjp_report import VJPReport
from gradcheck.validate import check_callable, check_int

__all__ = ["check_call", "check_function"]

#: the floating dtypes numpy holds, whose rounding the bounds know
FLOATING = (torch.float16, torch.float32, torch.float64)
#: passed through, never differentiated
INTEGER = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)

#: torch's intra-op threads during a check: thousands of small evaluations in a row, where on a
#: busy 2-core machine a second thread only waits (measured: a conv net's check 158 s -> 8.6 s)
THREADS = 1

#: ``forward(call, *tensors)``: what is checked; ``call(*args)`` runs the module under check
Forward = Callable[..., Any]


def check_function(
    fn: Callable[..., Any],
    *tensors: Any,
    names: Sequence[str] | None = None,
    seed: int = 0,
    cotangents: int = 3,
    mode: str = "auto",
    executor: Executor | None = None,
) -> VJPReport:
    """Check autograd's backward of any callable on tensors, entry by entry, by finite differences.

    Parameters
    ----------
    fn : callable
        ``fn(*tensors)`` returning a tensor (or a tuple of tensors, whose
        floating ones are checked together): an ``autograd.Function.apply``, a
        functional, or an ``nn.Module`` (its parameters are checked too).
    *tensors : torch.Tensor
        The point.  Floating tensors with ``requires_grad=True`` are checked;
        the others are passed as they are.  Never modified.
    names : sequence of str, optional
        The tensors' names in the report (default ``x0, x1, ...``); a module's
        parameters are named by their `state_dict` names.
    seed : int
        Seeds the random cotangents, and torch's generator before every
        evaluation of `fn` and of its backward (the caller's random state is
        put back after each): dropout masks repeat.
    cotangents : int
        How many random cotangents.  Default 3.
    mode : {"auto", "entries", "screen"}
        As `gradcheck.check_vjp`: every entry by its own (or grouped)
        differences, or a screen along random directions; "auto" screens
        above `SCREEN_ABOVE` entries.
    executor : concurrent.futures.Executor, optional
        Where the differences evaluate the float64 forward (`gradcheck.check_vjp`):
        a thread pool here (a module does not pickle for a process pool).

    Returns
    -------
    VJPReport
        ``.passed``; per input the entries checked, failing and on a kink, the
        worst named as ``x0[2,0,1]`` or ``conv1.weight[3,1,0,2]``.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(2, 3).requires_grad_()
    >>> check_function(torch.tanh, x).passed
    True
    """
    check_callable(fn, "fn")
    module = fn if isinstance(fn, nn.Module) else None

    def forward(call: Callable[..., Any], *args: Any) -> Any:
        return call(*args) if module is not None else fn(*args)

    return check_call(
        forward,
        tensors,
        module=module,
        names=names,
        seed=seed,
        cotangents=cotangents,
        mode=mode,
        executor=executor,
    )


def check_call(
    forward: Forward,
    tensors: Sequence[Any],
    *,
    module: nn.Module | None = None,
    names: Sequence[str] | None = None,
    seed: int = 0,
    cotangents: int = 3,
    prefix: str = "",
    mode: str = "auto",
    executor: Executor | None = None,
) -> VJPReport:
    """`check_function`'s engine: ``forward(call, *tensors)``, where ``call(*args)`` runs `module`
    (None: no module) with its parameters swapped in; `check_module` checks a loss through it.
    Parameters are named by their `state_dict` names, less `prefix`."""
    seed, count = check_int(seed, "seed", low=0), check_int(cotangents, "cotangents", low=1)
    specs = _specs(tensors, names, module, prefix)
    if not any(spec.differentiated for spec in specs):
        raise ValueError(
            "nothing to check: no floating tensor of `tensors` has requires_grad=True"
            + ("" if module is None else ", and no parameter of the module requires grad")
            + "; set requires_grad=True on the tensors to check"
        )
    arrays = [_numpy(t) for t in [*tensors, *_parameters(module).values()]]
    truth = _Evaluation(forward, module, specs, len(tensors), seed, float64=True)
    candidate = _Evaluation(forward, module, specs, len(tensors), seed, float64=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        return check_vjp(
            truth.f,
            candidate.vjp,
            arrays,
            names=[spec.name for spec in specs],
            seed=seed,
            cotangents=count,
            mode=mode,
            executor=executor,
        )
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class _Spec:
    """One input of check_vjp: a tensor or a parameter, as the candidate gets it."""

    name: str  # in the report
    key: str  # the parameter's `state_dict` name, for functional_call ("" for a tensor)
    dtype: torch.dtype
    device: torch.device
    differentiated: bool


def _parameters(module: nn.Module | None) -> dict[str, torch.Tensor]:
    return {} if module is None else dict(module.named_parameters())


def _specs(
    tensors: Sequence[Any], names: Sequence[str] | None, module: nn.Module | None, prefix: str
) -> list[_Spec]:
    if names is None:
        names = [f"x{i}" for i in range(len(tensors))]
    elif isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"`names` must be a sequence of strings, got {type(names).__name__}")
    names = list(names)
    if len(names) != len(tensors) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"`names` must be {len(tensors)} strings, one per tensor, got {names!r}")
    parameters = _parameters(module)
    shown = {key: key.removeprefix(prefix) for key in parameters}
    taken = sorted(set(names) & set(shown.values()))
    if taken or len(set(names)) != len(names):
        clash = f": {', '.join(taken)} also name parameters of `fn`" if taken else ""
        raise ValueError(f"`names` must be distinct{clash}, got {names!r}")
    specs = [
        _spec(t, f"`tensors[{i}]` ({n})", n, "") for i, (t, n) in enumerate(zip(tensors, names))
    ]
    specs += [_spec(p, f"the parameter `{shown[k]}`", shown[k], k) for k, p in parameters.items()]
    if not specs:
        raise ValueError("`tensors` is empty: give the tensors to call `fn` with")
    return specs


def _spec(tensor: Any, where: str, name: str, key: str) -> _Spec:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{where} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in FLOATING + INTEGER:
        raise TypeError(
            f"{where} has dtype {tensor.dtype}; check_function takes "
            f"{', '.join(str(t) for t in FLOATING)} (checked), and integer or bool tensors "
            "(passed as they are): convert with .double()"
        )
    differentiated = tensor.dtype in FLOATING and tensor.requires_grad
    return _Spec(name, key, tensor.dtype, tensor.device, differentiated)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    """A numpy copy for check_vjp (bool as uint8: check_vjp takes real numbers)."""
    value = tensor.detach().cpu()
    return (value.to(torch.uint8) if value.dtype == torch.bool else value).numpy().copy()


class _Evaluation:
    """`forward` on tensors made from check_vjp's numpy arrays, at float64 (the truth, `f`) or at
    the tensors' own dtypes (the candidate, `vjp`), its random state and module buffers replayed."""

    def __init__(
        self,
        forward: Forward,
        module: nn.Module | None,
        specs: list[_Spec],
        n_args: int,
        seed: int,
        *,
        float64: bool,
    ) -> None:
        self.forward, self.specs, self.n_args, self.seed = forward, specs, n_args, seed
        self.float64 = float64
        self.module = None if module is None else _private_copy(module, float64)
        self.buffers: dict[str, torch.Tensor] = {}
        if self.module is not None:
            self.buffers = {n: b.detach().clone() for n, b in self.module.named_buffers()}
        cuda = {s.device.index or 0 for s in specs if s.device.type == "cuda"}
        self.devices = sorted(cuda)

    def f(self, *arrays: np.ndarray) -> np.ndarray:
        tensors = self._tensors(arrays)
        with torch.no_grad():
            out = _flat(self._run(tensors))
        _write_back(tensors, arrays)
        return out.detach().cpu().double().numpy()

    def vjp(self, c: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray | None]:
        tensors = self._tensors(arrays)
        wanted = [t for t, s in zip(tensors, self.specs) if s.differentiated]
        for t in wanted:
            t.requires_grad_(True)
        with torch.enable_grad():
            out = _flat(self._run(tensors))
            if out.requires_grad:
                cotangent = torch.as_tensor(c).to(dtype=out.dtype, device=out.device)
                grads = torch.autograd.grad(
                    out, wanted, grad_outputs=cotangent.reshape(out.shape), materialize_grads=True
                )
            else:  # nothing reaches the output: the backward says every gradient is zero
                grads = tuple(torch.zeros_like(t) for t in wanted)
        _write_back(tensors, arrays)
        found = iter(grads)
        return [
            next(found).detach().cpu().numpy() if s.differentiated else None for s in self.specs
        ]

    def _tensors(self, arrays: Sequence[np.ndarray]) -> list[torch.Tensor]:
        tensors = []
        for spec, array in zip(self.specs, arrays, strict=True):
            dtype = torch.float64 if self.float64 and spec.dtype in FLOATING else spec.dtype
            # Shares memory with check_vjp's copy where dtype and device agree, else converts.
            tensors.append(torch.from_numpy(array).to(dtype=dtype, device=spec.device))
        return tensors

    def _run(self, tensors: list[torch.Tensor]) -> Any:
        args, parameters = tensors[: self.n_args], tensors[self.n_args :]
        with _replayed(self.seed, self.devices):
            if self.module is None:
                return self.forward(None, *args)
            names = [s.key for s in self.specs[self.n_args :]]
            state = dict(zip(names, parameters, strict=True))
            state.update((n, b.clone()) for n, b in self.buffers.items())  # fresh every time
            module = self.module

            def call(*inputs: Any, **kwargs: Any) -> Any:
                return functional_call(module, state, inputs, kwargs)

            return self.forward(call, *args)


@contextlib.contextmanager
def _replayed(seed: int, devices: list[int]) -> Iterator[None]:
    """The random state seeded with `seed` inside, the caller's restored after.

    The CPU generator is seeded directly: ``torch.manual_seed`` also queues the
    seeding of every accelerator backend, which costs milliseconds a call.
    """
    cpu = torch.default_generator
    saved = cpu.get_state()
    try:
        with torch.random.fork_rng(devices=devices) if devices else contextlib.nullcontext():
            cpu.manual_seed(seed)
            if devices:
                torch.cuda.manual_seed_all(seed)
            yield
    finally:
        cpu.set_state(saved)


def _private_copy(module: nn.Module, float64: bool) -> nn.Module:
    """A deep copy of `module` (in float64 for the truth): the caller's module is never run."""
    try:
        mine = copy.deepcopy(module)
    except Exception as exc:
        raise TypeError(
            f"`fn` is an nn.Module that cannot be deep-copied ({type(exc).__name__}: {exc}); "
            "check_function runs copies so as never to change it"
        ) from None
    return mine.double() if float64 else mine


def _flat(out: Any) -> torch.Tensor:
    """`fn`'s output as one floating tensor: a tuple's floating tensors raveled and joined."""
    if isinstance(out, torch.Tensor):
        parts = [out]
    elif isinstance(out, (tuple, list)):
        parts = [
            t.reshape(-1) for t in out if isinstance(t, torch.Tensor) and t.is_floating_point()
        ]
        if not parts:
            raise TypeError("`fn` returned a tuple without floating tensors: nothing to check")
    else:
        raise TypeError(
            f"`fn` must return a tensor or a tuple of tensors, got {type(out).__name__}"
        )
    if not all(t.is_floating_point() for t in parts):
        raise TypeError(f"`fn` must return floating tensors, got dtype {parts[0].dtype}")
    return parts[0] if len(parts) == 1 else torch.cat([t.to(parts[0].dtype) for t in parts])


def _write_back(tensors: list[torch.Tensor], arrays: Sequence[np.ndarray]) -> None:
    """Copy into check_vjp's arrays what `fn` changed in place in tensors that are not views of
    them, so that check_vjp sees, and reports, the change."""
    for tensor, array in zip(tensors, arrays, strict=True):
        value = tensor.detach().cpu()
        if value.dtype == torch.bool:
            value = value.to(torch.uint8)
        now = value.numpy()
        if not np.shares_memory(now, array) and not np.array_equal(now, array, equal_nan=True):
            array[...] = now
