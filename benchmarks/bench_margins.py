"""How much better than random search each black-box optimizer is on the tabulated benchmark.

The measurement behind the margins asserted by ``tests/search/test_mechanisms.py``:
each optimizer (as the tests configure it) runs ``--seeds`` seeds (seeds
``0 .. n-1``, the tests' seeds are a prefix of them) for ``--budget``
simulated seconds on :class:`sknas.benchmark.tabulated.TabularBenchmark`
(the ``load_digits`` table); the regret of the incumbent at the budget is
averaged, and the gain over random search (random's mean regret minus the
optimizer's) is given with its standard error and in standard errors.

Writes ``benchmarks/results/margins.md`` (rows are appended per call, so
that slow optimizers can be measured in separate calls) and prints the rows.

Usage::

    nice -n 10 python benchmarks/bench_margins.py --seeds 300 --searchers random evolution grid hyperband
    nice -n 10 python benchmarks/bench_margins.py --seeds 100 --searchers pnas tpe reinforce bohb
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sknas.benchmark.tabulated import TabularBenchmark, regret_at
from sknas.search.base import make_searcher

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"


def run_seeds(bench, name, seeds, budget):
    import torch

    torch.set_num_threads(1)
    start = time.process_time()
    regrets = np.array([
        regret_at(bench.simulate(make_searcher(name), budget_seconds=budget, seed=seed), [budget])[0]
        for seed in range(seeds)
    ])
    return regrets, (time.process_time() - start) / seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--searchers", nargs="+", required=True)
    parser.add_argument("--raw", default=str(OUT / "margins_raw.json"),
                        help="JSON file of the per-seed regrets (read and extended: random's are reused)")
    args = parser.parse_args()
    bench = TabularBenchmark()
    raw_path = Path(args.raw)
    raw = json.loads(raw_path.read_text()) if raw_path.is_file() else {}
    key = f"budget={args.budget:g}"
    store = raw.setdefault(key, {})
    for name in ["random"] + [n for n in args.searchers if n != "random"]:
        if name in store and len(store[name]["regret"]) >= args.seeds and name not in args.searchers:
            continue
        regrets, cost = run_seeds(bench, name, args.seeds, args.budget)
        store[name] = {"regret": regrets.tolist(), "cpu_s_per_run": cost}
        raw_path.write_text(json.dumps(raw))
        print(f"{name}: {len(regrets)} seeds, {cost:.2f} CPU s per run", flush=True)
    random = np.asarray(store["random"]["regret"]) * 100
    lines = [
        f"\n## Budget {args.budget:g} simulated seconds (`benchmarks/bench_margins.py --seeds {args.seeds} "
        f"--searchers {' '.join(args.searchers)}`)\n",
        "| optimizer | seeds | mean regret (points) | gain over random | gain / SE | CPU s per run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.searchers:
        ours = np.asarray(store[name]["regret"]) * 100
        se_ours = ours.std(ddof=1) / np.sqrt(len(ours))
        gain = random.mean() - ours.mean()
        se = np.hypot(se_ours, random.std(ddof=1) / np.sqrt(len(random)))
        lines.append(f"| {name} | {len(ours)} | {ours.mean():.3f} ± {se_ours:.3f} | {gain:+.3f} ± {se:.3f} | "
                     f"{gain / se:+.1f} | {store[name]['cpu_s_per_run']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = OUT / "margins.md"
    if not out.is_file():
        out.write_text(
            "# Optimizers against random search on the tabulated benchmark\n\n"
            "Mean regret at the budget (accuracy points) over seeds 0 .. n-1, default parameters; random search "
            f"over the same seeds. Made by `benchmarks/bench_margins.py`; the margins asserted in "
            "`tests/search/test_mechanisms.py` come from here.\n"
        )
    with out.open("a") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
