"""Search with few labels: the unlabeled rows used (UnNAS pre-training) or not, on real tables.

For each classification table of ``../shared/meta/`` (``--tables``), each
split (``--splits``: a stratified 75/25 train/test split seeded by the
split number) and each share of training labels kept (``--keep``, default
5 % and 20 %, drawn stratified with at least 3 rows per class), three
methods are scored on the test rows (accuracy):

- ``labeled only``: ``AutoNASClassifier`` (default search) on the labeled
  training rows alone;
- ``unnas``: ``AutoNASClassifier(unlabeled=-1)`` on all training rows,
  the others marked -1: every trial pre-trains on masked-feature
  reconstruction over all rows before its supervised training
  (:mod:`sknas.evaluation.pretext`);
- ``self-training HGB``: scikit-learn's
  ``SelfTrainingClassifier(HistGradientBoostingClassifier())`` on the same
  rows (a reference, not a search).

Both searches get the same ``--budget`` seconds and seed; fits run one at a
time with one torch thread. Writes ``benchmarks/results/unlabeled.csv``
and ``docs/benchmarks/unlabeled.md`` (means over splits per table and
label share, and the mean paired difference unnas - labeled only with its
standard error over all (table, split) pairs).

``--rank TABLE`` runs the second experiment instead: the UnNAS claim that
pretext scores rank architectures like supervised scores. ``--n-archs``
genotypes drawn from the default space (with the fixed preprocessing
``"none"``) are each (i) trained with all labels and scored on a holdout
(accuracy) and (ii) pre-trained on masked-feature reconstruction over the
training rows and scored by the reconstruction loss of a least-squares
decoder on the holdout rows (:func:`sknas.evaluation.pretext.pretext_loss`,
lower is better); Spearman's rho between the accuracy and minus that
loss, also for the untrained networks' loss (the capacity a random network
already has). Appends to ``docs/benchmarks/unlabeled.md``'s companion
``benchmarks/results/unlabeled_rank.csv``.

Usage::

    nice -n 10 python benchmarks/bench_unlabeled.py                       # 5 tables x 2 shares x 2 splits
    nice -n 10 python benchmarks/bench_unlabeled.py --tables spam7 --splits 1 --budget 5   # a quick look
    nice -n 10 python benchmarks/bench_unlabeled.py --rank spam7 --n-archs 16
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # HGB's OpenMP threads: one, like torch's (fits run one at a time)

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, "/work/shared/meta")

TABLES = ("spam7", "bfi_gender", "hmda_deny", "math_placement", "beps_vote")
KEEP = (0.05, 0.2)


def _load(name):
    from load import load

    X, y, task = load(name)
    if task == "regression":
        raise ValueError(f"{name} is a regression table")
    _, y = np.unique(np.asarray(y).astype(str), return_inverse=True)
    return X.reset_index(drop=True), y.astype(np.int64)


def _keep_labels(y, share, rng):
    """Indices of the rows whose label is kept: ``share`` of each class, at least 3 (stratified)."""
    keep = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        k = min(len(rows), max(3, int(round(share * len(rows)))))
        keep.append(rng.choice(rows, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def _hgb_encoder(X):
    """Ordinal codes for the text columns (fitted on the training rows, no labels), a numeric matrix for HGB."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in text]
    encoder = ColumnTransformer([
        ("text", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                encoded_missing_value=np.nan), text),
        ("numeric", "passthrough", numeric)])
    encoder.fit(X.astype({c: str for c in text}))
    return (lambda Z: encoder.transform(Z.astype({c: str for c in text})).astype(float)), np.arange(len(text))


def run_table(name, split, share, budget):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split
    from sklearn.semi_supervised import SelfTrainingClassifier

    from sknas import AutoNASClassifier

    X, y = _load(name)
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=split, stratify=y)
    rng = np.random.default_rng(1000 + split)
    Xtr, ytr = X.iloc[train].reset_index(drop=True), y[train]
    Xte, yte = X.iloc[test].reset_index(drop=True), y[test]
    kept = _keep_labels(ytr, share, rng)
    y_semi = np.full(len(ytr), -1)
    y_semi[kept] = ytr[kept]
    rows = []

    def record(method, fit):
        t = time.time()
        try:
            model = fit()
            acc = accuracy_score(yte, model.predict(Xte if method != "self-training HGB" else encode(Xte)))
            error = ""
        except Exception as exc:  # a failing method is a result of the benchmark, recorded as such
            acc, error = float("nan"), f"{type(exc).__name__}: {exc}"[:200]
        rows.append({"table": name, "split": split, "keep": share, "n_labeled": len(kept),
                     "n_unlabeled": len(ytr) - len(kept), "method": method, "accuracy": acc,
                     "fit_s": round(time.time() - t, 1), "error": error})
        print(f"{name:12s} keep={share:.2f} split={split} {method:18s} acc={acc:.4f} "
              f"({rows[-1]['fit_s']}s) {error}", flush=True)

    common = dict(time_budget=budget, random_state=split, n_jobs=1)
    record("labeled only", lambda: AutoNASClassifier(**common).fit(Xtr.iloc[kept], ytr[kept]))
    record("unnas", lambda: AutoNASClassifier(unlabeled=-1, **common).fit(Xtr, y_semi))
    encode, categorical = _hgb_encoder(Xtr)
    record("self-training HGB", lambda: SelfTrainingClassifier(
        HistGradientBoostingClassifier(categorical_features=categorical if len(categorical) else None,
                                       random_state=split)
    ).fit(encode(Xtr), y_semi))
    return rows


def write_report(df, command, out_md):
    lines = [
        "# Search with few labels: UnNAS pre-training on the unlabeled rows",
        "",
        "Test accuracy on real tables of `../shared/meta/` when only a share of the training",
        "labels is kept (stratified, at least 3 rows per class; the rest of the training rows are",
        "unlabeled). `labeled only`: the default search on the labeled rows alone; `unnas`:",
        "`AutoNASClassifier(unlabeled=-1)` on all the training rows (each trial pre-trains its",
        "network on masked-feature reconstruction over all rows, then trains on the labeled rows;",
        "see the user guide); `self-training HGB`: scikit-learn's",
        "`SelfTrainingClassifier(HistGradientBoostingClassifier())`, a reference.",
        "",
        f"Command: `{command}`",
        "",
        "Mean test accuracy over splits:",
        "",
    ]
    table = df.pivot_table(index=["table", "keep"], columns="method", values="accuracy", aggfunc="mean")
    table["n_labeled"] = df.groupby(["table", "keep"])["n_labeled"].mean().round().astype(int)
    table = table.reset_index()
    methods = [m for m in ("labeled only", "unnas", "self-training HGB") if m in table.columns]
    lines.append("| table | labels kept | labeled rows | " + " | ".join(methods) + " |")
    lines.append("|---|---|---|" + "---|" * len(methods))
    for _, r in table.iterrows():
        lines.append(f"| {r['table']} | {r['keep']:.0%} | {r['n_labeled']} | "
                     + " | ".join(f"{r[m]:.3f}" for m in methods) + " |")
    lines += ["", "Paired difference unnas - labeled only over (table, split) pairs "
              "(mean, standard error, wins/ties/losses):", ""]
    lines.append("| labels kept | mean diff | SE | W/T/L | pairs |")
    lines.append("|---|---|---|---|---|")
    wide = df.pivot_table(index=["table", "keep", "split"], columns="method", values="accuracy",
                          dropna=False).reset_index()
    for keep, part in wide.groupby("keep"):
        if "unnas" not in part or "labeled only" not in part:
            continue
        d = (part["unnas"] - part["labeled only"]).dropna().to_numpy()
        if not len(d):
            continue
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        wtl = f"{(d > 1e-9).sum()}/{(abs(d) <= 1e-9).sum()}/{(d < -1e-9).sum()}"
        lines.append(f"| {keep:.0%} | {d.mean():+.4f} | {se:.4f} | {wtl} | {len(d)} |")
    errors = df[df["error"].astype(str) != ""]
    if len(errors):
        lines += ["", "Failed fits:", ""] + [f"- {r.table} {r.keep} {r.split} {r.method}: {r.error}"
                                             for r in errors.itertuples()]
    out_md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _n_params(space, genotype, n_inputs):
    from sknas.nn.builders import count_parameters

    return count_parameters(space.build(genotype, n_inputs, 2))


def rank_experiment(name, n_archs, seed=0, epochs=20, seconds=None, max_params=200_000):
    """Spearman's rho between supervised holdout accuracy and pretext scores of sampled architectures."""
    from scipy.stats import spearmanr
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import train_test_split

    from sknas import AutoNASClassifier
    from sknas.evaluation.pretext import pretext_loss, pretrain
    from sknas.evaluation.trainer import Evaluator
    from sknas.evaluation.trial import TrialData
    from sknas.search.base import Candidate

    X, y = _load(name)
    tr, va = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed, stratify=y)
    data = TrialData(X.iloc[tr].reset_index(drop=True), y[tr], X.iloc[va].reset_index(drop=True), y[va])
    est = AutoNASClassifier(preprocessing="none")
    est._task = "classification"
    space = est._build_space(X)
    evaluator = Evaluator(space, "classification", check_scoring(est, scoring="accuracy"), max_epochs=epochs,
                          classes=np.unique(y), preprocessing="none", n_threads=1)
    rng = np.random.default_rng(seed)
    rows = []
    start = time.time()
    for i in range(n_archs):
        if seconds is not None and time.time() - start > seconds:
            print(f"stopped after {i} architectures ({seconds} s)", flush=True)
            break
        genotype = space.sample(rng)
        while _n_params(space, genotype, X.shape[1]) > max_params:  # CPU-sized networks only
            genotype = space.sample(rng)
        result = evaluator.evaluate(Candidate(genotype), data, seed=i)
        if result.status != "ok":
            continue
        prep, Xt, _, Xv, _ = evaluator._preprocess(genotype, data, 1.0, seed=0)
        torch.manual_seed(i)
        module = space.build(genotype, Xt.shape[1], len(np.unique(y)))
        before = pretext_loss(module, Xv, seed=i)
        pretrain(module, Xt, epochs=epochs, seed=i)
        after = pretext_loss(module, Xv, seed=i)
        rows.append({"table": name, "arch": i, "accuracy": result.score, "pretext_loss": after,
                     "pretext_loss_untrained": before, "n_params": result.n_params})
        print(f"{i:3d} acc={result.score:.4f} pretext={after:.4f} untrained={before:.4f} "
              f"params={result.n_params}", flush=True)
    df = pd.DataFrame(rows)
    rho, p = spearmanr(df["accuracy"], -df["pretext_loss"])
    rho0, p0 = spearmanr(df["accuracy"], -df["pretext_loss_untrained"])
    rho_size, _ = spearmanr(df["accuracy"], df["n_params"])
    return df, (rho, p), (rho0, p0), rho_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--keep", nargs="+", type=float, default=list(KEEP))
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--budget", type=float, default=15.0)
    parser.add_argument("--rank", default=None, help="run the rank-correlation experiment on this table")
    parser.add_argument("--n-archs", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=None, help="--rank: draw no new architecture after this")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "unlabeled.md"))
    parser.add_argument("--from-csv", action="store_true",
                        help="only rewrite the report from benchmarks/results/unlabeled.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    command = "python benchmarks/bench_unlabeled.py " + " ".join(sys.argv[1:])
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    if args.rank:
        df, (rho, p), (rho0, p0), rho_size = rank_experiment(args.rank, args.n_archs, seconds=args.seconds)
        df.to_csv(results / "unlabeled_rank.csv", index=False)
        text = (f"\n## Do pretext scores rank architectures like labels do? ({args.rank})\n\n"
                f"Command: `{command}`\n\n"
                f"{len(df)} architectures drawn from the default mlp space (preprocessing \"none\"; redrawn above "
                "200,000 parameters, on raw column count), each "
                "trained with all labels (holdout accuracy) and, separately, pre-trained on masked-feature "
                "reconstruction of the training rows (holdout reconstruction loss of a least-squares decoder "
                "on its representation).\n\n"
                "| Spearman rho with holdout accuracy | rho | p |\n|---|---|---|\n"
                f"| - pretext loss after pre-training | {rho:+.3f} | {p:.3f} |\n"
                f"| - pretext loss of the untrained network | {rho0:+.3f} | {p0:.3f} |\n"
                f"| parameter count | {rho_size:+.3f} | |\n\n"
                f"Per-architecture numbers: `benchmarks/results/unlabeled_rank.csv`.\n")
        print(text)
        out = Path(args.out)
        with open(out.with_name("unlabeled_rank.md"), "w") as f:
            f.write(text)
        return
    rows = []
    csv = results / "unlabeled.csv"
    if args.from_csv:
        df = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        df["error"] = df["error"].fillna("")
        write_report(df, "python benchmarks/bench_unlabeled.py", Path(args.out))
        return
    for split in range(args.splits):
        for name in args.tables:
            for share in args.keep:
                rows += run_table(name, split, share, args.budget)
                pd.DataFrame(rows).to_csv(csv, index=False)  # partial results survive an interruption
    write_report(pd.DataFrame(rows), command, Path(args.out))


if __name__ == "__main__":
    main()
