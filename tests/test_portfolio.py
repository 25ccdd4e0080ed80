"""Greedy portfolio construction and the shipped meta-benchmark portfolio."""

import numpy as np
import pytest

from sknas.portfolio import greedy_portfolio, normalized_regret
from sknas.space.joint import JointSpace, _shipped_portfolio
from sknas.space.mlp import MLPSpace, ResNetSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


def test_normalized_regret_is_zero_for_the_best_and_one_from_the_median_down():
    scores = np.array([[0.9, 10.0], [0.8, 30.0], [0.7, 20.0], [np.nan, 25.0]])
    r = normalized_regret(scores)
    np.testing.assert_allclose(r[:, 0], [0.0, 1.0, 1.0, 1.0])  # median of (0.9, 0.8, 0.7) is 0.8
    np.testing.assert_allclose(r[:, 1], [1.0, 0.0, 1.0, 5.0 / 7.5])  # best 30, median 22.5
    with pytest.raises(ValueError, match="2-D"):
        normalized_regret([1.0, 2.0])


def test_greedy_construction_picks_complementary_configurations():
    regret = np.array([
        [0.0, 0.0, 1.0, 1.0],    # strong on the first half of the datasets
        [1.0, 1.0, 0.0, 0.0],    # strong on the second half
        [0.4, 0.4, 0.4, 0.4],    # the best single configuration
        [0.45, 0.45, 0.45, 0.45],  # the second best single configuration
    ])
    chosen = greedy_portfolio(regret, 3)
    assert chosen == [2, 0, 1]

    def value(picks):
        return regret[picks].min(axis=0).mean()

    # greedy beats taking the k best configurations on their own (2 and 3)
    assert value(chosen[:2]) == pytest.approx(0.2)
    assert value([2, 3]) == pytest.approx(0.4)
    assert value(chosen) == 0.0
    values = [value(chosen[:k]) for k in range(1, 4)]
    assert values == sorted(values, reverse=True)


def test_greedy_ties_go_to_the_cheaper_candidate():
    regret = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert greedy_portfolio(regret, 1, cost=[5.0, 1.0, 1.0])[0] == 1
    assert greedy_portfolio(regret, 1)[0] == 0
    with pytest.raises(ValueError, match="size"):
        greedy_portfolio(regret, 0)


def test_time_aware_construction_prefers_what_fits_in_the_budget():
    # candidate 0 is the best on both datasets but takes 10 s there; candidate 1 is slightly worse and takes 1 s
    regret = np.array([[0.0, 0.0], [0.1, 0.1], [1.0, 1.0]])
    cost = np.array([[10.0, 10.0], [1.0, 1.0], [0.5, 0.5]])
    assert greedy_portfolio(regret, 1) == [0]  # no budget: the old choice
    assert greedy_portfolio(regret, 1, cost=cost.mean(axis=1)) == [0]
    assert greedy_portfolio(regret, 1, cost=cost, budget=5.0) == [1]  # 10 s cannot run in 5 s
    assert greedy_portfolio(regret, 1, cost=cost, budget=10.0) == [0]  # it can in 10 s
    # the budget is per dataset: room for the expensive one on the second dataset only
    assert greedy_portfolio(regret, 2, cost=cost, budget=[5.0, 12.0]) == [1, 0]


def test_time_aware_construction_counts_the_cost_of_the_entries_before():
    # after candidate 1 (3 s), candidate 2 (4 s) no longer fits a 6 s budget although alone it would,
    # and it complements 1 better than 0 does: 0 (3 s) is taken instead
    regret = np.array([[0.5, 0.5], [0.0, 0.8], [1.0, 0.0], [0.6, 0.6]])
    cost = np.array([[3.0, 3.0], [3.0, 3.0], [4.0, 4.0], [3.0, 3.0]])
    assert greedy_portfolio(regret, 2) == [1, 2]
    assert greedy_portfolio(regret, 2, cost=cost, budget=6.0) == [1, 0]
    assert greedy_portfolio(regret, 2, cost=cost, budget=7.0) == [1, 2]
    # a fixed first entry counts as chosen and takes its share of the budget
    assert greedy_portfolio(regret, 1, cost=cost, budget=6.0, start=[1]) == [0]
    assert greedy_portfolio(regret, 1, cost=cost, budget=7.0, start=[2]) == [1]  # 4 s + 3 s fit in 7 s
    # after a 3 s start and candidate 1, candidate 0 no longer fits 6 s either: nothing lowers the regret
    # within the budget, and the tie goes to what lowers it most without the budget (for longer searches)
    assert greedy_portfolio(regret, 2, cost=cost, budget=6.0, start=[3]) == [1, 2]
    with pytest.raises(ValueError, match="cost"):
        greedy_portfolio(regret, 1, budget=6.0)
    with pytest.raises(ValueError, match="shape"):
        greedy_portfolio(regret, 1, cost=np.ones((4, 3)), budget=6.0)
    with pytest.raises(ValueError, match="non-negative"):
        greedy_portfolio(regret, 1, cost=-cost, budget=6.0)
    with pytest.raises(ValueError, match="start"):
        greedy_portfolio(regret, 1, start=[7])


def _space(task, arch=None, pipeline=True, **training):
    return JointSpace(arch=arch if arch is not None else MLPSpace(), training=TrainingSpace(task=task, **training),
                      pipeline=PipelineSpace(task=task) if pipeline else None)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_shipped_portfolio_comes_first_and_is_valid(task):
    shipped = _shipped_portfolio()
    assert shipped is not None and shipped["entries"], "sknas/data/portfolio.json is missing or empty"
    space = _space(task)
    entries = space.portfolio()
    assert len(entries) >= 1
    names = {p.name for p in space.params}
    first = shipped["entries"][0]
    for g in entries:
        assert space.validate(g) == g
    # the linear model leads (it trains in well under a second), with its own learning rate and scaler
    assert entries[0]["n_blocks"] == 0 and entries[0]["lr"] == 1e-2 and entries[0]["batch_size"] == 64
    assert entries[0]["scaler"] == "standard"
    # then the shipped entries, restricted to this space's keys
    assert all(entries[1][k] == v for k, v in first.items() if k in entries[1])
    assert set(entries[1]) <= names
    assert len(entries) == 1 + len(shipped["entries"])


def test_the_linear_entry_keeps_the_settings_a_customised_part_allows():
    space = JointSpace(MLPSpace(), TrainingSpace("regression"), PipelineSpace(task="regression", scalers=("quantile",)))
    first = space.portfolio()[0]
    assert first["n_blocks"] == 0 and first["lr"] == 1e-2 and first["scaler"] == "quantile"
    # a space without the linear model has no such entry
    deep = _space("regression", arch=MLPSpace(min_blocks=1))
    assert all(g["n_blocks"] >= 1 for g in deep.portfolio())


def test_a_customised_space_keeps_the_entries_it_can_hold_and_falls_back_to_its_own():
    narrow = _space("classification", arch=MLPSpace(max_blocks=1, activations=("relu",)), pipeline=False)
    entries = narrow.portfolio()
    assert entries[0]["n_blocks"] == 0
    # the shipped entries it holds are kept (at most one block, relu only; a linear entry has no activation),
    # the others (silu, two blocks) are left out
    assert all(g["n_blocks"] <= 1 and g.get("act_0", "relu") == "relu" for g in entries[1:])
    assert 1 < len(entries) < 1 + len(_shipped_portfolio()["entries"])
    assert all(narrow.validate(g) == g for g in entries)
    # nothing of the shipped portfolio fits a ResNet space: its hand-picked portfolio is used
    resnet = _space("classification", arch=ResNetSpace())
    assert resnet.portfolio() == resnet.hand_portfolio()
