"""Build a portfolio from a meta-benchmark of bundled and synthetic datasets, by greedy portfolio construction.

The older builder: the shipped default portfolio now comes from
``benchmarks/build_portfolio_tables.py`` (time-aware construction over the
tabulated real tables). Running this script still overwrites
``sknas/data/portfolio.json`` with its own portfolio.

The portfolio is the short, ordered list of configurations every search
tries first (``JointSpace.portfolio``). It is chosen the way Auto-sklearn 2.0
(Feurer et al. 2022, "Auto-Sklearn 2.0: Hands-free AutoML via
Meta-Learning", JMLR, section 4.1) and Auto-PyTorch Tabular (Zimmer, Lindauer,
Hutter 2021, "Auto-PyTorch Tabular", TPAMI, section 3.2) choose theirs:

1. a pool of candidate configurations of the default joint space (the
   hand-picked entries, settings recommended in the literature, mutations
   of the hand-picked entries and random samples);
2. every candidate is trained and scored on every meta-dataset (the
   datasets that ship with scikit-learn and synthetic ones of various
   shapes, including the failure modes of Grinsztajn et al. 2022);
3. scores become normalized regrets per dataset (0 = the best candidate,
   1 = the median one or worse; a failed or too slow candidate scores 1);
4. greedily, the candidate that lowers the mean over datasets of the
   portfolio's *best* regret the most is appended, until ``--size`` entries.

A candidate whose trial takes more than ``--max-trial-share`` of a 60 s
budget on some dataset counts as failed there: a portfolio entry must leave
time for the search.

Leave-one-dataset-out: for each meta-dataset, the portfolio is rebuilt from
the others and its regret on the left-out dataset is reported, next to the
regret of the hand-picked portfolio and of the single best candidate. This
estimates how the portfolio does on data it was not chosen on.

    python benchmarks/build_portfolio.py [--pool 40] [--size 4] [--n-jobs 2]

Writes sknas/data/portfolio.json (read by ``JointSpace.portfolio``) and
docs/benchmarks/portfolio.md.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn import datasets
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.evaluation.trainer import Evaluator
from sknas.portfolio import greedy_portfolio, normalized_regret
from sknas.evaluation.trial import TrialData
from sknas.search.base import Candidate
from sknas.space.mlp import chain_blocks

ROOT = Path(__file__).resolve().parents[1]
OUT_JSON = ROOT / "sknas" / "data" / "portfolio.json"
OUT_MD = ROOT / "docs" / "benchmarks" / "portfolio.md"


# -- meta-datasets -------------------------------------------------------------------------
# Synthetic data uses seeds (100+) that benchmarks/bench_quality.py does not, so the
# synthetic test sets there are fresh draws of these shapes, not the data chosen on.
def _noise_features():
    return datasets.make_classification(n_samples=1500, n_features=60, n_informative=6, n_redundant=0,
                                        n_clusters_per_class=2, flip_y=0.02, random_state=101)


def _checkerboard():
    rng = np.random.default_rng(102)
    X = rng.normal(size=(1500, 6))
    edges = np.sort(rng.normal(size=5))
    return X, ((np.digitize(X[:, 0], edges) + np.digitize(X[:, 1], edges)) % 2).astype(int)


def _multiclass_wide():
    return datasets.make_classification(n_samples=2000, n_features=40, n_informative=20, n_classes=5,
                                        n_clusters_per_class=1, random_state=103)


def _friedman():
    X, y = datasets.make_friedman1(n_samples=1500, n_features=15, noise=1.0, random_state=104)
    return X, y


def _steps():
    rng = np.random.default_rng(105)
    X = rng.normal(size=(1500, 10))
    y = np.floor(1.5 * X[:, 0]) + 2 * (X[:, 1] > 0.5) * np.sign(X[:, 2]) + 0.2 * rng.normal(size=1500)
    return X, y


def _linear_wide():
    return datasets.make_regression(n_samples=800, n_features=80, n_informative=10, noise=10.0, random_state=106)


META = {
    "breast_cancer": ("classification", lambda: datasets.load_breast_cancer(return_X_y=True)),
    "digits": ("classification", lambda: datasets.load_digits(return_X_y=True)),
    "wine": ("classification", lambda: datasets.load_wine(return_X_y=True)),
    "iris": ("classification", lambda: datasets.load_iris(return_X_y=True)),
    "noise_features": ("classification", _noise_features),
    "checkerboard": ("classification", _checkerboard),
    "multiclass_wide": ("classification", _multiclass_wide),
    "diabetes": ("regression", lambda: datasets.load_diabetes(return_X_y=True)),
    "friedman1": ("regression", _friedman),
    "steps": ("regression", _steps),
    "linear_wide": ("regression", _linear_wide),
}


def default_space(task):
    est = AutoNASClassifier() if task == "classification" else AutoNASRegressor()
    est._task = task
    return est._build_space()


def shared_space():
    """The classification space without label smoothing: its genotypes are valid for both tasks."""
    return default_space("classification")


def trial_data(task, X, y, seed=7):
    """3-fold CV under 1,000 rows (as the estimator does), else a 75/25 holdout."""
    strat = y if task == "classification" else None
    if len(y) < 1000:
        splitter = (StratifiedKFold if task == "classification" else KFold)(3, shuffle=True, random_state=seed)
        return [TrialData(X[tr], y[tr], X[va], y[va]) for tr, va in splitter.split(X, y)]
    tr, va = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed, stratify=strat)
    return [TrialData(X[tr], y[tr], X[va], y[va])]


def evaluate(genotype, name, max_epochs, trial_limit):
    task, loader = META[name]
    X, y = loader()
    X = np.asarray(X, dtype=np.float64)
    est = AutoNASClassifier() if task == "classification" else AutoNASRegressor()
    est._task = task
    space = est._build_space()
    classes = np.unique(y) if task == "classification" else None
    if task == "regression":  # the estimator trains on a standardized target
        y = (y - y.mean()) / y.std()
    scorer = check_scoring(est, scoring=est._default_scoring())
    evaluator = Evaluator(space, task, scorer, max_epochs=max_epochs, classes=classes, n_threads=1,
                          keep_model=False)
    g = {k: v for k, v in genotype.items() if k in {p.name for p in space.params}}
    g = space.validate(space._complete(g, np.random.default_rng(0)))
    start = time.time()
    result = evaluator.evaluate(Candidate(g), trial_data(task, X, y), deadline=start + trial_limit, seed=0)
    elapsed = time.time() - start
    ok = result.status == "ok" and result.stop_reason != "time_limit"
    return {"dataset": name, "score": result.score if ok else None, "time": elapsed,
            "error": result.error or ("" if ok else "over the time limit")}


# Settings recommended in the tabular deep-learning literature, as changes of the first hand-picked entry.
LITERATURE = [
    {"snapshots": 3},  # snapshot ensemble (Huang et al. 2017)
    {"feature_scale": True, "scaler": "robust", "clip": "smooth", **chain_blocks(3, 256, "selu", dropout=0.15)},  # RealMLP
    {"ensemble_k": 8},  # TabM without embeddings (Gorishniy et al. 2025)
    {"embedding": "ple", "embedding_dim": 16, "ensemble_k": 8, **chain_blocks(3, 256, dropout=0.1)},  # TabM + PLE
    {"embedding": "plr", "embedding_dim": 16, "embedding_sigma": 0.1},  # MLP-PLR (Gorishniy et al. 2022)
    {**chain_blocks(2, 512, "relu", "batch", 0.1)},  # the former second portfolio entry
    {**chain_blocks(4, 256, dropout=0.2), "lr": 3e-3, "batch_size": 256, "lr_schedule": "onecycle"},
    {**chain_blocks(1, 512, dropout=0.1), "weight_decay": 1e-4},
    {**chain_blocks(3, 128, "gelu", "layer", 0.1), "optimizer": "radam", "label_smoothing": 0.1},
    {"augment": "mixup", "augment_strength": 0.2},
    {"select": "f_test", "select_k": 32},
]


def candidate_pool(size, seed):
    """The hand-picked entries, literature settings, double mutations of the hand-picked entries, random samples."""
    space = shared_space()
    rng = np.random.default_rng(seed)
    hand_picked = space.hand_portfolio()
    pool = [dict(g) for g in hand_picked]
    hand = len(pool)
    for change in LITERATURE:
        pool.append(dict(space._complete({**hand_picked[0], **change}, rng)))
    n_mutants = (size - len(pool)) // 2
    for i in range(n_mutants):
        pool.append(dict(space.mutate(space.mutate(hand_picked[i % hand], rng), rng)))
    while len(pool) < size:
        pool.append(dict(space.sample(rng)))
    return pool, hand


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=40)
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--max-trial-share", type=float, default=0.35,
                        help="a trial longer than this share of a 60 s budget counts as failed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(META))
    parser.add_argument("--json", type=Path, default=OUT_JSON)
    parser.add_argument("--md", type=Path, default=OUT_MD)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    pool, n_hand = candidate_pool(args.pool, args.seed)
    limit = 60.0 * args.max_trial_share
    jobs = [(i, name) for i in range(len(pool)) for name in args.datasets]
    start = time.time()
    out = Parallel(n_jobs=args.n_jobs, verbose=5)(
        delayed(evaluate)(pool[i], name, args.max_epochs, limit) for i, name in jobs)
    print(f"meta-benchmark: {len(jobs)} trials in {time.time() - start:.0f}s", flush=True)
    names = list(args.datasets)
    scores = np.full((len(pool), len(names)), np.nan)
    times = np.zeros((len(pool), len(names)))
    for (i, name), r in zip(jobs, out):
        d = names.index(name)
        scores[i, d] = np.nan if r["score"] is None else r["score"]
        times[i, d] = r["time"]
    regret = normalized_regret(scores)
    mean_time = times.mean(axis=1)
    chosen = greedy_portfolio(regret, args.size, mean_time)

    # leave-one-dataset-out: how does a portfolio chosen without dataset d do on d?
    lodo = []
    for d, name in enumerate(names):
        rest = [k for k in range(len(names)) if k != d]
        sub = normalized_regret(scores[:, rest])
        picks = greedy_portfolio(sub, args.size, mean_time)
        single = int(np.argmin(sub.mean(axis=1)))
        lodo.append({"dataset": name, "portfolio": float(regret[picks, d].min()),
                     "hand-picked": float(regret[:n_hand, d].min()), "single best": float(regret[single, d]),
                     "best of pool": float(regret[:, d].min())})

    entries = [{k: (v.item() if hasattr(v, "item") else v) for k, v in pool[i].items()} for i in chosen]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "description": "Greedy portfolio over the meta-benchmark of benchmarks/build_portfolio.py; entries in "
                       "order. Keys absent from a space are dropped, missing ones take the space's defaults.",
        "command": f"python benchmarks/build_portfolio.py --pool {args.pool} --size {args.size} "
                   f"--max-epochs {args.max_epochs} --seed {args.seed}",
        "datasets": names,
        "arch": "MLPSpace",
        "entries": entries,
    }, indent=1) + "\n")

    n_mut = (args.pool - n_hand - len(LITERATURE)) // 2
    lines = [
        "# Portfolio: greedy construction over a meta-benchmark",
        "",
        f"Generated by `python benchmarks/build_portfolio.py --pool {args.pool} --size {args.size} "
        f"--max-epochs {args.max_epochs} --seed {args.seed}` ({len(jobs)} trials, "
        f"{(time.time() - start) / 60:.0f} min on 2 cores, 2 trials at a time).",
        "",
        f"Pool: the {n_hand} hand-picked entries of the former portfolio, {len(LITERATURE)} settings from the "
        f"tabular deep-learning literature (`LITERATURE` in the script), {n_mut} double mutations of the "
        f"hand-picked entries and {args.pool - n_hand - len(LITERATURE) - n_mut} random samples of the default space "
        f"(`space=\"mlp\"`, training and preprocessing searched jointly). Each candidate is scored on every "
        f"meta-dataset (3-fold CV under 1,000 rows, else a 75/25 holdout), with at most {args.max_epochs} epochs "
        f"and {limit:.0f} s per trial (longer counts as failed). Regret per dataset: (best - score) / "
        f"(best - median), clipped to [0, 1].",
        "",
        "## Chosen portfolio (in order)",
        "",
        "| # | pool index | mean regret alone | mean trial s | configuration |",
        "|---|---|---|---|---|",
    ]
    for rank, i in enumerate(chosen):
        g = pool[i]
        arch = (f"{g.get('n_blocks', 1)}x{g.get('width_0')} {g.get('act_0')}, norm {g.get('norm_0')}, "
                f"embedding {g.get('embedding')}, k={g.get('ensemble_k', 1)}, lr {g['lr']:.2g}, "
                f"{g['optimizer']}, {g['lr_schedule']}, batch {g['batch_size']}, scaler {g.get('scaler')}, "
                f"select {g.get('select')}, extract {g.get('extract')}")
        lines.append(f"| {rank + 1} | {i}{' (hand-picked)' if i < n_hand else ''} | {regret[i].mean():.3f} | "
                     f"{mean_time[i]:.1f} | {arch} |")
    lines += ["", "Mean regret of the portfolio's best entry as entries are added: " + ", ".join(
        f"{regret[chosen[:k]].min(axis=0).mean():.3f}" for k in range(1, len(chosen) + 1))
        + f" (hand-picked portfolio: {regret[:n_hand].min(axis=0).mean():.3f}).", ""]
    lines += ["## Scores per dataset (validation; accuracy, R^2 of the standardized target)", "",
              "| dataset | best of pool | median of pool | portfolio's best | hand-picked best | failed |",
              "|---|---|---|---|---|---|"]
    for d, name in enumerate(names):
        col = scores[:, d]
        lines.append(f"| {name} | {np.nanmax(col):.4f} | {np.nanmedian(col):.4f} | "
                     f"{np.nanmax(col[chosen]):.4f} | {np.nanmax(col[:n_hand]):.4f} | "
                     f"{int(np.isnan(col).sum())}/{len(col)} |")
    lines += ["", "## Leave one dataset out", "",
              "Regret on each dataset of a portfolio built from the other datasets, of the hand-picked "
              "portfolio, and of the single candidate best on the other datasets.", "",
              "| left out | greedy portfolio | hand-picked | single best | best of pool |", "|---|---|---|---|---|"]
    for row in lodo:
        lines.append(f"| {row['dataset']} | {row['portfolio']:.3f} | {row['hand-picked']:.3f} | "
                     f"{row['single best']:.3f} | {row['best of pool']:.3f} |")
    mean = {k: np.mean([r[k] for r in lodo]) for k in ("portfolio", "hand-picked", "single best")}
    lines.append(f"| **mean** | {mean['portfolio']:.3f} | {mean['hand-picked']:.3f} | {mean['single best']:.3f} "
                 f"| 0.000 |")
    lines.append("")
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text("\n".join(lines))
    np.savez(args.md.with_suffix(".npz"), scores=scores, times=times)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
