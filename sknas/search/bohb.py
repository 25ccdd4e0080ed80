"""BOHB: Hyperband whose new configurations come from a TPE density model."""

from __future__ import annotations

import math
from collections import namedtuple
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .base import result_score
from .hyperband import _MAX_REDRAWS, Hyperband
from .tpe import TPESearch

__all__ = ["BOHB"]

# What BOHB keeps of a result: enough to replay it into a density model.
_Observation = namedtuple("_Observation", ["status", "score"])


class BOHB(Hyperband):
    """Hyperband with model-based configurations (Falkner et al. 2018).

    The brackets, rungs and promotions are those of
    :class:`~sknas.search.hyperband.Hyperband`. What changes is where a
    bracket's new configurations come from: with probability
    ``random_fraction`` from the prior, as in Hyperband; otherwise from a
    density model fitted on the results of the largest budget that has at
    least ``min_points_in_model`` successful results. The model splits those
    results into the best ``top_n_percent`` ("good") and the rest ("bad"),
    fits a kernel density to each, draws ``num_samples`` candidates from the
    good density and proposes the one maximizing good/bad density, which is
    equivalent to maximizing expected improvement (Bergstra et al. 2011).

    The density model is hyperopt's TPE (through
    :class:`~sknas.search.tpe.TPESearch`, one per budget, fed the results of
    that budget), so the space's conditions are handled as in TPE: a
    parameter is modelled only on the results where it was active. Failed
    trials count as the worst results (bad group). Results of candidates the
    searcher did not propose are used by the model at their budget (epochs
    ``None`` is the maximum fidelity).

    Parameters
    ----------
    min_epochs, max_epochs, eta, fidelity
        As in :class:`~sknas.search.hyperband.Hyperband` (including the
        ``set_budget`` hook for the maximum fidelity).
    min_points_in_model : int or None, default=None
        Successful results a budget needs before its model is used;
        ``None``: the number of parameters of the space plus one, as in the paper.
    top_n_percent : float, default=15
        Share (in percent) of a budget's results in the good group.
    num_samples : int, default=64
        Candidates drawn from the good density per new configuration.
    random_fraction : float, default=1/3
        Share of new configurations drawn from the prior, which keeps the
        convergence guarantee of Hyperband (the paper's value).

    Notes
    -----
    Simplified from the paper: the densities are TPE's univariate Parzen
    estimators (a product over parameters, with TPE's own bandwidths)
    instead of a multivariate product kernel with a widened
    ``bandwidth_factor`` for sampling, and the good group holds
    ``ceil(top_n_percent / 100 * N)`` results (at most 25, hyperopt's cap)
    rather than at least ``min_points_in_model`` of them. A model proposal
    that was already started is replaced by one of its neighbours
    (``space.mutate``), standing in for the paper's widened sampling
    bandwidth; only when its neighbours are all taken does the
    configuration come from the prior.

    References
    ----------
    Falkner, Klein, Hutter. "BOHB: Robust and Efficient Hyperparameter
    Optimization at Scale." ICML 2018.
    Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar. "Hyperband: A Novel
    Bandit-Based Approach to Hyperparameter Optimization." JMLR 2018.
    Bergstra, Bardenet, Bengio, Kégl. "Algorithms for Hyper-Parameter
    Optimization." NeurIPS 2011.
    """

    _parameter_constraints: dict = {
        **Hyperband._parameter_constraints,
        "min_points_in_model": [Interval(Integral, 1, None, closed="left"), None],
        "top_n_percent": [Interval(Real, 0, 100, closed="right")],
        "num_samples": [Interval(Integral, 1, None, closed="left")],
        "random_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, min_epochs=1, max_epochs=None, eta=3, fidelity="epochs",
                 min_points_in_model=None, top_n_percent=15, num_samples=64, random_fraction=1 / 3):
        super().__init__(min_epochs=min_epochs, max_epochs=max_epochs, eta=eta, fidelity=fidelity)
        self.min_points_in_model = min_points_in_model
        self.top_n_percent = top_n_percent
        self.num_samples = num_samples
        self.random_fraction = random_fraction

    def _setup(self):
        super()._setup()
        points = self.min_points_in_model
        self.min_points_in_model_ = len(self.space_.params) + 1 if points is None else int(points)
        self._observations = []  # (Candidate, _Observation) of every result, in order
        # budget -> [TPESearch, observations of that budget fed so far]: a
        # cache, rebuilt from _observations after unpickling.
        self._models = {}

    def __getstate__(self):
        # hyperopt's domain holds a local function and cannot be pickled.
        state = self.__dict__.copy()
        if "_models" in state:
            state["_models"] = {}
        return state

    def _tell(self, candidate, result):
        super()._tell(candidate, result)
        score = result_score(result)
        self._observations.append((candidate, _Observation("failed" if score is None else "ok", score)))

    def _new_genotype(self, budget):
        # Budgets are resolved here, not in tell: results may be told before
        # set_budget has fixed what epochs=None means.
        groups = {}
        for candidate, observation in self._observations:
            epochs = self.max_epochs_ if candidate.epochs is None else candidate.epochs
            groups.setdefault(epochs * candidate.data_fraction, []).append((candidate, observation))
        ready = [
            b for b, rows in groups.items()
            if sum(o.score is not None for _, o in rows) >= self.min_points_in_model_
        ]
        if not ready or self.rng_.random() < self.random_fraction:
            return super()._new_genotype(budget)
        model_budget = max(ready)
        model = self._model(model_budget, groups[model_budget])
        # hyperopt's good group holds ceil(gamma * sqrt(N)) results; this gamma
        # makes it the top_n_percent of them, as in BOHB.
        n_rows = len(groups[model_budget])
        model.set_params(gamma=self.top_n_percent / 100 * math.sqrt(n_rows))
        # Seed the draw from this searcher, so that a model rebuilt after
        # unpickling proposes what the original would have.
        model.rng_ = np.random.default_rng(int(self.rng_.integers(2**63 - 1)))
        proposal = model.ask(1)[0].genotype
        if proposal not in self._started:
            return proposal
        # The good density peaks on the good results, so in a small or mostly
        # categorical space its best draw is often a configuration already
        # started. Its neighbours (one decision changed) stand in for the
        # paper's widened sampling bandwidth; redrawing from the model mostly
        # repeats the proposal, and falling back to the prior at once made
        # most model-based configurations random.
        for _ in range(_MAX_REDRAWS):
            genotype = self.space_.mutate(proposal, self.rng_)
            if genotype not in self._started:
                return genotype
        return super()._new_genotype(budget)

    def _model(self, budget, rows):
        """The TPE model of one budget, brought up to date with its results."""
        entry = self._models.get(budget)
        if entry is None:
            model = TPESearch(n_startup_jobs=0, n_ei_candidates=int(self.num_samples)).setup(self.space_)
            entry = self._models[budget] = [model, 0]
        model, n_fed = entry
        for candidate, observation in rows[n_fed:]:
            model.tell(candidate, observation)
        entry[1] = len(rows)
        return model
