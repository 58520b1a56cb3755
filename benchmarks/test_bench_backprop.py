"""Batch gradient averaging: the index-by-index loops against the vectorised forms.

One group per architecture (``batch gradient 784-128-10,d=256``) holds
`backprop_loops`, `backprop_examples`, `backprop` and the peers of
`test_bench_peers.py`; each records its GFLOP/s (see `_cases.backprop_flops`).
"""

from __future__ import annotations

import pytest

from reference import backprop, backprop_examples, backprop_loops

from ._cases import BATCH_SHAPES, batch_group, case, case_params, check_batch_gradient, label, timed

FORMS = [backprop, backprop_examples, backprop_loops]
#: Forms too slow for the defaults: "heavy" (a second a call: not in plain pytest's smoke
#: run), "slow" (seconds a call: one round, and not in the smoke run either), "skip" (minutes).
TOO_SLOW = {
    ("backprop_loops", (784, 128, 10)): "slow",  # ~3 s a call
    ("backprop_loops", (1024, 1024, 1024, 10)): "skip",  # ~2 min a call (d sum MN 40x 784-128-10)
    ("backprop_examples", (1024, 1024, 1024, 10)): "heavy",  # ~1 s; 10 s with a busy neighbour
}


@pytest.mark.parametrize("sizes, d", case_params(BATCH_SHAPES))
@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__)
def test_batch_gradient(benchmark, form, sizes, d):
    c = case(sizes, d)
    speed = TOO_SLOW.get((form.__name__, sizes))
    if speed == "skip":
        pytest.skip(f"{form.__name__} on {c.id}: minutes a call; timed on the smaller nets")
    label(benchmark, group=batch_group(c), form=form.__name__, kind="backprop", case=c)
    g = timed(benchmark, form, c.net, c.X, c.Y, slow=speed == "slow", smoke=speed is None)
    check_batch_gradient(benchmark, c, g.flat())
