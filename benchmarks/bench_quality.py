"""Held-out quality of sknas against the usual alternatives on scikit-learn's bundled datasets.

For each dataset and split (75/25, stratified for classification), every
model is fit on the training part and scored on the test part (accuracy or
R^2). sknas runs with its defaults at ``--time-budget`` seconds; the
baselines are sklearn's ``MLPClassifier``/``MLPRegressor`` (with feature
standardization) and ``HistGradientBoosting*`` defaults.

    python benchmarks/bench_quality.py [--time-budget 60] [--splits 3] [--datasets breast_cancer digits wine diabetes]

Writes benchmarks/results/quality.md and quality.csv (one row per fit).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknas import AutoNASClassifier, AutoNASRegressor

DATASETS = {
    "breast_cancer": ("classification", datasets.load_breast_cancer),
    "digits": ("classification", datasets.load_digits),
    "wine": ("classification", datasets.load_wine),
    "diabetes": ("regression", datasets.load_diabetes),
}


def models(task, time_budget, seed, search):
    if task == "classification":
        return {
            f"sknas ({search}, {time_budget:g}s)": AutoNASClassifier(time_budget=time_budget, search=search,
                                                                      random_state=seed),
            "HistGradientBoosting": HistGradientBoostingClassifier(random_state=seed),
            "MLPClassifier": make_pipeline(StandardScaler(), MLPClassifier(random_state=seed, max_iter=1000)),
        }
    return {
        f"sknas ({search}, {time_budget:g}s)": AutoNASRegressor(time_budget=time_budget, search=search,
                                                                 random_state=seed),
        "HistGradientBoosting": HistGradientBoostingRegressor(random_state=seed),
        "MLPRegressor": make_pipeline(StandardScaler(), MLPRegressor(random_state=seed, max_iter=2000)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--search", default="tpe")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for name in args.datasets:
        task, loader = DATASETS[name]
        X, y = loader(return_X_y=True)
        for split in range(args.splits):
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=0.25, random_state=split, stratify=y if task == "classification" else None
            )
            for model_name, model in models(task, args.time_budget, split, args.search).items():
                start = time.time()
                model.fit(X_tr, y_tr)
                fit_time = time.time() - start
                score = model.score(X_te, y_te)
                rows.append({"dataset": name, "split": split, "model": model_name, "score": score,
                             "fit_time": fit_time})
                print(f"{name:14s} split {split} {model_name:28s} score {score:.4f} fit {fit_time:6.1f}s",
                      flush=True)
    frame = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out + ".csv", index=False)
    mean = frame.pivot_table(index="model", columns="dataset", values="score", aggfunc="mean")
    ranks = frame.groupby(["dataset", "split"])["score"].rank(ascending=False)
    mean["mean rank"] = frame.assign(rank=ranks).groupby("model")["rank"].mean()
    mean["mean fit s"] = frame.groupby("model")["fit_time"].mean()
    mean = mean.sort_values("mean rank")
    table = mean.to_markdown(floatfmt=".4f") if hasattr(mean, "to_markdown") else mean.to_string()
    text = (f"# Quality on bundled datasets\n\n`python benchmarks/bench_quality.py --time-budget "
            f"{args.time_budget:g} --splits {args.splits}`\n\nMean test score over {args.splits} splits "
            f"(accuracy; R^2 for diabetes), 75/25 splits, 2-core machine.\n\n{table}\n")
    Path(args.out + ".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
