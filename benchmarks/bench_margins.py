"""How much better than random search each black-box optimizer is on the tabulated benchmark.

The measurement behind the margins asserted by ``tests/search/test_mechanisms.py``:
each optimizer (as the tests configure it) runs ``--seeds`` seeds (seeds
``0 .. n-1``, the tests' seeds are a prefix of them) for ``--budget``
simulated seconds on :class:`sknas.benchmark.tabulated.TabularBenchmark`
(the ``load_digits`` table); the regret of the incumbent at the budget is
averaged, and the gain over random search (random's mean regret minus the
optimizer's) is given with its standard error and in standard errors. The
same for the regret at 5 and 10 simulated seconds, and for the mean regret of
the genotypes proposed in trials 1-10, 11-20, 21-30 and 31-40 (the statistics
the default run's checks use: a model's proposals gain several points where
its incumbent gains a few tenths, so few seeds show it).

Writes ``benchmarks/results/margins.md`` (rows are appended per call, so
that slow optimizers can be measured in separate calls) and prints the rows.
Random search is run first, over ``--seeds`` seeds or the seeds it already
has in ``--raw``, whichever is more.

Usage::

    nice -n 10 python benchmarks/bench_margins.py --seeds 300 --searchers evolution grid hyperband qlearning metanas
    nice -n 10 python benchmarks/bench_margins.py --seeds 100 --searchers pnas tpe reinforce bohb
    nice -n 10 python benchmarks/bench_margins.py --seeds 200 --searchers ppo
    nice -n 10 python benchmarks/bench_margins.py --seeds 60 --searchers smbo
    nice -n 10 python benchmarks/bench_margins.py --seeds 30 --searchers nao
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


WINDOWS = ((1, 10), (11, 20), (21, 30), (31, 40))  # trials (from 1) whose proposals are averaged


def run_seeds(bench, name, seeds, budget):
    """Per seed: the regret at 5 and 10 simulated seconds and at the budget, and the mean regret of the
    genotypes proposed in each window of :data:`WINDOWS` (NaN where a run had fewer trials)."""
    import torch

    torch.set_num_threads(1)
    times = [t for t in (5.0, 10.0) if t < budget] + [budget]
    start = time.process_time()
    at, proposals = [], []
    for seed in range(seeds):
        run = bench.simulate(make_searcher(name), budget_seconds=budget, seed=seed)
        at.append(regret_at(run, times))
        asked = np.array([bench.regret(g) for g in run["genotype"]])
        proposals.append([asked[a - 1:b].mean() if len(asked) >= b else np.nan for a, b in WINDOWS])
    return times, np.array(at), np.array(proposals), (time.process_time() - start) / seeds


def summary(ours, random):
    """Mean of ``ours``, its standard error, the gain over ``random`` (random's mean minus ours) and its SE."""
    ours, random = np.asarray(ours, dtype=float) * 100, np.asarray(random, dtype=float) * 100
    se_ours = ours.std(ddof=1) / np.sqrt(len(ours))
    se = np.hypot(se_ours, random.std(ddof=1) / np.sqrt(len(random)))
    return ours.mean(), se_ours, random.mean() - ours.mean(), se


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--searchers", nargs="+", required=True)
    parser.add_argument("--raw", default=str(OUT / "margins_raw.json"),
                        help="JSON file of the per-seed regrets (read and extended: random's are reused)")
    parser.add_argument("--md", default=str(OUT / "margins.md"), help="Markdown file the tables are appended to")
    args = parser.parse_args()
    bench = TabularBenchmark()
    raw_path = Path(args.raw)
    raw = json.loads(raw_path.read_text()) if raw_path.is_file() else {}
    key = f"budget={args.budget:g}"
    store = raw.setdefault(key, {})
    for name in ["random"] + [n for n in args.searchers if n != "random"]:
        if (name in store and len(store[name]["regret"]) >= args.seeds and "proposals" in store[name]
                and name not in args.searchers):
            continue
        # random search keeps at least the seeds it had (the first call's): every optimizer is compared with them
        n_seeds = max(args.seeds, len(store.get(name, {}).get("regret", ()))) if name == "random" else args.seeds
        times, at, proposals, cost = run_seeds(bench, name, n_seeds, args.budget)
        store[name] = {"regret": at[:, -1].tolist(), "cpu_s_per_run": cost,
                       "proposals": np.round(proposals, 6).tolist()}
        for t, column in zip(times[:-1], at.T):
            store[name][f"regret_{t:g}"] = column.tolist()
        raw_path.write_text(json.dumps(raw))
        print(f"{name}: {len(at)} seeds, {cost:.2f} CPU s per run", flush=True)
    random = store["random"]
    lines = [
        f"\n## Budget {args.budget:g} simulated seconds (`benchmarks/bench_margins.py --seeds {args.seeds} "
        f"--searchers {' '.join(args.searchers)}`)\n",
        "| optimizer | seeds | mean regret (points) | gain over random | gain / SE | CPU s per run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in args.searchers:
        mean, se_ours, gain, se = summary(store[name]["regret"], random["regret"])
        lines.append(f"| {name} | {len(store[name]['regret'])} | {mean:.3f} ± {se_ours:.3f} | "
                     f"{gain:+.3f} ± {se:.3f} | {gain / se:+.1f} | {store[name]['cpu_s_per_run']:.2f} |")
    earlier = [k for k in ("regret_5", "regret_10") if k in random]
    lines += [
        "",
        "Gain over random search (points ± SE, and in SE) at earlier times, and in the mean regret of the genotypes "
        "proposed in trials " + ", ".join(f"{a}-{b}" for a, b in WINDOWS) + " (every proposal counts, "
        "whatever its fidelity):",
        "",
        "| optimizer | " + " | ".join(f"at {k[7:]} s" for k in earlier)
        + "".join(f" | proposals {a}-{b}" for a, b in WINDOWS) + " |",
        "|---|" + "---:|" * (len(earlier) + len(WINDOWS)),
    ]
    for name in args.searchers:
        cells = []
        for k in earlier:
            _, _, gain, se = summary(store[name][k], random[k])
            cells.append(f"{gain:+.3f} ± {se:.3f} ({gain / se:+.1f})")
        ours, theirs = np.asarray(store[name]["proposals"]), np.asarray(random["proposals"])
        for w in range(len(WINDOWS)):
            o, r = ours[:, w][~np.isnan(ours[:, w])], theirs[:, w][~np.isnan(theirs[:, w])]
            if len(o) < 2:
                cells.append("–")
                continue
            _, _, gain, se = summary(o, r)
            cells.append(f"{gain:+.3f} ± {se:.3f} ({gain / se:+.1f})" + (f" n={len(o)}" if len(o) < len(ours) else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.md)
    if not out.is_file():
        out.write_text(
            "# Optimizers against random search on the tabulated benchmark\n\n"
            "Mean regret at the budget (accuracy points) over seeds 0 .. n-1, default parameters; random search "
            "over the same seeds. Made by `benchmarks/bench_margins.py`; the margins asserted in "
            "`tests/search/test_mechanisms.py` come from here.\n"
        )
    with out.open("a") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
