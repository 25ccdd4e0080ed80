"""Trials per minute with n_jobs=1, n_jobs=2 (loky) and a 2-worker Dask LocalCluster.

Every configuration runs the same random search (same seed, same trial
cap) on the same data; the table reports trials per minute and the speedup
over n_jobs=1. Each trial uses one torch thread.

    python benchmarks/bench_parallel.py [--trials 12] [--rows 4000]

Writes benchmarks/results/parallel.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import parallel_config

from sknas import AutoNASClassifier


def run(X, y, trials, n_jobs):
    est = AutoNASClassifier(search="random", time_budget=None, max_trials=trials, max_epochs=20, n_jobs=n_jobs,
                            random_state=0)
    start = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - start, est


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "parallel.md"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, 20))
    y = (X[:, :3].sum(axis=1) + 0.3 * rng.normal(size=args.rows) > 0).astype(int)
    rows = []
    t1, _ = run(X, y, args.trials, 1)
    rows.append(("n_jobs=1", t1))
    t2, _ = run(X, y, args.trials, 2)
    rows.append(("n_jobs=2 (loky)", t2))
    try:
        import distributed

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                      host="127.0.0.1") as cluster, distributed.Client(cluster):
            with parallel_config(backend="dask"):
                t3, _ = run(X, y, args.trials, 2)
        rows.append(("n_jobs=2 (dask, 2-worker LocalCluster)", t3))
    except ImportError:
        pass
    lines = ["| configuration | wall s | trials/min | speedup |", "|---|---|---|---|"]
    for label, t in rows:
        lines.append(f"| {label} | {t:.1f} | {60 * args.trials / t:.1f} | {t1 / t:.2f}x |")
    table = "\n".join(lines)
    text = (f"# Parallel trials\n\n`python benchmarks/bench_parallel.py --trials {args.trials} --rows {args.rows}`\n\n"
            f"{args.trials} random-search trials (max_epochs=20) on {args.rows}x20 synthetic data, 2-core machine.\n\n"
            f"{table}\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
