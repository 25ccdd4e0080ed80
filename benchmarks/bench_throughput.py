"""Trials per minute of the default search, and where its time goes, before and after a change.

For every dataset (bundled ones and real tables of ``../shared/meta``, 300 to
30,000 rows) the default ``AutoNASClassifier`` / ``AutoNASRegressor`` runs at
``--time-budget`` seconds on a 75/25 split (``random_state=0``), once per
configuration:

- ``before``: the sknas checkout given by ``--before`` (e.g. a ``git worktree``
  of the commit to compare against);
- ``after``: this checkout;
- ``batched``: this checkout with the folds of cross-validated trials trained
  together (``sknas.evaluation.trainer.BATCHED_FOLDS = True``).

The configurations of one dataset run at the same time, one process each
(one torch thread each), so that they share the machine's load; compare
them only side by side. Each process is sampled by ``py-spy`` (when it is
installed: ``pip install py-spy``) to split its wall time into the optimizer
step, the forward and backward passes, batch iteration, per-epoch
validation, scoring, preprocessing, net set-up, the post-search phases and
the rest (runner, searcher), counting only samples inside ``fit``.

Reported per dataset and configuration: trials, trials per minute of search,
epochs per second per trained network (epochs x folds over the trials'
training time), the held-out test score, and the time shares.

    python benchmarks/bench_throughput.py --before ../wt-base --time-budget 60

Writes ``benchmarks/results/<name>.md`` and ``<name>.csv`` (``--name``, default ``throughput``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
META = ROOT.parent / "shared" / "meta"

BUNDLED = ("breast_cancer", "wine", "diabetes")
META_DATASETS = (
    "pima_diabetes", "penguins", "boston_housing", "breast_biopsy", "galton_height", "titanic",
    "gapminder_life_exp", "math_placement", "hiv_result_pickup", "london_exam", "dropout_wages",
    "ten_mile_race", "spain_food_share",
)

#: (share name, substrings of a sampled stack that put the sample there), first match wins; only
#: samples inside the estimator's ``fit`` count (not the imports or the data loading of the process)
SHARES = (
    ("post-search", ("refit_best", "build_ensemble", "full_fidelity_best")),  # sknas.runner.post.PostSearch
    ("scoring", ("_score_fold", "sklearn/metrics/_scorer.py", "plain_loss (")),
    ("preprocessing", ("._preprocess (sknas", "fit_transform_bounded", "transform_bounded", "resample_training")),
    ("backward", ("Tensor.backward (torch/_tensor.py",)),
    ("forward", ("train_step_single", "_train_group", "_stacked_forward")),
    ("optimizer step", ("optim/adam.py", "optim/adamw.py", "optim/radam.py", "optim/nadam.py",
                        "optim/optimizer.py")),
    ("validation", ("validation_step",)),
    ("batch iteration", ("TensorBatchIterator.__iter__", "prep/augment.py")),
    ("net set-up", ("NeuralNet.initialize", "make_net (", "_probe (")),
    ("other training", ("fit_loop", "fit_members", "partial_fit")),
)
IN_FIT = "(sknas/estimators.py:"


def load_dataset(name):
    """``X, y, task`` of a bundled scikit-learn dataset or a table of ``../shared/meta``."""
    if name in BUNDLED:
        from sklearn import datasets
        loader = getattr(datasets, f"load_{name}")
        X, y = loader(return_X_y=True, as_frame=True)
        return X, y, "regression" if name == "diabetes" else "classification"
    sys.path.insert(0, str(META))
    from load import load
    X, y, task = load(name)
    return X, y, "regression" if task == "regression" else "classification"


def worker(args):
    """Run one search and print one JSON line (the process the parent samples)."""
    import numpy as np
    import torch
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(1)
    import sknas
    from sknas import AutoNASClassifier, AutoNASRegressor
    if args.config == "batched":
        import sknas.evaluation.trainer as trainer
        trainer.BATCHED_FOLDS = True
    X, y, task = load_dataset(args.dataset)
    if task == "classification":
        y = y.astype(str)
    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=stratify)
    cls = AutoNASClassifier if task == "classification" else AutoNASRegressor
    model = cls(time_budget=args.time_budget, random_state=0)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    wall = time.perf_counter() - start
    res = model.search_results_
    ok = [i for i, s in enumerate(res["status"]) if s in ("ok", "pruned")]
    fit_time = float(sum(res["fit_time"]))
    member_epochs = float(sum(res["n_epochs"][i] * (res["n_folds"][i] or 1) for i in ok))
    search = model.time_spent_["search"] if hasattr(model, "time_spent_") else wall
    modes = Counter(str(m) for m in res.get("train_mode", [])) if "train_mode" in res else {}
    print(json.dumps({
        "dataset": args.dataset, "config": args.config, "rows": int(len(X_train)), "task": task,
        "trials": len(res["status"]), "ok": len(ok), "search_s": float(search), "wall_s": wall,
        "trials_per_min": 60.0 * len(res["status"]) / max(search, 1e-9),
        "epochs_per_s": member_epochs / max(fit_time, 1e-9),
        "n_folds": int(max(res["n_folds"]) if res["n_folds"] else 1),
        "test_score": float(model.score(X_test, y_test)), "train_modes": dict(modes),
        "sknas": os.path.dirname(sknas.__file__),
    }), flush=True)


def shares(raw_path):
    """Fractions of py-spy samples per share (see ``SHARES``) from a ``--format raw`` file."""
    counts = Counter()
    path = Path(raw_path)
    if not path.exists():
        return {}
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit() or IN_FIT not in stack:
            continue
        name = next((share for share, keys in SHARES if any(k in stack for k in keys)), "runner, searcher, other")
        counts[name] += int(n)
    total = sum(counts.values()) or 1
    return {name: counts[name] / total for name, _ in SHARES + (("runner, searcher, other", ()),)}


def run_pair(dataset, configs, args, tmp):
    """Start one process per configuration of ``dataset`` at once; returns their records."""
    procs = []
    py_spy = shutil.which("py-spy")
    for config in configs:
        path = ROOT if config != "before" else Path(args.before).resolve()
        env = dict(os.environ, PYTHONPATH=str(path))
        cmd = [sys.executable, str(HERE / "bench_throughput.py"), "--worker", "--config", config,
               "--dataset", dataset, "--time-budget", str(args.time_budget)]
        raw = Path(tmp) / f"{dataset}-{config}.txt"
        if py_spy:
            cmd = [py_spy, "record", "--nonblocking", "-r", "50", "--format", "raw", "-o", str(raw), "--"] + cmd
        procs.append((config, raw, subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                                                     stderr=subprocess.PIPE, text=True)))
    records = []
    for config, raw, proc in procs:
        out, err = proc.communicate()
        line = next((ln for ln in out.splitlines() if ln.startswith("{")), None)
        if line is None:
            print(f"{dataset} {config} failed:\n{err[-2000:]}", file=sys.stderr)
            continue
        record = json.loads(line)
        record.update({f"share {k}": v for k, v in shares(raw).items()})
        records.append(record)
        print(f"{dataset:20s} {config:8s} rows {record['rows']:6d} trials {record['trials']:3d} "
              f"trials/min {record['trials_per_min']:6.2f} epochs/s {record['epochs_per_s']:7.1f} "
              f"test {record['test_score']:.4f}", flush=True)
    return records


def report(records, configs, args, command):
    import pandas as pd

    df = pd.DataFrame(records)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    df.to_csv(out / f"{args.name}.csv", index=False)
    base = configs[0]
    rows = []
    for dataset, part in df.groupby("dataset", sort=False):
        row = {"dataset": dataset, "rows": int(part["rows"].iloc[0]), "cv folds": int(part["n_folds"].max())}
        by = part.set_index("config")
        for config in configs:
            if config in by.index:
                row[f"trials/min {config}"] = by.loc[config, "trials_per_min"]
                row[f"epochs/s {config}"] = by.loc[config, "epochs_per_s"]
                row[f"test {config}"] = by.loc[config, "test_score"]
        for config in configs[1:]:
            if config in by.index and base in by.index:
                row[f"x trials {config}"] = by.loc[config, "trials_per_min"] / by.loc[base, "trials_per_min"]
        rows.append(row)
    table = pd.DataFrame(rows)
    share_cols = [c for c in df.columns if c.startswith("share ")]
    shares_table = df.groupby("config")[share_cols].mean().T if share_cols else None
    lines = [
        "# Throughput of the default search", "",
        f"`{command}`", "",
        f"Default estimator, `time_budget={args.time_budget}`, 75/25 split (`random_state=0`), one torch thread "
        f"per process, the configurations of a dataset run side by side ({len(configs)} processes on a 2-core "
        "machine shared with other work: compare within a row only). `trials/min`: trials per minute of search "
        "time; `epochs/s`: training epochs per second per trained network (epochs x folds over the trials' "
        "training time); `cv folds` > 1: trials are scored by k-fold cross-validation (below 1,000 rows).", "",
        table.to_markdown(index=False, floatfmt=".3g"), "",
    ]
    for kind, mask in (("with cross-validation", table["cv folds"] > 1), ("holdout", table["cv folds"] <= 1)):
        for config in configs[1:]:
            col = f"x trials {config}"
            if col in table and mask.any():
                import numpy as np
                ratio = float(np.exp(np.log(table.loc[mask, col]).mean()))
                lines.append(f"- {kind}: `{config}` runs {ratio:.2f}x the trials per minute of `{base}` "
                             f"(geometric mean over {int(mask.sum())} datasets)")
    if shares_table is not None:
        lines += ["", "## Where the wall time goes (py-spy samples, mean share over datasets)", "",
                  shares_table.rename(index=lambda c: c[len("share "):]).to_markdown(floatfmt=".3f")]
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="path of the sknas checkout to compare against")
    parser.add_argument("--configs", default="before,after", help="comma-separated: before, after, batched")
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--datasets", default=",".join(BUNDLED + META_DATASETS))
    parser.add_argument("--name", default="throughput", help="file name of the results (without suffix)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    configs = args.configs.split(",")
    if "before" in configs and not args.before:
        parser.error("--before PATH is needed for the 'before' configuration")
    command = "python benchmarks/bench_throughput.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            records += run_pair(dataset, configs, args, tmp)
    report(records, configs, args, command)


if __name__ == "__main__":
    main()
