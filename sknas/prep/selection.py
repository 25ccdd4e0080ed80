"""Feature selection: variance threshold, univariate scores (mutual information, F-test), L1 models."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import (
    SelectorMixin,
    f_classif,
    f_regression,
    mutual_info_classif,
    mutual_info_regression,
)
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils.validation import check_is_fitted, validate_data

from .tabular import resolve_task

__all__ = ["SELECTORS", "FeatureSelector"]

SELECTORS = ("variance", "mutual_info", "f_test", "l1")
_L1_MAX_SAMPLES_FACTOR = 10  # the L1 model is cheap per row: it sees 10x more rows than mutual information


def _subsample(X, y, max_samples, random_state):
    if max_samples is None or len(X) <= max_samples:
        return X, y
    keep = np.sort(np.random.default_rng(random_state).choice(len(X), size=max_samples, replace=False))
    return X[keep], y[keep]


def _l1_logistic(C, random_state):
    import inspect

    # scikit-learn 1.8 deprecated ``penalty`` in favour of ``l1_ratio``.
    if inspect.signature(LogisticRegression).parameters["penalty"].default == "deprecated":
        return LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", random_state=random_state)
    return LogisticRegression(penalty="l1", C=C, solver="liblinear", random_state=random_state)


class FeatureSelector(SelectorMixin, BaseEstimator):
    """Keep the columns of a numeric matrix that matter, by one of four methods.

    - ``"variance"``: columns whose variance exceeds ``threshold`` (after
      scaling this mostly removes rare one-hot levels);
    - ``"mutual_info"``: the ``k`` columns of highest mutual information
      with the target (Kraskov et al.'s nearest-neighbour estimate, on at
      most ``max_samples`` rows, so that its cost does not grow with the
      data);
    - ``"f_test"``: the ``k`` columns of highest ANOVA F (classification)
      or correlation F (regression) statistic;
    - ``"l1"``: the columns with a non-zero weight in an L1-penalized
      linear model (logistic regression with inverse strength ``C`` for
      classification, one-vs-rest beyond two classes; the Lasso with
      ``alpha = 0.01 / C`` on the standardized target for regression),
      fit on at most ``10 * max_samples`` rows.

    At least one column is always kept.

    Parameters
    ----------
    method : {"variance", "mutual_info", "f_test", "l1"}, default="f_test"
    k : int, default=32
        Columns kept by the univariate methods (all of them when fewer).
    C : float, default=0.1
        Inverse L1 strength of ``"l1"``: smaller keeps fewer columns.
    threshold : float, default=0.01
        Variance threshold of ``"variance"``.
    task : {"auto", "classification", "regression"}, default="auto"
    max_samples : int, default=1000
    random_state : int, default=0
        Seeds the row subsample and the mutual information estimate.

    Attributes
    ----------
    scores_ : ndarray
        Score of every input column (variance, mutual information, F
        statistic or largest absolute L1 weight).
    support_ : ndarray of bool
        Columns kept.
    n_features_in_ : int

    References
    ----------
    Kraskov, Stögbauer, Grassberger. "Estimating mutual information."
    Physical Review E 69 (2004).
    Tibshirani. "Regression Shrinkage and Selection via the Lasso." JRSS B 1996.
    """

    def __init__(self, method="f_test", k=32, C=0.1, threshold=0.01, task="auto", max_samples=1000,
                 random_state=0):
        self.method = method
        self.k = k
        self.C = C
        self.threshold = threshold
        self.task = task
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        name = type(self).__name__
        if self.method not in SELECTORS:
            raise ValueError(f"{name}: method must be one of {SELECTORS}. Got {self.method!r} instead.")
        if isinstance(self.k, bool) or not isinstance(self.k, numbers.Integral) or self.k < 1:
            raise ValueError(f"{name}: k must be an int >= 1. Got {self.k!r} instead.")
        supervised = self.method != "variance"
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2 if supervised else 1)
        if self.method == "variance":
            scores = X.var(axis=0)
            support = scores > self.threshold
        else:
            if y is None:
                raise ValueError(f"{name}: method={self.method!r} needs the target y.")
            y = np.asarray(y)
            task = resolve_task(self.task, y)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", (RuntimeWarning, UserWarning, ConvergenceWarning))
                scores = np.nan_to_num(self._scores(X, y, task), nan=0.0, posinf=np.finfo(np.float64).max)
            if self.method == "l1":
                support = scores > 1e-10
            else:
                order = np.argsort(-scores, kind="stable")[: min(self.k, X.shape[1])]
                support = np.zeros(X.shape[1], dtype=bool)
                support[order] = True
        if not support.any():
            support[int(np.argmax(scores))] = True
        self.scores_ = scores
        self.support_ = support
        return self

    def _scores(self, X, y, task):
        classification = task == "classification"
        if self.method == "f_test":
            return (f_classif if classification else f_regression)(X, y)[0]
        if self.method == "mutual_info":
            Xs, ys = _subsample(X, y, self.max_samples, self.random_state)
            score = mutual_info_classif if classification else mutual_info_regression
            return score(Xs, ys, random_state=self.random_state)
        Xs, ys = _subsample(X, y, _L1_MAX_SAMPLES_FACTOR * self.max_samples, self.random_state)
        if classification:
            n_classes = len(np.unique(ys))
            if n_classes < 2:
                raise ValueError(f"FeatureSelector: method='l1' needs at least 2 classes in y; got {n_classes} class.")
            if n_classes > 2:  # liblinear is binary: one L1 model per class
                model = OneVsRestClassifier(_l1_logistic(self.C, self.random_state)).fit(Xs, ys)
                return np.max([np.abs(m.coef_).max(axis=0) for m in model.estimators_], axis=0)
            model = _l1_logistic(self.C, self.random_state).fit(Xs, ys)
        else:
            ys = ys.astype(np.float64)
            ys = (ys - ys.mean()) / (ys.std() or 1.0)
            model = Lasso(alpha=0.01 / self.C, random_state=self.random_state).fit(Xs, ys)
        return np.abs(np.atleast_2d(model.coef_)).max(axis=0)

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_
