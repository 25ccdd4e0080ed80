"""Size constraints that steer the search: the constrained search against the unconstrained one.

Issue bar (breast cancer, 75/25 split, ``time_budget=20``): under
``constraints={"params": 2000}`` the search scores within 0.02 of the
unconstrained search's test accuracy; the same is reported for
``params <= 500`` and a FLOPs limit. Each constrained setting runs twice:
with the repair of proposals before training (today's runner: a proposal over
a ``params``/``flops`` limit is shrunk to fit, see
``sknas.runner.Runner._within_limits``), and without it (the runner before
this change: such a proposal is a failed trial, rejected when its network is
built), so the table shows what the repair buys.

Every fit runs in its own subprocess, one after the other (one torch thread),
with the seeds ``0..--seeds-1`` (the split and the estimator's
``random_state``); the columns are the mean (and standard deviation) over
seeds of the test accuracy, of the trials run, of the failed trials, of the
repaired ones, and of the parameter count of the network that predicts.

    python benchmarks/bench_constraints.py [--seeds 3] [--budget 20] [--out benchmarks/results/constraints.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = [
    ("unconstrained", None, True),
    ("params <= 2000", {"params": 2000}, True),
    ("params <= 2000, no repair", {"params": 2000}, False),
    ("params <= 500", {"params": 500}, True),
    ("params <= 500, no repair", {"params": 500}, False),
    ("flops <= 4000", {"flops": 4000}, True),
    ("flops <= 4000, no repair", {"flops": 4000}, False),
]

_FIT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import torch
torch.set_num_threads(1)
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sknas import AutoNASClassifier
from sknas.nn.builders import count_parameters
from sknas.evaluation.ensembles import leaves
seed, budget, constraints, repair = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "1"
if not repair:  # the runner before the repair: proposals over a limit fail when their network is built
    from sknas.runner import Runner
    Runner._within_limits = lambda self, candidate: candidate
X, y = load_breast_cancer(return_X_y=True)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed, stratify=y)
start = time.time()
out = {}
try:
    clf = AutoNASClassifier(time_budget=budget, random_state=seed, constraints=constraints).fit(X_tr, y_tr)
except ValueError as exc:
    out = {"error": str(exc)[:200]}
else:
    res = clf.search_results_
    models = leaves(clf.ensemble_) if clf.ensemble_ is not None else [clf.best_estimator_]
    ok = [i for i, s in enumerate(res["status"]) if s == "ok"]
    out = {"accuracy": clf.score(X_te, y_te), "trials": len(res["status"]),
           "failed": sum(s == "failed" for s in res["status"]), "repaired": sum(bool(r) for r in res["repaired"]),
           "params": sum(count_parameters(m[-1].module_) for m in models),
           "first_ok_trial": ok[0] if ok else None}
out["fit_time"] = time.time() - start
print(json.dumps(out))
"""


def run(seed, budget, constraints, repair):
    proc = subprocess.run([sys.executable, "-c", _FIT, str(seed), str(budget), json.dumps(constraints),
                           "1" if repair else "0"], capture_output=True, text=True, cwd=ROOT, timeout=10 * budget + 120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (proc.stderr or "no output")[-300:]}
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--settings", default=None, help="comma-separated indices into SETTINGS (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "constraints.md")
    args = parser.parse_args(argv)
    chosen = SETTINGS if args.settings is None else [SETTINGS[int(i)] for i in args.settings.split(",")]
    rows = {name: [] for name, _, _ in chosen}
    started = time.time()
    # seeds outermost, settings interleaved: a busy spell of the machine hits every setting alike
    for seed in range(args.seeds):
        for name, constraints, repair in chosen:
            record = run(seed, args.budget, constraints, repair)
            rows[name].append(record)
            print(f"seed {seed} {name:28s} {json.dumps(record)}", flush=True)

    def stat(records, key, fmt="{:.3f}"):
        values = [r[key] for r in records if r.get(key) is not None]
        if not values:
            return "-"
        return (fmt + " ± " + fmt).format(np.mean(values), np.std(values)) if len(values) > 1 else fmt.format(values[0])

    reference = np.mean([r["accuracy"] for r in rows.get("unconstrained", []) if "accuracy" in r] or [np.nan])
    lines = [
        f"# Constraints that steer the search (breast cancer, 75/25, time_budget={args.budget:g} s, "
        f"{args.seeds} seeds)",
        "",
        f"`python benchmarks/bench_constraints.py --seeds {args.seeds} --budget {args.budget:g}` "
        f"({time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s). Mean ± std over seeds; "
        "'no repair' is the runner without the repair of proposals (a proposal over a limit fails when "
        "its network is built).",
        "",
        "| setting | test accuracy | Δ vs unconstrained | fits that failed | trials | failed trials | "
        "repaired trials | params of the model that predicts | first successful trial |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, _, _ in chosen:
        records = rows[name]
        accs = [r["accuracy"] for r in records if "accuracy" in r]
        delta = f"{np.mean(accs) - reference:+.3f}" if accs and np.isfinite(reference) else "-"
        lines.append(
            f"| {name} | {stat(records, 'accuracy')} | {delta} | {sum('error' in r for r in records)}/{len(records)} "
            f"| {stat(records, 'trials', '{:.1f}')} | {stat(records, 'failed', '{:.1f}')} "
            f"| {stat(records, 'repaired', '{:.1f}')} | {stat(records, 'params', '{:.0f}')} "
            f"| {stat(records, 'first_ok_trial', '{:.1f}')} |")
    errors = sorted({r["error"] for records in rows.values() for r in records if "error" in r})
    if errors:
        lines += ["", "Errors:", ""] + [f"- {e}" for e in errors]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
