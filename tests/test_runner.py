import time

import numpy as np
import pytest
from sklearn.metrics import get_scorer

from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.runner import PostSearch, Runner
from sknas.search.random import RandomSearch
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace


def data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 5)) + y[:, None]
    k = n * 3 // 4
    return TrialData(X[:k], y[:k], X[k:], y[k:]), X, y


def make(space, **kwargs):
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=kwargs.pop("max_epochs", 10),
                   classes=np.array([0, 1]))
    searcher = RandomSearch().setup(space, 0)
    return Runner(searcher, ev, **kwargs)


def test_portfolio_first_then_searcher_and_trial_cap():
    space = JointSpace(MLPSpace(max_blocks=2, max_width=32), TrainingSpace())
    d, _, _ = data()
    runner = make(space, max_trials=4, portfolio=space.portfolio())
    results = runner.run(d).to_dict()
    assert len(results["trial"]) == 4
    n_port = len(space.portfolio())
    assert results["source"] == ["portfolio"] * n_port + ["searcher"] * (4 - n_port)
    assert results["genotype"][:n_port] == space.portfolio()
    best = int(np.argmax(results["score"]))
    assert runner.best_index == best and runner.best_model is not None


def test_time_budget_is_honoured_and_refit_fits_in_it(fake_clock):
    # the clock moves one second per call (about one per batch trained): the budget counts calls, not seconds
    space = JointSpace(MLPSpace(max_blocks=3), TrainingSpace())
    d, X, y = data()
    runner = make(space, time_budget=150.0, start=time.time(), max_epochs=1000, n_train=len(d.y_train),
                  n_refit=len(y))
    runner.run(d)
    model, refitted = PostSearch(runner).refit_best(X, y)
    assert fake_clock.now <= 150.0 * 1.1  # the wall-clock bar's slack (the call that finds the deadline passed)
    assert len(runner.results) >= 1 and model.predict(X[:4]).shape == (4,)
    assert runner.results.rows[0]["stop_reason"] == "time_limit"  # 1000 epochs would not fit


@pytest.mark.slow
def test_time_budget_is_honoured_and_refit_fits_in_it_on_the_wall_clock():
    """The same on the real clock, with a time bar: a busy machine may break it, so slow-only."""
    space = JointSpace(MLPSpace(max_blocks=3), TrainingSpace())
    d, X, y = data(n=3000)
    start = time.time()
    runner = make(space, time_budget=6.0, start=start, max_epochs=1000, n_train=len(d.y_train), n_refit=len(y))
    runner.run(d)
    model, refitted = PostSearch(runner).refit_best(X, y)
    elapsed = time.time() - start
    assert elapsed <= 6.0 * 1.1, elapsed
    assert len(runner.results) >= 1 and model.predict(X[:4]).shape == (4,)


def test_constraint_filters_the_best_trial():
    space = JointSpace(MLPSpace(max_blocks=2), TrainingSpace())
    d, _, _ = data()
    runner = make(space, max_trials=6, accept=lambda r: r.n_params <= 2_000)
    results = runner.run(d).to_dict()
    ok = [i for i in range(6) if results["status"][i] == "ok" and results["n_params"][i] <= 2_000]
    if ok:
        assert runner.best_index in ok
        assert runner.best_result.n_params <= 2_000
    else:
        assert runner.best_result is None


def test_a_trial_leaves_room_for_its_own_refit():
    space = JointSpace(arch=MLPSpace(max_blocks=1), training=TrainingSpace(task="classification"))
    # a holdout trial on 1,000 rows, refit on 1,333: the trial may use at most remaining / (1 + 1.3 * 1.333)
    runner = make(space, time_budget=100.0, n_train=1000, n_refit=1333)
    runner._n_folds = 1
    left = runner._trial_deadline() - time.time()
    assert 34.0 < left < 37.0, left
    # without a refit to plan for, only the per-trial share (0.4 of the budget) limits it
    runner = make(space, time_budget=100.0)
    assert 39.0 < runner._trial_deadline() - time.time() < 40.5
    # with 4 folds the refit costs a quarter of the trial's time per fold: the share binds again
    runner = make(space, time_budget=100.0, n_train=1000, n_refit=1333)
    runner._n_folds = 4
    assert 39.0 < runner._trial_deadline() - time.time() < 40.5


def test_a_trial_cut_short_of_its_folds_ranks_below_complete_ones():
    """A deadline-cut cross-validation trial is scored on fewer rows: it cannot displace a complete one."""
    from sknas.evaluation.trial import TrialResult
    from sknas.search.base import Candidate

    space = JointSpace(MLPSpace(max_blocks=2), TrainingSpace())
    runner = make(space, max_trials=10, library_size=5)
    runner._n_folds = 3
    rng = np.random.default_rng(0)
    genotypes = [space.sample(rng) for _ in range(3)]
    preds = np.full((6, 2), 0.5)
    complete = TrialResult(score=0.80, n_folds=3, predictions=preds)
    partial = TrialResult(score=0.95, n_folds=1)  # one fold of three before the deadline
    runner._record(Candidate(genotypes[0]), "searcher", complete)
    runner._record(Candidate(genotypes[1]), "searcher", partial)
    assert runner.best_index == 0
    assert [entry[0] for entry in runner.library] == [0]
    # on its own, a partial trial is still better than nothing
    alone = make(space, max_trials=10)
    alone._n_folds = 3
    alone._record(Candidate(genotypes[1]), "searcher", TrialResult(score=0.95, n_folds=1))
    assert alone.best_index == 0 and alone.best_result.score == 0.95
    # an ensemble is only built over a library that holds the best trial
    runner._record(Candidate(genotypes[2]), "searcher", TrialResult(score=0.70, n_folds=3, predictions=preds))
    y = np.array([0, 1, 0, 1, 0, 1])
    assert len(runner.library) == 2
    runner.best_index = 1  # e.g. replaced by a full-fidelity retrain that has no validation predictions
    assert PostSearch(runner).build_ensemble(3, y, get_scorer("accuracy"), np.array([0, 1]), None, None) is None


def test_the_pruning_incumbent_is_the_best_trials_scored_model_loss():
    from sknas.evaluation.trial import TrialResult
    from sknas.search.base import Candidate

    space = JointSpace(MLPSpace(max_blocks=2), TrainingSpace())
    runner = make(space, max_trials=10)
    runner.evaluator.prune = True
    assert runner._incumbent_loss() is None  # nothing to beat yet
    g = space.sample(np.random.default_rng(0))
    # a snapshot ensemble: its averaged snapshots score a loss above its curve's best epoch
    runner._record(Candidate(g), "searcher", TrialResult(score=0.9, plain_curve=[0.6, 0.2, 0.4], plain_loss=0.3))
    assert runner._incumbent_loss() == 0.3
    # a result from before plain_loss was recorded (a restored checkpoint) falls back to the curve
    runner._record(Candidate(g), "searcher", TrialResult(score=0.95, plain_curve=[0.5, 0.25]))
    assert runner._incumbent_loss() == 0.25
    runner.evaluator.prune = False
    assert runner._incumbent_loss() is None


def test_budget_reserves_the_refit_with_one_safety_factor():
    from sknas.evaluation.trial import TrialResult
    from sknas.runner import SAFETY, Budget

    budget = Budget(100.0, start=time.time(), n_train=800, n_refit=1000)
    trial = TrialResult(score=0.9, fit_time=8.0, n_epochs=20, best_epoch=10, n_folds=1)
    plain = budget.refit_estimate(trial, bagging=False, safety=1.0)
    assert plain == pytest.approx(8.0 / 20 * 10 * (1000 / 800) + 0.1)
    assert budget.refit_estimate(trial, bagging=False) == pytest.approx((plain - 0.1) * SAFETY + 0.1)
    assert budget.reserve(trial, bagging=False) == budget.refit_estimate(trial, bagging=False)
    assert budget.refit_estimate(trial, bagging=True) == 0.0  # a bag is final: no refit to reserve
    # the search stops early enough for the reserve and the margin
    assert budget.search_deadline(trial, bagging=False) == pytest.approx(
        budget.deadline - budget.margin() - budget.reserve(trial, bagging=False))
    # a trial's deadline leaves room for its own refit, and never passes the search's deadline
    clock = budget.trial_clock(trial, bagging=False, n_folds=1)
    now = time.time()
    assert clock.deadline(now) <= budget.search_deadline(trial, bagging=False) + 1e-6
    assert clock.deadline(now) - now <= (budget.deadline - budget.margin() - now) / (1 + SAFETY * 1000 / 800) + 1e-6
    assert Budget(None, start=0.0).trial_clock(trial, bagging=False, n_folds=1) is None


def test_a_warm_started_search_keeps_its_multi_objective_reward():
    """The MnasNet reward's reference cost is fixed by the first successful trial; it used to live in a
    closure that the estimator rebuilt for every fit, so a warm-started (or resumed) search changed its
    reward. It is part of Runner.state() now."""
    from sklearn.datasets import load_iris

    from sknas import AutoNASClassifier

    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(max_trials=2, max_epochs=3, warm_start=True, objectives=("score", "params"),
                            random_state=0, search="random")
    clf.fit(X, y)
    first = clf.search_results_["n_params"][clf.search_results_["status"].index("ok")]
    assert clf._search_state["runner"]["reward_targets"] == {"params": first}
    clf.set_params(max_trials=4)
    clf.fit(X, y)
    assert clf._search_state["runner"]["reward_targets"] == {"params": first}
    assert len(clf.search_results_["trial"]) == 4
