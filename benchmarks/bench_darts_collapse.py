"""DARTS's collapse onto skip connections, and two cures: P-DARTS and DARTS+.

On ``load_digits`` (bundled with scikit-learn), each method searches the
dense cell space (``CellSpace(n_nodes=3, n_cells=2, width=16)``, its seven
default operations plus DARTS's "none") with the training part fixed to
the space's first portfolio entry, as a one-shot searcher does inside
``AutoNASClassifier``:

- ``darts short``: DARTS with ``--short-epochs`` supernet epochs;
- ``darts long``: DARTS with ``--epochs`` (the long search where the
  derived normal cell fills with skips);
- ``darts+``: DARTS with ``--epochs`` and DARTS+'s early stop
  (``early_stop_skips=2``);
- ``pdarts``: P-DARTS with ``--epochs`` over its three stages, default
  parameters (skip dropout, at most two skips in the derived cell);
- ``pdarts+darts+``: P-DARTS with ``early_stop_skips=2`` inside each stage.

Per seed, the data are split once into a training part (75 %) and a test
part (25 %), the training part again into the rows the searcher sees
(80 %: half for the weights, half for the architecture logits) and a
validation part (20 %). The table reports the supernet epochs run, the
search's wall time, the skip connections of the derived normal cell (of
its 6 operations), the operations with weights (``linear``, ``glu``), the
validation accuracy of the derived network with the supernet's weights
(the supernet row), and the test accuracy of the derived genotype retrained
from scratch on the training rows (``--max-epochs`` epochs, early stopping
on the validation part): the held-out score. For ``darts long`` the number
of skips of the cell derived at the start of every epoch is also printed.

Usage::

    python benchmarks/bench_darts_collapse.py                       # 3 seeds, about 10 min on one core
    python benchmarks/bench_darts_collapse.py --seeds 1 --epochs 10
    python benchmarks/bench_darts_collapse.py --out docs/benchmarks/darts_collapse.md

One torch thread; the times are wall-clock.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.search.oneshot.darts import DARTSSearch, count_skips
from sknas.search.oneshot.pdarts import PDARTSSearch
from sknas.space.cell import CellSpace
from sknas.space.joint import JointSpace
from sknas.space.training import TrainingSpace

WEIGHTED_OPS = ("linear", "glu")


class TracedDARTS(DARTSSearch):
    """DARTS that records the skips of the cell it would derive at the start of every epoch."""

    def _prepare_mode(self, supernet, epoch, epochs):
        self.trace_.append(count_skips(self._arch_space(), self._derive(self._alphas_of(supernet), capped=False)))
        super()._prepare_mode(supernet, epoch, epochs)


def methods(epochs, short_epochs):
    return {
        "darts short": lambda: TracedDARTS(epochs=short_epochs),
        "darts long": lambda: TracedDARTS(epochs=epochs),
        "darts+": lambda: TracedDARTS(epochs=epochs, early_stop_skips=2),
        "pdarts": lambda: PDARTSSearch(epochs=epochs),
        "pdarts+darts+": lambda: PDARTSSearch(epochs=epochs, early_stop_skips=2),
    }


def one_run(name, make, seed, X, y, width, max_epochs):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    X_fit, X_valid, y_fit, y_valid = train_test_split(X_train, y_train, test_size=0.2, random_state=seed,
                                                      stratify=y_train)
    fold = TrialData(X_fit, y_fit, X_valid, y_valid)
    arch = CellSpace(n_nodes=3, n_cells=2, width=width)
    space = JointSpace(arch, TrainingSpace("classification"))
    evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=max_epochs,
                          classes=np.unique(y), n_threads=1)
    searcher = make()
    searcher.trace_ = []
    searcher.setup(space, seed)
    searcher.set_data([fold], evaluator)
    start = time.perf_counter()
    (candidate,) = searcher.ask(1)
    search_time = time.perf_counter() - start
    (_, row, _), = searcher.pop_records()
    genotype = space.arch_genotype(candidate.genotype)
    ops = [op for _, op0, _, op1, _ in arch.cell_nodes(genotype) for op in (op0, op1)]
    result = evaluator.evaluate(candidate, fold, seed=seed)
    test = float((result.model.predict(X_test) == y_test).mean()) if result.status == "ok" else np.nan
    return {"method": name, "seed": seed, "epochs": row.n_epochs, "search_s": search_time,
            "skips": count_skips(arch, genotype), "weighted": sum(op in WEIGHTED_OPS for op in ops),
            "supernet_valid": row.score if row.status == "ok" else np.nan, "test": test,
            "trace": list(searcher.trace_), "cell": ", ".join(ops)}


def mean_sd(values, digits=3):
    values = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if not len(values):
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20, help="supernet epochs of the long searches")
    parser.add_argument("--short-epochs", type=int, default=5)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--max-epochs", type=int, default=30, help="epochs of the retraining from scratch")
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    X, y = load_digits(return_X_y=True)
    plan = methods(args.epochs, args.short_epochs)
    names = args.methods or list(plan)
    runs = []
    for name in names:
        for seed in range(args.seeds):
            r = one_run(name, plan[name], seed, X, y, args.width, args.max_epochs)
            runs.append(r)
            print(f"{name:>14} seed {seed}: epochs {r['epochs']:3d}  search {r['search_s']:6.1f}s  skips "
                  f"{r['skips']}/6  weighted {r['weighted']}/6  supernet valid {r['supernet_valid']:.3f}  "
                  f"test {r['test']:.3f}  [{r['cell']}]", flush=True)
            if r["trace"] and name == "darts long":
                print(f"{'':>14} skips of the derived cell at the start of each epoch: {r['trace']}", flush=True)

    lines = [
        "# DARTS's collapse onto skips, P-DARTS and DARTS+",
        "",
        (f"`load_digits`, dense `CellSpace(n_nodes=3, n_cells=2, width={args.width})` (7 operations + none), "
         f"{args.seeds} seed(s); long searches {args.epochs} supernet epochs, short {args.short_epochs}; "
         f"the derived genotype retrained from scratch for up to {args.max_epochs} epochs; one torch thread. "
         "Skips and weighted operations (linear, glu) are counted among the 6 operations of the derived normal "
         "cell; the supernet column is the derived network's validation accuracy with the supernet's weights; "
         "test is the retrained network's accuracy on the held-out quarter."),
        "",
        "| method | supernet epochs | search (s) | skips / 6 | weighted ops / 6 | supernet valid | test accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        rs = [r for r in runs if r["method"] == name]
        lines.append(
            f"| {name} | {np.mean([r['epochs'] for r in rs]):.1f} | {np.mean([r['search_s'] for r in rs]):.1f} | "
            f"{np.mean([r['skips'] for r in rs]):.2f} | {np.mean([r['weighted'] for r in rs]):.2f} | "
            f"{mean_sd([r['supernet_valid'] for r in rs])} | {mean_sd([r['test'] for r in rs])} |"
        )
    lines += ["", "Derived normal cells (operations of nodes 0, 1, 2):", ""]
    for r in runs:
        lines.append(f"- {r['method']}, seed {r['seed']}: {r['cell']}")
    traces = [r for r in runs if r["method"] == "darts long" and r["trace"]]
    if traces:
        lines += ["", "Skips of the cell plain DARTS would derive, at the start of each epoch of the long search:", ""]
        lines += [f"- seed {r['seed']}: {r['trace']}" for r in traces]
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
