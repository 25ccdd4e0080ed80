"""The hierarchical space's own mechanics (the properties every space has: tests/space/test_properties.py)."""

import numpy as np
import pytest
import torch

from sknas.space.hierarchical import EdgeDAG, HierarchicalSpace, reduction_points


def test_three_levels_of_parameters_and_chain_edges_always_present():
    space = HierarchicalSpace(n_motifs=2, motif_nodes=3, cell_nodes=3, n_cells=1, width=8)
    by_name = {p.name: p for p in space.params}
    assert sorted(by_name) == sorted([
        "motif0_0to1", "motif0_0to2", "motif0_1to2", "motif1_0to1", "motif1_0to2", "motif1_1to2",
        "cell_0to1", "cell_0to2", "cell_1to2",
    ])
    assert "none" not in by_name["motif0_0to1"].choices and "none" in by_name["motif0_0to2"].choices
    assert by_name["cell_1to2"].choices == ("motif0", "motif1")
    assert by_name["cell_0to2"].choices == ("none", "motif0", "motif1")


def test_motifs_are_reused_as_level_three_edges():
    space = HierarchicalSpace(n_motifs=2, motif_nodes=3, cell_nodes=3, n_cells=1, width=8)
    g = space.validate({
        "motif0_0to1": "linear", "motif0_0to2": "skip_connect", "motif0_1to2": "glu",
        "motif1_0to1": "relu", "motif1_0to2": "none", "motif1_1to2": "layer_norm",
        "cell_0to1": "motif0", "cell_0to2": "motif0", "cell_1to2": "motif1",
    })
    net = space.build(g, 5, 2)
    cell = net.cells[0]
    assert cell.links == [(0, 1), (0, 2), (1, 2)]
    # both uses of motif0 have its three edges, with weights of their own
    assert [len(m.ops) for m in cell.ops] == [3, 3, 2]
    assert cell.ops[0].ops[0][1] is not cell.ops[1].ops[0][1]
    text = space.describe(g)
    assert "  motif0:\n    n1 = linear(n0)\n    n2 = skip_connect(n0) + glu(n1)" in text
    assert "  motif1:\n    n1 = relu(n0)\n    n2 = layer_norm(n1)" in text
    assert text.endswith("level-3 cell (node 0 is the input, n2 the output):\n"
                         "  n1 = motif0(n0)\n  n2 = motif0(n0) + motif1(n1)")
    g2 = g.replace(cell_0to2="none", cell_1to2="motif0")
    assert "motif1: (unused)" in space.describe(g2)


def test_image_stages_halve_the_resolution_and_double_the_channels():
    space = HierarchicalSpace(input_shape=(1, 8, 8), n_cells=3, width=4)
    net = space.build(space.sample(np.random.default_rng(0)), 64, 10)
    shapes = []
    for cell in net.cells:
        if isinstance(cell, EdgeDAG):
            cell.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    net(torch.randn(2, 1, 8, 8))
    assert shapes == [(2, 4, 8, 8), (2, 8, 4, 4), (2, 16, 2, 2)]
    assert reduction_points(1) == [] and reduction_points(2) == [1] and reduction_points(6) == [2, 4]


@pytest.mark.parametrize("shape", [None, (1, 8, 8)])
def test_portfolio_is_valid_and_buildable(shape):
    space = HierarchicalSpace(input_shape=shape)
    portfolio = space.portfolio()
    assert len(portfolio) == 1
    n_inputs = 10 if shape is None else 64
    for g in portfolio:
        assert space.validate(g) == g
        assert space.build(g, n_inputs, 3).eval()(torch.randn(2, n_inputs)).shape == (2, 3)
    assert [d.name for d in space.decisions()] == [p.name for p in space.params]
    assert len(HierarchicalSpace(n_motifs=1, motif_nodes=5, cell_nodes=2).portfolio()) == 1


def test_bad_settings_are_reported():
    with pytest.raises(ValueError, match="motif_nodes"):
        HierarchicalSpace(motif_nodes=1).params
    with pytest.raises(ValueError, match="image operations"):
        HierarchicalSpace(input_shape=(1, 8, 8), primitives=("glu",)).params
    with pytest.raises(ValueError, match="width"):
        HierarchicalSpace(width=0).params
    with pytest.raises(ValueError, match="needs rows of 64 features"):
        space = HierarchicalSpace(input_shape=(1, 8, 8))
        space.build(space.portfolio()[0], 63, 2)
    with pytest.raises(ValueError, match="no incoming edge"):
        EdgeDAG(3, [(0, 1, torch.nn.Identity())])
