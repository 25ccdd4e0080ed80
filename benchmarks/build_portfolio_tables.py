"""A portfolio learned from the real tables of the multi-dataset tabulated benchmark (TabRepo-style).

Salinas & Erickson (2024, "TabRepo: A Large Scale Repository of Tabular
Model Evaluations and its AutoML Applications") build AutoGluon's zero-shot
portfolio greedily from tabulated evaluations of many configurations on many
datasets; ``benchmarks/build_portfolio.py`` does the same for sknas by
training a pool on 11 bundled or synthetic datasets. This script does it
from the shipped tables of real datasets instead (``sknas/data/tabnas_*.npz``,
made by ``benchmarks/make_tabulated_meta.py``: 307 genotypes of the default
mlp space, architecture and training, restricted to networks of at most
100,000 parameters, 2 seeds, 10 epochs without early stopping, on 8 tables
of ``../shared/meta`` none of which is among the tables
``bench_quality_real.py`` judges the default on first), and compares it with
the current portfolio (the tables' first rows are its entries):

1. on each dataset, a genotype's validation score is the best over the 10
   epochs of its mean curve over the seeds (the search keeps a trial's best
   epoch), and its test score is taken at that epoch;
2. validation scores become normalized regrets (:func:`sknas.portfolio.normalized_regret`);
3. greedy portfolio construction (:func:`sknas.portfolio.greedy_portfolio`)
   over the validation regrets;
4. leave-one-dataset-out: for each table, the portfolio is built from the
   other seven; on the left-out table the entry with the best validation
   score is picked (as the search would) and its *test* score is turned into
   a normalized regret among all genotypes' test scores there. The same is
   done for the current portfolio (its first ``k`` entries).

Low fidelity: 10 epochs, at most 1,000 rows, a fixed default preprocessing;
the search trains up to ``max_epochs`` with early stopping. A portfolio
chosen here is a hint until real fits confirm it (``bench_quality_real.py``).

    python benchmarks/build_portfolio_tables.py [--sizes 1 2 3 4 5] [--current 5]
        [--out docs/benchmarks/portfolio_tables.md]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sknas.benchmark.tabulated import available_datasets, load_table
from sknas.portfolio import greedy_portfolio, normalized_regret

ROOT = Path(__file__).resolve().parents[1]


def table_scores():
    """``names, genotypes, valid (G, D), test (G, D), cost (G, D)`` over the real tables."""
    names = [d for d in available_datasets() if d != "digits"]
    valid, test, cost, genotypes = [], [], [], None
    for name in names:
        table = load_table(dataset=name)
        rows = [json.dumps(dict(g), sort_keys=True) for g in table["genotypes"]]
        if genotypes is None:
            genotypes = rows
        n = min(len(genotypes), len(rows))
        if rows[:n] != genotypes[:n]:
            raise ValueError(f"the rows of table {name!r} are not the same genotypes as the first table's")
        genotypes = genotypes[:n]
        with np.errstate(all="ignore"):
            v = np.nanmean(table["valid_score"].astype(float), axis=1)  # (G, E), mean over seeds
            t = np.nanmean(table["test_score"].astype(float), axis=1)
        best = np.nanargmax(np.where(np.isnan(v), -np.inf, v), axis=1)
        valid.append(v[np.arange(len(v)), best])
        test.append(t[np.arange(len(t)), best])
        cost.append(np.nanmean(table["train_time"][:, :, -1].astype(float), axis=1))
    n = len(genotypes)
    stack = lambda cols: np.stack([c[:n] for c in cols], axis=1)  # noqa: E731
    return names, genotypes, stack(valid), stack(test), stack(cost)


def picked_regret(entries, valid, test_regret, d):
    """Test regret on dataset ``d`` of the entry among ``entries`` with the best validation score there."""
    scores = valid[entries, d]
    if np.all(np.isnan(scores)):
        return 1.0
    return float(test_regret[entries[int(np.nanargmax(scores))], d])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4, 5, 8])
    parser.add_argument("--current", type=int, default=5, help="how many first rows are the current portfolio")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "portfolio_tables.md")
    args = parser.parse_args(argv)
    names, genotypes, valid, test, cost = table_scores()
    regret = normalized_regret(valid)
    test_regret = normalized_regret(test)
    mean_cost = np.nanmean(cost, axis=1)
    current = list(range(args.current))

    rows = []
    for k in args.sizes:
        learned, cur = [], []
        for d in range(len(names)):
            others = [j for j in range(len(names)) if j != d]
            chosen = greedy_portfolio(regret[:, others], k, cost=mean_cost)
            learned.append(picked_regret(chosen, valid, test_regret, d))
            cur.append(picked_regret(current[:k], valid, test_regret, d))
        rows.append((k, np.mean(learned), np.std(learned) / np.sqrt(len(learned)), np.mean(cur),
                     np.std(cur) / np.sqrt(len(cur)), learned, cur))

    full = greedy_portfolio(regret, max(args.sizes), cost=mean_cost)
    lines = [
        "# A portfolio learned from the real tables (leave-one-dataset-out)",
        "",
        f"`python benchmarks/build_portfolio_tables.py` ({time.strftime('%Y-%m-%d')}): "
        f"{len(genotypes)} genotypes x {len(names)} tables ({', '.join(names)}); 10 epochs, 2 seeds, "
        "at most 1,000 rows (low fidelity, see the script's docstring). Test regret on the left-out table "
        "of the entry with the best validation score there, normalized per table (0 = the best of all "
        f"{len(genotypes)} genotypes on test, 1 = their median or worse); mean ± standard error over the "
        f"{len(names)} tables. 'current' is the default portfolio's first k entries (the linear model, then "
        "the shipped meta-portfolio of `build_portfolio.py`).",
        "",
        "| k | learned from the other tables | current portfolio |",
        "|---|---|---|",
    ]
    for k, lm, ls, cm, cs, _, _ in rows:
        lines.append(f"| {k} | {lm:.3f} ± {ls:.3f} | {cm:.3f} ± {cs:.3f} |")
    lines += ["", "Per table (k = {}):".format(rows[-1][0]), "",
              "| table | learned | current |", "|---|---|---|"]
    for d, name in enumerate(names):
        lines.append(f"| {name} | {rows[-1][5][d]:.3f} | {rows[-1][6][d]:.3f} |")
    lines += ["", "The greedy portfolio over all eight tables, in order:", ""]
    for i in full:
        g = json.loads(genotypes[i])
        lines.append(f"{full.index(i) + 1}. row {i}{' (current portfolio)' if i in current else ''}: "
                     f"mean validation regret {regret[i].mean():.3f}, `{json.dumps(g)}`")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
