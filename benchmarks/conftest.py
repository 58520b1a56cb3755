"""Benchmark configuration: `--benchmark-only` overrides addopts' `--benchmark-disable`; peers.

It also keeps `pytest --benchmark-only` quiet: addopts' `-ra` lists every skipped test, and
pytest-benchmark skips each of the ~150 non-benchmark tests, so the tables would be followed
by a screenful of "SKIPPED ... Skipping non-benchmark" lines.  Those lines are dropped from the
short summary (the final count still says how many were skipped); every other skip, such as
"could not import 'torch'", is still listed, and plain `pytest` is unchanged.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from ._cases import blas_threads, cpu_snapshot, other_load
from ._machine import machine_info

_START = pytest.StashKey[Any]()  # the CPU snapshot taken when the session starts


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # pyproject's addopts carry --benchmark-disable, so that plain `pytest` runs each
    # benchmark once as a smoke test; pytest-benchmark refuses --benchmark-only together
    # with --benchmark-disable.  Asking for --benchmark-only means "time them": enable.
    # (This runs before pytest-benchmark's own pytest_configure, which is trylast.)
    if config.getoption("benchmark_only", False) and config.getoption("benchmark_disable", False):
        config.option.benchmark_enable = True


#: The reason pytest-benchmark gives the tests it skips under --benchmark-only.
NON_BENCHMARK_SKIP = "Skipping non-benchmark"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> Generator[None]:
    # The terminal reporter prints the short summary (-ra) at the end of its own wrapper of
    # this hook, after the benchmark tables; this outer wrapper hides the non-benchmark
    # skips from it and puts them back afterwards, for the final "N skipped" count.
    if not config.getoption("benchmark_only", False):
        return (yield)
    skipped = terminalreporter.stats.get("skipped", [])
    terminalreporter.stats["skipped"] = [r for r in skipped if not _non_benchmark(r)]
    try:
        return (yield)
    finally:
        terminalreporter.stats["skipped"] = skipped


def _non_benchmark(report: Any) -> bool:
    """Whether `report` is pytest-benchmark's skip of a test that is not a benchmark."""
    longrepr = getattr(report, "longrepr", None)
    return isinstance(longrepr, tuple) and NON_BENCHMARK_SKIP in str(longrepr[-1])


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_START] = cpu_snapshot()


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    # How much of the machine others took during the run: benchmarks.report warns when it matters.
    output_json["machine_load"] = other_load(config.stash.get(_START, None), cpu_snapshot())
    # What the ratios depend on (vector extensions, BLAS, exp's speed): the report prints it.
    output_json["machine"] = machine_info()


@pytest.fixture(scope="session")
def torch(request: pytest.FixtureRequest) -> Any:
    """PyTorch with as many intra-op threads as numpy's BLAS has; skips cleanly if absent.

    Untimed (plain pytest: smoke tests), one thread: with a neighbour holding
    one of two cores, torch's second OpenMP thread makes tiny operations
    100-500x slower (measured: gradcheck on 10-20-20-5 from 0.08 s to 35 s).
    """
    torch = pytest.importorskip("torch")
    timing = request.config.getoption("benchmark_enable", False) or not request.config.getoption(
        "benchmark_disable", False
    )
    torch.set_num_threads(blas_threads() if timing else 1)
    return torch


@pytest.fixture(scope="session")
def jax() -> Any:
    """JAX with float64 enabled; skips cleanly if absent.

    XLA's CPU backend sizes its own thread pool (all cores) at import; to pin
    it, set ``XLA_FLAGS`` before the run.
    """
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax
