"""PredictorFilter: any searcher, its proposals ranked by a surrogate."""

import math

import numpy as np
import pytest

from sknas.search.base import SEARCHERS
from sknas.search.grid import GridSearch
from sknas.search.hyperband import Hyperband
from sknas.search.predictor_filter import PredictorFilter
from sknas.search.random import RandomSearch
from sknas.space.base import SearchSpace
from sknas.space.params import Categorical, Float, Int


class Toy(SearchSpace):
    def _params(self):
        return [Categorical("op", ("a", "b", "c", "d")), Int("depth", 1, 9), Float("rate", 0.0, 1.0)]


def score(g):
    return 2.0 * (g["op"] == "d") + (1 - abs(g["depth"] - 7) / 8) + (1 - abs(g["rate"] - 0.75))


class R:
    def __init__(self, s):
        self.status, self.score = "ok", s


def run(searcher, n=25, seed=0):
    searcher.setup(Toy(), seed)
    best = -math.inf
    for _ in range(n):
        c = searcher.ask(1)[0]
        s = score(c.genotype)
        best = max(best, s)
        searcher.tell(c, R(s))
    return best, searcher


def mean_later_score(searcher, n=25, skip=6, seed=0):
    """Mean true score of the trials after the first ``skip`` (those a filter ranks)."""
    searcher.setup(Toy(), seed)
    scores = []
    for _ in range(n):
        c = searcher.ask(1)[0]
        scores.append(score(c.genotype))
        searcher.tell(c, R(scores[-1]))
    return float(np.mean(scores[skip:]))


# 8 s and ~100 s on a loaded 2-core machine (SemiNAS trains a network per ask): run with -m slow
@pytest.mark.slow
@pytest.mark.parametrize("semi", [False, True])
def test_filtered_random_search_proposes_better_candidates_than_random_search(semi):
    seeds = range(6) if semi else range(10)
    filtered = [mean_later_score(PredictorFilter("random", semi_supervised=semi, n_unlabelled=50), seed=s)
                for s in seeds]
    plain = [mean_later_score(RandomSearch(), seed=s) for s in seeds]
    diff = np.array(filtered) - np.array(plain)
    assert diff.mean() > 3 * diff.std(ddof=1) / np.sqrt(len(diff))


def test_rank_correlation_on_held_out_trials_is_reported_and_positive():
    _, searcher = run(PredictorFilter("random", n_proposals=3), n=40)
    assert searcher.rank_correlation_ is not None and searcher.rank_correlation_ > 0.2


# -- the protocol: the wrapped searcher knows of exactly the candidates that are evaluated -------------------------

BLACK_BOX = ["random", "grid", "tpe", "evolution", "reinforce", "smbo", "hyperband", "bohb", "pnas", "nao", "ppo",
             "qlearning", "metanas"]


def _small(name):
    from sklearn.ensemble import RandomForestRegressor

    from sknas.search.nao import NAOSearch
    from sknas.search.smbo import SMBOSearch

    # the model-based searchers' own (slow) model fits are cut down; the protocol is the same
    small = {
        "nao": lambda: NAOSearch(n_initial=4, hidden_size=8, train_steps=5, n_unlabelled=8),
        "smbo": lambda: SMBOSearch(n_initial=4, n_candidates=50, predictor=RandomForestRegressor(n_estimators=5)),
    }
    return small.get(name, lambda: name)()


def test_black_box_list_is_every_registered_searcher_that_needs_no_data():
    from sknas.search.base import make_searcher

    assert sorted(BLACK_BOX) == sorted(n for n in SEARCHERS if not make_searcher(n).needs_data)


@pytest.mark.parametrize("name", BLACK_BOX)
def test_filter_runs_around_every_black_box_searcher(bench, name):
    run = bench.simulate(PredictorFilter(_small(name), predictor="knn", n_proposals=3, min_trials=4),
                         max_trials=14, seed=0)
    searcher = run["searcher"]
    assert len(run["trial"]) == 14 and np.isfinite(run["regret"]).all()
    # every candidate evaluated was told to the wrapped searcher, and nothing else was
    assert [c for c, _ in searcher.inner_.history_] == [c for c, _ in searcher.history_]
    assert len(set(run["genotype"])) == len(run["genotype"]) or name in ("hyperband", "bohb")
    if name != "pnas":  # PNAS's own queue is deterministic: passed through unfiltered
        assert searcher.n_filtered_ > 0


@pytest.mark.parametrize("name", ["hyperband", "bohb"])
def test_filtered_multi_fidelity_searchers_complete_their_rungs(bench, name):
    run = bench.simulate(PredictorFilter(name, predictor="knn", min_trials=4), max_trials=40, seed=1)
    searcher = run["searcher"]
    inner = searcher.inner_
    meta = [dict(c.meta) for c, _ in searcher.history_]
    rungs = [m["rung"] for m in meta]
    assert rungs.count(1) >= 3 and rungs.count(2) >= 1  # promotions happen, up to the full fidelity
    assert len(inner._order) <= 1  # one worker: every bracket but the newest is finished (was: 165 open)
    # each bracket's first rung got exactly its planned configurations, filtered by the predictor
    plan = inner.brackets_
    for b in range(inner.n_brackets_started_ - 1):
        assert sum(m["bracket"] == b and m["rung"] == 0 for m in meta) == plan[b % len(plan)][0][0]
    assert any("predicted_score" in m for m in meta if m["rung"] == 0)
    assert not inner._pending  # no candidate proposed and never told
    assert searcher.rank_correlation_ is not None


def test_evolution_initial_population_and_reinforce_queue_hold_only_evaluated_candidates(bench):
    from sknas.search.evolution import RegularizedEvolution

    run = bench.simulate(PredictorFilter(RegularizedEvolution(population_size=10), predictor="knn", min_trials=3),
                         max_trials=8, seed=0)
    inner = run["searcher"].inner_
    assert inner._n_initial == 8  # was 10 after the second filtered ask: 5 draws per slot used up the population
    assert inner._proposed == set(run["genotype"])
    run = bench.simulate(PredictorFilter("reinforce", predictor="knn", min_trials=3), max_trials=8, seed=0)
    assert not run["searcher"].inner_._pending  # was: the discarded sequences queued, never rewarded


def test_filtered_grid_is_reordered_not_cut(bench):
    space = Toy()
    filtered = PredictorFilter(GridSearch(n_levels=2), predictor="knn", n_proposals=4, min_trials=3).setup(space, 0)
    plain = GridSearch(n_levels=2).setup(space, 0)
    seen = []
    while True:
        asked = filtered.ask(2)
        if not asked:
            break
        for c in asked:
            seen.append(c.genotype)
            filtered.tell(c, R(score(c.genotype)))
    assert sorted(map(str, seen)) == sorted(str(c.genotype) for c in plain.ask(plain.n_grid_points_))
    assert len(seen) == plain.n_grid_points_ and filtered.n_filtered_ > 0


def test_filter_refuses_searchers_that_train_weights():
    with pytest.raises(ValueError, match="needs_data"):
        PredictorFilter("morphism").setup(Toy(), 0)
    with pytest.raises(ValueError, match="semi_supervised"):
        PredictorFilter(semi_supervised=True, predictor="forest").setup(Toy(), 0)


def test_filtered_hyperband_is_reproducible(bench):
    a = bench.simulate(PredictorFilter(Hyperband(), predictor="knn", min_trials=4), max_trials=20, seed=3)
    b = bench.simulate(PredictorFilter(Hyperband(), predictor="knn", min_trials=4), max_trials=20, seed=3)
    assert a["genotype"] == b["genotype"] and list(a["epochs"]) == list(b["epochs"])


def test_filter_state_survives_a_checkpoint(bench, tmp_path):
    from sknas.checkpoint import open_checkpoint, write_checkpoint

    run = bench.simulate(PredictorFilter("hyperband", predictor="knn", min_trials=4), max_trials=12, seed=0)
    searcher = run["searcher"]
    write_checkpoint(tmp_path / "f.ckpt", "fp", {"searcher": searcher})
    back = open_checkpoint(tmp_path / "f.ckpt").state()["searcher"]
    for _ in range(6):
        a, b = searcher.ask(1)[0], back.ask(1)[0]
        assert a == b and dict(a.meta) == dict(b.meta)
        result = bench.evaluate(a)
        searcher.tell(a, result)
        back.tell(b, result)
