"""The mlp space's linear model (``n_blocks=0``) as the search trains it matches ridge and logistic regression."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split

from sknas.estimators import AutoNASClassifier, AutoNASRegressor
from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.search.base import Candidate


def linear_entry(estimator):
    """The first entry of the portfolio the runner of a default estimator tries: the linear model."""
    space = estimator._build_space()
    first = space.portfolio()[0]
    assert first["n_blocks"] == 0 and first["embedding"] == "none" and first["feature_scale"] is False
    return space, first


def evaluate(estimator, task, X, y, classes=None):
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)
    space, genotype = linear_entry(estimator)
    scorer = check_scoring(estimator, "r2" if task == "regression" else "accuracy")
    evaluator = Evaluator(space, task, scorer, max_epochs=100, classes=classes)
    result = evaluator.evaluate(Candidate(genotype), TrialData(X_train, y_train, X_valid, y_valid), seed=0)
    assert result.status == "ok", result.error
    return result.score, (X_train, X_valid, y_train, y_valid)


def test_the_linear_genotype_matches_ridge_regression_on_a_linear_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 10)) * rng.uniform(0.5, 3.0, size=10) + rng.normal(size=10)
    y = X @ rng.normal(size=10) + 0.5 * rng.normal(size=600)
    score, (X_train, X_valid, y_train, y_valid) = evaluate(AutoNASRegressor(), "regression", X, y)
    ridge = RidgeCV().fit(X_train, y_train).score(X_valid, y_valid)
    assert ridge > 0.9
    assert score == pytest.approx(ridge, abs=0.01)


def test_the_linear_genotype_matches_logistic_regression_on_a_linear_problem():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 10)) * rng.uniform(0.5, 3.0, size=10)
    logits = X @ rng.normal(size=10)
    y = (logits + 0.2 * logits.std() * rng.logistic(size=600) > 0).astype(int)
    score, (X_train, X_valid, y_train, y_valid) = evaluate(AutoNASClassifier(), "classification", X, y,
                                                           classes=np.array([0, 1]))
    logistic = LogisticRegression(max_iter=1000).fit(X_train, y_train).score(X_valid, y_valid)
    assert 0.8 < logistic < 1.0  # separable-ish, not separable: the accuracies can differ
    assert score == pytest.approx(logistic, abs=0.02)
