"""The benchmark report: the ratios a user asks about, from pytest-benchmark's JSON output.

    pytest --benchmark-only --benchmark-json=bench.json
    python -m benchmarks.report bench.json [--stat median] [--plot bench.png]

Prints, at a glance, how much faster the vectorised form is than the loops
and than PyTorch, how close it comes to the machine's matrix-multiply rate,
and how the finite-difference engine compares with the naive loop, torch's
gradcheck and scipy's check_grad (time and accuracy); then the details.
``--plot`` draws time against problem size for each form (needs matplotlib).

Every ratio is a *speed-up*: the other's time over ours, so 14x means ours
takes 1/14 of the time.  It reads only the ``extra_info`` each benchmark
records (``kind``, ``form``, ``shape``, ...), never the test names.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Every form a benchmark may record, with the name the report prints.
FORMS = {
    "backprop": "backprop",
    "backprop_examples": "backprop_examples",
    "backprop_loops": "backprop_loops",
    "torch": "torch autograd",
    "jax": "jax jit(grad)",
    "fd richardson": "engine, Richardson",
    "fd central": "engine, centred",
    "fd workers=2": "engine, 2 processes (workers=2)",
    "fd naive richardson": "naive, same stencil (structured=False)",
    "loop central": "hand loop of net.cost, centred",
    "torch gradcheck": "torch gradcheck (slow mode)",
    "torch gradcheck fast": "torch gradcheck (fast_mode=True)",
    "scipy check_grad": "scipy check_grad",
    "gemm": "numpy matmul",
    "check_backprop": "check_backprop",
    "check_function": "gradcheck.torch.check_function",
}
STATS = ("median", "min", "mean")
BUSY_WARNING = 0.05  # share of the machine other processes may take before the report warns
ENGINE = "fd richardson"  # the engine's default method: what "engine" means in the ratios
FD_OTHERS = (  # what the engine is compared with
    "fd naive richardson",
    "loop central",
    "torch gradcheck",
    "torch gradcheck fast",
    "scipy check_grad",
)

#: The issue's performance goals (measured, not asserted): `goals` gives each a verdict.
TORCH_GOAL_UP_TO = "784-128-10,d=256"  # backprop at least as fast as torch at every size up to this
CEILING_GOAL = ("1024-1024-1024-10,d=512", 0.85)  # fraction of the GEMM ceiling on the big net
NAIVE_GOAL = ("64-128-10,d=64", 20.0)  # engine vs the naive loop, at equal or better accuracy
GOAL_SUFFIX = ",tanh"  # the nets (tanh hidden, sigmoid output): test_bench_goals.py
FD_TORCH_GOAL = (50.0, 10.0)  # engine vs torch's slow gradcheck: speed-up, accuracy ratio
WORKERS_SHAPE = "784-256-10,d=64,tanh"  # where the speed-up of 2 workers over 1 is reported
ORACLE_GOAL = ("64-128-10", 10.0)  # check_backprop end to end vs torch's slow gradcheck


@dataclass
class Bench:
    """One benchmark of the JSON: what it ran (from ``extra_info``) and its time in seconds."""

    kind: str
    form: str
    shape: str
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def contended(self) -> bool:
        """Other processes took a noticeable share of the machine while this was timed."""
        return self.info.get("other_load", 0.0) > BUSY_WARNING


def load(path: str, stat: str = "median") -> tuple[list[Bench], dict[str, Any]]:
    """The benchmarks of a ``--benchmark-json`` file with our ``extra_info``, and its header."""
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    benches = []
    for entry in data.get("benchmarks", []):
        info = entry.get("extra_info") or {}
        stats = entry.get("stats") or {}
        if "kind" not in info or "form" not in info or stat not in stats:
            continue
        # a benchmark timed on part of the work says how to scale to all of it
        seconds = float(stats[stat]) * float(info.get("time_scale", 1.0))
        benches.append(Bench(info["kind"], info["form"], str(info.get("shape", "")), seconds, info))
    return benches, data


class Table:
    """Lookup of `Bench` by (kind, shape, form); the shapes of each kind, smallest first."""

    def __init__(self, benches: Sequence[Bench]) -> None:
        self.benches = list(benches)
        # scaling points are found by axis instead: one shape sits on every axis
        self.by_key = {(b.kind, b.shape, b.form): b for b in benches if b.kind != "scaling"}
        self.shapes: dict[str, list[str]] = {}
        for b in benches:
            shapes = self.shapes.setdefault(b.kind, [])
            if b.shape not in shapes:
                shapes.append(b.shape)
        flops = {b.shape: b.info.get("flops", 0) for b in benches}
        for kind in ("backprop", "fd"):
            self.shapes.get(kind, []).sort(key=flops.get)  # by problem size

    def get(self, kind: str, shape: str, form: str) -> Bench | None:
        return self.by_key.get((kind, shape, form))

    def speedup(self, kind: str, shape: str, ours: str, other: str) -> float | None:
        """The other form's time over ours (None if either is missing)."""
        a, b = self.get(kind, shape, ours), self.get(kind, shape, other)
        return None if a is None or b is None else b.seconds / a.seconds

    def rate(self, shape: str, count) -> float | None:
        """backprop's GFLOP/s on `shape`, counting flops with `count(extra_info)`."""
        b = self.get("backprop", shape, "backprop")
        return None if b is None else count(b.info) / b.seconds / 1e9

    def error(self, shape: str, form: str) -> float | None:
        """A finite-difference form's max |error| against backprop on `shape`."""
        b = self.get("fd", shape, form)
        return None if b is None else b.info.get("max_abs_error")

    def star(self, kind: str, shape: str, *forms: str) -> str:
        """``*`` when one of these forms on `shape` was timed under contention."""
        return _star(*(self.get(kind, shape, form) for form in forms))

    def ceiling(self) -> Bench | None:
        """The fastest matrix product measured (GFLOP/s): the machine's limit for backprop."""
        gemms = [b for b in self.benches if b.kind == "gemm"]
        return max(gemms, key=lambda b: b.info["flops"] / b.seconds, default=None)


# --------------------------------------------------------------- formatting


def _star(*benches: Bench | None) -> str:
    """``*`` when any of these benchmarks was timed while other processes were busy."""
    return "*" if any(b is not None and b.contended for b in benches) else ""


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= 0.9995 * scale:  # 999.96 µs prints as 1 ms, not 1e+03 µs
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"{r:.3g}x" if r < 10 else f"{r:.0f}x"


def fmt_error(e: float | None) -> str:
    return "—" if e is None else f"{e:.1e}"


def _grid(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """`title`, then a plain-text table: the row names left-aligned, the cells right-aligned."""
    header = ["", *columns]
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    lines = [title]
    for r in [header, *rows]:
        cells = [str(r[0]).ljust(widths[0])]
        cells += [str(c).rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(2, "-" * max(len(line) for line in lines[1:]))
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# ------------------------------------------------------------------ sections


def ratios_backprop(t: Table) -> str:
    """Speed-ups of `backprop` over the other forms, its GFLOP/s, its share of the GEMM ceiling."""
    shapes = t.shapes.get("backprop", [])
    if not shapes:
        return "Batch gradient: no benchmarks in this file."
    rows = []
    for other in ("backprop_loops", "backprop_examples", "torch", "jax"):
        cells = [t.speedup("backprop", s, "backprop", other) for s in shapes]
        if any(c is not None for c in cells):
            marks = [t.star("backprop", s, "backprop", other) for s in shapes]
            rows.append([f"backprop vs {FORMS[other]}", *map(_cat, map(fmt_ratio, cells), marks)])
    ceiling = t.ceiling()
    for name, count in (("performed", _performed), ("6·d·ΣMN", _nominal)):
        rates = [t.rate(s, count) for s in shapes]
        marks = [t.star("backprop", s, "backprop") for s in shapes]
        rows.append(
            [
                f"backprop GFLOP/s ({name} flops)",
                *map(_cat, [_fmt(r, "{:.3g}") for r in rates], marks),
            ]
        )
        if ceiling is not None:
            shares = [None if r is None else r / _rate(ceiling) for r in rates]
            rows.append(
                [
                    f"  of the GEMM ceiling ({_rate(ceiling):.3g})",
                    *map(
                        _cat,
                        [_fmt(f, "{:.0%}") for f in shares],
                        marks,
                        [_star(ceiling)] * len(marks),
                    ),
                ]
            )
    return _grid("Batch gradient: speed-up of backprop (their time / backprop's)", shapes, rows)


def ratios_fd(t: Table) -> str:
    """Speed-ups of the engine over the other finite-difference checks, and everyone's accuracy."""
    shapes = t.shapes.get("fd", [])
    if not shapes:
        return "Finite differences: no benchmarks in this file."
    rows = []
    for other in FD_OTHERS:
        cells = [t.speedup("fd", s, ENGINE, other) for s in shapes]
        if any(c is not None for c in cells):
            marks = [t.star("fd", s, ENGINE, other) for s in shapes]
            rows.append([f"engine vs {FORMS[other]}", *map(_cat, map(fmt_ratio, cells), marks)])
    rows.append(["max |error| vs backprop", *[""] * len(shapes)])
    for form in (ENGINE, "fd central", *FD_OTHERS):
        errors = [t.error(s, form) for s in shapes]
        if any(e is not None for e in errors):
            rows.append([f"  {FORMS[form]}", *map(fmt_error, errors)])
    title = f"Finite differences: speed-up of the {FORMS[ENGINE]} (their time / engine's)"
    return _grid(title, shapes, rows)


def goals(t: Table) -> str:
    """The issue's performance goals against what this file measured (measured, not asserted)."""
    rows = []
    shapes = t.shapes.get("backprop", [])
    if TORCH_GOAL_UP_TO in shapes:
        upto = shapes[: shapes.index(TORCH_GOAL_UP_TO) + 1]
        measured = [t.speedup("backprop", s, "backprop", "torch") for s in upto]
        if all(r is not None for r in measured):
            worst = min(measured)
            rows.append(
                [
                    f"backprop >= torch speed at every size up to {TORCH_GOAL_UP_TO}",
                    f"slowest ratio {fmt_ratio(worst)}"
                    + _cat(*[t.star("backprop", s, "backprop", "torch") for s in upto]),
                    _verdict(worst >= 1.0),
                ]
            )
    big, target = CEILING_GOAL
    rate, ceiling = t.rate(big, _performed), t.ceiling()
    if rate is not None and ceiling is not None:
        share, nominal = rate / _rate(ceiling), t.rate(big, _nominal) / _rate(ceiling)
        rows.append(
            [
                f"backprop >= {target:.0%} of the GEMM ceiling at {big}",
                f"{share:.0%} ({nominal:.0%} by 6·d·ΣMN)"
                + _cat(t.star("backprop", big, "backprop"), _star(ceiling)),
                _verdict(share >= target),
            ]
        )
    shape, target = NAIVE_GOAL
    naive = t.speedup("fd", shape, ENGINE, "fd naive richardson")
    if naive is not None:
        # the same stencil: errors within a factor of 2 differ by rounding only
        accurate = (t.error(shape, ENGINE) or 0.0) <= 2 * (
            t.error(shape, "fd naive richardson") or 0.0
        )
        rows.append(
            [
                f"engine >= {target:.0f}x the naive loop at {shape}, as accurate",
                f"{fmt_ratio(naive)}{t.star('fd', shape, ENGINE, 'fd naive richardson')}"
                f"{'' if accurate else ', less accurate'}",
                _verdict(naive >= target and accurate),
            ]
        )
        slow_torch = t.speedup("fd", shape, ENGINE, "torch gradcheck")
        if slow_torch is not None:
            rows.append(
                [
                    f"engine beats torch gradcheck (slow) by more than the naive loop at {shape}",
                    f"{fmt_ratio(slow_torch)}{t.star('fd', shape, ENGINE, 'torch gradcheck')}"
                    f" vs {fmt_ratio(naive)}",
                    _verdict(slow_torch > naive),
                ]
            )
    rows += _goals_fd_vs_torch(t)
    return _grid("The issue's goals", ["measured", "verdict"], rows) if rows else ""


def _goals_fd_vs_torch(t: Table) -> list[list[str]]:
    """Issue 13: the engine >= 50x torch's slow gradcheck at >= 10x its accuracy; 2 workers; oracle."""
    rows = []
    speed, accuracy = FD_TORCH_GOAL
    for shape in [s for s in t.shapes.get("fd", []) if s.endswith(GOAL_SUFFIX)]:
        for form in (ENGINE, "fd workers=2"):
            ratio = t.speedup("fd", shape, form, "torch gradcheck")
            ours, theirs = t.error(shape, form), t.error(shape, "torch gradcheck")
            if ratio is None or not ours or theirs is None:
                continue
            rows.append(
                [
                    f"{FORMS[form]} >= {speed:.0f}x torch gradcheck (slow) at >= "
                    f"{accuracy:.0f}x its accuracy, {shape}",
                    f"{fmt_ratio(ratio)}{t.star('fd', shape, form, 'torch gradcheck')}, "
                    f"error {theirs / ours:.3g}x smaller",
                    _verdict(ratio >= speed and theirs / ours >= accuracy),
                ]
            )
    shape = WORKERS_SHAPE
    two = t.speedup("fd", shape, "fd workers=2", ENGINE)
    if two is not None:
        rows.append(
            [
                f"2 workers over 1 at {shape} (measured, no target)",
                f"{two:.2f}x{t.star('fd', shape, ENGINE, 'fd workers=2')}",
                "",
            ]
        )
    shape, target = ORACLE_GOAL
    oracle = t.speedup("oracle", shape, "check_backprop", "torch gradcheck")
    if oracle is not None:
        rows.append(
            [
                f"check_backprop >= {target:.0f}x torch gradcheck (slow) on one {shape} net",
                f"{fmt_ratio(oracle)}{t.star('oracle', shape, 'check_backprop', 'torch gradcheck')}",
                _verdict(oracle >= target),
            ]
        )
    return rows


def details_fd(t: Table) -> str:
    blocks = []
    for s in t.shapes.get("fd", []):
        rows = []
        for form in FORMS:
            b = t.get("fd", s, form)
            if b is None:
                continue
            info = b.info
            if "max_abs_error" in info:
                accuracy = fmt_error(info["max_abs_error"])
            elif "directional_error" in info:
                accuracy = f"{info['directional_error']:.1e} (1 direction)"
            else:
                accuracy = "—"
            rows.append(
                [
                    FORMS[form],
                    fmt_time(b.seconds) + _star(b),
                    accuracy,
                    str(info.get("n_evaluations", "—")),
                    fmt_time(
                        b.seconds / info["n_evaluations"] if info.get("n_evaluations") else None
                    ),
                    fmt_ratio(t.speedup("fd", s, ENGINE, form)),
                ]
            )
        n = next((b.info.get("n_params") for b in t.benches if b.shape == s), "?")
        blocks.append(
            _grid(
                f"finite differences {s} ({n} entries)",
                ["time", "max |err|", "evaluations", "per evaluation", "engine speed-up"],
                rows,
            )
        )
    return "\n\n".join(blocks)


def details_backprop(t: Table) -> str:
    shapes = t.shapes.get("backprop", [])
    forms = [f for f in FORMS if any(t.get("backprop", s, f) for s in shapes)]
    rows = [
        [
            FORMS[f],
            *[
                fmt_time(b.seconds) + _star(b) if (b := t.get("backprop", s, f)) else "—"
                for s in shapes
            ],
        ]
        for f in forms
    ]
    for f in ("backprop", "torch"):
        faults = [t.get("backprop", s, f) for s in shapes]
        if any(b is not None and "page_faults" in b.info for b in faults):
            cells = [_fmt(b and b.info.get("page_faults"), "{:.0f}") for b in faults]
            rows.append([f"  {FORMS[f]}: page faults per call", *cells])
    text = _grid("batch gradient: time per gradient", shapes, rows) if rows else ""
    gemms = [b for b in t.benches if b.kind == "gemm"]
    if gemms:
        rows = [[b.shape, fmt_time(b.seconds) + _star(b), f"{_rate(b):.3g}"] for b in gemms]
        threads = gemms[0].info.get("threads", "?")
        text += "\n\n" + _grid(
            f"GEMM ceiling (float64, {threads} threads)", ["time", "GFLOP/s"], rows
        )
    return text


def details_scaling(t: Table) -> str:
    benches = [b for b in t.benches if b.kind == "scaling"]
    rows = []
    for axis in dict.fromkeys(b.info["axis"] for b in benches):
        values = sorted({b.info["value"] for b in benches if b.info["axis"] == axis})
        for v in values:
            point = {b.form: b for b in benches if b.info["axis"] == axis and b.info["value"] == v}
            bp, fd = point.get("backprop"), point.get(ENGINE)
            ratio = fd.seconds / bp.seconds if bp and fd else None
            rows.append(
                [
                    f"{axis}={v}",
                    str((bp or fd).info.get("n_params", "")),
                    str((bp or fd).info.get("d", "")),
                    fmt_time(bp and bp.seconds) + _star(bp),
                    fmt_time(fd and fd.seconds) + _star(fd),
                    fmt_ratio(ratio),
                ]
            )
    if not rows:
        return ""
    columns = ["entries", "d", "backprop", "engine (FD)", "FD / backprop"]
    return _grid("scaling: one axis moves at a time", columns, rows)


def _performed(info: dict[str, Any]) -> int:
    """Forward, dJ/dW^L and Delta^{L-1} for L >= 1 (`benchmarks._cases.backprop_flops`)."""
    return info["flops"]


def _nominal(info: dict[str, Any]) -> int:
    """The issue's count, 6 d sum M N: it includes an input-layer Delta no backprop computes."""
    return info["flops_nominal"]


def _cat(*parts: str) -> str:
    """Join cells' parts: a value and its marks (``*``, at most one)."""
    text = "".join(parts)
    return text.rstrip("*") + "*" if "*" in text else text


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else spec.format(value)


def _rate(b: Bench) -> float:
    return b.info["flops"] / b.seconds / 1e9


def describe_machine(machine: dict[str, Any]) -> str:
    """The machine recorded by `benchmarks._machine`, in one or two lines for the header."""
    cpu = machine.get("cpu") or {}
    flags = cpu.get("flags")
    vector = (
        "AVX-512" if flags and "avx512f" in flags else "AVX2" if flags and "avx2" in flags else "?"
    )
    libraries = ", ".join(
        f"{b.get('library')} {b.get('version')}"
        + (f" ({b['architecture']})" if b.get("architecture") else "")
        + (f", {b['threads']} threads" if b.get("threads") else "")
        for b in machine.get("blas") or []
    )
    exp = machine.get("exp_ns")
    return (
        f"vector extensions: {vector} (flags: {' '.join(flags) if flags else 'unknown'}); "
        f"np.exp {exp:.2f} ns/element (float64, numpy {machine.get('numpy')})"
        if exp is not None
        else f"vector extensions: {vector}"
    ) + (f"\nBLAS: {libraries}" if libraries else "")


def header(data: dict[str, Any], path: str, stat: str, benches: Sequence[Bench]) -> str:
    cpu = (data.get("machine_info") or {}).get("cpu") or {}
    threads = next((b.info["threads"] for b in benches if "threads" in b.info), "?")
    brand = (
        cpu.get("brand_raw") or (data.get("machine_info") or {}).get("processor") or "unknown CPU"
    )
    lines = [
        f"{path}: {len(benches)} benchmarks, {data.get('datetime', 'undated')}",
        f"{brand}, {cpu.get('count', '?')} logical cores, BLAS/torch threads {threads}; "
        f"times are the {stat} per call",
    ]
    if data.get("machine"):
        lines.append(describe_machine(data["machine"]))
    load = data.get("machine_load")
    if load:
        busy = load["other_processes"] + load["steal"]
        warning = f": WARNING, above {BUSY_WARNING:.0%}; see the timings marked *"
        lines.append(
            f"other processes took {load['other_processes']:.0%} of the machine during the run"
            f" (steal {load['steal']:.0%}){warning if busy > BUSY_WARNING else ''}"
        )
    return "\n".join(lines)


def render(benches: Sequence[Bench], data: dict[str, Any], path: str, stat: str) -> str:
    t = Table(benches)
    parts = [
        header(data, path, stat, benches),
        ratios_backprop(t),
        ratios_fd(t),
        goals(t),
        details_backprop(t),
        details_fd(t),
        details_scaling(t),
    ]
    if any(b.contended for b in benches):
        parts.append(
            f"* timed while other processes took more than {BUSY_WARNING:.0%} of the machine:"
            " on a few cores that can cost 2-10x (threads wait for a descheduled one); rerun"
        )
    return "\n\n".join(p for p in parts if p) + "\n"


# ---------------------------------------------------------------------- plot


def plot(benches: Sequence[Bench], out: str) -> None:
    """A PNG of time against problem size for each form (matplotlib is imported here only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(2, 3, figsize=(16, 9), constrained_layout=True)
    t = Table(benches)

    def lines(ax, kind, x_of, forms, axis=None):
        for form in forms:
            points = sorted(
                (x_of(b), b.seconds)
                for b in benches
                if b.kind == kind and b.form == form and b.info.get("axis") == axis
            )
            if points:
                ax.plot(*zip(*points, strict=True), "o-", label=FORMS[form])
        ax.set_yscale("log")
        ax.set_ylabel("time per call (s)")
        if ax.lines:
            ax.legend(fontsize=8)

    ax = axes[0, 0]
    lines(
        ax,
        "backprop",
        lambda b: b.info["flops"],
        ["backprop_loops", "backprop_examples", "backprop", "torch", "jax"],
    )
    ax.set(xscale="log", xlabel="flops of one batch gradient", title="batch gradient")
    ax = axes[0, 1]
    lines(
        ax,
        "fd",
        lambda b: b.info["n_params"] * b.info["d"],
        [
            f
            for f in FORMS
            if f
            in {
                "fd richardson",
                "fd central",
                "fd naive richardson",
                "loop central",
                "torch gradcheck",
                "torch gradcheck fast",
                "scipy check_grad",
            }
        ],
    )
    ax.set(xscale="log", xlabel="entries x batch size", title="finite differences")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ticks = {b.info["n_params"] * b.info["d"]: b.shape for b in benches if b.kind == "fd"}
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax = axes[0, 2]
    ceiling = t.ceiling()
    for form in ("backprop", "torch", "jax"):
        points = sorted(
            (b.info["flops"], b.info["flops"] / b.seconds / 1e9)
            for b in benches
            if b.kind == "backprop" and b.form == form
        )
        if points:
            ax.plot(*zip(*points, strict=True), "o-", label=FORMS[form])
    if ceiling is not None:
        ax.axhline(_rate(ceiling), color="k", ls="--", label=f"GEMM ceiling ({_rate(ceiling):.3g})")
    ax.set(
        xscale="log",
        xlabel="flops of one batch gradient",
        ylabel="GFLOP/s (performed)",
        title="how close to the machine's limit",
    )
    if ax.lines:
        ax.legend(fontsize=8)
    for ax, axis in zip(axes[1], ("width", "depth", "batch"), strict=True):
        lines(ax, "scaling", lambda b: b.info["value"], ["backprop", ENGINE], axis=axis)
        ax.set(xlabel=axis, title=f"scaling: {axis}")
        if axis != "depth":
            ax.set_xscale("log", base=2)
        values = sorted({b.info["value"] for b in benches if b.info.get("axis") == axis})
        ax.set_xticks(values, [str(v) for v in values])
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.savefig(out, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("json", help="the output of pytest --benchmark-only --benchmark-json=FILE")
    parser.add_argument(
        "--stat",
        choices=STATS,
        default="median",
        help="which time of each benchmark (default: median)",
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="also draw time against problem size (needs matplotlib)"
    )
    args = parser.parse_args(argv)
    try:
        benches, data = load(args.json, args.stat)
    except (OSError, ValueError) as error:
        print(f"cannot read {args.json}: {error}", file=sys.stderr)
        return 2
    if not benches:
        print(
            f"{args.json} holds no timed benchmarks of this suite: run `pytest --benchmark-only "
            f"--benchmark-json={args.json}` (plain pytest does not time them)",
            file=sys.stderr,
        )
        return 2
    print(render(benches, data, args.json, args.stat), end="")
    if args.plot:
        try:
            plot(benches, args.plot)
        except ImportError:
            print(
                "--plot needs matplotlib, which is not importable here: "
                "pip install 'backprop-gradcheck[plot]' (or pip install matplotlib)",
                file=sys.stderr,
            )
            return 1
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
