"""Sequential model-based optimization: a random-forest surrogate and expected improvement."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy.stats import norm
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .base import Candidate, Searcher, draw_new, result_score

__all__ = ["SMBOSearch"]

_N_PARENTS = 5
_MAX_REDRAWS = 10


class SMBOSearch(Searcher):
    """Model-based search with a random-forest surrogate (SMAC / BANANAS style).

    After ``n_initial`` results, each ``ask`` fits a regressor that predicts
    the score from ``space.encode(genotype)`` on every result so far, draws
    ``n_candidates`` genotypes (half from the prior, half mutations of the
    best genotypes seen, the local search of SMAC and the mutation-based
    acquisition optimization of BANANAS), and proposes the ones with the
    largest expected improvement (EI) over the best score. The forest's
    mean and the spread of its trees' predictions are the predictive mean
    and standard deviation, as in SMAC.

    Failed trials are given the lowest score seen, so the model learns to
    avoid the regions where trials fail. Candidates already proposed or told
    are never proposed again. ``ask(n)`` with ``n > 1`` proposes the ``n``
    best distinct candidates under one model (no fantasized results).

    Parameters
    ----------
    n_initial : int, default=8
        Results (successful ones, including told ones the searcher did not
        propose) needed before the model is used; until then candidates are
        drawn at random.
    n_candidates : int, default=500
        Genotypes scored by the acquisition function per ``ask``.
    predictor : {"forest", "extra_trees"} or sklearn regressor, default="forest"
        The surrogate. ``"forest"`` is a ``RandomForestRegressor`` (as SMAC),
        ``"extra_trees"`` an ``ExtraTreesRegressor`` with bootstrap. Any
        other regressor is cloned; its uncertainty comes from its
        ``estimators_`` when it is an ensemble, from
        ``predict(X, return_std=True)`` when it supports it (e.g. a Gaussian
        process), and is zero otherwise (EI is then the predicted improvement).

    Attributes
    ----------
    model_ : sklearn regressor or None
        The surrogate fitted at the last model-based ``ask``.

    Notes
    -----
    Simplified from SMAC: no intensification (each candidate is evaluated
    once), no interleaved random configurations beyond the random half of
    the candidate pool, and a plain pool instead of a local search run to
    convergence. Simplified from BANANAS: a forest on the space's generic
    encoding instead of an ensemble of neural networks on path encodings,
    and EI instead of independent Thompson sampling.

    References
    ----------
    Hutter, Hoos, Leyton-Brown. "Sequential Model-Based Optimization for
    General Algorithm Configuration." LION 2011 (SMAC).
    White, Neiswanger, Savani. "BANANAS: Bayesian Optimization with Neural
    Architectures for Neural Architecture Search." AAAI 2021.
    Jones, Schonlau, Welch. "Efficient Global Optimization of Expensive
    Black-Box Functions." J. Global Optimization 1998 (expected improvement).
    """

    _parameter_constraints: dict = {
        "n_initial": [Interval(Integral, 2, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "predictor": [StrOptions({"forest", "extra_trees"}), HasMethods(["fit", "predict"])],
    }

    def __init__(self, n_initial=8, n_candidates=500, predictor="forest"):
        self.n_initial = n_initial
        self.n_candidates = n_candidates
        self.predictor = predictor

    def _setup(self):
        self.model_ = None
        self._genotypes, self._scores = [], []  # one row per result; failed rows have score None
        self._proposed = set()
        self._fitted_rows = 0

    def _make_model(self):
        from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

        if self.predictor == "forest":
            return RandomForestRegressor(n_estimators=50, min_samples_split=3, max_features=0.8)
        if self.predictor == "extra_trees":
            return ExtraTreesRegressor(n_estimators=50, min_samples_split=3, bootstrap=True)
        return clone(self.predictor)

    def _ask(self, n):
        successes = [s for s in self._scores if s is not None]
        if len(successes) < max(self.n_initial, 2):
            return [Candidate(self._propose_random()) for _ in range(n)]
        if self._fitted_rows != len(self._scores) or self.model_ is None:
            self._fit()
        pool = self._pool()
        if not pool:
            return [Candidate(self._propose_random()) for _ in range(n)]
        X = np.array([self.space_.encode(g) for g in pool])
        mean, std = self._predict(X)
        ei = _expected_improvement(mean, std, max(successes))
        # Ties (e.g. EI of zero everywhere) are broken by the random pool order.
        order = np.argsort(-ei, kind="stable")
        out = []
        for i in order[:n]:
            self._proposed.add(pool[i])
            out.append(Candidate(pool[i]))
        while len(out) < n:
            out.append(Candidate(self._propose_random()))
        return out

    def _propose_random(self):
        genotype = draw_new(self.space_, self.rng_, self._proposed, _MAX_REDRAWS)
        self._proposed.add(genotype)
        return genotype

    def _fit(self):
        successes = [s for s in self._scores if s is not None]
        floor = min(successes)
        y = np.array([floor if s is None else s for s in self._scores])
        X = np.array([self.space_.encode(g) for g in self._genotypes])
        model = self._make_model()
        if "random_state" in model.get_params():
            model.set_params(random_state=int(self.rng_.integers(2**31 - 1)))
        self.model_ = model.fit(X, y)
        self._fitted_rows = len(self._scores)

    def _predict(self, X):
        model = self.model_
        estimators = getattr(model, "estimators_", None)
        if isinstance(estimators, (list, np.ndarray)) and len(estimators) > 1 and hasattr(estimators[0], "predict"):
            per_tree = np.stack([tree.predict(X) for tree in np.ravel(estimators)])
            return per_tree.mean(axis=0), per_tree.std(axis=0)
        try:
            mean, std = model.predict(X, return_std=True)
        except TypeError:
            mean, std = model.predict(X), np.zeros(len(X))
        return np.asarray(mean, dtype=float), np.asarray(std, dtype=float)

    def _pool(self):
        """Distinct, never-seen genotypes: half random, half mutations of the best."""
        ranked = sorted(
            (i for i, s in enumerate(self._scores) if s is not None),
            key=lambda i: self._scores[i], reverse=True,
        )
        parents = [self._genotypes[i] for i in ranked[:_N_PARENTS]]
        n_local = self.n_candidates // 2 if parents else 0
        pool, seen = [], set(self._proposed)
        for k in range(self.n_candidates):
            if k < n_local:
                g = self.space_.mutate(parents[int(self.rng_.integers(len(parents)))], self.rng_)
            else:
                g = self.space_.sample(self.rng_)
            if g not in seen:
                seen.add(g)
                pool.append(g)
        order = self.rng_.permutation(len(pool))
        return [pool[i] for i in order]

    def _tell(self, candidate, result):
        self._proposed.add(candidate.genotype)
        self._genotypes.append(candidate.genotype)
        self._scores.append(result_score(result))


def _expected_improvement(mean, std, best):
    """Expected improvement (Jones, Schonlau, Welch 1998) of maximization over ``best``.

    ``E[max(Y - best, 0)]`` for ``Y ~ N(mean, std**2)``; with zero spread
    it is the plain predicted improvement ``max(mean - best, 0)``.
    """
    improvement = mean - best
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, improvement / np.where(std > 0, std, 1.0), 0.0)
    ei = improvement * norm.cdf(z) + std * norm.pdf(z)
    return np.where(std > 0, ei, np.maximum(improvement, 0.0))
