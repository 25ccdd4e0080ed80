"""Why this genotype: which searched decisions explain the scores of a search.

:func:`decision_importance` answers "which of the choices matter" from the
search itself, without retraining anything: a random forest (sklearn's
``RandomForestRegressor``) is fitted to predict each trial's score from its
decisions, and the forest's prediction is decomposed by functional ANOVA
(fANOVA; Hutter, Hoos, Leyton-Brown 2014) into the share of its variance
each single decision explains. :func:`marginal` gives the curve behind one
share: the predicted score as a function of that decision, every other
decision averaged out.

:func:`ablation` retrains: it resets the winner's decisions to the space's
default one at a time (or walks the greedy ablation path from the default to
the winner) and measures what each costs on the search's own validation
protocol (Fawcett & Hoos 2016; Biedenkapp et al. 2017). :func:`feature_importance`
is the permutation importance of the fitted model's input columns, in the
user's own column names, with the columns the cleaning step removed listed
as such.

The decomposition is exact over each tree's partition of the space (no
sampling): a regression tree is constant on the boxes its leaves define, so
the mean, the total variance and every single decision's marginal are sums
over leaves of the leaf's value times the measure of its box (Hutter et al.
2014, Section 3.2). What this implementation simplifies:

- Categorical decisions are split as integer codes (sklearn's trees have
  no subset splits); the marginal of each level is still read exactly
  from the trees, so only the forest's fit differs from the paper's.
- The measure the variance is taken under is a product of one measure per
  decision: the levels of a categorical decision are equally likely, a
  numeric decision is uniform on its searched (log-)range, the scale its
  space samples on. A decision that is inactive in some trials (e.g.
  ``extract_dim`` when ``extract="none"``) gets an extra level
  ``"inactive"`` whose weight is the share of trials where it was inactive
  (the paper imputes a default value instead).
- Only single decisions are decomposed (no pairwise terms);
  the rest, ``1 - sum``, is in ``frame.attrs["interactions"]``.

References
----------
Hutter, Hoos, Leyton-Brown. "An Efficient Approach for Assessing
Hyperparameter Importance." ICML 2014.

Fawcett, Hoos. "Analysing differences between algorithm configurations
through ablation." Journal of Heuristics 22(4), 2016.

Biedenkapp, Lindauer, Eggensperger, Hutter, Fawcett, Hoos. "Efficient
Parameter Importance Analysis via Ablation with Surrogates." AAAI 2017.
"""

from __future__ import annotations

import copy
import math
import numbers
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from .search.base import Candidate
from .space.genotype import Genotype

__all__ = ["ablation", "decision_importance", "feature_importance", "marginal"]

_INACTIVE = "inactive"


# -- the trials as a design matrix ----------------------------------------------------------
class _Decision:
    """One column of the design matrix: how a decision's values become numbers and what measure it has."""

    def __init__(self, name, param, values):
        self.name = name
        present = [v for v in values if v is not None]
        self.p_inactive = 1.0 - len(present) / len(values)
        choices = getattr(param, "choices", None) if param is not None else None
        numeric = param is not None and choices is None or (param is None and present and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present))
        self.kind = "numeric" if numeric else "categorical"
        if numeric:
            self.param = param
            if param is None:  # read from results alone: the observed range, linear
                low, high = (float(min(present)), float(max(present))) if present else (0.0, 1.0)
                self._unit = (lambda v, low=low, high=high: (float(v) - low) / (high - low) if high > low else 0.5)
                self._value = lambda u, low=low, high=high: low + u * (high - low)
            else:
                self._unit = lambda v: float(param._to_unit(v))
                self._value = lambda u: param._from_unit(u)
        else:
            levels = list(choices) if choices is not None else []
            for v in present:
                if v not in levels:
                    levels.append(v)
            self.levels = levels + ([_INACTIVE] if self.p_inactive > 0 else [])
            weight = (1.0 - self.p_inactive) / max(1, len(levels))
            self.weights = np.array([weight] * len(levels) + ([self.p_inactive] if self.p_inactive > 0 else []))

    def encode(self, value):
        if self.kind == "numeric":
            return -1.0 if value is None else min(max(self._unit(value), 0.0), 1.0)
        return float(self.levels.index(_INACTIVE if value is None else value))

    def measure(self, lo, hi):
        """The measure of the values x with lo < x <= hi (arrays of box bounds)."""
        if self.kind == "numeric":
            inside = np.clip(np.minimum(hi, 1.0) - np.maximum(lo, 0.0), 0.0, None)
            atom = ((lo < -1.0) & (-1.0 <= hi)) * self.p_inactive
            return (1.0 - self.p_inactive) * inside + atom
        codes = np.arange(len(self.levels))
        inside = (lo[:, None] < codes[None, :]) & (codes[None, :] <= hi[:, None])
        return inside @ self.weights

    def cells(self, thresholds):
        """``[(point, measure, label), ...]``: the pieces of the domain on which a tree is constant."""
        if self.kind == "categorical":
            return [(float(i), w, level) for i, (level, w) in enumerate(zip(self.levels, self.weights))]
        cuts = np.unique(np.concatenate([[0.0, 1.0], [t for t in thresholds if 0.0 < t < 1.0]]))
        out = [(-1.0, self.p_inactive, _INACTIVE)] if self.p_inactive > 0 else []
        out += [((a + b) / 2, (1.0 - self.p_inactive) * (b - a), None) for a, b in zip(cuts[:-1], cuts[1:])]
        return out

    def value(self, u):
        return self._value(u)


def _results_of(estimator_or_results):
    results = getattr(estimator_or_results, "search_results_", estimator_or_results)
    if isinstance(results, pd.DataFrame):
        results = results.to_dict(orient="list")
    if not isinstance(results, dict) or "score" not in results:
        raise TypeError(
            "sknas.inspect: expected a fitted sknas estimator (with search_results_), its search_results_ dict or "
            f"a DataFrame of it, with a 'score' column. Got {type(estimator_or_results).__name__} instead."
        )
    return results


def _space_params(estimator_or_results, space):
    space = space if space is not None else getattr(estimator_or_results, "space_", None)
    if space is None:
        return {}
    return {p.name: p for p in space.params}


def _design(estimator_or_results, space, full_fidelity_only):
    results = _results_of(estimator_or_results)
    frame = pd.DataFrame(results)
    names = [c[len("param_"):] for c in frame.columns if c.startswith("param_")]
    if not names:
        raise ValueError("sknas.inspect: the search results have no param_<decision> column to explain scores by.")
    score = pd.to_numeric(frame["score"], errors="coerce")
    keep = np.isfinite(score.to_numpy(dtype=float))
    if "status" in frame:
        keep &= (frame["status"] == "ok").to_numpy()
    if full_fidelity_only:
        for column in ("data_fraction", "epochs"):  # None is the full fidelity
            if column in frame:
                level = frame[column].map(lambda v: math.inf if v is None or pd.isna(v) else float(v))
                keep &= (level == level[keep].max()).to_numpy() if keep.any() else keep
    frame = frame[keep]
    if len(frame) < 3:
        raise ValueError(
            f"sknas.inspect: decision importance needs at least 3 successful trials at full fidelity; the search "
            f"results have {len(frame)}. Search longer (time_budget, max_trials)."
        )
    params = _space_params(estimator_or_results, space)
    decisions = []
    for name in names:
        values = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                  for v in frame[f"param_{name}"]]
        decisions.append(_Decision(name, params.get(name), values))
    X = np.array([[d.encode(v if not (isinstance(v, float) and math.isnan(v)) else None)
                   for d, v in zip(decisions, row)]
                  for row in zip(*(frame[f"param_{d.name}"] for d in decisions))], dtype=float)
    return decisions, X, frame["score"].to_numpy(dtype=float)


def _fit_forest(X, y, n_trees, random_state):
    return RandomForestRegressor(n_estimators=n_trees, min_samples_leaf=1, random_state=random_state).fit(X, y)


# -- fANOVA over one tree ----------------------------------------------------------------
def _leaf_boxes(tree, n_dims):
    """``(lo, hi, values)``: the box ``lo < x <= hi`` and the prediction of every leaf."""
    t = tree.tree_
    lo_all, hi_all, values = [], [], []
    stack = [(0, np.full(n_dims, -np.inf), np.full(n_dims, np.inf))]
    while stack:
        node, lo, hi = stack.pop()
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            lo_all.append(lo)
            hi_all.append(hi)
            values.append(t.value[node].ravel()[0])
            continue
        f, thr = t.feature[node], t.threshold[node]
        hi_left, lo_right = hi.copy(), lo.copy()
        hi_left[f] = min(hi[f], thr)
        lo_right[f] = max(lo[f], thr)
        stack.append((left, lo, hi_left))
        stack.append((right, lo_right, hi))
    return np.array(lo_all), np.array(hi_all), np.array(values), t


class _TreeANOVA:
    """Mean, total variance and single-decision marginals of one tree under the decisions' product measure."""

    def __init__(self, tree, decisions):
        self.decisions = decisions
        self.lo, self.hi, self.values, t = _leaf_boxes(tree, len(decisions))
        self.masses = np.column_stack([d.measure(self.lo[:, j], self.hi[:, j]) for j, d in enumerate(decisions)])
        weight = self.masses.prod(axis=1)
        total = weight.sum()  # 1 up to rounding: the leaves partition the space
        self.mean = float(weight @ self.values / total)
        self.variance = float(weight @ (self.values - self.mean) ** 2 / total)
        self.thresholds = [t.threshold[t.feature == j] for j in range(len(decisions))]

    def marginal(self, j, points):
        """The tree's prediction averaged over every decision but ``j``, at ``points`` of decision ``j``."""
        others = np.delete(self.masses, j, axis=1).prod(axis=1)
        points = np.asarray(points, dtype=float)
        inside = (self.lo[None, :, j] < points[:, None]) & (points[:, None] <= self.hi[None, :, j])
        return inside @ (others * self.values)

    def single_variance(self, j):
        cells = self.decisions[j].cells(self.thresholds[j])
        points = np.array([c[0] for c in cells])
        mass = np.array([c[1] for c in cells])
        curve = self.marginal(j, points)
        return float(mass @ (curve - self.mean) ** 2 / mass.sum())


def _anovas(estimator_or_results, space, n_trees, random_state, full_fidelity_only):
    decisions, X, y = _design(estimator_or_results, space, full_fidelity_only)
    forest = _fit_forest(X, y, n_trees, random_state)
    return decisions, [_TreeANOVA(tree, decisions) for tree in forest.estimators_], len(y)


def decision_importance(estimator_or_results, *, space=None, n_trees=64, random_state=0, full_fidelity_only=True):
    """The share of the variance of trial scores each searched decision explains (fANOVA).

    A ``RandomForestRegressor`` of ``n_trees`` trees learns each successful
    trial's score from its decisions; each tree's prediction is decomposed
    exactly by functional ANOVA (Hutter, Hoos, Leyton-Brown 2014) and a
    decision's importance is the variance of its marginal (the prediction
    averaged over every other decision) divided by the tree's total
    variance, averaged over the trees. Nothing is retrained. See the module
    docstring for what is simplified from the paper.

    Parameters
    ----------
    estimator_or_results : fitted AutoNASClassifier / AutoNASRegressor, dict or DataFrame
        A fitted estimator (its ``search_results_`` and ``space_`` are read)
        or a ``search_results_``-like table with ``score`` and
        ``param_<decision>`` columns (``status`` optional).
    space : SearchSpace, default=None
        The searched space, for the levels and ranges of each decision;
        default: the estimator's ``space_``. Without one, levels and ranges
        are those observed (numbers on a linear scale).
    n_trees : int, default=64
    random_state : int, default=0
        Seed of the forest.
    full_fidelity_only : bool, default=True
        Use only the trials at the highest fidelity (``data_fraction`` and
        ``epochs``): a low-fidelity score is not comparable.

    Returns
    -------
    importance : DataFrame
        One row per decision, sorted by ``importance`` (descending): columns
        ``decision``, ``importance`` (mean share over the trees, in [0, 1]),
        ``std`` (over the trees) and ``kind`` (``"categorical"`` or
        ``"numeric"``). ``attrs`` holds ``n_trials`` and ``interactions``
        (the share left to interactions of decisions, ``1 - sum``).

    Raises
    ------
    ValueError
        With fewer than 3 successful trials, or no ``param_`` column.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> act = rng.choice(["relu", "tanh"], 60); width = rng.integers(8, 256, 60)
    >>> results = {"score": np.where(act == "relu", 0.9, 0.6) + rng.normal(0, 0.01, 60),
    ...            "param_act": list(act), "param_width": list(width)}
    >>> decision_importance(results)["decision"].iloc[0]
    'act'
    """
    decisions, trees, n = _anovas(estimator_or_results, space, n_trees, random_state, full_fidelity_only)
    shares = np.array([[tree.single_variance(j) / tree.variance if tree.variance > 0 else 0.0
                        for j in range(len(decisions))] for tree in trees])
    frame = pd.DataFrame({
        "decision": [d.name for d in decisions],
        "importance": shares.mean(axis=0),
        "std": shares.std(axis=0),
        "kind": [d.kind for d in decisions],
    }).sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["n_trials"] = n
    frame.attrs["interactions"] = float(max(0.0, 1.0 - shares.sum(axis=1).mean()))
    return frame


def marginal(estimator_or_results, decision, *, n_points=20, space=None, n_trees=64, random_state=0,
             full_fidelity_only=True):
    """The predicted score as a function of one decision, every other decision averaged out (fANOVA).

    The marginal of the forest of :func:`decision_importance` (same
    arguments): for a categorical decision one row per level, for a numeric
    one ``n_points`` values evenly spread on its searched (log-)scale (and
    the ``"inactive"`` level where the decision was inactive in some trials).

    Parameters
    ----------
    estimator_or_results : fitted estimator, dict or DataFrame
    decision : str
        A decision's name (a ``param_<decision>`` column of the results).
    n_points : int, default=20

    Returns
    -------
    curve : DataFrame
        Columns ``value``, ``mean`` (the marginal, averaged over the trees)
        and ``std`` (over the trees).
    """
    decisions, trees, _ = _anovas(estimator_or_results, space, n_trees, random_state, full_fidelity_only)
    names = [d.name for d in decisions]
    if decision not in names:
        raise ValueError(f"sknas.inspect.marginal: decision must be one of {names}. Got {decision!r} instead.")
    j = names.index(decision)
    d = decisions[j]
    if d.kind == "categorical":
        points, labels = np.arange(len(d.levels), dtype=float), list(d.levels)
    else:
        grid = np.linspace(0.0, 1.0, int(n_points))
        points = np.concatenate([[-1.0] if d.p_inactive > 0 else [], grid])
        labels = ([_INACTIVE] if d.p_inactive > 0 else []) + [d.value(float(u)) for u in grid]
    curves = np.array([tree.marginal(j, points) for tree in trees])
    return pd.DataFrame({"value": labels, "mean": curves.mean(axis=0), "std": curves.std(axis=0)})


# -- ablation of the winner ----------------------------------------------------------------
_METHODS = ("leave-one-out", "path")


def _check_fitted(estimator, caller):
    """A clear error for anything but a fitted sknas estimator."""
    if hasattr(estimator, "best_genotype_") and hasattr(estimator, "space_") and hasattr(estimator, "best_estimator_"):
        return
    if hasattr(estimator, "fit") and hasattr(estimator, "space") and hasattr(estimator, "time_budget"):
        raise NotFittedError(
            f"sknas.inspect.{caller}: this {type(estimator).__name__} is not fitted yet; call fit(X, y) first."
        )
    raise TypeError(
        f"sknas.inspect.{caller}: expected a fitted AutoNASClassifier or AutoNASRegressor. "
        f"Got {type(estimator).__name__} instead."
    )


def _space_default(space):
    """The genotype ablation resets decisions to (see :func:`ablation`, parameter ``default``)."""
    own = getattr(space, "default", None)
    if callable(own):
        return space.validate(own())
    hand = getattr(space, "hand_portfolio", None)
    entries = list(hand() if callable(hand) else space.portfolio())
    if entries:
        # JointSpace.portfolio: a first entry that brings settings of its own (the mlp space's linear
        # model) is a cheap special put first; the hand-picked default is the first entry after it
        settings, arch_of = getattr(space, "_settings", None), getattr(space, "arch_genotype", None)
        if callable(settings) and callable(arch_of) and len(entries) > 1 and settings(arch_of(entries[0])):
            return space.validate(entries[1])
        return space.validate(entries[0])
    values = {}
    for p in space.params:  # no portfolio: first choice, or the middle of the searched (log-)range
        if p.is_active(values):
            choices = getattr(p, "choices", None)
            values[p.name] = p.validate(choices[0] if choices is not None else p._from_unit(0.5))
    return space.validate(values)


def _reset(space, genotype, name, value, fill):
    """``genotype`` with decision ``name`` set to ``value``; decisions it activates take their value from the
    first genotype of ``fill`` that has one, those it deactivates are dropped (``space.replace``)."""
    merged = {**dict(genotype), name: value}
    out = {}
    for p in space.params:
        if not p.is_active(out):
            continue
        if p.name in merged:
            out[p.name] = merged[p.name]
            continue
        source = next((g for g in fill if p.name in g), None)
        if source is None:
            raise ValueError(f"setting {name}={value!r} activates {p.name!r}, which has no value to take")
        out[p.name] = source[p.name]
    changes = {k: v for k, v in out.items() if k not in genotype or genotype[k] != v}
    return space.replace(genotype, **changes)


def _changed(before, after, name):
    """The decisions besides ``name`` that differ between two genotypes (set, dropped or added)."""
    keys = [k for k in dict.fromkeys(list(before) + list(after)) if k != name]
    return tuple(k for k in keys if (k in before) != (k in after) or (k in before and before[k] != after[k]))


def _evaluator(estimator):
    """An Evaluator built the way the estimator built the search's (its space, scorer, epochs, device,
    preprocessing and size limits); it keeps no models."""
    return estimator._make_evaluator(estimator.space_, estimator._scorer(), keep_model=False)


def _validation_data(estimator, X, y, random_state):
    """The search's validation protocol on ``X, y``: the estimator's own checks and split (holdout or
    k folds); the same split as the search's when its ``random_state`` was an int. Returns
    ``(data, training seed)``."""
    X = estimator._check_X(X, reset=False)
    y = estimator._check_y(y, X.shape[0])
    y = copy.copy(estimator)._prepare_y(y)  # a copy: the fitted estimator's classes_ stay as they are
    classes = getattr(estimator, "classes_", None)
    if classes is not None and not np.array_equal(np.unique(y), classes):
        raise ValueError(
            f"sknas.inspect.ablation: y has the classes {np.unique(y).tolist()}, the estimator was fitted on "
            f"{np.asarray(classes).tolist()}; pass the data it was fitted on."
        )
    own = estimator.random_state
    rng = check_random_state(own if isinstance(own, numbers.Integral) else random_state)
    split_seed, _, runner_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
    seed = runner_seed if random_state is None or not isinstance(random_state, numbers.Integral) else int(random_state)
    return estimator._split(X, y, split_seed), seed


class _Meter:
    """Trains and scores genotypes on one protocol and seed, within a deadline; one measurement per genotype."""

    def __init__(self, evaluator, data, seed, deadline):
        self.evaluator, self.data, self.seed, self.deadline = evaluator, data, seed, deadline
        self.cache = {}
        self.n_evaluations = 0

    def out_of_time(self):
        return self.deadline is not None and time.time() >= self.deadline

    def __call__(self, genotype):
        """``(score, status, seconds)``; status "ok", "failed: ..." or "time_limit" (cut short: not comparable)."""
        key = repr(sorted(dict(genotype).items(), key=lambda kv: kv[0]))
        if key not in self.cache:
            result = self.evaluator.evaluate(Candidate(Genotype(dict(genotype))), self.data,
                                             deadline=self.deadline, seed=self.seed)
            self.n_evaluations += 1
            if result.status == "ok" and result.stop_reason == "time_limit" and self.deadline is not None \
                    and time.time() >= self.deadline:
                status = "time_limit"
            elif result.status == "ok" and result.score is not None and math.isfinite(result.score):
                status = "ok"
            else:
                status = f"failed: {(result.error or result.status).splitlines()[0]}"
            score = float(result.score) if status == "ok" else math.nan
            self.cache[key] = (score, status, float(result.fit_time))
        return self.cache[key]


def _ranked(estimator, names):
    """``names`` ordered by the search's decision importance (fANOVA), where it can be computed."""
    try:
        importance = decision_importance(estimator)
    except (TypeError, ValueError):
        return list(names)
    rank = {d: i for i, d in enumerate(importance["decision"])}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))


def ablation(estimator, X, y, *, method="leave-one-out", genotype=None, default=None, time_budget=None,
             max_decisions=None, random_state=None):
    """What each of the winner's decisions contributes to its validation score, by retraining (ablation).

    Ablation analysis (Fawcett & Hoos 2016; Biedenkapp et al. 2017) compares
    two configurations, the space's default and the winner, decision by
    decision. Every network is trained and scored with the search's own
    machinery: an :class:`~sknas.evaluation.trainer.Evaluator` built as the
    estimator built the search's (space, scoring, ``max_epochs``, device,
    preprocessing, size constraints) on the estimator's validation protocol
    on ``X, y`` (its holdout split or its k folds; the very split of the
    search when the estimator's ``random_state`` is an int and ``X, y`` are
    the data it was fitted on). All networks train from one seed, so the
    comparisons share their random numbers; the winner itself is retrained
    on this protocol too, and contributions are measured against that score
    (``attrs["winner_score"]``), not against ``best_score_``.

    Two methods:

    - ``"leave-one-out"`` (default; ``k + 1`` trainings for ``k`` differing
      decisions): the winner with **one decision at a time reset** to the
      default's value. ``contribution = winner score - ablated score``: what
      the search gained by moving that decision alone away from the
      default, the rest of the winner kept. This simplifies the paper,
      whose contributions are read along a path; leave-one-out contributions
      need not sum to ``winner - default`` (decisions interact).
    - ``"path"``: the paper's greedy **ablation path** (Fawcett & Hoos
      2016, Algorithm 1, as used by Biedenkapp et al. 2017 -- without their
      surrogate: every step is a real training): start at the default; at
      each step, try moving each decision that still differs (and is active)
      to the winner's value, keep the move that scores best, and record its
      ``contribution = score after - score before``. The contributions sum
      to ``winner - default`` along the path. It costs about ``k^2 / 2``
      trainings.

    The **default** is, unless given: the space's ``default()`` where it
    has one; else its hand-picked default, the first entry of its
    hand-picked portfolio (for the joint space of the estimators, the
    architecture's default network with the training and preprocessing
    parts' defaults -- the 3-block MLP, not the cheap linear model that
    leads the search's portfolio); else the first entry of
    ``space.portfolio()``; else each parameter's first choice (numbers: the
    middle of their searched, possibly logarithmic, range).

    Conditional decisions: only decisions active in both genotypes with
    different values are ablated. Resetting a parent drops the children it
    deactivates and activates children with the other genotype's values
    (``space.replace``); column ``also_changed`` lists what moved along.

    Parameters
    ----------
    estimator : fitted AutoNASClassifier or AutoNASRegressor
    X, y : the data the estimator was fitted on (or data of the same columns and classes)
    method : {"leave-one-out", "path"}, default="leave-one-out"
    genotype : mapping or None, default=None
        The genotype to ablate; default: ``estimator.best_genotype_``.
    default : mapping or None, default=None
        The reference genotype (a genotype of ``estimator.space_``);
        default: the space's default, as above.
    time_budget : float or None, default=None
        Seconds for all trainings. Training stops at the budget (a training
        cut short is listed with status ``"time_limit"`` and no
        contribution); decisions not reached are listed as
        ``"not measured"``. The winner (and, for ``"path"``, the default) is
        trained first.
    max_decisions : int or None, default=None
        Measure at most this many decisions: those the search's decision
        importance (fANOVA, :func:`decision_importance`) ranks highest, in
        that order (space order when it cannot be computed). The others keep
        the winner's values and are listed as ``"not measured"``.
    random_state : int or None, default=None
        Seed of the networks' training; None: the seed the search's runner
        drew. Also seeds the split when the estimator's ``random_state`` is
        not an int.

    Returns
    -------
    table : DataFrame
        One row per differing decision: ``decision``, ``winner_value``,
        ``default_value``, ``score`` (validation score of the ablated
        genotype; for ``"path"``, after the step), ``contribution``,
        ``status`` (``"ok"``, ``"failed: ..."``, ``"time_limit"``,
        ``"not measured"``; for ``"path"`` also ``"moved along"``: set to
        the winner's value by a parent's move), ``also_changed``, ``fit_time``; ``"path"`` adds
        ``step``. Leave-one-out rows are sorted by contribution (largest
        first), path rows by step; unmeasured rows last. ``attrs``:
        ``method``, ``winner_score``, ``default_score`` (NaN for
        leave-one-out), ``search_score`` (``best_score_``),
        ``n_evaluations``, ``seconds``, ``not_measured``, ``default``
        (the default genotype).

    Raises
    ------
    NotFittedError
        For an unfitted estimator (a ``ValueError``).
    TypeError, ValueError
        For something other than a sknas estimator, a bad ``method``,
        ``time_budget`` or ``max_decisions``, a genotype or default that is
        not one of the space's, or when the winner cannot be trained
        within ``time_budget``.

    References
    ----------
    Fawcett, Hoos. "Analysing differences between algorithm configurations
    through ablation." Journal of Heuristics 22(4), 2016.
    Biedenkapp, Lindauer, Eggensperger, Hutter, Fawcett, Hoos. "Efficient
    Parameter Importance Analysis via Ablation with Surrogates." AAAI 2017.
    """
    _check_fitted(estimator, "ablation")
    if method not in _METHODS:
        raise ValueError(f"sknas.inspect.ablation: method must be one of {_METHODS}. Got {method!r} instead.")
    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, numbers.Real)
                                    or not time_budget > 0):
        raise ValueError(f"sknas.inspect.ablation: time_budget must be None or a number > 0. "
                         f"Got {time_budget!r} instead.")
    if max_decisions is not None and (isinstance(max_decisions, bool) or not isinstance(max_decisions, numbers.Integral)
                                      or max_decisions < 1):
        raise ValueError(f"sknas.inspect.ablation: max_decisions must be None or an int >= 1. "
                         f"Got {max_decisions!r} instead.")
    start = time.time()
    space = estimator.space_
    winner = space.validate(estimator.best_genotype_ if genotype is None else genotype)
    default = _space_default(space) if default is None else space.validate(default)
    differing = [p.name for p in space.params
                 if p.name in winner and p.name in default and winner[p.name] != default[p.name]]
    order = _ranked(estimator, differing) if max_decisions is not None else differing
    measured = order if max_decisions is None else order[:int(max_decisions)]
    skipped = [n for n in order if n not in measured]
    source = default  # the path's start: the default, with the decisions left out at the winner's values
    if method == "path":
        for name in skipped:
            if name in source and source[name] != winner[name]:
                source = _reset(space, source, name, winner[name], (winner, default))
    data, seed = _validation_data(estimator, X, y, random_state)
    meter = _Meter(_evaluator(estimator), data, seed, None if time_budget is None else start + float(time_budget))

    winner_score, status, seconds = meter(winner)
    if status != "ok":
        raise ValueError(
            f"sknas.inspect.ablation: the winner could not be retrained ({status}, after {seconds:.1f} s); "
            + ("raise time_budget." if status == "time_limit" else "nothing to compare against.")
        )

    def row(name, score, status, also=(), fit_time=math.nan, contribution=math.nan):
        return {"decision": name, "winner_value": winner[name], "default_value": default[name], "score": score,
                "contribution": contribution, "status": status, "also_changed": tuple(also), "fit_time": fit_time}

    rows, default_score = [], math.nan
    if method == "leave-one-out":
        for name in measured:
            if meter.out_of_time():
                rows.append(row(name, math.nan, "not measured"))
                continue
            try:
                ablated = _reset(space, winner, name, default[name], (default,))
            except ValueError as exc:
                rows.append(row(name, math.nan, f"failed: {exc}"))
                continue
            score, status, fit_time = meter(ablated)
            rows.append(row(name, score, status, _changed(winner, ablated, name), fit_time,
                            winner_score - score if status == "ok" else math.nan))
        rows.sort(key=lambda r: (r["status"] == "not measured", -r["contribution"]
                                 if math.isfinite(r["contribution"]) else math.inf))
    else:
        default_score, status, _ = meter(source)
        if status != "ok":
            raise ValueError(f"sknas.inspect.ablation: the default could not be trained ({status}); "
                             "the path needs its score.")
        current, previous, step = source, default_score, 0
        while True:
            open_ = [n for n in measured if n in current and current[n] != winner[n]]
            if not open_ or meter.out_of_time():
                break
            tried = []
            for name in open_:
                if meter.out_of_time():
                    break
                try:
                    moved = _reset(space, current, name, winner[name], (winner, default))
                except ValueError as exc:  # a move the space does not allow: tried, never chosen
                    tried.append((math.nan, f"failed: {exc}", math.nan, name, None))
                    continue
                score, status, fit_time = meter(moved)
                tried.append((score, status, fit_time, name, moved))
            complete = len(tried) == len(open_) and not any(t[1] == "time_limit" for t in tried)
            ok = [t for t in tried if t[1] == "ok"]
            if not complete or not ok:
                break  # an unfinished round cannot say which move is best
            score, status, fit_time, name, moved = max(ok, key=lambda t: t[0])
            step += 1
            rows.append({**row(name, score, status, _changed(current, moved, name), fit_time, score - previous),
                         "step": step})
            current, previous = moved, score
        done = {r["decision"] for r in rows}
        for name in measured:
            if name not in done:  # not reached, or set to the winner's value along with a parent's move
                status = "not measured" if name not in current or current[name] != winner[name] else "moved along"
                rows.append({**row(name, math.nan, status), "step": None})
    rows += [{**row(n, math.nan, "not measured"), **({"step": None} if method == "path" else {})} for n in skipped]
    columns = ["decision", "winner_value", "default_value", "score", "contribution", "status", "also_changed",
               "fit_time"] + (["step"] if method == "path" else [])
    table = pd.DataFrame(rows, columns=columns)
    table.attrs.update(
        method=method, winner_score=winner_score, default_score=default_score,
        search_score=float(getattr(estimator, "best_score_", math.nan)), n_evaluations=meter.n_evaluations,
        seconds=time.time() - start, not_measured=[r["decision"] for r in rows if r["status"] == "not measured"],
        default=default,
    )
    return table


# -- feature importance in the user's column names -------------------------------------------
def _find_cleaner(model):
    """The fitted TableCleaner inside a fitted pipeline (or bag of pipelines), or None."""
    from .prep.cleaning import TableCleaner

    if isinstance(model, TableCleaner):
        return model
    children = []
    if hasattr(model, "steps"):
        children = [step for _, step in model.steps]
    elif hasattr(model, "estimators"):
        children = list(model.estimators)
    for child in children:
        found = _find_cleaner(child)
        if found is not None:
            return found
    return None


def feature_importance(estimator, X, y, *, n_repeats=5, scoring=None, random_state=None, n_jobs=None):
    """Permutation importance of the fitted model's input columns, in the user's own column names.

    Each column of ``X`` is shuffled ``n_repeats`` times and the drop of the
    fitted estimator's score is recorded (scikit-learn's
    :func:`~sklearn.inspection.permutation_importance` on the estimator
    itself, preprocessing included, so the columns are those of the raw
    frame, before cleaning, encoding or selection; Breiman 2001). Columns
    the cleaning step (:class:`~sknas.prep.cleaning.TableCleaner`) removed
    are listed with ``status="removed"`` and the cleaner's reason
    (``removed_columns_``); their importance is exactly 0, as the model never
    reads them.

    Score on held-out data for the importance to the model's generalization;
    on the training data it also measures what the model memorized.

    Parameters
    ----------
    estimator : fitted AutoNASClassifier or AutoNASRegressor
    X : DataFrame or array of shape (n_samples, n_features)
        Raw data of the columns the estimator was fitted on.
    y : array of shape (n_samples,)
    n_repeats : int, default=5
    scoring : str, callable or None, default=None
        None: the estimator's ``scoring`` (or its ``score``: accuracy, R^2).
    random_state : int or None, default=None
        Seed of the permutations.
    n_jobs : int or None, default=None
        Passed to ``permutation_importance``.

    Returns
    -------
    importance : DataFrame
        One row per input column: ``feature`` (the column's name; ``x<i>``
        for an array without names), ``importance`` (mean score drop),
        ``std`` (over the repeats), ``status`` (``"used"`` or
        ``"removed"``) and ``reason`` (the cleaner's, for removed columns).
        Used columns first, by importance (largest first), then the removed
        ones. ``attrs``: ``baseline_score`` (the unshuffled score),
        ``n_repeats``.

    Raises
    ------
    NotFittedError
        For an unfitted estimator (a ``ValueError``).
    TypeError
        For something other than a sknas estimator.
    """
    _check_fitted(estimator, "feature_importance")
    from sklearn.inspection import permutation_importance

    if isinstance(n_repeats, bool) or not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise ValueError(f"sknas.inspect.feature_importance: n_repeats must be an int >= 1. Got {n_repeats!r} instead.")
    if isinstance(X, pd.DataFrame):
        names, keys = [str(c) for c in X.columns], list(X.columns)
    else:
        n_columns = np.asarray(X).shape[1] if np.ndim(X) == 2 else None
        if n_columns is None:
            raise ValueError(f"sknas.inspect.feature_importance: X must be 2-D. Got shape {np.shape(X)} instead.")
        given = getattr(estimator, "feature_names_in_", None)
        names = [str(c) for c in given] if given is not None else [f"x{i}" for i in range(n_columns)]
        keys = list(range(n_columns))
    if scoring is None:
        scoring = getattr(estimator, "scoring", None)
    result = permutation_importance(estimator, X, y, scoring=scoring, n_repeats=int(n_repeats),
                                    random_state=random_state, n_jobs=n_jobs)
    cleaner = _find_cleaner(estimator.best_estimator_)
    removed = dict(getattr(cleaner, "removed_columns_", {}) or {})
    frame = pd.DataFrame({
        "feature": names,
        "importance": result.importances_mean,
        "std": result.importances_std,
        "status": ["removed" if k in removed else "used" for k in keys],
        "reason": [removed.get(k, "") for k in keys],
    })
    frame["_removed"] = frame["status"] == "removed"
    frame = frame.sort_values(["_removed", "importance"], ascending=[True, False], kind="stable")
    frame = frame.drop(columns="_removed").reset_index(drop=True)
    from sklearn.metrics import check_scoring

    frame.attrs["baseline_score"] = float(check_scoring(estimator, scoring=scoring)(estimator, X, y))
    frame.attrs["n_repeats"] = int(n_repeats)
    return frame
