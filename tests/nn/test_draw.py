import numpy as np
import pytest

from sknas.nn.draw import draw_genotype, genotype_graphs
from sknas.space.cell import CellSpace
from sknas.space.hierarchical import HierarchicalSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_cell_graphs_have_one_graph_per_cell_type_with_two_edges_per_node():
    space = CellSpace(input_shape=(1, 8, 8), n_nodes=3)
    g = space.sample(np.random.default_rng(0))
    graphs = genotype_graphs(space, g)
    assert [gr["title"] for gr in graphs] == ["normal cell", "reduce cell"]
    for gr in graphs:
        ops = [e for e in gr["edges"] if e[1] != "out"]
        assert len(ops) == 6
        assert all(src in gr["nodes"] and dst in gr["nodes"] for src, dst, _ in gr["edges"])


@pytest.mark.parametrize("space", [
    CellSpace(input_shape=(1, 8, 8)), JointSpace(CellSpace(), TrainingSpace()),
    HierarchicalSpace(input_shape=(3, 8, 8)), MLPSpace(max_blocks=3),
])
def test_draw_genotype_draws_every_graph(space):
    g = space.sample(np.random.default_rng(1))
    axes = draw_genotype(space, g)
    assert len(axes) == len(genotype_graphs(space, g))
    fig, ax = plt.subplots()
    assert draw_genotype(space, g, ax=ax) == [ax] * len(axes)


def test_draw_genotype_checks_the_number_of_axes():
    space = CellSpace(input_shape=(1, 8, 8))
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="one axes per graph"):
        draw_genotype(space, space.portfolio()[0], ax=axes)
    with pytest.raises(TypeError, match="no graph form"):
        draw_genotype(TrainingSpace(), TrainingSpace().portfolio()[0])
