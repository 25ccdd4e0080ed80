"""Fit wall time and peak memory at growing data sizes, for a fixed time budget.

Each size runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``) is its own. Reports the input array size, peak memory as a
multiple of it, the fit wall time against the budget, the trial data
fraction used (low fidelity), and the test accuracy.

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--cols 100] [--time-budget 120]

Writes benchmarks/results/scale.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, resource, sys, time, warnings
    import numpy as np
    warnings.filterwarnings("ignore")
    n, d, budget = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    from sknas import AutoNASClassifier
    import torch
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (X @ w + 0.5 * np.sin(3 * X[:, 0]) + 0.3 * rng.normal(size=n) > 0).astype(int)
    X_test = rng.normal(size=(20000, d))
    y_test = (X_test @ w + 0.5 * np.sin(3 * X_test[:, 0]) > 0).astype(int)
    start = time.time()
    clf = AutoNASClassifier(time_budget=budget, random_state=0).fit(X, y)
    wall = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": n, "cols": d, "budget": budget, "wall": wall, "input_mb": X.nbytes / 2**20,
                      "peak_mb": peak / 1024, "base_mb": base / 1024, "network_mb": sum(p.numel() * 4 for p in clf.best_estimator_[-1].module_.parameters()) / 2**20, "trials": clf.n_trials_,
                      "data_fraction": clf.data_fraction_, "refit": bool(clf.refit_),
                      "test_accuracy": float(clf.score(X_test, y_test))}))
""")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--cols", type=int, default=100)
    parser.add_argument("--time-budget", type=float, default=120.0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scale.md"))
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(args.cols), str(args.time_budget)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    lines = ["| rows | input MB | fit wall s (budget) | over budget | peak MB | (peak - base) / input | trials | "
             "trial data fraction | refit | test acc |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['rows']:,} | {r['input_mb']:.0f} | {r['wall']:.1f} ({r['budget']:g}) | "
            f"{100 * (r['wall'] / r['budget'] - 1):+.1f}% | {r['peak_mb']:.0f} | "
            f"{(r['peak_mb'] - r['base_mb']) / r['input_mb']:.2f} | {r['trials']} | {r['data_fraction']:.3f} | {r['refit']} | "
            f"{r['test_accuracy']:.4f} |"
        )
    text = (f"# Scale\n\n`python benchmarks/bench_scale.py --sizes {' '.join(map(str, args.sizes))} --cols "
            f"{args.cols} --time-budget {args.time_budget:g}`\n\nPeak memory is the process's maximum resident "
            f"set (Python, torch and the data included); base is the resident set after importing sknas and torch and "
            f"before the data is made, so (peak - base) / input counts the input itself, the test set (20,000 rows), "
            f"every copy the fit makes and the networks.\n\n" + "\n".join(lines) + "\n")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
