"""A portfolio learned from the real tables of the multi-dataset tabulated benchmark (TabRepo-style).

Salinas & Erickson (2024, "TabRepo: A Large Scale Repository of Tabular
Model Evaluations and its AutoML Applications") build AutoGluon's zero-shot
portfolio greedily from tabulated evaluations of many configurations on many
datasets; ``benchmarks/build_portfolio.py`` does the same for sknas by
training a pool on 11 bundled or synthetic datasets. This script does it
from the shipped tables of real datasets instead (``sknas/data/tabnas_*.npz``,
made by ``benchmarks/make_tabulated_meta.py``: 500 genotypes of the default
mlp space, architecture and training, restricted to networks of at most
100,000 parameters, 2 seeds, 10 epochs without early stopping, on 8 tables
of ``../shared/meta`` none of which is among the tables
``bench_quality_real.py`` judges the default on first), and compares it with
the current portfolio (the tables' first rows are its entries):

1. on each dataset, a genotype's validation score is the best over the
   epochs of its mean curve over the seeds (the search keeps a trial's best
   epoch), and its test score is taken at that epoch; its cost is its
   training time over all the epochs (the tables' ``train_time`` at the last
   epoch, mean over the seeds), in seconds of the machine the tables were
   made on;
2. validation scores become normalized regrets (:func:`sknas.portfolio.normalized_regret`);
3. time-aware greedy portfolio construction (:func:`sknas.portfolio.greedy_portfolio`
   with ``cost`` and ``budget``; Feurer et al. 2022, section 4.1, and
   TabRepo, section 5): an entry only counts on a table if the cost of the
   entries before it plus its own fits in the budget there. The linear
   genotype (row 0 of the tables, the hand-picked first entry of the mlp
   space's portfolio, ``MLPSpace.portfolio``) always runs first: it is the
   fixed start of the construction and takes its share of the budget;
4. leave-one-dataset-out: for each table, the portfolio is built from the
   others; on the left-out table the entries that fit in its budget are run
   in order, the one with the best validation score is picked (as the search
   would) and its *test* score is turned into a normalized regret among all
   genotypes' test scores there. The same is done for the previous portfolio
   (the tables' first rows: the linear model, then the entries of the
   ``portfolio.json`` that ``benchmarks/build_portfolio.py`` built) and for
   the portfolio built without the budget.

The budget. On each table it is ``--budget-medians`` (default 5) times the
median cost of all genotypes there. A default 60 s fit completes a median of
5.5 trials (mean 6.2; the ``sknas`` rows of
``benchmarks/results/quality_real.csv``, 20 fits on 10 real tables), one of
which is the sub-second linear model: five median-cost trials after it are
about what a 60 s fit holds, so 5 median costs in table seconds stand for a
60 s fit, assuming a genotype's real cost is proportional to its cost in the
tables (the tables train 10 epochs on at most 1,000 rows; real fits train
longer on more rows, for every genotype alike).

``--write-portfolio`` writes the portfolio built on all the tables
(``--size`` entries after the linear one) into ``sknas/data/portfolio.json``,
which ``JointSpace.portfolio`` reads: the linear model (hand-picked in the
space code) leads, then these entries; keys a space lacks are dropped, keys
it has and an entry lacks (the tables' genotypes have no preprocessing keys)
take the hand-picked default's value. The JSON records the command, the
tables, the budget and the leave-one-dataset-out numbers.

Low fidelity: 10 epochs, at most 1,000 rows, a fixed default preprocessing;
the search trains up to ``max_epochs`` with early stopping. The tables must
all hold the same genotypes in the same order (asserted); any number of rows
works.

    python benchmarks/build_portfolio_tables.py [--sizes 1 2 3 4 5 8] [--size 4]
        [--budget-medians 5] [--current 5] [--write-portfolio]
        [--out docs/benchmarks/portfolio_tables.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from sknas.benchmark.tabulated import available_datasets, load_table
from sknas.portfolio import greedy_portfolio, normalized_regret

ROOT = Path(__file__).resolve().parents[1]
OUT_JSON = ROOT / "sknas" / "data" / "portfolio.json"
#: Text after this line in the output file is kept when the file is regenerated (notes on real fits).
KEEP_MARKER = "<!-- generated above; kept below -->"


def table_scores():
    """``names, genotypes, valid (G, D), test (G, D), cost (G, D)`` over the real tables."""
    names = [d for d in available_datasets() if d != "digits"]
    valid, test, cost, genotypes = [], [], [], None
    for name in names:
        table = load_table(dataset=name)
        rows = [json.dumps(dict(g), sort_keys=True) for g in table["genotypes"]]
        if genotypes is None:
            genotypes = rows
        if rows != genotypes:
            raise ValueError(f"table {name!r} does not hold the same genotypes, in the same order, as "
                             f"table {names[0]!r} ({len(rows)} and {len(genotypes)} rows)")
        with np.errstate(all="ignore"):
            v = np.nanmean(table["valid_score"].astype(float), axis=1)  # (G, E), mean over seeds
            t = np.nanmean(table["test_score"].astype(float), axis=1)
            c = np.nanmean(table["train_time"][:, :, -1].astype(float), axis=1)  # cumulative: all epochs
        best = np.nanargmax(np.where(np.isnan(v), -np.inf, v), axis=1)
        valid.append(v[np.arange(len(v)), best])
        test.append(t[np.arange(len(t)), best])
        # a genotype without a time (it failed) cost at most the slowest one there
        cost.append(np.where(np.isnan(c), np.nanmax(c), c))
    return names, genotypes, np.stack(valid, axis=1), np.stack(test, axis=1), np.stack(cost, axis=1)


def picked_regret(entries, valid, test_regret, d, cost=None, budget=None):
    """Test regret on dataset ``d`` of the entry with the best validation score there among ``entries``
    (run in order; with a budget, only those whose cumulative cost fits in it). 1 when none ran."""
    entries = list(entries)
    if budget is not None:
        entries = [e for e, spent in zip(entries, np.cumsum(cost[entries, d])) if spent <= budget[d]]
    if not entries:
        return 1.0
    scores = valid[entries, d]
    if np.all(np.isnan(scores)):
        return 1.0
    return float(test_regret[entries[int(np.nanargmax(scores))], d])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4, 5, 8],
                        help="portfolio sizes (after the linear entry) judged leave-one-dataset-out")
    parser.add_argument("--size", type=int, default=4, help="entries (after the linear one) written to the JSON")
    parser.add_argument("--budget-medians", type=float, default=5.0,
                        help="the budget on each table, in median genotype costs there")
    parser.add_argument("--start-row", type=int, default=0, help="the row of the linear genotype that runs first")
    parser.add_argument("--current", type=int, default=5,
                        help="how many first rows are the previous portfolio (the linear one included): "
                             "true of tables made, or extended with --extend, from those made before the "
                             "portfolio changed (make_tabulated_meta.py puts the current portfolio first)")
    parser.add_argument("--write-portfolio", action="store_true", help=f"write {OUT_JSON.relative_to(ROOT)}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "portfolio_tables.md")
    args = parser.parse_args(argv)
    names, genotypes, valid, test, cost = table_scores()
    start = [args.start_row]
    if json.loads(genotypes[args.start_row]).get("n_blocks") != 0:
        raise ValueError(f"row {args.start_row} of the tables is not the linear genotype")
    regret = normalized_regret(valid)
    test_regret = normalized_regret(test)
    budget = args.budget_medians * np.median(cost, axis=0)
    previous = list(range(args.current))
    D = len(names)

    def loo(k, timed):
        out = []
        for d in range(D):
            others = [j for j in range(D) if j != d]
            kw = dict(cost=cost[:, others], budget=budget[others]) if timed else dict(cost=cost[:, others].mean(axis=1))
            chosen = greedy_portfolio(regret[:, others], k, start=start, **kw)
            out.append(picked_regret(start + chosen, valid, test_regret, d, cost, budget))
        return out

    rows = []
    for k in args.sizes:
        timed, untimed = loo(k, True), loo(k, False)
        prev = [picked_regret(previous[:k + 1], valid, test_regret, d, cost, budget) for d in range(D)]
        rows.append((k, timed, untimed, prev))
    se = lambda x: np.std(x) / np.sqrt(len(x))  # noqa: E731

    full = greedy_portfolio(regret, max(args.sizes + [args.size]), cost=cost, budget=budget, start=start)
    command = "python benchmarks/build_portfolio_tables.py" + (" " + " ".join(argv if argv is not None
                                                                              else sys.argv[1:])).rstrip()
    lines = [
        "# A portfolio learned from the real tables (time-aware, leave-one-dataset-out)",
        "",
        f"`{command}` ({time.strftime('%Y-%m-%d')}): "
        f"{len(genotypes)} genotypes x {D} tables ({', '.join(names)}); 10 epochs, 2 seeds, "
        "at most 1,000 rows (low fidelity, see the script's docstring). The budget on each table is "
        f"{args.budget_medians:g} times the median genotype cost there (the tables' training seconds; "
        f"{', '.join(f'{b:.2f}' for b in budget)} s; about what a default 60 s fit holds, see the docstring). "
        "The linear genotype runs first and counts against the budget. Test regret on the left-out table "
        "of the entry with the best validation score among those that fit in its budget, normalized per "
        f"table (0 = the best of all {len(genotypes)} genotypes on test, 1 = their median or worse; 1 when "
        f"nothing fits); mean ± standard error over the {D} tables. k = entries after the linear one. "
        "'time-aware' is built with the budget, 'not time-aware' without it (judged with it), 'previous' "
        "is the default portfolio before this one (the linear model, then the meta-portfolio of "
        "`build_portfolio.py`; the tables' first rows).",
        "",
        "| k | learned, time-aware | learned, not time-aware | previous portfolio |",
        "|---|---|---|---|",
    ]
    for k, timed, untimed, prev in rows:
        lines.append(f"| {k} | {np.mean(timed):.3f} ± {se(timed):.3f} | {np.mean(untimed):.3f} ± {se(untimed):.3f} "
                     f"| {np.mean(prev):.3f} ± {se(prev):.3f} |")
    k_write = next((r for r in rows if r[0] == args.size), rows[-1])
    lines += ["", f"Per table (k = {k_write[0]}):", "",
              "| table | budget (s) | time-aware | not time-aware | previous |", "|---|---|---|---|---|"]
    for d, name in enumerate(names):
        lines.append(f"| {name} | {budget[d]:.2f} | {k_write[1][d]:.3f} | {k_write[2][d]:.3f} | {k_write[3][d]:.3f} |")
    lines += ["", f"The time-aware greedy portfolio over all {D} tables, in order (after the linear row "
              f"{args.start_row}; the first {args.size} are written by `--write-portfolio`):", ""]
    for n, i in enumerate(full, 1):
        g = json.loads(genotypes[i])
        fits = int((cost[start + full[:n]].sum(axis=0) <= budget).sum())
        lines.append(f"{n}. row {i}{' (previous portfolio)' if i in previous else ''}: mean validation regret "
                     f"{regret[i].mean():.3f}, mean cost {cost[i].mean():.2f} s, the portfolio up to here fits "
                     f"the budget on {fits}/{D} tables, `{json.dumps(g)}`")
    text = "\n".join(lines) + "\n"
    if args.out.exists() and KEEP_MARKER in args.out.read_text():
        text += "\n" + KEEP_MARKER + args.out.read_text().split(KEEP_MARKER, 1)[1]
    print(text)
    args.out.write_text(text)

    if args.write_portfolio:
        entries = [json.loads(genotypes[i]) for i in full[:args.size]]
        payload = {
            "description": "Time-aware greedy portfolio over the real tables of benchmarks/build_portfolio_tables.py; "
                           "entries in order, run after the mlp space's hand-picked linear model. Keys absent from "
                           "a space are dropped, missing ones take the space's defaults.",
            "command": command,
            "tables": names,
            "n_genotypes": len(genotypes),
            "budget": {"median_costs": args.budget_medians,
                       "seconds": {name: round(float(b), 4) for name, b in zip(names, budget)}},
            "leave_one_dataset_out": {
                "k": k_write[0],
                "time_aware": round(float(np.mean(k_write[1])), 4),
                "not_time_aware": round(float(np.mean(k_write[2])), 4),
                "previous": round(float(np.mean(k_write[3])), 4),
                "measure": "mean over tables of the left-out table's normalized test regret",
            },
            "arch": "MLPSpace",
            "entries": entries,
        }
        OUT_JSON.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote {OUT_JSON}")


if __name__ == "__main__":
    main()
