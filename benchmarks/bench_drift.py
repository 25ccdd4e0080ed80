"""Data that keeps coming: ``partial_fit`` and ``warm_start`` after a drift, against a new fit.

Two drifts of a synthetic task (:func:`drifted`), 6 Gaussian features:

- ``rotation``: the label is the side of a hyperplane whose normal turns by 90 degrees
  in the first two features between A and B;
- ``shift``: the label is ``x0 + x1 > 0`` on A and ``x0 + x1 > 3`` on B, whose rows
  are shifted by +1.5 in x0 and x1 (the covariates move, and the boundary with them).

``AutoNASClassifier`` (``max_trials`` trials, one seed per repeat) is fitted on A
(1,200 rows), then given 600 rows of B, and scored on 2,000 held-out rows of B:

- ``stale``: the model of A, untouched;
- ``partial_fit``: :meth:`partial_fit` on B's rows, default epochs;
- ``partial_fit 30``: the same with ``epochs=30``;
- ``warm_start``: ``fit`` on B's rows with ``warm_start=True`` (A's best genotypes first);
- ``new fit``: a fit from scratch on B's rows (the reference).

    python benchmarks/bench_drift.py [--trials 4] [--repeats 3]

Writes ``benchmarks/results/drift.md``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sknas import AutoNASClassifier

WAYS = ("stale", "partial_fit", "partial_fit 30", "warm_start", "new fit")


def drifted(kind, part, n, seed, n_features=6):
    """``(X, y)`` of part ``"A"`` or ``"B"`` of a drift ``kind`` (``"rotation"`` or ``"shift"``)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    if kind == "rotation":
        angle = 0.0 if part == "A" else np.pi / 2
        return X, (np.cos(angle) * X[:, 0] + np.sin(angle) * X[:, 1] > 0).astype(int)
    if part == "B":
        X[:, :2] += 1.5
    return X, (X[:, 0] + X[:, 1] > (0.0 if part == "A" else 3.0)).astype(int)


def run(kind, seed, trials):
    settings = dict(time_budget=None, max_trials=trials, max_epochs=20, random_state=seed, search="random",
                    ensemble_size=1, validation_fraction=0.25)
    XA, yA = drifted(kind, "A", 1200, seed)
    XB, yB = drifted(kind, "B", 600, seed + 100)
    X_test, y_test = drifted(kind, "B", 2000, seed + 200)
    base = AutoNASClassifier(warm_start=True, **settings).fit(XA, yA)
    out = {"stale": (base.score(X_test, y_test), 0.0)}
    for way, epochs in (("partial_fit", None), ("partial_fit 30", 30)):
        model = copy.deepcopy(base)
        t = time.perf_counter()
        model.partial_fit(XB, yB, epochs=epochs)
        out[way] = (model.score(X_test, y_test), time.perf_counter() - t)
    model = copy.deepcopy(base)
    t = time.perf_counter()
    model.fit(XB, yB)
    out["warm_start"] = (model.score(X_test, y_test), time.perf_counter() - t)
    t = time.perf_counter()
    fresh = AutoNASClassifier(**settings).fit(XB, yB)
    out["new fit"] = (fresh.score(X_test, y_test), time.perf_counter() - t)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "drift.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = [f"# Drift: accuracy on B after 600 rows of B ({args.trials} trials, {args.repeats} seeds)", "",
             "Mean (min-max) held-out accuracy on B, and the seconds each way took on B's rows "
             "(`python benchmarks/bench_drift.py`).", "",
             "| drift | " + " | ".join(WAYS) + " |", "|---|" + "---|" * len(WAYS)]
    for kind in ("rotation", "shift"):
        runs = [run(kind, seed, args.trials) for seed in range(args.repeats)]
        cells = []
        for way in WAYS:
            acc = [r[way][0] for r in runs]
            sec = statistics.mean(r[way][1] for r in runs)
            cells.append(f"{statistics.mean(acc):.3f} ({min(acc):.3f}-{max(acc):.3f}), {sec:.1f} s")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
