"""Seeded one-shot searches: a hash of each search's trial rows, to compare code versions.

Runs every one-shot searcher (3 trials after the space's portfolio) (and the morphism searcher, which shares their
inherited-weights scoring) through the public estimators with a fixed seed on
small problems, and prints one line per configuration: a hash of the trial
genotypes, statuses and scores (rounded to 12 digits), plus the scores. Two code
versions that score networks the same way print the same hashes.

    PYTHONPATH=. python benchmarks/check_oneshot_seeded.py
"""

import hashlib
import json
import sys
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.search.base import make_searcher

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

X, y = load_breast_cancer(return_X_y=True)
rows = np.random.default_rng(0).permutation(len(y))[:240]
Xc, yc = X[rows], y[rows]
Xr, yr = load_diabetes(return_X_y=True)
Xr, yr = Xr[:200], yr[:200]

CONFIGS = [
    ("darts", {}, "clf", {}),
    ("gdas", {}, "clf", {}),
    ("enas", {}, "clf", {}),
    ("proxyless", {}, "clf", {}),
    ("ofa", {}, "clf", {}),
    ("pdarts", {}, "clf", {}),
    ("darts", {"one_stage": True}, "clf", {}),
    ("darts", {}, "reg", {}),
    ("ofa", {}, "reg", {}),
    ("darts", {"one_stage": True}, "clf", {"pruning": True}),
    ("morphism", {}, "clf", {}),
    ("morphism", {}, "reg", {}),
]


def run(name, params, task, extra):
    searcher = make_searcher(name)
    small = {"epochs": 4} if "epochs" in searcher.get_params() else {}
    searcher.set_params(**{**small, **params})
    cls, (Xd, yd) = (AutoNASClassifier, (Xc, yc)) if task == "clf" else (AutoNASRegressor, (Xr, yr))
    n_portfolio = len(cls()._build_space(Xd).portfolio())  # the runner runs the portfolio before asking
    est = cls(search=searcher, max_trials=n_portfolio + 3, max_epochs=6, time_budget=600, random_state=0, n_jobs=1,
              **extra)
    est.fit(Xd, yd)
    table = dict(est.search_results_)
    skip = {"fit_time", "error", "latency_ms", "latency_batch_ms", "trial"}
    columns = {k: v for k, v in table.items() if k not in skip}
    scores = [None if s is None or s != s else round(float(s), 10) for s in table["score"]]
    columns["score"] = scores
    columns["learning_curve"] = [[round(float(v), 10) for v in c] for c in table["learning_curve"]]
    out = est.predict_proba(Xd) if task == "clf" else est.predict(Xd)
    columns["prediction"] = np.round(np.asarray(out, dtype=float), 8).tolist()
    digest = hashlib.sha256(json.dumps(columns, sort_keys=True, default=str).encode()).hexdigest()[:16]
    out = [r for r in zip(table["source"], table["status"], scores) if r[0] != "portfolio"]
    return digest, out


if __name__ == "__main__":
    only = sys.argv[1:]
    for name, params, task, extra in CONFIGS:
        label = f"{name}{params or ''}-{task}{extra or ''}"
        if only and name not in only:
            continue
        digest, rows = run(name, params, task, extra)
        print(f"{label:45s} {digest} {rows}", flush=True)
