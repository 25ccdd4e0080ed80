"""``python -m sknas``: the command line (``demo`` for now)."""

from __future__ import annotations

import argparse
import sys
import time


def demo(args):
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from . import AutoNASClassifier
    from .results import leaderboard

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    print(f"sknas demo: breast_cancer, {X_train.shape[0]} training rows x {X_train.shape[1]} columns, "
          f"time_budget={args.time_budget}s, search={args.search!r}")
    start = time.time()
    clf = AutoNASClassifier(time_budget=args.time_budget, search=args.search, random_state=args.random_state,
                            verbose=args.verbose)
    clf.fit(X_train, y_train)
    elapsed = time.time() - start
    print()
    print(leaderboard(clf.search_results_, top=10))
    print()
    print(f"best genotype : {clf.best_genotype_}")
    print(f"validation    : {clf.best_score_:.4f} ({clf.n_trials_} trials, fit {elapsed:.1f}s, "
          f"{'refit on all data' if clf.refit_ else 'trial model kept'})")
    print(f"held-out test : accuracy {clf.score(X_test, y_test):.4f}")
    frame = pd.DataFrame(clf.search_results_)
    print(f"statuses      : {frame['status'].value_counts().to_dict()}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="sknas", description="AutoML with neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="search a network for load_breast_cancer and report it")
    p.add_argument("--time-budget", type=float, default=30.0)
    p.add_argument("--search", default="tpe")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1)
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
