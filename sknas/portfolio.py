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

``benchmarks/build_portfolio_tables.py`` builds the shipped portfolio
(``sknas/data/portfolio.json``) with these functions from the tabulated
real tables, time-aware; ``benchmarks/build_portfolio.py`` is the older
builder over bundled and synthetic datasets.
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


def greedy_portfolio(regret, size, cost=None, budget=None, start=()):
    """Indices of ``size`` candidates chosen greedily, in order.

    Each step appends the candidate minimizing ``mean_d min(current_d,
    regret[c, d])``; ties go to the cheaper candidate (``cost``, e.g. its
    mean training time), then to the lower index. Returns a list of row
    indices of ``regret``.

    Time-aware construction (Feurer et al. 2022, section 4.1, and Salinas &
    Erickson 2024, "TabRepo", section 5, who build their portfolios for the
    regret of the best-so-far within a time limit): with ``budget`` (a number
    or one per dataset) and ``cost`` of shape (n_candidates, n_datasets) (a
    candidate's run time on each dataset; 1-D: the same on every dataset),
    the portfolio is run in order on each dataset and an entry only counts
    there if the cost of the entries before it plus its own fits in the
    budget; an entry that does not fit ends the run there (costs are
    non-negative, so no later entry fits either). On a dataset where no
    entry fits yet, the portfolio's regret is the worst candidate's there.
    Ties (e.g. once the budget is spent everywhere, when no candidate lowers
    the regret within it) go to the candidate that lowers the regret most
    without the budget (the entries after the budget serve longer searches),
    then to the one with the lower mean cost.

    ``start``: indices already at the head of the portfolio (e.g. a
    hand-picked entry that always runs first); they count as chosen, take
    their share of the budget, and are not part of the returned list.
    """
    regret = np.asarray(regret, dtype=float)
    if regret.ndim != 2 or regret.shape[0] == 0:
        raise ValueError(f"regret must be a non-empty 2-D array; got shape {regret.shape}.")
    if int(size) < 1:
        raise ValueError(f"size must be >= 1; got {size!r}.")
    n, d = regret.shape
    start = [int(i) for i in start]
    if any(not 0 <= i < n for i in start):
        raise ValueError(f"start holds indices outside 0..{n - 1}: {start!r}.")
    if budget is None:
        cost = np.zeros(n) if cost is None else np.asarray(cost, dtype=float)
        if cost.shape != (n,):
            raise ValueError(f"cost must have one value per candidate ({n}) without a budget; got shape {cost.shape}.")
        run_cost, tie_cost = np.zeros((n, d)), cost
        budget = np.full(d, np.inf)
        current = np.full(d, np.inf)
    else:
        if cost is None:
            raise ValueError("a budget needs the candidates' cost.")
        run_cost = np.asarray(cost, dtype=float)
        if run_cost.ndim == 1:
            run_cost = np.repeat(run_cost[:, None], d, axis=1)
        if run_cost.shape != (n, d):
            raise ValueError(f"cost must have shape {(n, d)} (candidates x datasets) or {(n,)}; "
                             f"got {np.asarray(cost).shape}.")
        if not np.all(np.isfinite(run_cost)) or (run_cost < 0).any():
            raise ValueError("cost must be finite and non-negative.")
        budget = np.broadcast_to(np.asarray(budget, dtype=float), (d,)).copy()
        if np.isnan(budget).any() or (budget < 0).any():
            raise ValueError(f"budget must be non-negative; got {budget!r}.")
        tie_cost = run_cost.mean(axis=1)
        current = np.nanmax(regret, axis=0)  # nothing has run yet: the worst candidate's regret
    spent = np.zeros(d)
    unbudgeted_current = regret[start].min(axis=0) if start else np.full(d, np.inf)
    for i in start:
        fits = spent + run_cost[i] <= budget
        current = np.where(fits, np.minimum(current, regret[i]), current)
        spent = spent + run_cost[i]
    chosen = []
    taken = list(start)
    for _ in range(min(int(size), n - len(set(taken)))):
        fits = spent[None, :] + run_cost <= budget[None, :]
        value = np.where(fits, np.minimum(current[None, :], regret), current[None, :]).mean(axis=1)
        value[taken] = np.inf
        unbudgeted = np.minimum(unbudgeted_current[None, :], regret).mean(axis=1)
        pick = int(np.lexsort((np.arange(len(value)), tie_cost, unbudgeted, value))[0])
        chosen.append(pick)
        taken.append(pick)
        current = np.where(fits[pick], np.minimum(current, regret[pick]), current)
        unbudgeted_current = np.minimum(unbudgeted_current, regret[pick])
        spent = spent + run_cost[pick]
    return chosen
