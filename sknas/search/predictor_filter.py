"""A filter that lets any optimizer use a surrogate predictor.

:class:`PredictorFilter` wraps any black-box searcher: for each candidate it
returns, it lets the wrapped searcher propose several alternatives and keeps
the one the predictor (:class:`~sknas.evaluation.predictor.SurrogatePredictor`)
ranks best, such that the wrapped searcher only ever knows of the candidates
that are evaluated. Its rank correlation on held-out trials (trials predicted
before they were evaluated) is reported as ``rank_correlation_`` and each
trial's prediction appears in ``search_results_["predicted_score"]``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from numbers import Integral

import numpy as np
from scipy.stats import kendalltau
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions

from ..evaluation.predictor import SurrogatePredictor
from .base import SEARCHERS, Searcher, make_searcher, result_score
from .grid import GridSearch

__all__ = ["PredictorFilter"]

_DEFAULT_MAX_EPOCHS = 100  # the estimators' default max_epochs, the full fidelity when none is given


class PredictorFilter(Searcher):
    """Let a surrogate predictor choose among the proposals of any black-box searcher.

    Once ``min_trials`` results are in, every candidate handed out is the
    best of ``n_proposals`` alternatives by the predicted score. The
    alternatives are found so that the wrapped searcher's state stays that
    of a searcher that proposed only the candidates which are evaluated
    (proposals discarded by the filter are never half-known to it):

    - **Proposing searchers** (random, tpe, smbo, evolution, reinforce,
      pnas, nao, and the new configurations of hyperband and bohb): the
      wrapped searcher is copied ``n_proposals`` times, each copy with a
      generator of its own is asked for one candidate, and the copy whose
      candidate is ranked best becomes the wrapped searcher. So
      evolution's initial population holds exactly ``population_size``
      evaluated members and its children are the best of ``n_proposals``
      tournaments-and-mutations; reinforce's controller is updated only
      for sequences that were evaluated; a Hyperband bracket's first rung
      receives exactly its planned number of configurations, each the best
      of ``n_proposals`` draws (of the prior for Hyperband, of the density
      model for BOHB).
    - **Deterministic proposals** pass through unfiltered: when two copies
      propose the same candidate (a Hyperband or BOHB promotion to the next
      rung, which must be evaluated for the rung to complete; PNAS's queue
      of expansions, already ranked by its own surrogate), there is nothing
      to choose, and the candidate is handed out as the wrapped searcher
      proposed it.
    - **Sweeps** (grid): the grid must still cover every point once, so the
      filter reorders it instead of discarding: it holds a look-ahead of
      ``n_proposals`` points of the sweep and hands out the one ranked best,
      the rest wait for the next ask.

    Before ``min_trials`` results, the wrapped searcher's own proposals are
    handed out as they are. Every result is told to the wrapped searcher
    and joins the predictor's training set. The predictor's features are
    ``space.encode(genotype)`` plus the candidate's fidelity (log of its
    epochs, ``None`` being the full fidelity given to :meth:`set_budget`,
    and its data fraction), so that low-fidelity results of Hyperband and
    BOHB do not read as poor architectures; alternatives are compared at
    the fidelity they were proposed at.

    Searchers that train weights of their own (``needs_data``: the one-shot
    searchers and network morphism) cannot be wrapped: ValueError.

    Parameters
    ----------
    search : str or Searcher, default="random"
        The wrapped searcher.
    predictor : {"forest", "knn", "mlp"} or None, default=None
        The predictor (see :class:`~sknas.evaluation.predictor.SurrogatePredictor`);
        ``None``: ``"forest"``, or the SemiNAS encoder-predictor ``"mlp"``
        when ``semi_supervised``.
    n_proposals : int, default=5
        Alternatives ranked per candidate handed out.
    min_trials : int, default=6
        Results needed before the predictor is used.
    semi_supervised : bool, default=False
        SemiNAS (Luo et al. 2020): the encoder-predictor is trained on the
        results, pseudo-labels ``n_unlabelled`` genotypes drawn from the
        space, and is trained again on both.
    n_unlabelled : int, default=200
        Genotypes drawn (``space.sample``) and pseudo-labelled at each fit,
        with ``semi_supervised``.

    Attributes
    ----------
    inner_ : Searcher
        The wrapped searcher, in its current state.
    rank_correlation_ : float or None
        Kendall's tau between predicted and measured scores of the trials
        whose prediction was made before they were evaluated.
    n_filtered_ : int
        Candidates handed out that the predictor chose among alternatives.

    Notes
    -----
    The copy-and-choose protocol gives the wrapped searcher one candidate
    per ask: a searcher's own batch logic (e.g. deduplication within one
    ``ask(n)``) sees batches of one. Reinforce's policy gradient is then
    taken on the chosen sequences only, which makes it off-policy (the
    filter's choice biases which samples are rewarded), as in any
    predictor-guided controller. The predictor is refit only when new
    results came in since its last fit.

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
        "predictor": [StrOptions({"forest", "knn", "mlp"}), None],
        "n_proposals": [Interval(Integral, 1, None, closed="left")],
        "min_trials": [Interval(Integral, 1, None, closed="left")],
        "semi_supervised": ["boolean"],
        "n_unlabelled": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, search="random", predictor=None, n_proposals=5, min_trials=6, semi_supervised=False,
                 n_unlabelled=200):
        self.search = search
        self.predictor = predictor
        self.n_proposals = n_proposals
        self.min_trials = min_trials
        self.semi_supervised = semi_supervised
        self.n_unlabelled = n_unlabelled

    def _setup(self):
        if self.semi_supervised and self.predictor not in (None, "mlp"):
            raise ValueError(
                f"The 'predictor' parameter of {type(self).__name__} must be 'mlp' or None with "
                f"semi_supervised=True (SemiNAS trains the encoder-predictor). Got {self.predictor!r} instead."
            )
        inner = clone(make_searcher(self.search))
        if getattr(inner, "needs_data", False):
            raise ValueError(
                f"{type(self).__name__} wraps black-box searchers; {type(inner).__name__} trains weights of its "
                "own (needs_data=True) and proposes from them, so it cannot be filtered by a predictor."
            )
        self.inner_ = inner.setup(self.space_, int(self.rng_.integers(2**31 - 1)))
        # the predictor's fits draw from a generator of their own, seeded by the number of results, so a
        # fit is the same whether it is cached or redone (after a checkpoint, which drops it)
        self._fit_seed = int(self.rng_.integers(2**31 - 1))
        self._X, self._y = [], []
        self._predicted = {}  # Candidate -> predicted score, for the candidates the filter chose
        self._heldout = []  # (predicted, measured)
        self._backlog = []  # sweeps: proposed, not yet handed out
        self._max_epochs = None
        self._model, self._model_size = None, -1
        self.rank_correlation_ = None
        self.n_filtered_ = 0

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"], state["_model_size"] = None, -1  # refit on demand
        return state

    def set_budget(self, max_epochs=None, **budget):
        self._max_epochs = max_epochs
        self.inner_.set_budget(max_epochs=max_epochs, **budget)

    # -- the predictor -------------------------------------------------------------------
    def _features(self, candidate):
        full = self._max_epochs if self._max_epochs is not None else _DEFAULT_MAX_EPOCHS
        epochs = full if candidate.epochs is None else candidate.epochs
        return np.concatenate([self.space_.encode(candidate.genotype), [math.log(epochs), candidate.data_fraction]])

    def _fitted_predictor(self):
        if len(self._y) < self.min_trials:
            return None
        if self._model is None or self._model_size != len(self._y):
            rng = np.random.default_rng([self._fit_seed, len(self._y)])
            unlabelled = None
            if self.semi_supervised:
                full = self._max_epochs if self._max_epochs is not None else _DEFAULT_MAX_EPOCHS
                unlabelled = np.array([
                    np.concatenate([self.space_.encode(self.space_.sample(rng)), [math.log(full), 1.0]])
                    for _ in range(int(self.n_unlabelled))
                ]).reshape(-1, len(self._X[0]))
            self._model = SurrogatePredictor(
                self.predictor, self.semi_supervised, n_unlabelled=int(self.n_unlabelled),
                random_state=int(rng.integers(2**31 - 1)),
            ).fit(self._X, self._y, unlabelled)
            self._model_size = len(self._y)
        return self._model

    def _mark(self, candidate, predicted):
        self._predicted[candidate] = float(predicted)
        self.n_filtered_ += 1
        return dataclasses.replace(candidate, meta=tuple(candidate.meta) + (("predicted_score", float(predicted)),))

    # -- ask -----------------------------------------------------------------------------
    def _ask(self, n):
        model = self._fitted_predictor()
        if isinstance(self.inner_, GridSearch):
            return self._ask_sweep(n, model)
        if model is None or self.n_proposals == 1:
            return self.inner_.ask(n)
        out = []
        for _ in range(n):
            candidate = self._choose(model)
            if candidate is None:  # the wrapped searcher has nothing left
                break
            out.append(candidate)
        return out

    def _shared(self):
        """A deepcopy memo that shares what no searcher changes: the space, and the told candidates and results.

        Genotypes and candidates are immutable and results are read-only
        to a searcher, so the copies need not copy them (they are most of a
        long search's state).
        """
        memo = {id(self.space_): self.space_}
        for candidate, result in self.inner_.history_:
            for shared in (candidate, candidate.genotype, candidate.meta, result):
                memo[id(shared)] = shared
        return memo

    def _fork(self, shared):
        """A copy of the wrapped searcher with a generator of its own."""
        fork = copy.deepcopy(self.inner_, memo=dict(shared))
        fork.rng_ = np.random.default_rng(int(self.rng_.integers(2**63 - 1)))
        return fork

    def _choose(self, model):
        forks, proposals = [], []
        shared = self._shared()
        for _ in range(int(self.n_proposals)):
            fork = self._fork(shared)
            asked = fork.ask(1)
            if not asked:
                continue
            if proposals and asked[0] == proposals[0] and len(proposals) == 1:
                # a proposal that does not depend on the draw: nothing to choose
                self.inner_ = forks[0]
                return proposals[0]
            forks.append(fork)
            proposals.append(asked[0])
        if not proposals:
            return None
        predicted = model.predict([self._features(c) for c in proposals])
        best = int(np.argmax(predicted))
        self.inner_ = forks[best]
        return self._mark(proposals[best], predicted[best])

    def _ask_sweep(self, n, model):
        seen = self.seen_
        self._backlog = [c for c in self._backlog if c.genotype not in seen]
        if model is None and not self._backlog:
            return self.inner_.ask(n)
        want = n * int(self.n_proposals) if model is not None else n
        if len(self._backlog) < want:
            self._backlog += self.inner_.ask(want - len(self._backlog))
        if model is None:
            out, self._backlog = self._backlog[:n], self._backlog[n:]
            return out
        predicted = model.predict([self._features(c) for c in self._backlog]) if self._backlog else []
        order = np.argsort(-np.asarray(predicted), kind="stable")
        chosen = [int(i) for i in order[:n]]
        out = [self._mark(self._backlog[i], predicted[i]) for i in chosen]
        self._backlog = [c for i, c in enumerate(self._backlog) if i not in set(chosen)]
        return out

    # -- tell ----------------------------------------------------------------------------
    def _tell(self, candidate, result):
        self.inner_.tell(candidate, result)
        predicted = self._predicted.pop(candidate, None)
        score = result_score(result)
        if score is None:
            return
        self._X.append(self._features(candidate))
        self._y.append(score)
        if predicted is not None:
            self._heldout.append((predicted, score))
            if len(self._heldout) >= 3:
                tau = kendalltau(*zip(*self._heldout)).statistic
                self.rank_correlation_ = None if np.isnan(tau) else float(tau)
