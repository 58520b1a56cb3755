"""`BackpropOptions`: what `check_backprop` checks and how, in one frozen value, validated once.

`check_backprop` takes its options as keyword arguments (the public
signature) and puts them here at once; `validated` checks them all and
returns them normalised, and from then on they travel as this one value: to
the plan of trials, to each trial's network and call, and, as `record`, into
the report. `check_backprop_at` describes its given network with `given`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any

from gradcheck.fd.perturbed import CACHE_CHUNK
from gradcheck.oracle.candidate import LAYOUTS, check_h_prime
from gradcheck.validate import (
    check_bytes,
    check_choice,
    check_edge_cases,
    check_fits_in_memory,
    check_optional_callable,
    check_penalty,
    check_timeout,
    check_trial_options,
    check_weight_scale,
)
from reference import ACTIVATIONS, Network

__all__ = ["BackpropOptions", "refuse_beyond_memory"]


@dataclass(frozen=True)
class BackpropOptions:
    """The options of one `check_backprop` (see it for each one's meaning and default).

    ``hidden``, ``output`` and ``cost`` are kept as given (names, activation
    or cost objects, one activation per hidden layer): the trials draw their
    networks with them; ``names`` is how the report names them. ``seed`` and
    ``weight_scale`` are None for a network the caller gave (`given`): it was
    not drawn. Build them with ``BackpropOptions(...).validated()`` or
    `given`; the fields of a validated value are normalised (``sizes`` a
    tuple of ints, ``edge_cases`` a bool or a frozenset of names).
    """

    sizes: Sequence[int]
    hidden: Any
    output: Any
    cost: Any
    layout: str
    trials: int
    seed: int | None
    batch_size: int
    edge_cases: bool | Collection[str]
    l2: float
    weight_scale: float | None
    timeout: float | None
    executor: Executor | None = field(compare=False)
    progress: Callable[[str], None] | None = field(compare=False)
    #: (hidden, output, cost) as the report names them; set by `validated` and `given`
    names: tuple[Any, str, str] | None = None
    #: the candidate's libm accuracy in ulps, where the caller declared it (`libm_ulps=`)
    libm_ulps: float | None = None

    def validated(self) -> BackpropOptions:
        """These options checked, each with a message naming it, and normalised.

        The plain options' checks are `gradcheck.validate`'s; the network's
        (sizes, activation and cost names, `l2`) `reference.Network`'s; a
        user's own `(h, h')` pair is checked to agree (`check_h_prime`).
        """
        check_optional_callable(self.progress, "progress", takes="a line of text")
        check_choice(self.layout, "layout", LAYOUTS)
        drawn = check_trial_options(
            trials=self.trials,
            batch_size=self.batch_size,
            seed=self.seed,
            edge_cases=self.edge_cases,
        )
        weight_scale = check_weight_scale(self.weight_scale)
        refuse_beyond_memory(self.sizes, drawn["batch_size"], trials=drawn["trials"])
        # Network.random validates sizes, the activation/cost names and l2 with clear messages.
        net = Network.random(
            self.sizes,
            hidden=self.hidden,
            output=self.output,
            cost=self.cost,
            seed=0,
            scale=weight_scale,
            l2=self.l2,
        )
        check_penalty(net)  # before any trial: an `l2` whose penalty overflows can only fail
        roles = [("hidden", act) for act in net.activations[:-1]] + [("output", net.output)]
        for role, act in roles:
            builtin = act.name in ACTIVATIONS and ACTIVATIONS[act.name] is act
            if act.elementwise and not builtin:
                check_h_prime(act, role=role)
        timeout = None if self.timeout is None else check_timeout(self.timeout)
        edges = drawn["edge_cases"]  # a bool, or the sorted names
        return replace(
            self,
            sizes=net.sizes,
            trials=drawn["trials"],
            seed=drawn["seed"],
            batch_size=drawn["batch_size"],
            edge_cases=edges if isinstance(edges, bool) else frozenset(edges),
            l2=net.l2,
            weight_scale=weight_scale,
            timeout=timeout,
            names=_names(net),
        )

    @classmethod
    def given(cls, net: Network, d: int, *, layout: str) -> BackpropOptions:
        """The options of one check on a given network and batch of `d` examples."""
        return cls(
            sizes=net.sizes,
            hidden=net.hidden_name,
            output=net.output.name,
            cost=net.cost_function.name,
            layout=layout,
            trials=1,
            seed=None,
            batch_size=d,
            edge_cases=False,
            l2=net.l2,
            weight_scale=None,
            timeout=None,
            executor=None,
            progress=None,
            names=_names(net),
        )

    @property
    def edge_trials(self) -> frozenset[str]:
        """The edge-case trials to run, by name (`gradcheck.validate.EDGE_CASES`)."""
        return check_edge_cases(self.edge_cases)

    def record(self) -> dict[str, Any]:
        """The options as the report records them (`BackpropReport.options`): plain data."""
        if self.names is None:
            raise ValueError("these options were not validated: call .validated() first")
        hidden, output, cost = self.names
        edge_cases = self.edge_cases
        recorded: dict[str, Any] = {
            "sizes": tuple(self.sizes),
            "hidden": list(hidden) if isinstance(hidden, tuple) else hidden,
            "output": output,
            "cost": cost,
            "layout": self.layout,
            "trials": self.trials,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "edge_cases": edge_cases if isinstance(edge_cases, bool) else sorted(edge_cases),
            "l2": self.l2,
        }
        if self.weight_scale is not None:  # drawn networks only
            recorded["weight_scale"] = self.weight_scale
        if self.libm_ulps is not None:  # declared: the run repeats only with it
            recorded["libm_ulps"] = self.libm_ulps
        return recorded


def _names(net: Network) -> tuple[Any, str, str]:
    """(hidden, output, cost) of `net` by name; one hidden name per layer as a tuple."""
    hidden = net.hidden_name
    return (
        tuple(hidden) if isinstance(hidden, list) else hidden,
        net.output.name,
        net.cost_function.name,
    )


def refuse_beyond_memory(sizes: Any, d: int, *, trials: int = 1) -> None:
    """Refuse, before drawing anything, a check of `trials` `sizes` networks at `d` examples
    whose arrays (`gradcheck.validate.check_bytes`) exceed this machine's memory."""
    n_bytes = check_bytes(sizes, d, trials=trials, fd_chunk=CACHE_CHUNK)
    described = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
    what = f"`sizes` {described} with `batch_size` {d}"
    check_fits_in_memory(n_bytes, what + (f" and `trials` {trials}" if trials > 1 else ""))
