"""The reinforcement-learning searchers on the tabulated benchmark: ppo and qlearning next to reinforce and random.

Each searcher, at its default parameters, runs ``TabularBenchmark().simulate``
(the shipped digits table: 1,374 dense networks trained once) on a simulated
clock, over many seeds. The table reports the mean regret of the incumbent
(test accuracy of the best network there is, minus that of the network the
search picked on validation accuracy) after a few simulated budgets, +- its
standard error over seeds, and the mean regret difference to random search.
Ablations: qlearning without experience replay (``replay_size=0``) and ppo
without the clip (``clip=1e6``: several plain policy-gradient steps per batch),
and qlearning at a learning rate of 0.1 instead of MetaQNN's 0.01.

Usage::

    PYTHONPATH=. python benchmarks/bench_rl.py   # 200 seeds (50 for the torch controllers): ~15 min of one core
    PYTHONPATH=. python benchmarks/bench_rl.py --seeds 10 --torch-seeds 5  # a quick look

Prints the table and writes it to ``docs/benchmarks/rl.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sknas.benchmark.tabulated import TabularBenchmark, regret_at
from sknas.search.ppo import PPOSearch
from sknas.search.qlearning import QLearningSearch
from sknas.search.random import RandomSearch
from sknas.search.reinforce import ReinforceSearch

BUDGETS = (10.0, 20.0, 40.0)  # simulated seconds of training: about 40, 80 and 160 trainings of the mean network

# name -> (factory, whether it trains a torch controller: those cost about 3 s of one core a run, and get fewer seeds)
SEARCHERS = {
    "random": (RandomSearch, False),
    "reinforce": (ReinforceSearch, True),
    "ppo": (PPOSearch, True),
    "ppo (no clip)": (lambda: PPOSearch(clip=1e6), True),
    "qlearning": (QLearningSearch, False),
    "qlearning (no replay)": (lambda: QLearningSearch(replay_size=0), False),
    "qlearning (learning_rate=0.1)": (lambda: QLearningSearch(learning_rate=0.1), False),
}


def regrets(bench, make, seeds):
    """``(n_seeds, len(BUDGETS))`` regrets, and the mean number of trials run within the largest budget."""
    out, trials = [], []
    for seed in range(seeds):
        run = bench.simulate(make(), budget_seconds=max(BUDGETS), seed=seed)
        out.append(regret_at(run, BUDGETS))
        trials.append(len(run["trial"]))
    return np.array(out), float(np.mean(trials))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds of random search and qlearning")
    parser.add_argument("--torch-seeds", type=int, default=50, help="seeds of reinforce and ppo")
    parser.add_argument("--only", nargs="+", choices=list(SEARCHERS), help="run these searchers only")
    parser.add_argument("--cache", default=None,
                        help="folder keeping each searcher's regrets: a run skips searchers already there "
                             "(with the same seeds), so several processes can share the work")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "rl.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    bench = TabularBenchmark()
    results, trials, seconds = {}, {}, {}
    cache = Path(args.cache) if args.cache else None
    for name, (make, uses_torch) in SEARCHERS.items():
        seeds = args.torch_seeds if uses_torch else args.seeds
        path = None if cache is None else cache / f"{name.replace(' ', '_')}-{seeds}.npz"
        if path is not None and path.exists():
            saved = np.load(path)
            results[name], trials[name] = saved["regrets"], float(saved["trials"])
            seconds[name] = float(saved["seconds"])
            continue
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        results[name], trials[name] = regrets(bench, make, seeds)
        seconds[name] = (time.perf_counter() - start) / len(results[name])
        print(f"{name}: {seconds[name]:.2f} s a run", file=sys.stderr, flush=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, regrets=results[name], trials=trials[name], seconds=seconds[name])
    if "random" not in results:
        print("random search was not run (see --only and --cache): no table.", file=sys.stderr)
        return

    se = {name: r.std(axis=0, ddof=1) / np.sqrt(len(r)) for name, r in results.items()}
    head = " | ".join(f"regret @ {b:g} s" for b in BUDGETS)
    lines = [
        "# Reinforcement-learning searchers on the tabulated benchmark",
        "",
        f"`TabularBenchmark().simulate` on the shipped digits table (1,374 networks, optimum test accuracy "
        f"{bench.optimum:.4f}), default parameters unless named. Regret: the optimum's "
        "test accuracy minus that of the incumbent (picked on validation accuracy), in accuracy points x 100, "
        "mean +- standard error over seeds, after 10, 20 and 40 simulated seconds of training "
        "(about 40, 80 and 160 trainings). \"vs random\": random's mean regret minus the searcher's at 20 s "
        "(positive: better than random), +- the standard error of the difference.",
        "",
        f"Command: `PYTHONPATH=. python benchmarks/bench_rl.py --seeds {args.seeds} --torch-seeds {args.torch_seeds}` "
        "(wall seconds per run on a shared machine: indicative only).",
        "",
        f"| searcher | seeds | {head} | vs random @ 20 s | trials @ 40 s | wall s / run |",
        "|---|" + "---|" * (len(BUDGETS) + 4),
    ]
    k = BUDGETS.index(20.0)
    for name in [n for n in SEARCHERS if n in results]:
        r = results[name]
        cells = " | ".join(f"{100 * m:.2f} ± {100 * s:.2f}" for m, s in zip(r.mean(axis=0), se[name]))
        gain = results["random"][:, k].mean() - r[:, k].mean()
        gain_se = np.hypot(se["random"][k], se[name][k])
        versus = "–" if name == "random" else f"{100 * gain:+.2f} ± {100 * gain_se:.2f}"
        lines.append(f"| {name} | {len(r)} | {cells} | {versus} | {trials[name]:.0f} | {seconds[name]:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
