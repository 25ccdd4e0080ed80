"""One-shot searchers against random search: time to a genotype and held-out score.

On a dataset that ships with scikit-learn (``load_digits`` by default), each
method searches the estimators' default joint space (``--space mlp`` or
``cell``, with the training and preprocessing parts) through sknas's own
runner, as ``AutoNASClassifier`` does, but without the portfolio (which
would give every method the same first trials) and without the final refit:

- ``random`` with the full budget ``--budget`` seconds (the reference), and
  with the one-shot budget (a control given the same wall time);
- ``darts``, ``gdas``, ``enas`` and ``morphism`` with ``--fraction`` of it
  (a tenth by default), with their default parameters.

The data are split once per seed into a training part (75 %) and a test part
(25 %); the training part is split again into the rows trials train on and a
validation part (20 %) that ranks them. For every run the table reports
the search's wall time to its genotype (for the one-shot methods, until the
supernet or the morphism climb has produced the derived genotype; random
search is anytime, so its whole run), the whole run's wall time (search and
the retraining of the derived genotype), the number of rows in
``search_results_``, and the test accuracy of the model the runner picks
(the best validation score, full-fidelity trials first). The goal of the
issue: a one-shot search within 1 % of random search's score in a tenth of
its time; the last column says whether each method meets it (mean test
accuracy at least the full-budget random search's minus 0.01, and mean
total wall time at most a tenth of its budget).

Usage::

    python benchmarks/bench_oneshot.py                                   # 300 s reference, 3 seeds
    python benchmarks/bench_oneshot.py --budget 60 --seeds 1             # a quick look
    python benchmarks/bench_oneshot.py --space cell --methods random darts enas --out oneshot.md

Every trial uses one torch thread; run nothing else heavy at the same time,
the times are wall-clock.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets
from sklearn.metrics import accuracy_score, get_scorer
from sklearn.model_selection import train_test_split

from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.runner import Runner
from sknas.search.base import make_searcher
from sknas.space.cell import CellSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace

DATASETS = {
    "digits": datasets.load_digits,
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "iris": datasets.load_iris,
}
ONE_SHOT = ("darts", "gdas", "enas", "morphism")


def make_space(name):
    arch = MLPSpace() if name == "mlp" else CellSpace()
    return JointSpace(arch=arch, training=TrainingSpace("classification"), pipeline=PipelineSpace())


def one_run(method, budget, seed, X, y, space_name, max_epochs, device):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    X_fit, X_valid, y_fit, y_valid = train_test_split(X_train, y_train, test_size=0.2, random_state=seed,
                                                      stratify=y_train)
    data = TrialData(X_fit, y_fit, X_valid, y_valid)
    space = make_space(space_name)
    evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=max_epochs,
                          classes=np.unique(y), n_threads=1, device=device)
    searcher = make_searcher(method).setup(space, seed)
    marks = {}
    ask = searcher.ask

    def timed_ask(n=1):
        out = ask(n)
        marks.setdefault("genotype", time.perf_counter())
        return out

    searcher.ask = timed_ask
    start = time.perf_counter()
    runner = Runner(searcher, evaluator, time_budget=budget, start=time.time(), portfolio=(), seed=seed)
    results = runner.run(data)
    total = time.perf_counter() - start
    if runner.best_model is None:
        return {"search": np.nan, "total": total, "rows": len(results), "valid": np.nan, "test": np.nan}
    to_genotype = marks.get("genotype", start) - start if method in ONE_SHOT else total
    test = accuracy_score(y_test, runner.best_model.predict(X_test))
    return {"search": to_genotype, "total": total, "rows": len(results), "valid": runner.best_result.score,
            "test": test, "source": results.rows[runner.best_index]["source"]}


def mean_sd(values):
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if not len(values):
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--space", choices=("mlp", "cell"), default="mlp")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of the reference random search")
    parser.add_argument("--fraction", type=float, default=0.1, help="share of --budget the one-shot methods get")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=50, help="epoch cap of every trial (and supernet)")
    parser.add_argument("--methods", nargs="*", default=["random", *ONE_SHOT])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    X, y = DATASETS[args.dataset](return_X_y=True)
    small = args.budget * args.fraction
    plan = []
    for method in args.methods:
        if method == "random":
            plan += [("random", args.budget), ("random", small)]
        else:
            plan.append((method, small))
    rows = {}
    for method, budget in plan:
        runs = [one_run(method, budget, seed, X, y, args.space, args.max_epochs, args.device)
                for seed in range(args.seeds)]
        rows[(method, budget)] = runs
        print(f"{method:>9} {budget:7.1f}s  test {mean_sd([r['test'] for r in runs])}  "
              f"to genotype {np.nanmean([r['search'] for r in runs]):6.1f}s  total "
              f"{np.mean([r['total'] for r in runs]):6.1f}s", flush=True)

    reference = rows.get(("random", args.budget))
    ref_test = np.nanmean([r["test"] for r in reference]) if reference else np.nan
    lines = [
        f"# One-shot search vs random search on {args.dataset} ({args.space} space)",
        "",
        (f"{args.seeds} seed(s); random search reference budget {args.budget:g} s; one-shot budget "
         f"{small:g} s; max_epochs={args.max_epochs}; one torch thread; device {args.device}."),
        "",
        ("| method | budget (s) | search to genotype (s) | total wall (s) | rows | validation | test accuracy "
         "| vs random@full | goal met |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for (method, budget), runs in rows.items():
        test = np.nanmean([r["test"] for r in runs])
        total = np.mean([r["total"] for r in runs])
        gap = test - ref_test
        goal = ""
        if method in ONE_SHOT and np.isfinite(gap):
            goal = "yes" if gap >= -0.01 and total <= args.budget / 10 else "no"
        lines.append(
            f"| {method} | {budget:g} | {np.nanmean([r['search'] for r in runs]):.1f} | {total:.1f} | "
            f"{np.mean([r['rows'] for r in runs]):.1f} | {mean_sd([r['valid'] for r in runs])} | "
            f"{mean_sd([r['test'] for r in runs])} | {gap:+.4f} | {goal} |"
        )
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)


if __name__ == "__main__":
    main()
