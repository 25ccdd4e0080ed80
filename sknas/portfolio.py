"""Greedy portfolio construction over a meta-benchmark.

A portfolio is a short, ordered list of configurations that together do
well across many datasets: tried first, it makes even a short search return
a strong model. Auto-sklearn 2.0 (Feurer, Eggensperger, Falkner, Lindauer,
Hutter 2022, "Auto-Sklearn 2.0: Hands-free AutoML via Meta-Learning", JMLR
23(261), section 4.1) and Auto-PyTorch Tabular (Zimmer, Lindauer, Hutter
2021, "Auto-PyTorch Tabular: Multi-Fidelity MetaLearning for Efficient and
Robust AutoDL", TPAMI, section 3.2) build theirs greedily: starting from an
empty portfolio, repeatedly append the candidate that most lowers the
mean, over the meta-datasets, of the portfolio's best (lowest) regret.

``benchmarks/build_portfolio.py`` runs the meta-benchmark and writes the
shipped portfolio (``sknas/data/portfolio.json``) with these functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["normalized_regret", "greedy_portfolio"]


def normalized_regret(scores):
    """Per-dataset regret of each candidate, in [0, 1].

    ``scores`` is (n_candidates, n_datasets), larger is better, NaN for a
    failed candidate. On each dataset the regret is ``(best - score) /
    (best - median)`` clipped to [0, 1]: the best candidate scores 0, the
    median one or worse 1 (as does a failure), so that no dataset's scale
    dominates the mean.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (candidates x datasets); got shape {scores.shape}.")
    out = np.ones_like(scores)
    for d in range(scores.shape[1]):
        col = scores[:, d]
        ok = ~np.isnan(col)
        if not ok.any():
            continue
        best, median = col[ok].max(), np.median(col[ok])
        spread = max(best - median, 1e-12)
        out[ok, d] = np.clip((best - col[ok]) / spread, 0.0, 1.0)
    return out


def greedy_portfolio(regret, size, cost=None):
    """Indices of ``size`` candidates chosen greedily, in order.

    Each step appends the candidate minimizing ``mean_d min(current_d,
    regret[c, d])``; ties go to the cheaper candidate (``cost``, e.g. its
    mean training time), then to the lower index. Returns a list of row
    indices of ``regret``.
    """
    regret = np.asarray(regret, dtype=float)
    if regret.ndim != 2 or regret.shape[0] == 0:
        raise ValueError(f"regret must be a non-empty 2-D array; got shape {regret.shape}.")
    if int(size) < 1:
        raise ValueError(f"size must be >= 1; got {size!r}.")
    cost = np.zeros(len(regret)) if cost is None else np.asarray(cost, dtype=float)
    chosen = []
    current = np.full(regret.shape[1], np.inf)
    for _ in range(min(int(size), len(regret))):
        value = np.minimum(current[None, :], regret).mean(axis=1)
        value[chosen] = np.inf
        pick = int(np.lexsort((np.arange(len(value)), cost, value))[0])
        chosen.append(pick)
        current = np.minimum(current, regret[pick])
    return chosen
