"""Meta-learned search: a black-box search warm-started from the genotypes that did well on similar tables.

MetaNAS (Elsken, Staffler, Metzen, Hutter 2020) meta-learns, across tasks,
where a new task's architecture search starts. Its differentiable version
meta-learns the supernet's architecture parameters (and weights) with
Reptile; for the black-box searchers sknas follows the older warm-start
recipe of Feurer, Springenberg, Hutter (2015): describe each dataset by a
few cheap meta-features, find the meta-training datasets nearest to the new
one, and start the search from the configurations that did best there.

- :func:`meta_features`: the meta-features of a raw table (rows, features,
  task kind, classes, share of categorical columns, share of missing cells).
- :class:`MetaPrior`: the meta-knowledge, a table of normalized regrets of
  the same genotypes on several meta-training tables together with each
  table's meta-features; :meth:`MetaPrior.rank` orders the genotypes for a
  new table by their mean regret over its ``n_neighbors`` nearest tables.
  The shipped prior (:meth:`MetaPrior.load`, ``sknas/data/metanas_prior.json``)
  is built by ``benchmarks/build_metanas.py`` from the multi-dataset
  tabulated benchmark (307 genotypes of the default ``"mlp"`` space with
  their training choices, on 8 real tables of ``../shared/meta``).
- :class:`MetaNASSearch` (``search="metanas"``): a black-box searcher
  (regularized evolution by default, or TPE, or random search) whose first
  ``n_prior`` proposals are the prior's genotypes for this task, told to the
  wrapped searcher like any other result, so they make up (part of)
  evolution's initial population and TPE's start-up trials.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions

from ..space.genotype import Genotype
from .base import Candidate, Searcher, make_searcher

__all__ = ["META_FEATURES", "MetaPrior", "MetaNASSearch", "meta_features"]

#: The meta-features, in the order of :meth:`MetaPrior.vector`.
META_FEATURES = ("log10_rows", "log10_features", "regression", "multiclass", "log2_classes",
                 "categorical_share", "missing_share")

#: The wrapped searchers: those that accept results of genotypes they did not propose.
_WRAPPED = ("evolution", "tpe", "random")

PRIOR_FILE = "metanas_prior.json"


def read_package_json(name, path=None):
    """The JSON file ``path``, or (``path=None``) the package data file ``sknas/data/<name>``."""
    if path is None:
        return json.loads(resources.files("sknas").joinpath("data", name).read_text())
    with open(path) as f:
        return json.load(f)


def meta_features(X, y, task=None):
    """The meta-features of a raw table, as a dict keyed by :data:`META_FEATURES`.

    Parameters
    ----------
    X : DataFrame or array of shape (n_rows, n_features)
        The raw features (before any preprocessing): columns of a non-numeric
        dtype count as categorical.
    y : array-like of shape (n_rows,)
    task : {"binary", "multiclass", "classification", "regression"} or None
        ``None``: regression when ``y`` is of a float dtype with more than
        20 distinct values, classification otherwise.

    Returns
    -------
    dict
        ``log10_rows``, ``log10_features``, ``regression`` and ``multiclass``
        (0 or 1), ``log2_classes`` (0 for regression), ``categorical_share``
        and ``missing_share`` (of the feature columns, of the cells).
    """
    import pandas as pd

    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    y = np.asarray(y)
    if frame.ndim != 2 or len(frame) != len(y) or len(y) == 0:
        raise ValueError(f"meta_features: X must be 2-D with one row per label. Got X {frame.shape}, y {y.shape}.")
    if task not in (None, "binary", "multiclass", "classification", "regression"):
        raise ValueError(
            "meta_features: task must be 'binary', 'multiclass', 'classification', 'regression' or None. "
            f"Got {task!r} instead."
        )
    if task is None:
        task = "regression" if (y.dtype.kind == "f" and len(np.unique(y[~pd.isna(y)])) > 20) else "classification"
    regression = task == "regression"
    n_classes = 0 if regression else len(pd.unique(pd.Series(y).dropna()))
    if task == "classification":
        task = "multiclass" if n_classes > 2 else "binary"
    n_features = frame.shape[1]
    categorical = sum(1 for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)
                      or pd.api.types.is_bool_dtype(frame[c].dtype))
    return {
        "log10_rows": math.log10(len(frame)),
        "log10_features": math.log10(max(n_features, 1)),
        "regression": float(regression),
        "multiclass": float(task == "multiclass"),
        "log2_classes": 0.0 if regression else math.log2(max(n_classes, 2)),
        "categorical_share": categorical / max(n_features, 1),
        "missing_share": float(frame.isna().to_numpy().mean()) if n_features else 0.0,
    }


class MetaPrior:
    """Genotypes ordered for a new table by how they did on the most similar meta-training tables.

    The warm start of Feurer, Springenberg, Hutter (2015): the distance
    between two tables is the Euclidean distance of their meta-features,
    each standardized by its spread over the meta-training tables (a
    feature equal on all of them is left out); the ``n_neighbors`` tables
    nearest to the new one vote, and the genotypes are ordered by their
    mean normalized regret there (:func:`sknas.portfolio.normalized_regret`:
    0 the table's best genotype, 1 its median or worse), ties broken by
    the mean regret over all tables, then by row. With ``n_neighbors``
    at least the number of tables (or no meta-features), this is the
    ordering of a plain portfolio: best mean regret first.

    Feurer et al. take each nearest dataset's single best configuration;
    the mean regret over the neighbours ranks every genotype (a full
    ordering, as a starting population of any size needs) and favours
    those good on all of the neighbours over a single table's winner.

    Parameters
    ----------
    genotypes : list of dict
        The genotypes, one per row of ``regret``.
    regret : array-like of shape (n_genotypes, n_tables)
        Normalized regret in [0, 1] (NaN: unknown, counted as 1).
    tables : list of str
        The meta-training tables' names.
    features : array-like of shape (n_tables, n_meta_features)
        Each table's meta-features, in the order of ``feature_names``.
    feature_names : tuple of str, default=META_FEATURES

    References
    ----------
    Feurer, Springenberg, Hutter. "Initializing Bayesian Hyperparameter
    Optimization via Meta-Learning." AAAI 2015.
    Elsken, Staffler, Metzen, Hutter. "Meta-Learning of Neural Architectures
    for Few-Shot Learning." CVPR 2020 (MetaNAS).
    """

    def __init__(self, genotypes, regret, tables, features, feature_names=META_FEATURES):
        regret = np.asarray(regret, dtype=float)
        features = np.asarray(features, dtype=float)
        if regret.ndim != 2 or regret.shape != (len(genotypes), len(tables)):
            raise ValueError(f"MetaPrior: regret must be (n_genotypes, n_tables) = ({len(genotypes)}, {len(tables)}). "
                             f"Got {regret.shape} instead.")
        if features.shape != (len(tables), len(feature_names)):
            raise ValueError(f"MetaPrior: features must be (n_tables, n_meta_features) = "
                             f"({len(tables)}, {len(feature_names)}). Got {features.shape} instead.")
        if len(set(tables)) != len(tables):
            raise ValueError("MetaPrior: a table is named twice.")
        self.genotypes = [Genotype(g) for g in genotypes]
        self.regret = np.where(np.isnan(regret), 1.0, regret)
        self.tables = list(tables)
        self.features = features
        self.feature_names = tuple(feature_names)

    # -- package data ----------------------------------------------------------------
    @classmethod
    def load(cls, path=None):
        """The shipped prior (``sknas/data/metanas_prior.json``), or one saved by :meth:`save` at ``path``."""
        data = read_package_json(PRIOR_FILE, path)
        return cls(data["genotypes"], np.array(data["regret"], dtype=float).T, data["tables"],
                   [[t[name] for name in data["feature_names"]] for t in data["features"]],
                   tuple(data["feature_names"]))

    def to_dict(self, **info):
        """A JSON-able dict (regrets rounded to 3 decimals, one list per table)."""
        return {
            **info,
            "feature_names": list(self.feature_names),
            "tables": self.tables,
            "features": [{n: round(float(v), 4) for n, v in zip(self.feature_names, row)} for row in self.features],
            "genotypes": [dict(g) for g in self.genotypes],
            "regret": [[round(float(v), 3) for v in column] for column in self.regret.T],
        }

    def save(self, path, **info):
        with open(path, "w") as f:
            json.dump(self.to_dict(**info), f, separators=(",", ":"))

    # -- ranking ---------------------------------------------------------------------
    def vector(self, features):
        """The meta-features (a dict, as :func:`meta_features` gives) as a vector in this prior's order."""
        if not isinstance(features, dict):
            raise TypeError(f"MetaPrior: meta-features must be a dict. Got {features!r} instead.")
        missing = [n for n in self.feature_names if n not in features]
        if missing:
            raise ValueError(f"MetaPrior: the meta-features lack {missing}; they need {list(self.feature_names)}.")
        return np.array([float(features[n]) for n in self.feature_names])

    def _kept(self, exclude):
        exclude = set(exclude or ())
        unknown = exclude - set(self.tables)
        if unknown:
            raise ValueError(f"MetaPrior: unknown tables to exclude {sorted(unknown)}; known: {self.tables}.")
        kept = [i for i, t in enumerate(self.tables) if t not in exclude]
        if not kept:
            raise ValueError("MetaPrior: every meta-training table is excluded.")
        return kept

    def neighbors(self, features=None, n_neighbors=3, exclude=()):
        """Names of the ``n_neighbors`` tables nearest to ``features`` (all kept tables when ``None``), nearest first."""
        kept = self._kept(exclude)
        if features is None:
            return [self.tables[i] for i in kept]
        query = self.vector(features)
        F = self.features[kept]
        scale = F.std(axis=0)
        use = scale > 1e-9
        distance = np.sqrt((((F[:, use] - query[use]) / scale[use]) ** 2).sum(axis=1))
        order = np.lexsort((np.arange(len(kept)), distance))[: max(1, int(n_neighbors))]
        return [self.tables[kept[i]] for i in order]

    def rank(self, features=None, n_neighbors=3, exclude=()):
        """Row indices of :attr:`genotypes`, best first, for a table with meta-features ``features``.

        ``exclude`` names meta-training tables to leave out (e.g. the table
        being searched, for a leave-one-dataset-out evaluation).
        """
        kept = self._kept(exclude)
        near = [self.tables.index(t) for t in self.neighbors(features, n_neighbors, exclude)]
        near_regret = self.regret[:, near].mean(axis=1)
        all_regret = self.regret[:, kept].mean(axis=1)
        return [int(i) for i in np.lexsort((np.arange(len(self.genotypes)), all_regret, near_regret))]

    def ordered(self, features=None, n_neighbors=3, exclude=()):
        """The genotypes in the order of :meth:`rank`."""
        return [self.genotypes[i] for i in self.rank(features, n_neighbors, exclude)]


def adapt(genotype, space, fill, rng):
    """``genotype`` as a genotype of ``space``, or ``None`` when it is not one.

    Keys ``space`` does not have are dropped (e.g. ``label_smoothing`` on a
    regression space); parameters ``genotype`` lacks are taken from ``fill``
    (the space's first portfolio entry: the default preprocessing, as in the
    tables) or else drawn from the space's prior. A value the space does not
    allow makes the genotype unusable (``None``), never silently changed.
    """
    names = {p.name for p in space.params}
    own = {k: v for k, v in genotype.items() if k in names}
    if not own:
        return None
    merged = {**dict(space.sample(rng)), **{k: v for k, v in dict(fill).items() if k in names}, **own}
    try:
        out = space._complete(merged, None)
        # each of the prior's own decisions that is active must have survived as it was
        if any(out.get(k, v) != v for k, v in own.items()):
            return None
        return space.validate(out)
    except (TypeError, ValueError, KeyError):
        return None


class MetaNASSearch(Searcher):
    """A black-box search whose first proposals are the genotypes that did best on similar tables.

    The MetaNAS idea (Elsken et al. 2020: meta-learn across tasks where a new
    task's search starts) for black-box searchers, with the warm start of
    Feurer et al. (2015): the first ``n_prior`` candidates are the top of the
    meta-learned prior's ordering for this table (:class:`MetaPrior`, by the
    table's meta-features), and the rest come from the wrapped searcher,
    which is told every result, the prior's included. So with
    ``searcher="evolution"`` the prior's genotypes take the place of random
    members of the initial population (``n_prior`` of its
    ``population_size``), and with ``searcher="tpe"`` they count among its
    start-up trials and shape its first density model.

    Without meta-features (``meta_features=None``) every meta-training table
    votes: the prior is then a portfolio of the genotypes with the best mean
    regret. A genotype of the prior that is not of the searched space
    (another space, a value it does not allow) is skipped; ``prior_used_``
    counts those proposed and ``prior_note_`` says why fewer than
    ``n_prior`` were (on a space that shares none of the prior's
    parameters, the search is the wrapped searcher alone).

    Parameters
    ----------
    searcher : {"evolution", "tpe", "random"}, default="evolution"
        The wrapped searcher (with its default parameters).
    n_prior : int, default=10
        How many of the first proposals come from the prior.
    meta_features : dict or None, default=None
        The searched table's meta-features (:func:`meta_features`).
    n_neighbors : int, default=3
        How many of the nearest meta-training tables vote.
    exclude : tuple of str, default=()
        Meta-training tables left out of the prior (a leave-one-dataset-out
        evaluation excludes the table it searches).
    prior : MetaPrior or None, default=None
        ``None``: the shipped prior (:meth:`MetaPrior.load`).

    Attributes
    ----------
    inner_ : Searcher
        The wrapped searcher.
    neighbors_ : list of str
        The meta-training tables that voted.
    prior_used_ : int
        The prior's genotypes proposed so far.
    prior_note_ : str
        Why fewer than ``n_prior`` genotypes of the prior could be used ("" when all were).

    References
    ----------
    Elsken, Staffler, Metzen, Hutter. "Meta-Learning of Neural Architectures
    for Few-Shot Learning." CVPR 2020.
    Feurer, Springenberg, Hutter. "Initializing Bayesian Hyperparameter
    Optimization via Meta-Learning." AAAI 2015.
    """

    _parameter_constraints: dict = {
        "searcher": [StrOptions(set(_WRAPPED))],
        "n_prior": [Interval(Integral, 0, None, closed="left")],
        "meta_features": [dict, None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "exclude": [tuple, list],
        "prior": [MetaPrior, None],
    }

    def __init__(self, searcher="evolution", n_prior=10, meta_features=None, n_neighbors=3, exclude=(),
                 prior=None):
        self.searcher = searcher
        self.n_prior = n_prior
        self.meta_features = meta_features
        self.n_neighbors = n_neighbors
        self.exclude = exclude
        self.prior = prior

    def _setup(self):
        prior = MetaPrior.load() if self.prior is None else self.prior
        self.neighbors_ = prior.neighbors(self.meta_features, self.n_neighbors, self.exclude)
        ordered = prior.ordered(self.meta_features, self.n_neighbors, self.exclude)
        self.inner_ = clone(make_searcher(self.searcher)).setup(self.space_, int(self.rng_.integers(2**31 - 1)))
        portfolio = self.space_.portfolio()
        fill = portfolio[0] if portfolio else {}
        queue, skipped = [], 0
        for genotype in ordered:
            if len(queue) >= self.n_prior:
                break
            g = adapt(genotype, self.space_, fill, self.rng_)
            if g is None:
                skipped += 1
            elif g not in queue:
                queue.append(g)
        self._queue = queue
        self.prior_used_ = 0
        self.prior_note_ = "" if len(queue) >= self.n_prior else (
            f"{len(queue)} of the prior's {len(ordered)} genotypes are genotypes of {type(self.space_).__name__} "
            f"({skipped} are not: other parameters or values it does not allow)"
        )

    def set_budget(self, max_epochs=None, **budget):
        self.inner_.set_budget(max_epochs=max_epochs, **budget)

    def _ask(self, n):
        out = []
        while self._queue and len(out) < n:
            genotype = self._queue.pop(0)
            if genotype in self.seen_:  # told already (e.g. the runner's portfolio)
                continue
            self.prior_used_ += 1
            out.append(Candidate(genotype))
        if len(out) < n:
            # the wrapped searcher draws from this searcher's generator, so that a copy given a generator
            # of its own (PredictorFilter's proposals) proposes its own candidates
            self.inner_.rng_ = self.rng_
            out += self.inner_.ask(n - len(out))
        return out

    def _tell(self, candidate, result):
        self.inner_.rng_ = self.rng_
        self.inner_.tell(candidate, result)
