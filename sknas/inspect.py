"""Why this genotype: which searched decisions explain the scores of a search.

:func:`decision_importance` answers "which of the choices matter" from the
search itself, without retraining anything: a random forest (sklearn's
``RandomForestRegressor``) is fitted to predict each trial's score from its
decisions, and the forest's prediction is decomposed by functional ANOVA
(fANOVA; Hutter, Hoos, Leyton-Brown 2014) into the share of its variance
each single decision explains. :func:`marginal` gives the curve behind one
share: the predicted score as a function of that decision, every other
decision averaged out.

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
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

__all__ = ["decision_importance", "marginal"]

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
