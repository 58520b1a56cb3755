"""reference.layout: `ParameterLayout`, the flat order of NOTATION.md, each block with its layer as data."""

from __future__ import annotations

import numpy as np

from reference import LayerBlock, ParameterLayout


def test_layer_blocks_carry_kind_and_layer_in_the_flat_order():
    layout = ParameterLayout((3, 4, 2))
    assert layout.layer_blocks == [
        LayerBlock("W", 0, slice(0, 12), (3, 4)),
        LayerBlock("b", 0, slice(12, 16), (4,)),
        LayerBlock("W", 1, slice(16, 24), (4, 2)),
        LayerBlock("b", 1, slice(24, 26), (2,)),
    ]
    assert [b.name for b in layout.layer_blocks] == ["W^0", "b^0", "W^1", "b^1"]
    assert layout.blocks == [(b.name, b.slice, b.shape) for b in layout.layer_blocks]


def test_every_entry_is_located_in_its_layer_deep_networks_too():
    sizes = (2,) + (1,) * 11 + (2,)  # layers 0 .. 11: two-digit layer numbers
    layout = ParameterLayout(sizes)
    for kind, L, block, shape in layout.layer_blocks:
        for j in range(block.start, block.stop):
            index = tuple(int(k) for k in np.unravel_index(j - block.start, shape))
            assert layout.locate(j) == (kind, L, index)
    assert layout.name(layout.size - 1) == "b^11[1]"
    weights, biases = layout.split(np.arange(float(layout.size)))
    assert [W.shape for W in weights] == [b.shape for b in layout.layer_blocks if b.kind == "W"]
    assert len(biases) == 12
