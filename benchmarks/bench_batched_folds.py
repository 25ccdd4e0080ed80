"""Batched folds against folds trained one by one, over network widths, batch sizes and dropout.

k = 5 fold networks (two dense blocks of ``width`` units, ReLU) on 340 rows x 30
features each, 10 epochs (no early stopping), one torch thread: the time of
training them one after the other with skorch (as a cross-validated trial does
by default) and together with :func:`sknas.evaluation.batched.fit_members`.
Runs are interleaved and repeated; the table gives medians and the speed-up.

    python benchmarks/bench_batched_folds.py [--repeats 3]

Writes ``benchmarks/results/batched_folds.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sknas.evaluation.batched import fit_members
from sknas.evaluation.trainer import make_net
from sknas.space.genotype import Genotype
from sknas.space.mlp import MLPSpace, chain_blocks

K, N, D = 5, 340, 30


def genotype(width, batch_size, dropout):
    return Genotype({**chain_blocks(2, width, act="relu", dropout=dropout), "lr": 1e-3, "weight_decay": 1e-5,
                     "batch_size": batch_size, "optimizer": "adamw", "lr_schedule": "constant",
                     "label_smoothing": 0.0, "feature_scale": False, "embedding": "none", "ensemble_k": 1})


def nets(space, g, valid):
    out = []
    for k in range(K):
        torch.manual_seed(k)
        out.append(make_net(space, g, "classification", D, 2, classes=np.array([0, 1]), max_epochs=10,
                            n_train=N, valid_data=valid[k], patience=1000))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = MLPSpace()
    rng = np.random.default_rng(0)
    data = [(rng.normal(size=(N, D)).astype("float32"), rng.integers(0, 2, N)) for _ in range(K)]
    valid = [(rng.normal(size=(86, D)).astype("float32"), rng.integers(0, 2, 86)) for _ in range(K)]
    rows = []
    for width in (32, 128, 512):
        for batch_size in (32, 128):
            for dropout in (0.0, 0.15):
                g = genotype(width, batch_size, dropout)
                sequential, batched = [], []
                for _ in range(args.repeats):
                    members = nets(space, g, valid)
                    start = time.perf_counter()
                    for net, (X, y) in zip(members, data):
                        net.fit(X, y)
                    sequential.append(time.perf_counter() - start)
                    members = nets(space, g, valid)
                    start = time.perf_counter()
                    for net in members:
                        net.initialize()
                    fit_members(members, [(X, net.prepare_target(y)) for net, (X, y) in zip(members, data)])
                    batched.append(time.perf_counter() - start)
                s, b = statistics.median(sequential), statistics.median(batched)
                rows.append((width, batch_size, dropout, s, b, s / b))
                print(f"width {width:4d} batch {batch_size:4d} dropout {dropout}: sequential {s:.3f} s, "
                      f"batched {b:.3f} s, speed-up {s / b:.2f}x", flush=True)
    lines = ["# Batched folds against sequential folds", "",
             f"`python benchmarks/bench_batched_folds.py --repeats {args.repeats}`", "",
             f"{K} fold networks (2 dense blocks, ReLU) on {N} x {D} rows each, 10 epochs, one torch thread; "
             "medians of interleaved runs on a shared 2-core machine.", "",
             "| width | batch | dropout | sequential s | batched s | speed-up |", "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {w} | {bs} | {d} | {s:.3f} | {b:.3f} | {r:.2f}x |" for w, bs, d, s, b, r in rows]
    out = Path(__file__).resolve().parent / "results" / "batched_folds.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
