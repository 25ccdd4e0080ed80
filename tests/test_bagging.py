"""k-fold bagging as the final model and Caruana ensembles of bags (issue 17, items 1 and 2)."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.metrics import get_scorer

import sknas
from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.evaluation.ensembles import EnsembleClassifier, EnsembleRegressor, best_prefix, ensemble_selection

# 3 folds (validation_fraction=1/3), few epochs: fast
FAST = dict(time_budget=None, max_epochs=8, random_state=0, validation_fraction=1 / 3, search="random")


@pytest.fixture(scope="module")
def bagged(iris):
    X, y = iris
    return AutoNASClassifier(max_trials=1, **FAST).fit(X, y)  # one trial: its bag is the model


def test_a_cross_validated_fit_predicts_with_the_bag_of_its_fold_models(iris, bagged):
    X, _ = iris
    bag = bagged.ensemble_
    assert isinstance(bag, EnsembleClassifier) and len(bag.estimators) == 3 and list(bag.weights) == [1, 1, 1]
    assert bagged.ensemble_members_ == [bagged.best_index_]
    # the members are the best trial's fold pipelines; best_estimator_ is the first fold's, not a refit
    assert bagged.best_estimator_ is bag.estimators[0] and bagged.refit_ is False
    assert all(list(m.named_steps) == ["preprocessing", "net"] for m in bag.estimators)
    assert len({id(m.named_steps["net"]) for m in bag.estimators}) == 3
    mean = np.mean([m.predict_proba(X) for m in bag.estimators], axis=0)
    np.testing.assert_allclose(bagged.predict_proba(X), mean, rtol=1e-6)
    assert not np.allclose(bag.estimators[0].predict_proba(X), bag.estimators[1].predict_proba(X))
    assert set(bagged.predict(X)) <= set(bagged.classes_)


def test_a_regressors_bag_predicts_the_mean_of_its_members():
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:300], y[:300]
    reg = AutoNASRegressor(max_trials=1, **FAST).fit(X, y)
    bag = reg.ensemble_
    assert isinstance(bag, EnsembleRegressor) and len(bag.estimators) == 3
    np.testing.assert_allclose(reg.predict(X), np.mean([m.predict(X) for m in bag.estimators], axis=0), rtol=1e-5)


def test_ensemble_size_1_keeps_one_network_refit_on_all_the_data(iris):
    X, y = iris
    clf = AutoNASClassifier(max_trials=2, ensemble_size=1, **FAST).fit(X, y)
    assert clf.ensemble_ is None and clf.refit_ is True
    np.testing.assert_allclose(clf.predict_proba(X), clf.best_estimator_.predict_proba(X))


def test_the_prefix_kept_scores_best_and_is_never_worse_than_the_first_pick():
    members, scores = [3, 1, 3, 0, 0], [0.80, 0.84, 0.86, 0.85, 0.86]
    counts, score = best_prefix(members, scores)
    assert counts == {3: 2, 1: 1} and score == 0.86  # the shortest of the best prefixes
    assert best_prefix([2, 2, 1], [0.9, 0.8, 0.7]) == ({2: 1}, 0.9)


def test_auto_ensemble_is_at_least_as_good_as_its_best_member_on_validation():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=300)
    onehot = np.eye(3)[y]
    preds = [np.clip(onehot + rng.normal(0, s, size=onehot.shape), 1e-3, None) for s in (0.7, 0.8, 0.9, 3.0)]
    preds = [p / p.sum(axis=1, keepdims=True) for p in preds]
    scorer = get_scorer("neg_log_loss")
    classes = np.arange(3)
    members, scores = ensemble_selection(preds, y, scorer, 25, classes)
    counts, score = best_prefix(members, scores)
    singles = [scorer._sign * scorer._score_func(y, p) for p in preds]
    assert score >= max(singles) - 1e-12
    assert score > max(singles)  # independent errors: averaging helps here
    assert 3 not in counts or counts[3] < max(counts.values())  # the poor model is not what carries it


def test_auto_ensemble_of_bags_end_to_end_and_it_saves_and_loads(iris, tmp_path):
    X, y = iris
    clf = AutoNASClassifier(max_trials=4, **FAST).fit(X, y)  # ensemble_size="auto" is the default
    assert clf.get_params()["ensemble_size"] == "auto"
    final = clf.ensemble_
    assert final is not None
    bags = final.estimators if len(clf.ensemble_members_) > 1 else [final]
    assert all(isinstance(b, EnsembleClassifier) and len(b.estimators) == 3 for b in bags)
    assert sum(clf.ensemble_weights_) <= 25 and set(clf.ensemble_members_) <= set(range(4))
    np.testing.assert_allclose(clf.predict_proba(X), final.predict_proba(X))
    path = tmp_path / "model.sknas"
    clf.save(path)
    back = sknas.load(path)
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(back.best_estimator_.predict_proba(X), clf.best_estimator_.predict_proba(X), rtol=1e-6)
