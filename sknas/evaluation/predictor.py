"""Surrogate performance predictors: a candidate scored from its encoding, before any training.

A predictor learns ``space.encode(genotype) -> score`` from finished trials
and ranks new candidates before any training (as PNAS ranks cell expansions
with its surrogate). The searchers use it:
:class:`~sknas.search.predictor_filter.PredictorFilter` lets any optimizer
keep only the proposals it ranks best, and
:class:`~sknas.search.pnas.PNASSearch` ranks its expansions with it.

SemiNAS (Luo et al. 2020) is available as ``semi_supervised=True``: the
predictor is refit on its own pseudo-labels of many unevaluated genotypes.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.neighbors import KNeighborsRegressor

__all__ = ["SurrogatePredictor"]


class SurrogatePredictor:
    """A regressor on genotype encodings: ``"forest"`` (random forest) or ``"knn"``.

    Parameters
    ----------
    kind : {"forest", "knn"}
    semi_supervised : bool
        SemiNAS: after fitting on the labelled genotypes, pseudo-label
        ``n_unlabelled`` sampled genotypes with the model and refit on both.
    random_state : int
    """

    def __init__(self, kind="forest", semi_supervised=False, n_unlabelled=200, random_state=0):
        self.kind = kind
        self.semi_supervised = semi_supervised
        self.n_unlabelled = n_unlabelled
        self.random_state = random_state

    def _model(self):
        if self.kind == "forest":
            return RandomForestRegressor(n_estimators=40, min_samples_leaf=2, random_state=self.random_state)
        if self.kind == "knn":
            return KNeighborsRegressor(n_neighbors=3, weights="distance")
        raise ValueError(f"SurrogatePredictor: kind must be 'forest' or 'knn'. Got {self.kind!r} instead.")

    def fit(self, X, y, unlabelled=None):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        self.model_ = self._model().fit(X, y)
        if self.semi_supervised and unlabelled is not None and len(unlabelled):
            pseudo = self.model_.predict(unlabelled)
            self.model_ = clone(self.model_).fit(np.vstack([X, unlabelled]), np.concatenate([y, pseudo]))
        return self

    def predict(self, X):
        return self.model_.predict(np.asarray(X, dtype=float))
