"""SemiNAS against the plain predictors: ranking held-out networks of the tabulated benchmark with few labels.

For each number of labelled networks (``--labels``, default 30, 50, 100)
and each of ``--splits`` random splits of the 1,374 networks of
:class:`sknas.benchmark.tabulated.TabularBenchmark` (``load_digits``), the
labelled networks' final validation accuracies (averaged over the table's
two runs) train each predictor of
:class:`sknas.evaluation.predictor.SurrogatePredictor`, which then ranks
every other network of the table; the score is Kendall's tau between the
predicted and the recorded validation accuracies of those held-out
networks. The models:

- ``forest``: the random forest (the default of ``PredictorFilter`` and PNAS);
- ``knn``: distance-weighted 3 nearest neighbours;
- ``mlp``: the encoder-predictor network alone (NAO's model, no pseudo-labels);
- ``seminas M=...``: the same network, SemiNAS-trained with ``M``
  pseudo-labelled genotypes drawn from the space (``space.sample``);
- ``forest + pseudo-labels``: the former ``semi_supervised`` option (a
  forest refit on its own predictions of 200 genotypes), for reference.

Every model of a split sees the same labelled networks and the same
unlabelled draws. Writes ``docs/benchmarks/seminas.md``: mean tau, its
standard error over splits, and the mean paired difference with the
plain ``mlp`` and with ``forest`` (SE in brackets).

Usage::

    nice -n 10 python benchmarks/bench_seminas.py               # 3 label counts x 10 splits
    python benchmarks/bench_seminas.py --labels 30 --splits 3  # a quick look
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau
from sklearn.ensemble import RandomForestRegressor

from sknas.benchmark.tabulated import TabularBenchmark
from sknas.evaluation.predictor import SurrogatePredictor

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "seminas.md"


def forest_pseudo(X, y, unlabelled, seed):
    """The former ``semi_supervised`` option: a forest refit on its own pseudo-labels."""
    forest = RandomForestRegressor(n_estimators=40, min_samples_leaf=2, random_state=seed).fit(X, y)
    pseudo = forest.predict(unlabelled)
    return RandomForestRegressor(n_estimators=40, min_samples_leaf=2, random_state=seed).fit(
        np.vstack([X, unlabelled]), np.concatenate([y, pseudo]))


def models(m_values):
    out = {
        "forest": lambda s: SurrogatePredictor("forest", random_state=s),
        "knn": lambda s: SurrogatePredictor("knn", random_state=s),
        "mlp": lambda s: SurrogatePredictor("mlp", random_state=s),
    }
    for m in m_values:
        out[f"seminas M={m}"] = (lambda m: lambda s: SurrogatePredictor("mlp", semi_supervised=True, n_unlabelled=m,
                                                                        random_state=s))(m)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[30, 50, 100])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--unlabelled", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)

    bench = TabularBenchmark()
    space = bench.space
    X_all = np.array([space.encode(g) for g in bench.genotypes])
    y_all = np.array([bench.lookup(g)["valid_accuracy"] for g in bench.genotypes])
    makers = models(args.unlabelled)
    names = list(makers) + ["forest + pseudo-labels"]
    taus = {n_labels: {name: [] for name in names} for n_labels in args.labels}
    seconds = {name: 0.0 for name in names}
    for n_labels in args.labels:
        for split in range(args.splits):
            rng = np.random.default_rng(1000 * n_labels + split)
            order = rng.permutation(len(X_all))
            train, test = order[:n_labels], order[n_labels:]
            draws = np.array([space.encode(space.sample(rng)) for _ in range(max(args.unlabelled))])
            for name in names:
                start = time.process_time()
                if name == "forest + pseudo-labels":
                    model = forest_pseudo(X_all[train], y_all[train], draws[:200], split)
                else:
                    model = makers[name](split).fit(X_all[train], y_all[train], draws)
                seconds[name] += time.process_time() - start
                taus[n_labels][name].append(kendalltau(model.predict(X_all[test]), y_all[test]).statistic)
            print(f"labels={n_labels} split={split}: " + ", ".join(
                f"{name} {taus[n_labels][name][-1]:.3f}" for name in names), flush=True)

    def cell(values):
        values = np.asarray(values)
        return f"{values.mean():.3f} ({values.std(ddof=1) / np.sqrt(len(values)):.3f})"

    lines = [
        "# SemiNAS against the plain predictors",
        "",
        "Kendall's tau between predicted and recorded validation accuracy of the held-out networks of the",
        "tabulated benchmark (`load_digits`, 1,374 networks; all networks not labelled are held out), "
        f"mean over {args.splits} random splits (standard error in brackets). `diff vs mlp` / `diff vs forest`: "
        "mean paired difference over the splits. CPU seconds: one fit and prediction, mean over every split.",
        "",
        "Made by `python benchmarks/bench_seminas.py` "
        f"(`--labels {' '.join(map(str, args.labels))} --splits {args.splits} "
        f"--unlabelled {' '.join(map(str, args.unlabelled))}`).",
        "",
        "| labelled | model | Kendall tau | diff vs mlp | diff vs forest | CPU s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    n_fits = len(args.labels) * args.splits
    for n_labels in args.labels:
        for name in names:
            values = np.asarray(taus[n_labels][name])
            lines.append(
                f"| {n_labels} | {name} | {cell(values)} | {cell(values - np.asarray(taus[n_labels]['mlp']))} | "
                f"{cell(values - np.asarray(taus[n_labels]['forest']))} | {seconds[name] / n_fits:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # keep the hand-written conclusion below the table
        old = args.out.read_text()
        marker = "\n## Reading\n"
        if marker in old:
            text += marker + old.split(marker, 1)[1]
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
