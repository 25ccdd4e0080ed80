"""Anytime behaviour of the default search with and without learning-curve pruning and a predictor.

For each bundled dataset and configuration, one fit at ``--time-budget``
seconds; from ``search_results_`` we read the best-so-far validation score
against cumulative trial time (the anytime curve), and we report the test
score of the final model, the number of trials, and the time each
configuration needed to come within 0.5 % of its final best validation
score. ``time_to_tpe_final`` is the time each configuration needed to reach
(within 0.5 %) the final best validation score of plain ``tpe`` on the same
split: the "same final score in less time" question of learning-curve
pruning (a configuration that never reaches it counts its whole search time;
``reached`` is the share of fits that did). A second table compares
``ensemble_size=5`` with the single best.

    python benchmarks/bench_evaluation.py [--time-budget 30] [--datasets ...]

Writes benchmarks/results/evaluation.md (+ .csv) and evaluation.png.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn import datasets
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.search.predictor_filter import PredictorFilter
from sknas.space.mlp import MLPSpace

DATASETS = {
    "breast_cancer": ("classification", datasets.load_breast_cancer),
    "digits": ("classification", datasets.load_digits),
    "wine": ("classification", datasets.load_wine),
    "iris": ("classification", datasets.load_iris),
    "diabetes": ("regression", datasets.load_diabetes),
}
# not run by default: a made table large enough that a trial costs seconds (where pruning can pay)
EXTRA = {
    "synthetic_20k": ("classification", lambda return_X_y=True: datasets.make_classification(
        n_samples=20_000, n_features=40, n_informative=12, n_redundant=8, flip_y=0.05, random_state=0)),
}

CONFIGS = {
    "tpe": dict(search="tpe"),
    "tpe + pruning": dict(search="tpe", pruning=True),
    "tpe + predictor": dict(search=PredictorFilter("tpe")),
    "tpe + pruning + predictor": dict(search=PredictorFilter("tpe"), pruning=True),
}


class NoPortfolioMLP(MLPSpace):
    """The default MLP space without its portfolio: every trial comes from the optimizer (``--no-portfolio``)."""

    def portfolio(self):
        return []


def anytime(results):
    frame = pd.DataFrame(results)
    t = frame["fit_time"].cumsum().to_numpy()
    scores = frame["score"].where(frame["status"] == "ok").astype(float).fillna(-np.inf).to_numpy()
    return t, np.maximum.accumulate(scores)


def time_to_score(t, best, target, share=0.005):
    """Cumulative trial time at which ``best`` first comes within ``share`` of ``target`` (None if never)."""
    hit = best >= target - share * abs(target)
    return float(t[np.argmax(hit)]) if hit.any() else None


def fit_one(name, seed, label, params, time_budget, portfolio=True):
    warnings.filterwarnings("ignore")
    if not portfolio:
        params = dict(params, space=NoPortfolioMLP())
    task, loader = {**DATASETS, **EXTRA}[name]
    X, y = loader(return_X_y=True)
    Est = AutoNASClassifier if task == "classification" else AutoNASRegressor
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed)
    est = Est(time_budget=time_budget, random_state=seed, **params).fit(X_tr, y_tr)
    t, best = anytime(est.search_results_)
    statuses = pd.Series(est.search_results_["status"]).value_counts().to_dict()
    single = (est.best_estimator_.score(X_te, y_te) if task == "classification"
              else r2_score(y_te, est.best_estimator_.predict(X_te)))
    row = {
        "dataset": name, "seed": seed, "config": label, "test": est.score(X_te, y_te),
        "test_single_best": single, "trials": est.n_trials_, "pruned": statuses.get("pruned", 0),
        "best_valid": best[-1], "time_to_0.5%": time_to_score(t, best, best[-1]), "fit_time": est.fit_time_,
    }
    print(row, flush=True)
    return row, (t, best)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS) + list(EXTRA))
    parser.add_argument("--configs", nargs="+", default=None,
                        help="a subset of the search configurations (plain tpe is always run)")
    parser.add_argument("--no-ensemble", action="store_true", help="skip the ensemble_size=5 comparison")
    parser.add_argument("--no-portfolio", action="store_true",
                        help="search without the space's portfolio (the optimizer proposes every trial)")
    parser.add_argument("--n-jobs", type=int, default=1, help="fits run side by side (each uses 1 core)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "evaluation"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    chosen = ["tpe"] + [c for c in (args.configs or CONFIGS) if c != "tpe"]
    unknown = set(chosen) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; choose from {list(CONFIGS)}")
    configs = {label: CONFIGS[label] for label in chosen}
    if not args.no_ensemble:
        configs["tpe, ensemble_size=5"] = dict(search="tpe", ensemble_size=5)
    jobs = [(name, seed, label) for name in args.datasets for seed in range(args.seeds) for label in configs]
    # each fit uses one core (n_jobs=1, one torch thread): --n-jobs 2 runs two side by side on 2 cores
    out = Parallel(n_jobs=args.n_jobs)(delayed(fit_one)(name, seed, label, configs[label], args.time_budget,
                                                        portfolio=not args.no_portfolio)
                                       for name, seed, label in jobs)
    rows = [row for row, _ in out]
    curves = {(r["dataset"], r["seed"], r["config"]): curve for r, curve in out}
    frame = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    base = {(r["dataset"], r["seed"]): r["best_valid"] for r in rows if r["config"] == "tpe"}
    reach = []
    for r in rows:
        t, best = curves[(r["dataset"], r["seed"], r["config"])]
        hit = time_to_score(t, best, base[(r["dataset"], r["seed"])])
        reach.append((float(t[-1]) if hit is None else hit, hit is not None))
    frame["time_to_tpe_final"] = [x for x, _ in reach]
    frame["reached"] = [float(ok) for _, ok in reach]
    # per split, the time to plain TPE's final score relative to plain TPE's own (below 1: sooner)
    own = {(r["dataset"], r["seed"]): t for r, (t, _) in zip(rows, reach) if r["config"] == "tpe"}
    frame["ratio_to_tpe"] = [t / max(own[(r["dataset"], r["seed"])], 1e-9) for r, (t, _) in zip(rows, reach)]
    frame.to_csv(args.out + ".csv", index=False)
    search = frame[frame["config"] != "tpe, ensemble_size=5"]
    table = search.groupby("config")[["test", "best_valid", "trials", "pruned", "time_to_0.5%",
                                      "time_to_tpe_final", "reached"]].mean()
    table["median_time_to_tpe_final"] = search.groupby("config")["time_to_tpe_final"].median()
    table["geomean_ratio_to_tpe"] = np.exp(np.log(search["ratio_to_tpe"]).groupby(search["config"]).mean())
    per_dataset = search.pivot_table(index="dataset", columns="config", values="time_to_tpe_final", aggfunc="mean")
    ens = frame[frame["config"].isin(["tpe, ensemble_size=5"])].groupby("dataset")[["test", "test_single_best"]].mean()
    ens["ensemble >= single"] = ens["test"] >= ens["test_single_best"]
    ens_rows = frame[frame["config"] == "tpe, ensemble_size=5"]
    ens["splits ensemble >= single"] = (ens_rows["test"] >= ens_rows["test_single_best"]).groupby(
        ens_rows["dataset"]).mean()
    command = shlex.join(["python", "benchmarks/bench_evaluation.py", *sys.argv[1:]])
    text = (f"# Evaluation strategies\n\n`{command}`\n\nMeans over datasets {', '.join(args.datasets)} "
            f"and {args.seeds} splits{' (the search without the portfolio)' if args.no_portfolio else ''}."
            f"\n\n{table.to_markdown(floatfmt='.4f')}\n"
            f"\n## Time to plain TPE's final score, per dataset (mean s)\n\n{per_dataset.to_markdown(floatfmt='.2f')}\n")
    if not args.no_ensemble:
        text += f"\n## Ensemble of 5 vs single best (test)\n\n{ens.to_markdown(floatfmt='.4f')}\n"
    Path(args.out + ".md").write_text(text)
    print(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(args.datasets), figsize=(4 * len(args.datasets), 3.2), squeeze=False)
    for ax, name in zip(axes[0], args.datasets):
        for label in chosen:
            t, best = curves[(name, 0, label)]
            ax.step(t, best, where="post", label=label)
        ax.set_title(name)
        ax.set_xlabel("cumulative trial time (s)")
    axes[0][0].set_ylabel("best validation score")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out + ".png", dpi=100)


if __name__ == "__main__":
    main()
