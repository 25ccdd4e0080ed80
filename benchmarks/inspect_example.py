"""Worked examples of sknas.inspect on real searches.

``--example decisions`` (default): a random search (``search="random"``:
fANOVA reads a surrogate best where the trials cover the space evenly) on
the digits data, ``--budget`` seconds, at most 10 epochs per trial; then
:func:`sknas.inspect.decision_importance` and the
:func:`sknas.inspect.marginal` of the most important decision. Writes
``benchmarks/results/decision_importance.md``.

``--example why``: "why this model" on a real table with named columns,
``gestation_birth_weight`` (1236 births, 21 columns, the target is the
birth weight; from ``../shared/meta``): a random search of ``--budget``
seconds on 75 % of the rows, then the three views of :mod:`sknas.inspect`:
decision importance of the search's trials (fANOVA), the leave-one-out
ablation of the winner against the space's default (retrained on the
search's own split, ``--ablation-budget`` seconds), the greedy ablation
path from the default to the winner (``--path-budget`` seconds), and the permutation
importance of the input columns on the held-out 25 %, with the columns the
cleaning step removed. Writes ``benchmarks/results/why_this_model.md``.

    python benchmarks/inspect_example.py [--example decisions] [--budget 240]
    python benchmarks/inspect_example.py --example why [--budget 300] [--ablation-budget 400] [--path-budget 600]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.inspect import ablation, decision_importance, feature_importance, marginal

META = Path(__file__).resolve().parents[1] / ".." / "shared" / "meta"


def _value(v):
    return v if isinstance(v, str) else f"{v:.3g}" if isinstance(v, float) else str(v)


def decisions(args):
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
    lines += [f"| {_value(v)} | {m:.3f} | {s:.3f} |" for v, m, s in zip(curve["value"], curve["mean"], curve["std"])]
    return "\n".join(lines) + "\n", "decision_importance.md"


def why(args):
    sys.path.insert(0, str(META.resolve()))
    from load import load

    X, y, _ = load("gestation_birth_weight")
    X_train, X_test, y_train, y_test = train_test_split(X, y.to_numpy(dtype=float), test_size=0.25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = AutoNASRegressor(time_budget=args.budget, search="random", max_epochs=10, ensemble_size=1,
                               random_state=0).fit(X_train, y_train)
        test_r2 = reg.score(X_test, y_test)
        t0 = time.perf_counter()
        importance = decision_importance(reg)
        t1 = time.perf_counter()
        table = ablation(reg, X_train, y_train, time_budget=args.ablation_budget, random_state=0)
        t2 = time.perf_counter()
        path = ablation(reg, X_train, y_train, method="path", time_budget=args.path_budget, random_state=0) \
            if args.path_budget > 0 else None
        t_path = time.perf_counter()
        t2b = time.perf_counter()
        features = feature_importance(reg, X_test, y_test, n_repeats=5, random_state=0)
        t3 = time.perf_counter()
    cmd = (f"python benchmarks/inspect_example.py --example why --budget {args.budget:g} "
           f"--ablation-budget {args.ablation_budget:g} --path-budget {args.path_budget:g}")
    lines = [f"Why this model, on a real table: `{cmd}`", "",
             f"gestation_birth_weight (1236 births, 21 columns; target: birth weight in ounces), 927 rows to "
             f"search on, 309 held out. Random search: {reg.n_trials_} trials, best validation R^2 "
             f"{reg.best_score_:.3f}; held-out R^2 {test_r2:.3f}.", "",
             f"Decision importance (fANOVA over {importance.attrs['n_trials']} trials, {t1 - t0:.1f} s; "
             f"interactions {importance.attrs['interactions']:.3f}):", "",
             "| decision | importance | std over trees |", "|---|---|---|"]
    lines += [f"| {r.decision} | {r.importance:.3f} | {r.std:.3f} |" for r in importance.head(8).itertuples()]
    lines += ["", f"Leave-one-out ablation of the winner against the space's default ({t2 - t1:.0f} s, "
              f"{table.attrs['n_evaluations']} trainings; winner retrained: R^2 {table.attrs['winner_score']:.3f} "
              f"on the search's validation split; not measured: {len(table.attrs['not_measured'])}):", "",
              "| decision | winner | default | ablated R^2 | contribution | status | also changed |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.decision} | {_value(r.winner_value)} | {_value(r.default_value)} | {r.score:.3f} | "
              f"{r.contribution:+.3f} | {r.status} | {', '.join(r.also_changed) or '-'} |"
              for r in table.itertuples()]
    if path is not None:
        lines += ["", f"Ablation path from the default to the winner ({t_path - t2:.0f} s, "
                  f"{path.attrs['n_evaluations']} trainings; default R^2 {path.attrs['default_score']:.3f}, winner "
                  f"{path.attrs['winner_score']:.3f}; not measured: {len(path.attrs['not_measured'])}):", "",
                  "| step | decision | winner | default | R^2 after the step | contribution | status |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {'-' if r.step is None or r.step != r.step else int(r.step)} | {r.decision} | "
                  f"{_value(r.winner_value)} | {_value(r.default_value)} | {r.score:.3f} | {r.contribution:+.3f} | "
                  f"{r.status} |" for r in path.itertuples()]
    lines += ["", f"Permutation importance on the 309 held-out rows ({t3 - t2b:.0f} s, 5 repeats; "
              f"baseline R^2 {features.attrs['baseline_score']:.3f}):", "",
              "| column | importance | std | status |", "|---|---|---|---|"]
    lines += [f"| {r.feature} | {r.importance:.3f} | {r.std:.3f} | {r.status}{': ' + r.reason if r.reason else ''} |"
              for r in features.itertuples()]
    return "\n".join(lines) + "\n", "why_this_model.md"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", choices=("decisions", "why"), default="decisions")
    parser.add_argument("--budget", type=float, default=None, help="search seconds (240 for decisions, 300 for why)")
    parser.add_argument("--ablation-budget", type=float, default=400.0)
    parser.add_argument("--path-budget", type=float, default=600.0, help="seconds for the ablation path (0: skip)")
    args = parser.parse_args()
    if args.budget is None:
        args.budget = 240.0 if args.example == "decisions" else 300.0
    torch.set_num_threads(1)
    text, name = (decisions if args.example == "decisions" else why)(args)
    print(text)
    out = Path(__file__).parent / "results" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
