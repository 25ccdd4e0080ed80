"""sknas.plotting: every plot renders to a non-empty PNG with the Agg backend and returns its Axes."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

from sknas import AutoNASClassifier  # noqa: E402
from sknas.plotting import (  # noqa: E402
    genotype_graphs, plot_genotype, plot_learning_curves, plot_pareto_front, plot_search_history,
)
from sknas.space.cell import CellSpace  # noqa: E402
from sknas.space.genotype import Genotype  # noqa: E402
from sknas.space.hierarchical import HierarchicalSpace  # noqa: E402
from sknas.space.joint import JointSpace  # noqa: E402
from sknas.space.mlp import MLPSpace, ResNetSpace  # noqa: E402
from sknas.space.training import TrainingSpace  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    X, y = load_breast_cancer(return_X_y=True)
    return AutoNASClassifier(time_budget=None, max_trials=3, max_epochs=3, validation_fraction=0.5,
                             search="random", random_state=0).fit(X, y)


@pytest.fixture
def results():
    """A synthetic search_results_ with a failed trial."""
    return {
        "trial": [0, 1, 2, 3, 4],
        "score": [0.80, None, 0.85, 0.83, 0.90],
        "status": ["ok", "failed", "ok", "ok", "ok"],
        "fit_time": [1.0, 0.2, 2.0, 0.5, 3.0],
        "n_params": [1000, None, 50_000, 800, 200_000],
    }


def _png(ax, path):
    assert isinstance(ax, matplotlib.axes.Axes)
    ax.figure.savefig(path)
    plt.close(ax.figure)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    return data


def test_search_history(results, tmp_path):
    ax = plot_search_history(results)
    best = ax.lines[0]  # the best-so-far step line
    np.testing.assert_allclose(best.get_ydata(), [0.80, 0.85, 0.85, 0.90, 0.90])
    np.testing.assert_allclose(best.get_xdata(), [1.0, 3.2, 3.7, 6.7, 6.7])
    assert "4 of 5" in ax.get_title()
    _png(ax, tmp_path / "history.png")


def test_search_history_of_a_fitted_estimator(fitted, tmp_path):
    _png(plot_search_history(fitted, time_axis=False), tmp_path / "history_fitted.png")


def test_pareto_front(results, tmp_path):
    ax = plot_pareto_front(results)
    front = ax.lines[0]  # the step line through the non-dominated trials, by size
    np.testing.assert_allclose(front.get_xdata(), [800, 50_000, 200_000])
    np.testing.assert_allclose(front.get_ydata(), [0.83, 0.85, 0.90])
    assert ax.get_xscale() == "log"  # sizes span 250x
    assert ax.get_xlabel() == "n_params"
    _png(ax, tmp_path / "pareto.png")
    with pytest.raises(ValueError, match="latency_ms"):
        plot_pareto_front(results, x="latency_ms")


def test_genotype_of_a_dag_draws_its_skips(tmp_path):
    genotype = Genotype({
        "n_blocks": 3, "width_0": 64, "act_0": "relu", "norm_0": "batch", "dropout_0": 0.1,
        "width_1": 32, "act_1": "gelu", "norm_1": "none", "dropout_1": 0.0, "skip_1": 0,
        "width_2": 16, "act_2": "silu", "norm_2": "layer", "dropout_2": 0.0, "skip_2": 1,
        "lr": 0.001,
    })
    ax = plot_genotype(genotype)
    texts = [t.get_text() for t in ax.texts]
    assert sum(t.startswith("block") for t in texts) == 3
    assert any("lr=0.001" in t for t in texts)  # non-architecture decisions printed below
    # 4 chain arrows (input, 3 blocks, head) + 2 skip arcs
    assert len(ax.patches) == 5 + 4 + 2
    _png(ax, tmp_path / "dag.png")


def test_genotype_of_sampled_spaces(tmp_path):
    rng = np.random.default_rng(0)
    for space in (MLPSpace(), ResNetSpace()):
        _png(plot_genotype(space.sample(rng), space=space), tmp_path / f"{type(space).__name__}.png")
    # the linear model and a wide & deep network
    linear, deep = MLPSpace().portfolio()[:2]
    for g in (linear, deep.replace(wide=True)):
        _png(plot_genotype(g, space=MLPSpace()), tmp_path / f"mlp_{g['n_blocks']}.png")
        _png(plot_genotype(g), tmp_path / f"mlp_{g['n_blocks']}_no_space.png")


def test_best_genotype_of_a_fitted_estimator(fitted, tmp_path):
    _png(plot_genotype(fitted.best_genotype_, space=fitted.space_), tmp_path / "best.png")


def test_genotype_of_an_unknown_space_is_refused():
    with pytest.raises(ValueError, match="MLP and ResNet"):
        plot_genotype(Genotype({"a": 1}))


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
    HierarchicalSpace(input_shape=(3, 8, 8)),
])
def test_genotype_of_a_graph_space_draws_every_graph(space, tmp_path):
    g = space.sample(np.random.default_rng(1))
    axes = plot_genotype(g, space=space)
    assert len(axes) == len(genotype_graphs(space, g))
    _png(axes[0], tmp_path / "graphs.png")
    fig, ax = plt.subplots()
    assert plot_genotype(g, space=space, ax=ax) == [ax] * len(axes)
    plt.close(fig)


def test_genotype_of_a_graph_space_checks_the_number_of_axes():
    space = CellSpace(input_shape=(1, 8, 8))
    fig, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="one axes per graph"):
        plot_genotype(space.portfolio()[0], space=space, ax=axes)
    plt.close(fig)
    with pytest.raises(TypeError, match="no graph form"):
        genotype_graphs(TrainingSpace(), TrainingSpace().portfolio()[0])


def test_learning_curves(fitted, tmp_path):
    ax = plot_learning_curves([[1.0, 0.7, 0.5], [0.9, 0.8, 0.85, 0.7]], labels=["a", "b"])
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    _png(ax, tmp_path / "curves.png")
    ax = plot_learning_curves(fitted)  # the final network's training history
    assert "train_loss" in [line.get_label() for line in ax.lines]
    _png(ax, tmp_path / "curves_fitted.png")


def test_learning_curves_of_search_results(fitted, results, tmp_path):
    if "learning_curve" in fitted.search_results_:  # recorded by this version of sknas
        ax = plot_learning_curves(fitted.search_results_)
        assert len(ax.lines) == sum(1 for c in fitted.search_results_["learning_curve"] if c)
        _png(ax, tmp_path / "trial_curves.png")
    with pytest.raises(ValueError, match="no 'learning_curve' column"):
        plot_learning_curves(results)


def test_missing_matplotlib_gives_an_install_hint(results, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install sknas\[plot\]"):
        plot_search_history(results)
