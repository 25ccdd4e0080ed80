"""Robustness to noisy training labels: the default search with and without the robust losses.

On real tables (``../shared/meta``), each split 75/25 (stratified for
classification, ``random_state`` = the split number), a fraction of the
*training* rows is corrupted and every model is scored on the clean test
part (accuracy, or R^2 for regression):

- classification: that fraction of the training labels is flipped to
  another class, drawn uniformly (symmetric label noise);
- regression: that fraction of the training targets is replaced by
  ``mean +- 10 std`` of the clean training target (random sign).

Models, fit one after the other with ``torch.set_num_threads(1)``:

- ``sknas robust``: ``AutoNASClassifier`` / ``AutoNASRegressor`` defaults at
  ``--time-budget`` (the training space searches ``loss`` among
  cross-entropy and generalized cross-entropy, or squared error and Huber);
- ``sknas plain``: the same, with the space built without the robust losses
  (``TrainingSpace(task, losses=("ce",))`` / ``("mse",)``, the space of
  before they existed);
- ``sknas robust loss``: the same, with only the robust loss in the space
  (``losses=("gce",)`` / ``("huber",)``): every trial, the portfolio's
  first included, trains with it (Huber with ``huber_delta=1.0`` there);
- ``HistGradientBoosting``: sklearn's defaults (categorical columns as
  categories; squared error for regression).

``best loss`` is the loss of the robust search's best trial. With about 15 s
per fit and one or two splits this is a hint, not a result.

    python benchmarks/bench_noise.py --time-budget 15 --splits 2 [--models ...] [--add more.csv]

``--add`` joins the rows of earlier runs (e.g. of other ``--models``) to the table.

Writes benchmarks/results/noise.csv and docs/benchmarks/noise.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality_real import _as_categories, _split  # noqa: E402

CLASSIFICATION = ("breast_biopsy", "mroz_lfp", "hawks_species")
REGRESSION = ("boston_housing", "quakes_magnitude", "sat_quantitative")
NOISE = (0.0, 0.1, 0.2, 0.4)
MODELS = ("sknas robust", "sknas plain", "sknas robust loss", "HistGradientBoosting")


def corrupt(y, fraction, classification, seed):
    """``y`` with ``fraction`` of its rows flipped to another class, or replaced by ``mean +- 10 std``."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y).copy()
    n_bad = int(round(fraction * len(y)))
    idx = rng.choice(len(y), size=n_bad, replace=False)
    if classification:
        classes = np.unique(y)
        for i in idx:
            others = classes[classes != y[i]]
            y[i] = others[rng.integers(len(others))]
        return y
    y = y.astype(np.float64)
    mean, std = y.mean(), y.std()
    y[idx] = mean + rng.choice([-10.0, 10.0], size=n_bad) * std
    return y


def fit_one(name, split, noise, model_name, budget):
    import torch

    from sknas import AutoNASClassifier, AutoNASRegressor
    from sknas.space.joint import JointSpace
    from sknas.space.mlp import MLPSpace
    from sknas.space.pipeline import PipelineSpace
    from sknas.space.training import LOSSES, TrainingSpace

    torch.set_num_threads(1)
    X_tr, X_te, y_tr, y_te, task = _split(name, split)
    classification = task != "regression"
    y_noisy = corrupt(y_tr, noise, classification, seed=1000 * split + int(100 * noise))
    row = {"dataset": name, "task": task, "split": split, "noise": noise, "model": model_name,
           "score": float("nan"), "fit_time": float("nan"), "n_trials": 0, "best_loss": "", "error": ""}
    start = time.time()
    try:
        if model_name == "HistGradientBoosting":
            from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

            Xa, Xb, cats = _as_categories(X_tr, X_te)
            for c in cats:  # at most 255 levels as categories; more: their codes as numbers
                if len(Xa[c].cat.categories) > 255:
                    Xa[c], Xb[c] = Xa[c].cat.codes.replace(-1, np.nan), Xb[c].cat.codes.replace(-1, np.nan)
            cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
            model = cls(random_state=split, categorical_features="from_dtype").fit(Xa, y_noisy)
            row["score"] = float(model.score(Xb, y_te))
        else:
            kind = "classification" if classification else "regression"
            params = {}
            if model_name in ("sknas plain", "sknas robust loss"):
                losses = LOSSES[kind][:1] if model_name == "sknas plain" else LOSSES[kind][1:]
                params["space"] = JointSpace(arch=MLPSpace(), training=TrainingSpace(kind, losses=losses),
                                             pipeline=PipelineSpace(task=kind).for_data(X_tr))
            cls = AutoNASClassifier if classification else AutoNASRegressor
            model = cls(time_budget=budget, random_state=split, **params).fit(X_tr, y_noisy)
            row["score"] = float(model.score(X_te, y_te))
            row["n_trials"] = int(model.n_trials_)
            row["best_loss"] = str(model.best_genotype_.get("loss", LOSSES[kind][0]))
    except Exception as exc:  # a failed fit is a row, not a crashed benchmark
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    row["fit_time"] = time.time() - start
    print(f"{name:18s} split {split} noise {noise:.1f} {model_name:20s} score {row['score']:.4f} "
          f"fit {row['fit_time']:5.1f}s {row['best_loss']} {row['error']}", flush=True)
    return row


def table(df):
    metric = {True: "accuracy", False: "R^2"}
    lines = []
    for classification in (True, False):
        part = df[(df["task"] != "regression") == classification]
        if part.empty:
            continue
        models = [m for m in MODELS if m in set(part["model"])]
        lines += [f"### {'Classification (flipped labels), test accuracy' if classification else 'Regression (outlying targets), test R^2'}",
                  "", f"| dataset | noise | {' | '.join(models)} | robust - plain | best loss (robust) |",
                  "|---|---|" + "---|" * (len(models) + 2)]
        mean = part.groupby(["dataset", "noise", "model"])["score"].mean().unstack("model")
        losses = (part[part["model"] == "sknas robust"].groupby(["dataset", "noise"])["best_loss"]
                  .agg(lambda s: ", ".join(s)))
        for (dataset, noise), r in mean.iterrows():
            cells = [f"{r.get(m, float('nan')):.3f}" for m in models]
            diff = r.get("sknas robust", np.nan) - r.get("sknas plain", np.nan)
            lines.append(f"| {dataset} | {int(100 * noise)} % | {' | '.join(cells)} | {diff:+.3f} | "
                         f"{losses.get((dataset, noise), '')} |")
        lines.append("")
        by_noise = part.groupby(["noise", "model"])["score"].mean().unstack("model")
        lines += [f"Mean {metric[classification]} over the datasets:", "",
                  f"| noise | {' | '.join(models)} |", "|---|" + "---|" * len(models)]
        for noise, r in by_noise.iterrows():
            lines.append(f"| {int(100 * noise)} % | " + " | ".join(f"{r.get(m, float('nan')):.3f}" for m in models) + " |")
        lines.append("")
        sknas = part[part["model"].str.startswith("sknas")]
        trials = sknas.groupby("model")["n_trials"].mean()
        lines += ["Trials per fit (mean): " + ", ".join(f"{m} {trials[m]:.1f}" for m in models if m in trials), ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", type=float, default=15.0)
    parser.add_argument("--splits", type=int, default=1)
    parser.add_argument("--datasets", nargs="*", default=list(CLASSIFICATION + REGRESSION))
    parser.add_argument("--noise", nargs="*", type=float, default=list(NOISE))
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "noise.csv"))
    parser.add_argument("--md", default=str(ROOT / "docs" / "benchmarks" / "noise.md"))
    parser.add_argument("--from-csv", action="store_true", help="only rewrite the table from --out")
    parser.add_argument("--add", nargs="*", default=[], help="CSVs of earlier runs joined to the table")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.from_csv:
        df = pd.read_csv(args.out, keep_default_na=False, na_values=[""])
        df["best_loss"] = df["best_loss"].fillna("").astype(str)
    else:
        rows = []
        for split in range(args.splits):  # every table's first split before any second one
            for name in args.datasets:
                for noise in args.noise:
                    for model_name in args.models:
                        rows.append(fit_one(name, split, noise, model_name, args.time_budget))
                        pd.DataFrame(rows).to_csv(args.out, index=False)  # partial results survive an interruption
        df = pd.DataFrame(rows)
    if args.add:
        df = pd.concat([df] + [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in args.add])
        df["best_loss"] = df["best_loss"].fillna("").astype(str)
    md = table(df)
    print(md)
    command = "python benchmarks/bench_noise.py " + " ".join(sys.argv[1:])
    Path(args.md).write_text(
        "# Robustness to noisy labels\n\n"
        "Generated by ``benchmarks/bench_noise.py`` (see its docstring for the protocol):\n\n"
        f"    {command}\n\n" + md + "\n")


if __name__ == "__main__":
    main()
