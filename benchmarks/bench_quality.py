"""Held-out quality of sknas against the usual alternatives on scikit-learn's bundled datasets.

For each dataset and split (75/25, stratified for classification), every
model is fit on the training part and scored on the test part (accuracy or
R^2). sknas runs with its defaults at ``--time-budget`` seconds (``--search``,
TPE by default) and, as a control, with random search over the same space and
budget; the baselines are sklearn's ``MLPClassifier``/``MLPRegressor`` (with
feature standardization), ``HistGradientBoosting*`` defaults and, when
``lightgbm`` is installed, LightGBM defaults.

Besides the bundled datasets, synthetic ones reproduce two failure modes of
neural networks on tables named by Grinsztajn, Oyallon, Varoquaux (2022),
"Why do tree-based models still outperform deep learning on typical tabular
data?" (NeurIPS Datasets and Benchmarks):

- ``noise_features``: ``make_classification`` with 5 informative columns
  among 100 (95 uninformative ones, which trees ignore and MLPs do not);
- ``irregular_target``: a classification target with sharp, irregular
  boundaries (checkerboard cells of uneven sizes over two of 8 columns);
- ``irregular_regression``: a piecewise-constant (step) function of three
  of 8 columns plus a little noise.

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
from joblib import Parallel, delayed
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknas import AutoNASClassifier, AutoNASRegressor

try:  # optional baseline
    import lightgbm
except ImportError:  # pragma: no cover - depends on the environment
    lightgbm = None


def _noise_features(return_X_y=True):
    """95 uninformative columns around 5 informative ones (Grinsztajn et al. 2022, section 5.3)."""
    return datasets.make_classification(n_samples=1500, n_features=100, n_informative=5, n_redundant=0,
                                        n_repeated=0, n_clusters_per_class=2, flip_y=0.02, random_state=0)


def _irregular_target(return_X_y=True):
    """A checkerboard of uneven cells over two of 8 columns: sharp, irregular class boundaries."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 8))
    edges = np.sort(rng.normal(size=7))  # uneven cell borders, shared by both axes
    cells = np.digitize(X[:, 0], edges) + np.digitize(X[:, 1], edges)
    return X, (cells % 2).astype(int)


def _irregular_regression(return_X_y=True):
    """A step function of three of 8 columns plus a little noise: a target that is not smooth."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 8))
    y = (np.floor(2 * X[:, 0]) + 2 * np.sign(X[:, 1]) * (X[:, 2] > 0.3) + np.round(X[:, 0] * X[:, 1])
         + 0.1 * rng.normal(size=1500))
    return X, y


DATASETS = {
    "breast_cancer": ("classification", datasets.load_breast_cancer),
    "digits": ("classification", datasets.load_digits),
    "wine": ("classification", datasets.load_wine),
    "diabetes": ("regression", datasets.load_diabetes),
    "noise_features": ("classification", _noise_features),
    "irregular_target": ("classification", _irregular_target),
    "irregular_regression": ("regression", _irregular_regression),
}


def models(task, time_budget, seed, search):
    classification = task == "classification"
    sknas_cls = AutoNASClassifier if classification else AutoNASRegressor
    out = {f"sknas ({search}, {time_budget:g}s)": sknas_cls(time_budget=time_budget, search=search,
                                                             random_state=seed)}
    if search != "random":  # the control: the same space and budget, searched at random
        out[f"sknas (random, {time_budget:g}s)"] = sknas_cls(time_budget=time_budget, search="random",
                                                             random_state=seed)
    if classification:
        out["HistGradientBoosting"] = HistGradientBoostingClassifier(random_state=seed)
        if lightgbm is not None:
            out["LightGBM"] = lightgbm.LGBMClassifier(random_state=seed, verbose=-1)
        out["MLPClassifier"] = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed, max_iter=1000))
    else:
        out["HistGradientBoosting"] = HistGradientBoostingRegressor(random_state=seed)
        if lightgbm is not None:
            out["LightGBM"] = lightgbm.LGBMRegressor(random_state=seed, verbose=-1)
        out["MLPRegressor"] = make_pipeline(StandardScaler(), MLPRegressor(random_state=seed, max_iter=2000))
    return out


def fit_one(name, split, model_name, args):
    warnings.filterwarnings("ignore")
    task, loader = DATASETS[name]
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=split, stratify=y if task == "classification" else None
    )
    model = models(task, args.time_budget, split, args.search)[model_name]
    start = time.time()
    try:
        model.fit(X_tr, y_tr)
        score, error = model.score(X_te, y_te), ""
    except Exception as exc:  # a failed fit is a row (ranked last), not a crashed benchmark
        score, error = float("nan"), f"{type(exc).__name__}: {exc}"
        print(f"{name:20s} split {split} {model_name:28s} FAILED: {error[:200]}", flush=True)
    fit_time = time.time() - start
    row = {"dataset": name, "split": split, "model": model_name, "score": score, "fit_time": fit_time,
           "error": error}
    if hasattr(model, "n_trials_"):
        row.update(n_trials=model.n_trials_, refit=bool(model.refit_),
                   **{f"time_{k}": v for k, v in getattr(model, "time_spent_", {}).items()})
    print(f"{name:20s} split {split} {model_name:28s} score {score:.4f} fit {fit_time:6.1f}s"
          + (f" trials {row['n_trials']} refit {row['refit']}" if "n_trials" in row else ""), flush=True)
    return row


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--search", default="tpe")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--n-jobs", type=int, default=1, help="fits run side by side (each sknas fit uses 1 core)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tasks = []
    for name in args.datasets:
        task, loader = DATASETS[name]
        for split in range(args.splits):
            for model_name in models(task, args.time_budget, split, args.search):
                tasks.append((name, split, model_name))
    # sknas fits run one torch thread each (n_jobs=1), so --n-jobs 2 runs two of them side by side on 2 cores;
    # the baselines are scheduled the same way (LightGBM and HistGradientBoosting then share the cores)
    rows = Parallel(n_jobs=args.n_jobs)(delayed(fit_one)(name, split, model_name, args) for name, split, model_name
                                        in tasks)
    frame = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out + ".csv", index=False)
    mean = frame.pivot_table(index="model", columns="dataset", values="score", aggfunc="mean")
    ranks = frame.groupby(["dataset", "split"])["score"].rank(ascending=False, na_option="bottom")
    mean["mean rank"] = frame.assign(rank=ranks).groupby("model")["rank"].mean()
    mean["mean fit s"] = frame.groupby("model")["fit_time"].mean()
    mean["failed fits"] = frame.groupby("model")["score"].apply(lambda v: int(v.isna().sum()))
    if "n_trials" in frame:
        sk = frame.dropna(subset=["n_trials"])
        mean["mean trials"] = sk.groupby("model")["n_trials"].mean()
        mean["refit share"] = sk.groupby("model")["refit"].mean()
    mean = mean.sort_values("mean rank")
    table = mean.to_markdown(floatfmt=".4f") if hasattr(mean, "to_markdown") else mean.to_string()
    text = (f"# Quality on bundled datasets\n\n`python benchmarks/bench_quality.py --time-budget "
            f"{args.time_budget:g} --splits {args.splits} --n-jobs {args.n_jobs}`\n\nMean test score over {args.splits} splits "
            f"(accuracy; R^2 for the regression sets: diabetes, irregular_regression), 75/25 splits, "
            f"2-core machine, {args.n_jobs} fit(s) at a time. Mean rank: over every (dataset, split), 1 = best.\n\n{table}\n")
    Path(args.out + ".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
