"""Per-epoch training time of an sknas trial versus a minimal hand-written torch loop.

Same network (a 3x256 ReLU MLP of the "mlp" space), same optimizer (AdamW,
lr 1e-3), same batch size (256), same data (10k x 50, binary), one torch
thread. The sknas side is the skorch net that trials use (slicing batch
iterator, callbacks, history), trained without validation data. Runs are
interleaved and repeated; the table reports medians and the ratio.

    python benchmarks/bench_overhead.py [--epochs 5] [--repeats 5]

Writes benchmarks/results/overhead.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sknas.evaluation.trainer import make_net
from sknas.space.genotype import Genotype
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace

N, D, BATCH = 10_000, 50, 256


def genotype():
    g = {"n_blocks": 3, "lr": 1e-3, "weight_decay": 1e-5, "batch_size": BATCH, "optimizer": "adamw",
         "lr_schedule": "constant", "label_smoothing": 0.0}
    for i in range(3):
        g.update({f"width_{i}": 256, f"act_{i}": "relu", f"norm_{i}": "none", f"dropout_{i}": 0.0})
        if i:
            g[f"skip_{i}"] = "none"
    return Genotype(g)


def sknas_epochs(space, X, y, epochs):
    net = make_net(space, genotype(), "classification", D, 2, classes=np.array([0, 1]), max_epochs=epochs,
                   n_train=N, valid_data=None)
    net.fit(X, y)
    return [row["dur"] for row in net.history]


def torch_epochs(space, X, y, epochs):
    model = space.build(genotype(), D, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-5)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    durations = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(N)
        Xs, ys = Xt[order], yt[order]
        for s in range(0, N, BATCH):
            opt.zero_grad()
            loss = loss_fn(model(Xs[s:s + BATCH]), ys[s:s + BATCH])
            loss.backward()
            opt.step()
            loss.item()  # the same one sync per batch that any loop reporting a loss pays
        durations.append(time.perf_counter() - start)
    return durations


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "overhead.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    space = JointSpace(MLPSpace(), TrainingSpace())
    ours, theirs = [], []
    for r in range(args.repeats):
        torch.manual_seed(r)
        ours += sknas_epochs(space, X, y, args.epochs)[1:]  # first epoch includes warm-up
        torch.manual_seed(r)
        theirs += torch_epochs(space, X, y, args.epochs)[1:]
    med_ours, med_theirs = statistics.median(ours), statistics.median(theirs)
    ratio = med_ours / med_theirs
    table = (
        f"| loop | median s/epoch | epochs timed |\n|---|---|---|\n"
        f"| sknas trial (skorch) | {med_ours:.4f} | {len(ours)} |\n"
        f"| hand-written torch | {med_theirs:.4f} | {len(theirs)} |\n\n"
        f"ratio sknas / torch: **{ratio:.3f}** (target <= 1.3); data {N}x{D}, batch {BATCH}, "
        f"3x256 ReLU MLP, AdamW, 1 torch thread\n"
    )
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("# Training-loop overhead\n\n`python benchmarks/bench_overhead.py`\n\n" + table)


if __name__ == "__main__":
    main()
