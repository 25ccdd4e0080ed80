"""The ``Searcher`` protocol (ask/tell) and the registry of optimizer names.

A searcher proposes candidates (``ask``) and learns from their results
(``tell``). It never touches torch or data, and never knows which space it
searches: everything goes through the :class:`~sknas.space.base.SearchSpace`
methods. ``tell`` accepts any valid candidate of the space, including ones the
searcher did not propose (e.g. the portfolio tried first by the runner).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator

from ..space.genotype import Genotype

__all__ = ["Candidate", "Searcher", "SEARCHERS", "make_searcher", "available_searchers"]


@dataclass(frozen=True)
class Candidate:
    """A genotype plus the fidelity at which to evaluate it.

    Parameters
    ----------
    genotype : Genotype
    epochs : int or None, default=None
        Epoch cap for this evaluation; ``None`` means the estimator's ``max_epochs``.
    data_fraction : float, default=1.0
        Share of the training part to train on (low fidelity when < 1).
    """

    genotype: Genotype
    epochs: int | None = None
    data_fraction: float = 1.0
    meta: tuple = field(default=(), compare=False)

    def __post_init__(self):
        if not isinstance(self.genotype, Genotype):
            raise TypeError(f"Candidate.genotype must be a Genotype. Got {self.genotype!r} instead.")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"Candidate.epochs must be None or an int >= 1. Got {self.epochs!r} instead.")
        if not 0.0 < self.data_fraction <= 1.0:
            raise ValueError(f"Candidate.data_fraction must be in (0, 1]. Got {self.data_fraction!r} instead.")


def result_score(result):
    """The score of a result for ranking, or ``None`` when it failed."""
    if result is None or result.status != "ok" or result.score is None:
        return None
    score = float(result.score)
    return score if math.isfinite(score) else None


def draw_new(space, rng, taken, tries=10):
    """A genotype drawn from ``space`` (``space.sample(rng)``) that is not in ``taken``.

    Draws at most ``tries`` times; when every draw is taken, the last one
    is returned anyway (a small or exhausted space).
    """
    for _ in range(tries):
        genotype = space.sample(rng)
        if genotype not in taken:
            break
    return genotype


class Searcher(BaseEstimator):
    """Base class of every optimizer.

    Subclasses implement ``_ask(n)`` and may implement ``_setup()`` and
    ``_tell(candidate, result)``. The runner calls ``setup(space, seed)`` on a
    clone of the user's searcher, then alternates ``ask`` and ``tell``. Scores
    are "larger is better"; a failed trial is told with ``status="failed"``.

    Parameters are declared once, in the class's ``_parameter_constraints``
    (scikit-learn's constraints: ``Interval``, ``StrOptions``...), and
    validated by :meth:`setup` through scikit-learn's ``_validate_params``,
    so every searcher raises the same ``InvalidParameterError`` (a
    ``ValueError``) naming the parameter and the class. ``_setup`` checks
    only what constraints cannot say (one parameter against another, or
    against the space).
    """

    _parameter_constraints: dict = {}

    def setup(self, space, random_state=None):
        """Validate the parameters, bind the searcher to a space and reset its state."""
        self._validate_params()
        self.space_ = space
        self.rng_ = np.random.default_rng(random_state)
        self.history_ = []
        self._setup()
        return self

    def _setup(self):
        pass

    #: One-shot searchers (weight sharing, morphism) set this to True: the
    #: runner then calls :meth:`set_data` once, before the first ``ask``.
    needs_data = False

    def set_data(self, data, evaluator, deadline=None):
        """The one explicit data hook, for searchers that own weights.

        ``data`` is the list of :class:`~sknas.evaluation.trial.TrialData`
        folds (raw, not preprocessed); ``evaluator`` gives the task, the
        classes, the device and ``make_preprocessor(genotype)``;
        ``deadline`` is the ``time.time()`` by which the search must end.
        Whatever such a searcher trains itself (e.g. a supernet) it reports
        as rows through :meth:`pop_records`; what it derives still comes back
        as Candidates from ``ask``, evaluated like any other trial.
        """

    def pop_records(self):
        """Rows the searcher produced itself, as ``(candidate, result, source)``; emptied on read."""
        records = getattr(self, "_records", [])
        self._records = []
        return records

    def set_budget(self, max_epochs=None, **budget):
        """Hook the runner calls before the first ``ask`` with its budget figures.

        ``max_epochs`` is the estimator's epoch cap (the highest fidelity);
        multi-fidelity searchers (hyperband, bohb) use it, others ignore it.
        """

    def ask(self, n=1):
        """Propose ``n`` candidates (fewer only when the space is exhausted)."""
        if not hasattr(self, "space_"):
            raise RuntimeError(f"{type(self).__name__}.ask called before setup(space, random_state).")
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{type(self).__name__}.ask: n must be an int >= 1. Got {n!r} instead.")
        return list(self._ask(n))

    def _ask(self, n):
        raise NotImplementedError

    def tell(self, candidate, result):
        """Report the result of evaluating ``candidate``."""
        self.history_.append((candidate, result))
        self._tell(candidate, result)

    def _tell(self, candidate, result):
        pass

    @property
    def seen_(self):
        return {c.genotype for c, _ in self.history_}


# name -> "module:Class", imported on first use.
SEARCHERS = {
    "random": "sknas.search.random:RandomSearch",
    "grid": "sknas.search.grid:GridSearch",
    "tpe": "sknas.search.tpe:TPESearch",
    "evolution": "sknas.search.evolution:RegularizedEvolution",
    "reinforce": "sknas.search.reinforce:ReinforceSearch",
    "ppo": "sknas.search.ppo:PPOSearch",
    "qlearning": "sknas.search.qlearning:QLearningSearch",
    "smbo": "sknas.search.smbo:SMBOSearch",
    "hyperband": "sknas.search.hyperband:Hyperband",
    "bohb": "sknas.search.bohb:BOHB",
    "darts": "sknas.search.oneshot.darts:DARTSSearch",
    "pdarts": "sknas.search.oneshot.pdarts:PDARTSSearch",
    "gdas": "sknas.search.oneshot.gdas:GDASSearch",
    "enas": "sknas.search.oneshot.enas:ENASSearch",
    "proxyless": "sknas.search.oneshot.proxyless:ProxylessSearch",
    "ofa": "sknas.search.oneshot.ofa:OFASearch",
    "morphism": "sknas.search.morphism:MorphismSearch",
    "pnas": "sknas.search.pnas:PNASSearch",
    "nao": "sknas.search.nao:NAOSearch",
    "metanas": "sknas.search.metanas:MetaNASSearch",
}


def available_searchers():
    return sorted(SEARCHERS)


def make_searcher(search):
    """A fresh searcher from a registry name, or the given ``Searcher`` instance."""
    if isinstance(search, Searcher):
        return search
    if isinstance(search, str):
        if search in SEARCHERS:
            module, cls = SEARCHERS[search].split(":")
            return getattr(importlib.import_module(module), cls)()
        raise ValueError(
            f"Unknown search {search!r}. Available: {available_searchers()}, "
            f"or a sknas.search.base.Searcher instance."
        )
    raise TypeError(
        f"search must be a str or a sknas Searcher instance. Got {search!r} instead."
    )
