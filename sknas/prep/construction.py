"""Feature construction: degree-2 interactions or spline features of the top columns."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import f_classif, f_regression
from sklearn.preprocessing import PolynomialFeatures, SplineTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from .tabular import resolve_task

__all__ = ["CONSTRUCTORS", "FeatureConstructor"]

CONSTRUCTORS = ("poly", "spline")


class FeatureConstructor(TransformerMixin, BaseEstimator):
    """Append constructed features of the ``n_top`` most relevant columns.

    The columns are ranked by their univariate F statistic with the target
    (by variance without a target), so the added width is bounded by
    ``n_top``, not by the number of columns:

    - ``"poly"``: the ``n_top * (n_top + 1) / 2`` squares and pairwise
      products of the top columns (sklearn's ``PolynomialFeatures`` of
      degree 2 without its linear terms);
    - ``"spline"``: a B-spline basis of each top column (sklearn's
      ``SplineTransformer``, ``n_knots`` knots, cubic), ``n_top * (n_knots + 2)``
      columns, constant beyond the range seen at fit.

    The constructed columns are standardized and appended to the input.

    Parameters
    ----------
    method : {"poly", "spline"}, default="poly"
    n_top : int, default=8
    n_knots : int, default=5
    task : {"auto", "classification", "regression"}, default="auto"

    Attributes
    ----------
    top_features_ : ndarray of int
        Input columns the features are built from.
    expander_ : PolynomialFeatures or SplineTransformer or None
        None when no column varies.
    scaler_ : StandardScaler or None
    n_features_out_ : int
    """

    def __init__(self, method="poly", n_top=8, n_knots=5, task="auto"):
        self.method = method
        self.n_top = n_top
        self.n_knots = n_knots
        self.task = task

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        if self.method not in CONSTRUCTORS:
            raise ValueError(
                f"FeatureConstructor: method must be one of {CONSTRUCTORS}. Got {self.method!r} instead."
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        variances = X.var(axis=0)
        scores = variances
        if y is not None:
            task = resolve_task(self.task, y)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                f = (f_classif if task == "classification" else f_regression)(X, np.asarray(y))[0]
            scores = np.nan_to_num(f, nan=0.0)
        candidates = np.flatnonzero(variances > 1e-12)
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        self.top_features_ = np.sort(order[: self.n_top])
        self.expander_ = self.scaler_ = None
        if len(self.top_features_):
            if self.method == "poly":
                self.expander_ = PolynomialFeatures(degree=2, include_bias=False)
            else:
                self.expander_ = SplineTransformer(n_knots=self.n_knots, degree=3)
            self.expander_.fit(X[:, self.top_features_])
            self.scaler_ = StandardScaler().fit(self._expand(X))
        out = self._append(X)
        self.n_features_out_ = out.shape[1]
        return out

    def _expand(self, X):
        new = self.expander_.transform(X[:, self.top_features_])
        if self.method == "poly":  # the linear terms are already among the inputs
            new = new[:, len(self.top_features_):]
        return new

    def _append(self, X):
        if self.expander_ is None:
            return X
        return np.hstack([X, self.scaler_.transform(self._expand(X)).astype(X.dtype, copy=False)])

    def transform(self, X):
        check_is_fitted(self, "top_features_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._append(X)
