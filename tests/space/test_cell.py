"""The cell space's own mechanics (the properties every space has: tests/space/test_properties.py)."""

import numpy as np
import pytest
import torch

from sknas.evaluation.trainer import make_net
from sknas.space.cell import Cell, CellSpace, reduction_cells
from sknas.space.joint import JointSpace
from sknas.space.training import TrainingSpace


def test_reduction_cells_halve_the_resolution_and_double_the_channels():
    space = CellSpace(input_shape=(2, 8, 8), n_nodes=3, n_cells=5, width=4)
    g = space.sample(np.random.default_rng(0))
    net = space.build(g, 128, 10)
    assert space.cell_kinds(5) == ["normal", "reduce", "normal", "reduce", "normal"]
    shapes = []
    for cell in net.cells:
        cell.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    net(torch.randn(2, 2, 8, 8))  # 4-D input is accepted as is
    # every cell outputs the concatenation of its 3 nodes
    assert shapes == [(2, 12, 8, 8), (2, 24, 4, 4), (2, 24, 4, 4), (2, 48, 2, 2), (2, 48, 2, 2)]


def test_a_reduction_cell_alone():
    nodes = [(0, "sep_conv_3x3", 1, "max_pool_3x3", "sum"), (2, "skip_connect", 1, "dil_conv_3x3", "concat")]
    cell = Cell(nodes, C_pp=6, C_p=5, C=8, reduction=True, reduction_prev=False, image=True)
    out = cell(torch.randn(2, 6, 9, 9), torch.randn(2, 5, 9, 9))
    assert out.shape == (2, 16, 5, 5)
    assert cell.out_channels == 16


def test_reduction_positions_follow_darts():
    assert reduction_cells(8) == [2, 5]
    assert reduction_cells(2) == [0, 1]
    assert CellSpace(input_shape=(1, 8, 8)).cell_kinds(3) == ["normal", "reduce", "reduce"]
    assert CellSpace().cell_kinds(3) == ["normal"] * 3


def test_dense_mode_has_only_normal_cells_and_fixed_sizes_leave_the_genotype():
    space = CellSpace(n_cells=2, width=16)
    names = [p.name for p in space.params]
    assert "n_cells" not in names and "width" not in names
    assert not any(n.startswith("reduce_") for n in names)
    assert CellSpace.node_param("normal", 2, "op1") in names
    assert [p.choices for p in space.params if p.name == "normal_n2_in0"] == [(0, 1, 2, 3)]
    image = CellSpace(input_shape=(1, 8, 8), combine=("sum",))
    assert any(p.name.startswith("reduce_") for p in image.params)
    assert not any(p.name.endswith("combine") for p in image.params)


def test_final_cells_deepens_the_final_network_only():
    space = CellSpace(input_shape=(1, 8, 8), n_cells=(2, 3), final_cells=6, width=4)
    g = space.validate(space.sample(np.random.default_rng(3)).replace(n_cells=2))
    assert len(space.build(g, 64, 10).cells) == 2
    final = space.build(g, 64, 10, final=True)
    assert len(final.cells) == 6
    assert final(torch.randn(3, 64)).shape == (3, 10)
    assert "final network: 6 cells" in space.describe(g)
    # without final_cells the final network is the searched one
    plain = CellSpace(input_shape=(1, 8, 8), width=4)
    assert len(plain.build(g, 64, 10, final=True).cells) == 2


def test_describe_reads_cell_by_cell():
    space = CellSpace(input_shape=(1, 8, 8), n_nodes=2, n_cells=3, width=8)
    g = space.validate({
        "normal_n0_in0": 0, "normal_n0_op0": "sep_conv_3x3", "normal_n0_in1": 1, "normal_n0_op1": "skip_connect",
        "normal_n0_combine": "sum",
        "normal_n1_in0": 2, "normal_n1_op0": "dil_conv_5x5", "normal_n1_in1": 1, "normal_n1_op1": "max_pool_3x3",
        "normal_n1_combine": "concat",
        "reduce_n0_in0": 0, "reduce_n0_op0": "max_pool_3x3", "reduce_n0_in1": 1, "reduce_n0_op1": "max_pool_3x3",
        "reduce_n0_combine": "sum",
        "reduce_n1_in0": 2, "reduce_n1_op0": "skip_connect", "reduce_n1_in1": 0, "reduce_n1_op1": "avg_pool_3x3",
        "reduce_n1_combine": "sum",
    })
    text = space.describe(g)
    assert text.splitlines() == [
        "CellSpace on images (1, 8, 8): 3 cells of width 8 (normal, reduce, reduce)",
        "normal cell (inputs c[k-2], c[k-1]):",
        "  n0 = sep_conv_3x3(c[k-2]) + skip_connect(c[k-1])",
        "  n1 = concat(dil_conv_5x5(n0), max_pool_3x3(c[k-1]))",
        "  out = concat(n0, n1)",
        "reduce cell (inputs c[k-2], c[k-1]):",
        "  n0 = max_pool_3x3(c[k-2]) + max_pool_3x3(c[k-1])",
        "  n1 = skip_connect(n0) + avg_pool_3x3(c[k-2])",
        "  out = concat(n0, n1)",
    ]


@pytest.mark.parametrize("shape", [None, (1, 8, 8)])
def test_portfolio_is_valid_buildable_and_decisions_cover_every_parameter(shape):
    space = CellSpace(input_shape=shape)
    portfolio = space.portfolio()
    assert 1 <= len(portfolio) <= 2
    n_inputs = 10 if shape is None else 64
    for g in portfolio:
        assert space.validate(g) == g
        assert space.build(g, n_inputs, 3).eval()(torch.randn(2, n_inputs)).shape == (2, 3)
    assert [d.name for d in space.decisions()] == [p.name for p in space.params]
    # a customised space keeps only the entries it allows
    assert CellSpace(input_shape=shape, operations=("skip_connect",)).portfolio() == []


def test_bad_settings_and_inputs_are_reported():
    with pytest.raises(ValueError, match="input_shape"):
        CellSpace(input_shape=(8, 8)).params
    with pytest.raises(ValueError, match="image operations"):
        CellSpace(input_shape=(1, 8, 8), operations=("linear",)).params
    with pytest.raises(ValueError, match="dense operations"):
        CellSpace(operations=("sep_conv_3x3",)).params
    with pytest.raises(ValueError, match="n_cells"):
        CellSpace(n_cells=(3, 1)).params
    with pytest.raises(ValueError, match="combine"):
        CellSpace(combine=("mean",)).params
    with pytest.raises(ValueError, match="final_cells"):
        CellSpace(final_cells=0).params
    space = CellSpace(input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="needs rows of 64 features"):
        space.build(space.portfolio()[0], 65, 10)


def test_a_digits_cell_network_learns_quickly():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixels scaled globally, not per column
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    space = JointSpace(CellSpace(input_shape=(1, 8, 8), n_cells=(2, 3), width=(8, 16)), TrainingSpace())
    g = space.portfolio()[0].replace(n_cells=2, width=8, lr=3e-3, lr_schedule="constant", batch_size=64)
    net = make_net(space, space.validate(g), "classification", 64, 10, classes=np.arange(10), max_epochs=4,
                   n_train=len(X_train))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net.fit(X_train, y_train)
    assert (net.predict(X_test) == y_test).mean() > 0.8
