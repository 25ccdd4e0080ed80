"""A filter that lets any optimizer use a surrogate predictor.

:class:`PredictorFilter` wraps any searcher: it asks the wrapped searcher for
several times more candidates than needed and keeps the ones the predictor
(:class:`~sknas.evaluation.predictor.SurrogatePredictor`) ranks best. Its
rank correlation on held-out trials (trials predicted before they were
evaluated) is reported as ``rank_correlation_`` and each trial's prediction
appears in ``search_results_["predicted_score"]``.
"""

from __future__ import annotations

import dataclasses
from numbers import Integral

import numpy as np
from scipy.stats import kendalltau
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions

from ..evaluation.predictor import SurrogatePredictor
from .base import SEARCHERS, Searcher, make_searcher, result_score

__all__ = ["PredictorFilter"]


class PredictorFilter(Searcher):
    """Let a surrogate predictor choose among the proposals of any searcher.

    Each ``ask(n)`` asks the wrapped searcher for ``n * n_proposals``
    candidates and returns the ``n`` with the highest predicted score, once
    ``min_trials`` results are in (before that, the first ``n`` proposals).
    Every result is told to both the wrapped searcher and the predictor's
    training set. Candidates proposed but not returned are never told.

    Parameters
    ----------
    search : str or Searcher, default="random"
    predictor : {"forest", "knn"}, default="forest"
    n_proposals : int, default=5
    min_trials : int, default=6
    semi_supervised : bool, default=False
        SemiNAS-style pseudo-labelling (Luo et al. 2020).

    Attributes
    ----------
    rank_correlation_ : float or None
        Kendall's tau between predicted and measured scores of the trials
        whose prediction was made before they were evaluated.

    References
    ----------
    Liu et al. "Progressive Neural Architecture Search." ECCV 2018.
    White, Neiswanger, Savani. "BANANAS: Bayesian Optimization with Neural
    Architectures for Neural Architecture Search." AAAI 2021.
    Luo, Tan, Wang, Qin, Chen, Liu. "Semi-Supervised Neural Architecture
    Search." NeurIPS 2020.
    """

    _parameter_constraints: dict = {
        "search": [StrOptions(set(SEARCHERS)), Searcher],
        "predictor": [StrOptions({"forest", "knn"})],
        "n_proposals": [Interval(Integral, 1, None, closed="left")],
        "min_trials": [Interval(Integral, 1, None, closed="left")],
        "semi_supervised": ["boolean"],
    }

    def __init__(self, search="random", predictor="forest", n_proposals=5, min_trials=6, semi_supervised=False):
        self.search = search
        self.predictor = predictor
        self.n_proposals = n_proposals
        self.min_trials = min_trials
        self.semi_supervised = semi_supervised

    def _setup(self):
        self.inner_ = clone(make_searcher(self.search)).setup(self.space_, int(self.rng_.integers(2**31 - 1)))
        self._X, self._y = [], []
        self._heldout = []  # (predicted, measured)
        self.rank_correlation_ = None

    def set_budget(self, **budget):
        self.inner_.set_budget(**budget)

    def _fitted_predictor(self):
        if len(self._y) < self.min_trials:
            return None
        unlabelled = None
        if self.semi_supervised:
            unlabelled = np.array([self.space_.encode(self.space_.sample(self.rng_)) for _ in range(200)])
        return SurrogatePredictor(self.predictor, self.semi_supervised,
                                  random_state=int(self.rng_.integers(2**31 - 1))).fit(self._X, self._y, unlabelled)

    def _ask(self, n):
        proposals = self.inner_.ask(n * self.n_proposals)
        model = self._fitted_predictor()
        if model is None:
            return proposals[:n]
        predicted = model.predict([self.space_.encode(c.genotype) for c in proposals])
        order = np.argsort(-predicted, kind="stable")[:n]
        return [dataclasses.replace(proposals[i], meta=tuple(proposals[i].meta) + (("predicted_score", float(predicted[i])),))
                for i in order]

    def _tell(self, candidate, result):
        self.inner_.tell(candidate, result)
        score = result_score(result)
        if score is None:
            return
        self._X.append(self.space_.encode(candidate.genotype))
        self._y.append(score)
        predicted = dict(candidate.meta).get("predicted_score")
        if predicted is not None:
            self._heldout.append((predicted, score))
            if len(self._heldout) >= 3:
                tau = kendalltau(*zip(*self._heldout)).statistic
                self.rank_correlation_ = None if np.isnan(tau) else float(tau)
