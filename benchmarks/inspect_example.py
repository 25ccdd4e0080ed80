"""Worked example of sknas.inspect: which decisions of a real search explain its trial scores.

A random search (``search="random"``: fANOVA reads a surrogate best where the
trials cover the space evenly) on the digits data, ``time_budget`` seconds,
at most 10 epochs per trial; then :func:`sknas.inspect.decision_importance`
and the :func:`sknas.inspect.marginal` of the most important decision.

    python benchmarks/inspect_example.py [--budget 240]

Writes ``benchmarks/results/decision_importance.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import torch
from sklearn.datasets import load_digits

from sknas import AutoNASClassifier
from sknas.inspect import decision_importance, marginal


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=240.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = AutoNASClassifier(time_budget=args.budget, search="random", max_epochs=10, ensemble_size=1,
                                random_state=0).fit(X, y)
    start = time.perf_counter()
    importance = decision_importance(clf)
    seconds = time.perf_counter() - start
    top = importance["decision"].iloc[0]
    curve = marginal(clf, top, n_points=6)
    lines = [f"Decision importance of a real search: `python benchmarks/inspect_example.py --budget {args.budget:g}`",
             "", f"Digits (1797 rows, 64 columns), random search, {clf.n_trials_} trials, "
             f"{importance.attrs['n_trials']} at full fidelity; best validation accuracy {clf.best_score_:.3f}. "
             f"decision_importance took {seconds:.1f} s. Share left to interactions: "
             f"{importance.attrs['interactions']:.3f}.", "",
             "| decision | importance | std over trees | kind |", "|---|---|---|---|"]
    lines += [f"| {r.decision} | {r.importance:.3f} | {r.std:.3f} | {r.kind} |" for r in importance.head(10).itertuples()]
    lines += ["", f"Marginal of `{top}` (predicted validation accuracy, every other decision averaged out):", "",
              f"| {top} | mean | std over trees |", "|---|---|---|"]
    lines += [f"| {v if isinstance(v, str) else f'{v:.3g}'} | {m:.3f} | {s:.3f} |"
              for v, m, s in zip(curve["value"], curve["mean"], curve["std"])]
    table = "\n".join(lines) + "\n"
    print(table)
    out = Path(__file__).parent / "results" / "decision_importance.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table)


if __name__ == "__main__":
    main()
