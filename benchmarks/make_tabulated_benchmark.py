"""Regenerate the tabulated NAS benchmark shipped with sknas (``sknas/data/tabnas_digits.npz``).

Every genotype of :class:`sknas.benchmark.tabulated.TabularBenchSpace` is
trained ``--runs`` times (torch seeds ``seed``, ``seed + 1``, ...) with
sknas's skorch trainer and fixed training settings (AdamW, learning rate
1e-3 constant, batch size 128, ``--epochs`` epochs, no early stopping, one
torch thread), on scikit-learn's ``load_digits`` split 50/25/25 (stratified,
``random_state=seed``) into training, validation and test parts,
standardized on the training part. After every epoch the validation and
test accuracy and loss and the cumulative training time (CPU seconds of the
training thread) are recorded.

Usage::

    nice -n 10 python benchmarks/make_tabulated_benchmark.py            # the shipped table
    python benchmarks/make_tabulated_benchmark.py --limit 20 --out /tmp/t.npz  # a quick look

The run takes about 15 minutes of one core for 2 runs of 12 epochs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch

import sknas
from sknas.benchmark.tabulated import (
    CURVES, DEFAULT_TABLE, TabularBenchSpace, digits_split, enumerate_genotypes, train_learning_curve,
)

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "sknas" / "data" / DEFAULT_TABLE)
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of the first training run")
    parser.add_argument("--runs", type=int, default=2, help="training runs (seeds) per genotype")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--limit", type=int, default=None, help="only the first LIMIT genotypes (a quick look)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    space = TabularBenchSpace()
    genotypes = enumerate_genotypes(space)
    if args.limit is not None:
        genotypes = genotypes[: args.limit]
    data = digits_split(args.seed)
    classes = np.unique(data["y_train"])
    seeds = [args.seed + r for r in range(args.runs)]
    shape = (len(genotypes), len(seeds), args.epochs)
    curves = {name: np.zeros(shape, dtype=np.float32) for name in CURVES}
    n_params = np.zeros(len(genotypes), dtype=np.int64)

    start = time.perf_counter()
    for g_index, genotype in enumerate(genotypes):
        for r, seed in enumerate(seeds):
            record = train_learning_curve(space, genotype, data, epochs=args.epochs, seed=seed, classes=classes)
            for name in CURVES:
                curves[name][g_index, r] = record[name]
            n_params[g_index] = record["n_params"]
        if (g_index + 1) % 50 == 0 or g_index + 1 == len(genotypes):
            elapsed = time.perf_counter() - start
            print(f"{g_index + 1}/{len(genotypes)} genotypes, {elapsed:.0f}s", flush=True)
    elapsed = time.perf_counter() - start

    meta = {
        "name": "tabnas-digits",
        "space": "sknas.benchmark.tabulated.TabularBenchSpace",
        "dataset": "sklearn.datasets.load_digits",
        "split": {
            "train": len(data["y_train"]), "valid": len(data["y_valid"]), "test": len(data["y_test"]),
            "method": "stratified 50/25/25 train_test_split, StandardScaler fitted on train",
            "random_state": args.seed,
        },
        "training": {
            "trainer": "sknas.evaluation.trainer.make_net", "optimizer": "adamw", "lr": 1e-3,
            "lr_schedule": "constant", "weight_decay": 0.0, "batch_size": 128, "early_stopping": False,
            "torch_threads": 1,
        },
        "epochs": list(range(1, args.epochs + 1)),
        "seeds": seeds,
        "train_time": "cumulative CPU seconds of the training thread (time.thread_time), scoring excluded",
        "generation_seconds": round(elapsed, 1),
        "versions": {
            "sknas": sknas.__version__, "torch": torch.__version__, "skorch": skorch.__version__,
            "sklearn": sklearn.__version__, "numpy": np.__version__, "python": platform.python_version(),
        },
        "machine": platform.processor() or platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:
        np.savez_compressed(
            f, genotypes=np.array([g.to_json() for g in genotypes]), n_params=n_params,
            meta=np.array(json.dumps(meta)), **curves,
        )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {elapsed:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
