"""`benchmarks.report` on a small synthetic `--benchmark-json` file (plain pytest covers it).

The file's ``extra_info`` is written by the benchmarks' own `label`, so the
report is tested against the keys the benchmarks really record.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from . import report
from ._cases import case, cpu_snapshot, label, other_load

BACKPROP_TIMES = {  # shape -> form -> seconds
    ((32, 64, 10), 128): {
        "backprop": 1e-4,
        "backprop_examples": 2e-3,
        "backprop_loops": 5e-2,
        "torch": 2e-4,
    },
    ((784, 128, 10), 256): {
        "backprop": 2e-3,
        "backprop_examples": 2e-2,
        "backprop_loops": 3.0,
        "torch": 1e-3,
    },
}
CONTENDED = {("torch", case((784, 128, 10), 256)): 0.4}  # timed while a neighbour took 40%
FD_TIMES = {  # engine 0.2 s: 14x the naive path, 11x torch's slow mode
    ((64, 128, 10), 64): {
        "fd richardson": 0.2,
        "fd naive richardson": 2.8,
        "loop central": 1.5,
        "torch gradcheck": 2.2,
        "torch gradcheck fast": 0.005,
        "scipy check_grad": 1.4,
    },
}


def _entry(form: str, kind: str, seconds: float, **label_options) -> dict:
    bench = SimpleNamespace(group=None, extra_info={})
    label(bench, form=form, kind=kind, group=f"{kind} test", **label_options)
    bench.extra_info["other_load"] = CONTENDED.get((form, label_options.get("case")), 0.0)
    stats = {"min": seconds * 0.9, "median": seconds, "mean": seconds * 1.1, "rounds": 5}
    return {
        "group": bench.group,
        "name": f"test[{form}]",
        "extra_info": bench.extra_info,
        "stats": stats,
    }


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory) -> str:
    entries = []
    for (sizes, d), times in BACKPROP_TIMES.items():
        for form, seconds in times.items():
            entries.append(_entry(form, "backprop", seconds, case=case(sizes, d)))
    for (sizes, d), times in FD_TIMES.items():
        for form, seconds in times.items():
            entry = _entry(form, "fd", seconds, case=case(sizes, d))
            entry["extra_info"].update(
                max_abs_error=1e-13 if form == "fd richardson" else 1e-11, n_evaluations=4
            )
            entries.append(entry)
    entries.append(
        _entry("gemm", "gemm", 0.02, shape="1024x1024@1024x1024", flops=2 * 1024**3)
    )  # 107 GFLOP/s
    for d, seconds in ((16, 1e-4), (64, 3e-4)):
        entries.append(
            _entry(
                "backprop",
                "scaling",
                seconds,
                case=case((32, 32, 32, 10), d),
                axis="batch",
                value=d,
            )
        )
        entries.append(
            _entry(
                "fd richardson",
                "scaling",
                seconds * 1000,
                case=case((32, 32, 32, 10), d),
                axis="batch",
                value=d,
            )
        )
    entries.append(
        {"group": "not ours", "name": "test_other", "extra_info": {}, "stats": {"median": 1.0}}
    )
    data = {
        "datetime": "2026-11-27T08:00:00",
        "machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}},
        "benchmarks": entries,
        "machine_load": {"other_processes": 0.3, "steal": 0.0, "seconds": 140.0},
    }
    path = tmp_path_factory.mktemp("report") / "bench.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_ratios_and_goals(bench_json, capsys):
    assert report.main([bench_json]) == 0
    out = capsys.readouterr().out
    rows = {line.split("  ")[0].strip(): line for line in out.splitlines()}
    assert "Test CPU, 2 logical cores" in out
    assert "other processes took 30% of the machine during the run (steal 0%): WARNING" in out
    # backprop vs the others: their time over backprop's, per shape (sorted by size)
    assert rows["backprop vs backprop_loops"].split()[-2:] == ["500x", "1500x"]
    assert rows["backprop vs backprop_examples"].split()[-2:] == ["20x", "10x"]
    assert rows["backprop vs torch autograd"].split()[-2:] == ["2x", "0.5x*"]  # * contended
    # the ceiling: 107 GFLOP/s; 784-128-10,d=256 performs 4 d 784 128 + 6 d 128 10 flops in 2 ms
    ceiling_rows = [line for line in out.splitlines() if "of the GEMM ceiling (107)" in line]
    assert [r.split()[-1] for r in ceiling_rows] == ["49%", "73%"]  # performed, 6 d sum M N
    # the engine: 2.8 / 0.2 = 14x the naive path, 11x torch's slow mode
    assert "14x" in rows["engine vs naive, same stencil (structured=False)"]
    assert "11x" in rows["engine vs torch gradcheck (slow mode)"]
    assert "0.025x" in rows["engine vs torch gradcheck (fast_mode=True)"]
    assert "7x" in rows["engine vs scipy check_grad"]
    assert (
        "1.0e-13" in rows["engine, Richardson"] and "1.0e-11" in rows["torch gradcheck (slow mode)"]
    )
    # the goals, each with what was measured and a verdict
    goals = out[out.index("The issue's goals") :].split("\n\n")[0].splitlines()[3:]
    assert [(g.split("  ")[0], g.split()[-1]) for g in goals] == [
        ("backprop >= torch speed at every size up to 784-128-10,d=256", "MISSED"),  # 0.5x*
        ("engine >= 20x the naive loop at 64-128-10,d=64, as accurate", "MISSED"),  # 14x
        (
            "engine beats torch gradcheck (slow) by more than the naive loop at 64-128-10,d=64",
            "MISSED",
        ),
    ]
    assert "11x vs 14x" in goals[2]
    assert "batch=64" in out  # the scaling table
    assert "1 ms*" in out  # torch's contended time, flagged in the details too
    assert out.rstrip().endswith("(threads wait for a descheduled one); rerun")


def test_stat_option_picks_the_statistic(bench_json, capsys):
    assert report.main([bench_json, "--stat", "min"]) == 0
    assert "times are the min per call" in capsys.readouterr().out


def test_plot_writes_a_png(bench_json, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench.png"
    assert report.main([bench_json, "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot written to {out}" in capsys.readouterr().out


def test_plot_without_matplotlib_says_so(bench_json, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    assert report.main([bench_json, "--plot", str(tmp_path / "bench.png")]) == 1
    captured = capsys.readouterr()
    assert "backprop vs backprop_loops" in captured.out  # the table is still printed
    assert "--plot needs matplotlib" in captured.err
    assert not (tmp_path / "bench.png").exists()


def test_unreadable_or_untimed_files_are_explained(tmp_path, capsys):
    assert report.main([str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    untimed = tmp_path / "untimed.json"
    untimed.write_text(json.dumps({"benchmarks": []}))
    assert report.main([str(untimed)]) == 2
    assert "pytest --benchmark-only" in capsys.readouterr().err


def test_machine_load_is_measured():
    start = cpu_snapshot()
    if start is None:
        pytest.skip("no /proc/stat here: the load is not recorded")
    sum(i * i for i in range(200_000))  # CPU time of our own, which does not count as others'
    load = other_load(start, cpu_snapshot())
    assert set(load) == {"other_processes", "steal", "seconds"}
    assert load["other_processes"] >= 0.0 and load["steal"] >= 0.0 and load["seconds"] > 0.0
