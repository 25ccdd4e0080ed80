"""Does a snapshot ensemble's loss stay above its best single epoch's? (the bound pruning relies on)

Learning-curve pruning judges a snapshot-ensemble trial (``snapshots > 1``)
on the running minimum of its per-epoch validation curve, i.e. its best
single network so far, and takes that as an optimistic stand-in for the
loss of the averaged cycle-end snapshots it predicts with. This script
checks the stand-in: on each bundled dataset it draws snapshot genotypes
from the default search space (random draws with ``snapshots > 1``, as the
optimizer's random start proposes them), trains each on one holdout split
and reports the ratio of the ensemble's plain validation loss (cross-entropy,
or squared error of the standardized target) to its curve's minimum. A
ratio above 1 means the rule erred towards keeping the trial.

    python benchmarks/bench_snapshot_bound.py [--trials 10] [--datasets ...]

Writes benchmarks/results/snapshot_bound.md (+ .csv).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.evaluation.fidelity import plain_loss
from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.search.base import Candidate

DATASETS = {
    "breast_cancer": ("classification", datasets.load_breast_cancer),
    "digits": ("classification", datasets.load_digits),
    "wine": ("classification", datasets.load_wine),
    "diabetes": ("regression", datasets.load_diabetes),
}


def run_dataset(name, n_trials, seed):
    task, loader = DATASETS[name]
    X, y = loader(return_X_y=True)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, random_state=seed)
    est = AutoNASClassifier() if task == "classification" else AutoNASRegressor()
    classes = np.unique(y) if task == "classification" else None
    est.classes_ = classes
    space = est._build_space()  # the default joint space a fit searches
    ev = Evaluator(space, task, get_scorer("accuracy" if task == "classification" else "r2"), max_epochs=100,
                   classes=classes, preprocessing="auto", prune=True)
    data = TrialData(X_tr, y_tr, X_va, y_va)
    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < n_trials:
        genotype = space.sample(rng)
        if genotype.get("snapshots", 1) == 1:
            continue
        result = ev.evaluate(Candidate(genotype), data, seed=seed)
        if result.status != "ok" or not result.plain_curve:
            print(f"{name}: a failed draw ({result.error and result.error.splitlines()[0]}), drawing another")
            continue
        prep, net = result.model.named_steps["preprocessing"], result.model.named_steps["net"]
        ensemble = plain_loss(net, prep.transform(X_va), y_va, task)
        best_single = min(result.plain_curve)
        row = {"dataset": name, "snapshots": genotype["snapshots"], "epochs": result.n_epochs,
               "best_single": best_single, "ensemble": ensemble, "ratio": ensemble / best_single}
        print(row, flush=True)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10, help="snapshot genotypes per dataset")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "snapshot_bound"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    frame = pd.DataFrame([row for name in args.datasets for row in run_dataset(name, args.trials, args.seed)])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out + ".csv", index=False)
    table = frame.groupby("dataset")["ratio"].agg(["count", "min", "median", "max"])
    table["share above 1"] = frame.groupby("dataset")["ratio"].apply(lambda r: float((r > 1).mean()))
    command = shlex.join(["python", "benchmarks/bench_snapshot_bound.py", *sys.argv[1:]])
    text = (f"# Snapshot ensemble loss / its curve's minimum\n\n`{command}`\n\n"
            f"Ratio of the averaged snapshots' plain validation loss to the minimum of the per-epoch curve "
            f"(above 1: the curve's minimum was optimistic for the ensemble).\n\n"
            f"{table.to_markdown(floatfmt='.3f')}\n\nAll {len(frame)} trials: min {frame['ratio'].min():.3f}, "
            f"median {frame['ratio'].median():.3f}, share above 1: {(frame['ratio'] > 1).mean():.2f}.\n")
    Path(args.out + ".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
