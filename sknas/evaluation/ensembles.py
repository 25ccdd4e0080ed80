"""Ensembles of fitted models: bags of fold models and Caruana selection over the best trials."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

__all__ = ["EnsembleClassifier", "EnsembleRegressor", "best_prefix", "ensemble_selection", "leaves",
           "score_predictions"]


class _Precomputed(BaseEstimator):
    """An 'estimator' replaying fixed predictions, so any sklearn scorer can score them."""

    def __init__(self, predictions, classes=None):
        self.predictions = predictions
        self.classes = classes

    def fit(self, X=None, y=None):
        return self


class _PrecomputedClassifier(ClassifierMixin, _Precomputed):
    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.predictions

    def predict(self, X):
        return self.classes[np.argmax(self.predictions, axis=1)]


class _PrecomputedRegressor(RegressorMixin, _Precomputed):
    def predict(self, X):
        return self.predictions


def score_predictions(scorer, predictions, y, classes=None):
    """Score fixed predictions (probabilities for classifiers) with an sklearn scorer."""
    if classes is not None:
        est = _PrecomputedClassifier(predictions, classes)
    else:
        est = _PrecomputedRegressor(predictions)
    return float(scorer(est, np.zeros((len(y), 1)), y))


def ensemble_selection(predictions, y, scorer, size, classes=None):
    """Greedy forward selection with replacement of an ensemble of ``size`` members.

    Starting from the single best model, repeatedly add the model (repeats
    allowed) whose inclusion in the averaged predictions gives the best
    score, until ``size`` members are in. Repeats act as integer weights.

    Parameters
    ----------
    predictions : list of ndarray
        Validation predictions of each candidate model (probabilities for
        classifiers), all on the same rows.
    y : ndarray
        The true targets of those rows.
    scorer : sklearn scorer
    size : int
    classes : ndarray or None
        Class labels (classification) in the column order of the probabilities.

    Returns
    -------
    members : list of int
        Indices into ``predictions``, with repetition, in order of selection.
    scores : list of float
        The ensemble's validation score after each addition.

    References
    ----------
    Caruana, Niculescu-Mizil, Crew, Ksikes. "Ensemble Selection from
    Libraries of Models." ICML 2004.
    """
    if not predictions:
        raise ValueError("ensemble_selection needs at least one model's predictions.")
    stack = [np.asarray(p, dtype=float) for p in predictions]
    members, scores = [], []
    total = np.zeros_like(stack[0])
    for step in range(size):
        best_i, best_score = None, -np.inf
        for i, p in enumerate(stack):
            s = score_predictions(scorer, (total + p) / (step + 1), y, classes)
            if s > best_score:
                best_i, best_score = i, s
        members.append(best_i)
        scores.append(best_score)
        total += stack[best_i]
    return members, scores


def best_prefix(members, scores):
    """The counts ``{index: repeats}`` of the prefix of a greedy selection with the best score, and that score.

    The greedy path of :func:`ensemble_selection` may get worse after some
    step (the validation score is noisy); the prefix kept is the one that
    scored best, the shortest on a tie, so the ensemble is as large as helps
    on validation and never scores below its first member alone.
    """
    n = int(np.argmax(scores)) + 1
    counts = {}
    for i in members[:n]:
        counts[i] = counts.get(i, 0) + 1
    return counts, float(scores[n - 1])


class _Ensemble(BaseEstimator):
    """A weighted average of fitted models: a bag (one trial's fold models, equal weights) or an ensemble.

    ``estimators`` may be fitted pipelines or other ensembles (an ensemble
    of bags); ``weights`` are non-negative numbers, normalized by their sum.
    """

    def __init__(self, estimators, weights):
        self.estimators = estimators
        self.weights = weights

    def _average(self, method, X):
        w = np.asarray(self.weights, dtype=float)
        out = sum(wi * getattr(est, method)(X) for wi, est in zip(w, self.estimators))
        return out / w.sum()


def leaves(model):
    """The fitted models a bag or an ensemble (nested) averages, depth first; ``[model]`` for a single one."""
    if isinstance(model, _Ensemble):
        return [leaf for member in model.estimators for leaf in leaves(member)]
    return [model]


class EnsembleClassifier(ClassifierMixin, _Ensemble):
    """Weighted average of fitted classifiers' probabilities (all with the same ``classes_``)."""

    @property
    def classes_(self):
        return self.estimators[0].classes_ if hasattr(self.estimators[0], "classes_") else \
            self.estimators[0][-1].classes_

    def predict_proba(self, X):
        return self._average("predict_proba", X)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class EnsembleRegressor(RegressorMixin, _Ensemble):
    """Weighted average of fitted regressors' predictions."""

    def predict(self, X):
        return self._average("predict", X)
