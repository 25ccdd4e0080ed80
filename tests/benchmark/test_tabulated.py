"""The tabulated benchmark: its space, its table, its evaluator, and the optimizers on it.

The table turns a search into lookups, so the last tests can afford what
training never could: optimizers against random search over 100 to 300 seeds
each, with the difference of mean regrets judged against its standard error.
Evolution's check runs with the default suite; smbo's, bohb's and
reinforce's take minutes (their own model fitting, not the table) and run
with ``pytest -m slow``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from sknas.benchmark.tabulated import (
    CURVES, DEFAULT_TABLE, TabularBenchmark, TabularBenchSpace, digits_split, enumerate_genotypes,
    load_table, regret_at, train_learning_curve,
)
from sknas.evaluation.trial import TrialResult
from sknas.search.base import Candidate
from sknas.search.bohb import BOHB
from sknas.search.evolution import RegularizedEvolution
from sknas.search.random import RandomSearch
from sknas.search.reinforce import ReinforceSearch
from sknas.search.smbo import SMBOSearch
from sknas.space.genotype import Genotype


# -- the space --------------------------------------------------------------------
def test_space_is_small_enumerable_and_conditional():
    space = TabularBenchSpace()
    genotypes = enumerate_genotypes(space)
    assert len(genotypes) == len(set(genotypes)) == 6 + 72 + 1296
    assert all(space.validate(g) == g for g in genotypes)
    rng = np.random.default_rng(0)
    assert all(space.sample(rng) in set(genotypes) for _ in range(300))
    for g in genotypes:
        n = g["n_blocks"]
        assert all((f"width_{i}" in g) == (i < n) for i in range(3))
    # The network is a real DenseDAG of the mlp space family.
    g = Genotype({"n_blocks": 2, "width_0": 16, "act_0": "selu", "width_1": 64, "act_1": "relu", "skip_1": 0})
    net = space.build(g, 64, 10)
    assert type(net).__name__ == "DenseDAG" and net.skips == [None, 0]
    assert net.blocks[1][0].in_features == 16 + 64


# -- the table --------------------------------------------------------------------
def test_shipped_table_covers_the_space_and_is_compact(bench):
    from importlib import resources

    with resources.as_file(resources.files("sknas").joinpath("data", DEFAULT_TABLE)) as path:
        assert path.stat().st_size < 3_000_000
    assert set(bench.genotypes) == set(enumerate_genotypes(TabularBenchSpace()))
    assert len(bench) == 1374 and bench.max_epochs == 12 and bench.n_runs >= 2
    assert list(bench.epochs) == list(range(1, 13))
    table = load_table()
    for name in CURVES:
        assert np.all(np.isfinite(table[name]))
    for name in ("valid_accuracy", "test_accuracy"):
        assert table[name].min() >= 0.0 and table[name].max() <= 1.0
    assert np.all(np.diff(table["train_time"], axis=2) > 0) and np.all(table["train_time"] > 0)
    assert bench.meta["dataset"] == "sklearn.datasets.load_digits"
    assert bench.meta["split"] == {**bench.meta["split"], "train": 898, "valid": 449, "test": 450}
    # A landscape worth searching: a wide spread of final scores, a clear optimum.
    final = bench.final_test_accuracy
    assert final.max() - np.median(final) > 0.02 and final.max() - final.min() > 0.2
    assert bench.optimum == final.max() and bench.regret(bench.best_genotype) == 0.0


def test_table_was_made_by_training_with_sknas():
    bench = TabularBenchmark()
    g = Genotype({"n_blocks": 1, "width_0": 16, "act_0": "selu"})
    data = digits_split(bench.meta["split"]["random_state"])
    record = train_learning_curve(
        TabularBenchSpace(), g, data, epochs=4, seed=bench.meta["seeds"][0], classes=np.arange(10),
    )
    recorded = [bench.lookup(g, epochs=e, run=0)["valid_accuracy"] for e in range(1, 5)]
    # The same seed retrains the same network (up to floating-point differences between CPUs).
    assert np.allclose(record["valid_accuracy"], recorded, atol=0.03)
    assert record["n_params"] == bench.lookup(g)["n_params"]


def test_load_table_rejects_what_is_not_a_table(tmp_path):
    with pytest.raises(ValueError, match="no table file"):
        load_table(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a sknas benchmark table"):
        load_table(tmp_path / "other.npz")


# -- the evaluator ----------------------------------------------------------------
def test_evaluate_answers_from_the_table(bench):
    rng = np.random.default_rng(0)
    for g in (bench.space.sample(rng) for _ in range(20)):
        full = bench.evaluate(Candidate(g))
        assert isinstance(full, TrialResult) and full.status == "ok"
        assert full.score == pytest.approx(bench.lookup(g)["valid_accuracy"])
        assert full.fit_time == pytest.approx(bench.lookup(g)["train_time"]) and full.fit_time > 0
        assert full.n_epochs == 12 and len(full.learning_curve) == 12 and full.n_params > 0
        # Same answer twice; more epochs than recorded is the full fidelity.
        assert bench.evaluate(Candidate(g)) == full
        assert bench.evaluate(Candidate(g, epochs=100)) == full
        low = bench.evaluate(Candidate(g, epochs=4))
        assert low.n_epochs == 4 and len(low.learning_curve) == 4
        assert low.fit_time < full.fit_time
        assert low.score == pytest.approx(bench.lookup(g, epochs=4)["valid_accuracy"])
        # Test accuracy is never what a searcher is told.
        assert bench.test_accuracy(g) == pytest.approx(bench.final_test_accuracy[bench.genotypes.index(g)])


def test_sampled_runs_are_the_recorded_runs(bench):
    noisy = TabularBenchmark(runs="sample")
    g = bench.best_genotype
    scores = [noisy.evaluate(Candidate(g), seed=s).score for s in range(noisy.n_runs)]
    assert scores == [bench.lookup(g, run=r)["valid_accuracy"] for r in range(noisy.n_runs)]
    assert np.mean(scores) == pytest.approx(bench.evaluate(Candidate(g)).score)
    assert noisy.evaluate(Candidate(g), seed=noisy.n_runs).score == scores[0]


def test_evaluate_refuses_what_the_table_cannot_answer(bench):
    g = bench.best_genotype
    with pytest.raises(ValueError, match="data_fraction"):
        bench.evaluate(Candidate(g, data_fraction=0.5))
    with pytest.raises(ValueError):
        bench.evaluate(Candidate(g.replace(width_0=32)))
    with pytest.raises(ValueError):
        bench.evaluate(Candidate(Genotype({"n_blocks": 1, "width_0": 16, "act_0": "relu", "width_1": 16})))
    with pytest.raises(TypeError, match="Candidate"):
        bench.evaluate(g)
    with pytest.raises(ValueError, match="runs"):
        TabularBenchmark(runs="median")


# -- the simulation ---------------------------------------------------------------
def test_simulate_charges_the_recorded_time_and_tracks_the_incumbent(bench):
    searcher = RegularizedEvolution(population_size=10, sample_size=3)
    run = bench.simulate(searcher, max_trials=40, seed=0)
    assert not hasattr(searcher, "space_")  # the searcher given is cloned, never changed
    assert list(run["trial"]) == list(range(1, 41))
    assert np.allclose(run["time"], np.cumsum(run["fit_time"]))
    assert np.all(run["regret"] >= 0) and run["optimum"] == bench.optimum
    assert np.all(np.diff(run["incumbent_score"]) >= 0)
    for k in range(40):
        best = int(np.argmax(run["score"][: k + 1]))  # argmax: the earliest of equal scores
        assert run["incumbent_score"][k] == run["score"][best]
        assert run["regret"][k] == pytest.approx(bench.regret(run["genotype"][best]))
    again = bench.simulate(searcher, max_trials=40, seed=0)
    assert again["genotype"] == run["genotype"]
    assert bench.simulate(searcher, max_trials=40, seed=1)["genotype"] != run["genotype"]
    assert regret_at(run, [0.0, run["time"][4], 1e9]) == pytest.approx(
        [np.nan, run["regret"][4], run["regret"][-1]], nan_ok=True)


def test_simulate_stops_at_the_budget(bench):
    run = bench.simulate("random", budget_seconds=5.0, seed=0)
    assert run["time"][-2] < 5.0 <= run["time"][-1]
    run = bench.simulate("hyperband", budget_seconds=5.0, max_trials=7, seed=0)
    assert len(run["trial"]) == 7 and run["epochs"][0] == 1  # told the table's full fidelity
    with pytest.raises(ValueError, match="budget_seconds, max_trials"):
        bench.simulate("random", seed=0)
    with pytest.raises(ValueError, match="max_trials"):
        bench.simulate("random", max_trials=0)


def test_simulate_refuses_searchers_that_train_weights(bench):
    class OwnsWeights(RandomSearch):
        needs_data = True

    with pytest.raises(ValueError, match="needs_data"):
        bench.simulate(OwnsWeights(), max_trials=5)


def test_grid_search_sweeps_the_whole_table(bench):
    run = bench.simulate("grid", max_trials=5000, seed=0)
    assert len(run["trial"]) == len(bench) and len(set(run["genotype"])) == len(bench)
    assert run["incumbent_score"][-1] == max(bench.lookup(g)["valid_accuracy"] for g in bench.genotypes)
    assert run["time"][-1] == pytest.approx(sum(bench.lookup(g)["train_time"] for g in bench.genotypes))


# -- the optimizers against random search -------------------------------------------
# The check: over at least 100 seeds and one simulated budget, evolution,
# smbo and bohb reach a lower mean regret than random search by more than twice
# the standard error of the difference, and reinforce at least matches random.
BUDGET = 20.0  # simulated seconds of training: about 80 trainings of the mean network, 6% of the table

# Seeds per optimizer: at least 100; more where a run costs next to nothing.
# smbo's and bohb's gains are the smallest (about 0.15 accuracy points after
# this budget, against 0.25 for evolution), so they get 200 seeds: about four
# standard errors then, where 100 seeds would leave them near the threshold.
SEEDS = {"random": 300, "evolution": 300, "smbo": 200, "bohb": 200, "reinforce": 100}

# Default parameters, except smbo's forest and candidate pool, made smaller
# (10 trees instead of 50, 100 candidates instead of 500) so that a hundred
# runs of about 75 trials take a minute rather than half an hour.
FACTORIES = {
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "smbo": lambda: SMBOSearch(
        n_candidates=100, predictor=RandomForestRegressor(n_estimators=10, min_samples_split=3, max_features=0.8),
    ),
    "bohb": BOHB,
    "reinforce": ReinforceSearch,
}

_FINAL_REGRETS = {}


def final_regrets(bench, name):
    """Regret after BUDGET simulated seconds, one value per seed (computed once per session)."""
    if name not in _FINAL_REGRETS:
        _FINAL_REGRETS[name] = np.array([
            regret_at(bench.simulate(FACTORIES[name](), budget_seconds=BUDGET, seed=seed), [BUDGET])[0]
            for seed in range(SEEDS[name])
        ])
    return _FINAL_REGRETS[name]


def difference_to_random(bench, name):
    """Mean regret of random search minus that of ``name``, and its standard error."""
    ours, random = final_regrets(bench, name), final_regrets(bench, "random")
    se = np.hypot(ours.std(ddof=1) / np.sqrt(len(ours)), random.std(ddof=1) / np.sqrt(len(random)))
    return random.mean() - ours.mean(), se


# The three below cost one to four minutes of one core each (smbo's forest,
# hyperopt inside bohb, the torch controller of reinforce): run them with -m slow.
@pytest.mark.parametrize("name", [
    pytest.param("evolution", marks=pytest.mark.slow),  # 10 s: the CI budget
    pytest.param("smbo", marks=pytest.mark.slow),
    pytest.param("bohb", marks=pytest.mark.slow),
])
def test_optimizer_beats_random_search(bench, name):
    gain, se = difference_to_random(bench, name)
    assert gain > 2 * se, f"{name}: mean regret lower than random's by {gain:.4f} (SE {se:.4f})"


@pytest.mark.slow
def test_reinforce_matches_random_search(bench):
    gain, se = difference_to_random(bench, "reinforce")
    assert gain >= -2 * se, f"reinforce: mean regret higher than random's by {-gain:.4f} (SE {se:.4f})"
