"""Every optimizer of sknas on the tabulated benchmark: mean regret against simulated time and trials.

Each black-box searcher of :data:`sknas.search.base.SEARCHERS` (those that
train no weights of their own), with its default parameters, runs on
:class:`sknas.benchmark.tabulated.TabularBenchmark` (the 1,374 dense
networks of ``TabularBenchSpace`` trained on ``load_digits``) for
``--seeds`` seeds and ``--budget`` simulated seconds of training. A run's
regret is the gap between the table's best final test accuracy and the
final test accuracy of the run's incumbent (chosen by validation accuracy,
full-fidelity trials first, as sknas's runner does).

Writes ``docs/benchmarks/searchers.md`` (a markdown table: mean regret and
its standard error at a quarter, half and all of the budget, and at fixed
trial counts) and ``docs/benchmarks/searchers.png`` (mean regret against
simulated time and against trials, with bands of one standard error).

With ``--datasets`` (names of the shipped multi-dataset tables, see
``sknas.benchmark.tabulated.available_datasets``; ``all`` for every one but
digits), every optimizer runs on each table instead, ``--seeds`` seeds per
table, for a simulated budget of ``--budget-trainings`` times the table's
mean training time (the tables' costs differ, so the budget is counted in
average trainings). Each run's final regret is normalized per table by the
gap between the table's optimum and the median genotype's final test
score (0: the optimum was found; 1: no better than the median genotype),
and the optimizers are ranked on each table by mean regret. The section
"Across datasets" of ``docs/benchmarks/searchers.md`` is (re)written;
the digits section above it is kept, and a digits run keeps this section.

Usage::

    nice -n 10 python benchmarks/bench_searchers.py --n-jobs 2 --raw /tmp/runs.npz   # 200 seeds
    python benchmarks/bench_searchers.py --seeds 20 --searchers random evolution   # a quick look
    nice -n 10 python benchmarks/bench_searchers.py --datasets all --seeds 5 --raw /tmp/cross.npz

matplotlib is needed for the plot (``pip install matplotlib``); without it
only the table is written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from sknas.benchmark.tabulated import TabularBenchmark, available_datasets, regret_at
from sknas.search.base import SEARCHERS, make_searcher

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"
TRIAL_MARKS = (10, 25, 50, 100)
CROSS_MARK = "## Across datasets"


def black_box_searchers():
    """The registered searchers a table can answer: those that train no weights of their own."""
    return sorted(name for name in SEARCHERS if not getattr(make_searcher(name), "needs_data", False))


def one_run(bench, name, seed, budget, times, max_trials):
    import torch

    torch.set_num_threads(1)  # reinforce and nao train small torch models; one core per run
    start = time.process_time()
    run = bench.simulate(make_searcher(name), budget_seconds=budget, seed=seed)
    overhead = time.process_time() - start
    by_trial = np.full(max_trials, np.nan)
    n = min(max_trials, len(run["regret"]))
    by_trial[:n] = run["regret"][:n]
    found = run["regret"][-1] == 0.0
    return regret_at(run, times), by_trial, len(run["trial"]), found, overhead / len(run["trial"])


def save_raw(path, results, args):
    arrays = {f"{name}.{key}": value for name, r in results.items() for key, value in r.items()}
    np.savez_compressed(path, budget=args.budget, **arrays)


def load_raw(path, args):
    if not Path(path).is_file():
        return {}
    with np.load(path) as raw:
        if float(raw["budget"]) != args.budget:
            return {}
        results = {}
        for key in raw.files:
            if "." in key:
                name, column = key.split(".", 1)
                results.setdefault(name, {})[column] = raw[key]
    return results


def mean_se(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--seeds-of", nargs="*", action="extend", default=[], metavar="NAME=N",
                        help="another number of seeds for some optimizers (e.g. an expensive one)")
    parser.add_argument("--budget", type=float, default=15.0, help="simulated seconds of training per run")
    parser.add_argument("--searchers", nargs="*", default=black_box_searchers())
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--raw", type=Path, default=None,
                        help="an .npz of the runs' regrets: written after each optimizer, and optimizers "
                             "already in it (same seeds and budget) are not run again")
    parser.add_argument("--datasets", nargs="*", default=None,
                        help="shipped multi-dataset tables (or 'all'): the cross-dataset section instead")
    parser.add_argument("--budget-trainings", type=float, default=30.0,
                        help="with --datasets: simulated budget in mean trainings of each table")
    args = parser.parse_args(argv)
    if args.datasets is not None:
        return cross_main(args)

    bench = TabularBenchmark()
    times = np.linspace(0.0, args.budget, 121)
    max_trials = 400
    seeds_of = {name: int(n) for name, n in (item.split("=", 1) for item in args.seeds_of)}
    results = load_raw(args.raw, args) if args.raw is not None else {}
    for name in args.searchers:
        n_seeds = seeds_of.get(name, args.seeds)
        if name in results and len(results[name]["n_trials"]) == n_seeds:
            continue
        start = time.perf_counter()
        runs = Parallel(n_jobs=args.n_jobs)(
            delayed(one_run)(bench, name, seed, args.budget, times, max_trials) for seed in range(n_seeds)
        )
        by_time, by_trial, n_trials, found, overhead = (np.array(column) for column in zip(*runs))
        results[name] = {
            "by_time": by_time, "by_trial": by_trial, "n_trials": n_trials, "found": found, "overhead": overhead,
        }
        print(f"{name:10s} {n_seeds} seeds in {time.perf_counter() - start:.0f}s: "
              f"final regret {by_time[:, -1].mean():.4f}", flush=True)
        if args.raw is not None:
            save_raw(args.raw, results, args)
    results = {name: results[name] for name in args.searchers}

    args.out.mkdir(parents=True, exist_ok=True)
    write_section(args.out / "searchers.md", markdown(bench, results, args, times), cross=False)
    try:
        plot(results, times, args.out / "searchers.png", args)
    except ImportError:
        print("matplotlib is not installed: no plot written")


def write_section(path, text, cross):
    """Write the digits part (``cross=False``) or the cross-dataset section of ``path``, keeping the other."""
    old = path.read_text() if path.is_file() else ""
    head, _, tail = old.partition(CROSS_MARK)
    if cross:
        path.write_text((head.rstrip() + "\n\n" if head.strip() else "") + text.rstrip() + "\n")
    else:
        path.write_text(text.rstrip() + "\n" + ("\n" + CROSS_MARK + tail if tail else ""))


def cross_run(bench, name, seed, budget):
    import torch

    torch.set_num_threads(1)
    searcher = make_searcher(name)
    if name == "metanas":  # leave-one-dataset-out: the shipped prior was learned on these tables, this one included
        searcher.set_params(exclude=(bench.dataset,))
    start = time.process_time()
    run = bench.simulate(searcher, budget_seconds=budget, seed=seed)
    overhead = time.process_time() - start
    return float(run["regret"][-1]), len(run["trial"]), overhead / len(run["trial"])


def cross_main(args):
    datasets = [d for d in available_datasets() if d != "digits"] if args.datasets in ([], ["all"]) else args.datasets
    seeds_of = {name: int(n) for name, n in (item.split("=", 1) for item in args.seeds_of)}
    raw = {}
    if args.raw is not None and Path(args.raw).is_file():
        with np.load(args.raw) as f:
            raw = {key: f[key] for key in f.files}
    tables = {}
    for dataset in datasets:
        bench = TabularBenchmark(dataset=dataset)
        final = bench.final_test_score
        budget = args.budget_trainings * float(np.nanmean(bench._curves["train_time"][:, :, -1]))
        tables[dataset] = {"bench": bench, "budget": budget, "scale": max(bench.optimum - float(np.median(final)), 1e-12)}
        for name in args.searchers:
            key = f"{dataset}.{name}"
            n_seeds = seeds_of.get(name, args.seeds)
            if key in raw and len(raw[key]) == n_seeds:
                continue
            start = time.perf_counter()
            runs = Parallel(n_jobs=args.n_jobs)(
                delayed(cross_run)(bench, name, seed, budget) for seed in range(n_seeds)
            )
            raw[key] = np.array(runs)  # columns: regret, trials, overhead per trial
            print(f"{dataset:24s} {name:10s} {n_seeds} seeds in {time.perf_counter() - start:.0f}s: "
                  f"regret {raw[key][:, 0].mean():.4f}", flush=True)
            if args.raw is not None:
                np.savez_compressed(args.raw, **raw)
    args.out.mkdir(parents=True, exist_ok=True)
    write_section(args.out / "searchers.md", cross_markdown(tables, raw, args), cross=True)


def cross_markdown(tables, raw, args):
    """The cross-dataset section: per-table mean regrets, normalized regret and rank across tables."""
    names, datasets = args.searchers, list(tables)
    # mean normalized regret of each optimizer on each table, and its rank there (1: best; ties share)
    norm = np.array([[np.mean(raw[f"{d}.{n}"][:, 0]) / tables[d]["scale"] for d in datasets] for n in names])
    ranks = np.zeros_like(norm)
    for j in range(len(datasets)):
        order = norm[:, j]
        ranks[:, j] = [1 + np.sum(order < v) + 0.5 * (np.sum(order == v) - 1) for v in order]
    se = lambda a: a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else float("nan")  # noqa: E731
    seeds = sorted({len(raw[f"{d}.{n}"]) for d in datasets for n in names})
    lines = [
        CROSS_MARK,
        "",
        f"Generated by `benchmarks/bench_searchers.py --datasets {' '.join(datasets)} --seeds {args.seeds}"
        + "".join(f" --seeds-of {item}" for item in args.seeds_of)
        + f" --budget-trainings {args.budget_trainings:g}`: every black-box optimizer with its default "
        f"parameters on the {len(datasets)} multi-dataset tables (`TabularBenchmark(dataset=...)`, see "
        "the tabulated benchmark in the user guide), "
        f"{' or '.join(map(str, seeds))} seeds per table, each run with a simulated budget of "
        f"{args.budget_trainings:g} times the table's mean training time. The tables hold a sample of "
        "the default `mlp` space, and a searcher is answered by the nearest tabulated genotype "
        "(`TabulatedSpace`); `metanas` leaves the searched table out of its prior, which was learned on "
        "these tables (leave-one-dataset-out). A run's regret is the table's best final test score minus its incumbent's "
        "(accuracy for classification, R² for regression); to average over tables it is normalized by the "
        "table's optimum minus the median genotype's final test score (0: the optimum; 1: the median "
        "genotype). Rank: each optimizer's rank on each table by mean normalized regret (1 is best), "
        "averaged over the tables; ± is the standard error over tables.",
        "",
        "| optimizer | mean normalized regret | mean rank | tables won | trials in budget | overhead ms/trial |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    order = np.argsort(ranks.mean(axis=1))
    for i in order:
        n = names[i]
        trials = np.mean([raw[f"{d}.{n}"][:, 1].mean() for d in datasets])
        overhead = np.mean([raw[f"{d}.{n}"][:, 2].mean() for d in datasets])
        lines.append(
            f"| {n} | {norm[i].mean():.3f} ± {se(norm[i]):.3f} | {ranks[i].mean():.2f} ± {se(ranks[i]):.2f} | "
            f"{int(np.sum(ranks[i] == ranks.min(axis=0)))} | {trials:.0f} | {1000 * overhead:.1f} |"
        )
    lines += [
        "",
        "Mean regret ± standard error over seeds on each table (accuracy points for classification, "
        "R² points for regression, both ×100):",
        "",
        "| optimizer | " + " | ".join(f"{d} ({'clf' if tables[d]['bench'].task == 'classification' else 'reg'})" for d in datasets) + " |",
        "|---|" + "---:|" * len(datasets),
    ]
    for i in order:
        n = names[i]
        cells = []
        for d in datasets:
            r = raw[f"{d}.{n}"][:, 0]
            cells.append(f"{100 * r.mean():.2f} ± {100 * se(r):.2f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| table | task | genotypes | optimum | median | budget (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for d in datasets:
        b = tables[d]["bench"]
        lines.append(f"| {d} | {b.meta.get('task', b.task)} | {len(b)} | {b.optimum:.4f} | "
                     f"{float(np.median(b.final_test_score)):.4f} | {tables[d]['budget']:.1f} |")
    return "\n".join(lines) + "\n"


def markdown(bench, results, args, times):
    quarter, half = (int(np.argmin(np.abs(times - f * args.budget))) for f in (0.25, 0.5))
    valid_final = bench._curves["valid_accuracy"][:, :, -1].mean(axis=1)
    top_valid = np.argsort(-valid_final)[:10]
    lines = [
        "# Optimizers on the tabulated benchmark",
        "",
        f"Generated by `benchmarks/bench_searchers.py --budget {args.budget:g} --seeds {args.seeds}"
        + "".join(f" --seeds-of {item}" for item in args.seeds_of) + "`: "
        f"every black-box optimizer with its default parameters, {args.seeds} seeds each "
        "(unless the table says otherwise), on "
        f"`sknas.benchmark.tabulated.TabularBenchmark` ({len(bench)} dense networks of "
        f"`TabularBenchSpace` trained on scikit-learn's `load_digits`, {bench.max_epochs} epochs, "
        f"{bench.n_runs} runs averaged). Regret: the table's best final test accuracy "
        f"({bench.optimum:.4f}) minus the final test accuracy of the incumbent's genotype (the incumbent is "
        "chosen by validation accuracy, full-fidelity trials first). Time is simulated: each trial is "
        "charged the CPU seconds its training took when the table was made (a full training takes "
        f"{np.mean([bench.lookup(g)['train_time'] for g in bench.genotypes]):.2f} s on average). "
        "Selecting by validation has a floor: the network with the best validation accuracy has a regret of "
        f"{100 * bench.regret(bench.genotypes[int(np.argmax(valid_final))]):.2f} points, and the ten best "
        f"on validation {100 * np.mean([bench.regret(bench.genotypes[i]) for i in top_valid]):.2f} on average.",
        "",
        "Not here: " + ", ".join(f"`{name}`" for name in sorted(set(SEARCHERS) - set(black_box_searchers())))
        + " train weights of their own (a supernet, or parents whose weights children inherit), which a "
        "table of separately trained networks cannot stand in for.",
        "",
        "Mean regret ± standard error, in accuracy points (percent):",
        "",
        f"| optimizer | t = {times[quarter]:g} s | t = {times[half]:g} s | t = {args.budget:g} s | "
        + " | ".join(f"{k} trials" for k in TRIAL_MARKS)
        + " | trials in budget | optimum found | overhead ms/trial | seeds |",
        "|---|" + "---:|" * (3 + len(TRIAL_MARKS) + 4),
    ]

    def cell(values):
        mean, se = mean_se(values)
        if not np.isfinite(mean):
            return "–"
        n = np.isfinite(values).sum()
        suffix = "" if n == len(values) else f" (n={n})"
        return f"{100 * mean:.2f} ± {100 * se:.2f}{suffix}"

    for name, r in results.items():
        row = [name] + [cell(r["by_time"][:, i]) for i in (quarter, half, len(times) - 1)]
        row += [cell(r["by_trial"][:, k - 1]) for k in TRIAL_MARKS]
        row += [f"{np.mean(r['n_trials']):.0f}", f"{100 * np.mean(r['found']):.0f}%",
                f"{1000 * np.mean(r['overhead']):.1f}", str(len(r["n_trials"]))]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "A cell at a trial count averages the runs that reached it within the budget (n when not all did). "
        "The overhead is the searcher's own CPU time per trial (ask and tell), measured while the table "
        "answered the trials.",
        "",
        "![mean regret against simulated time and trials](searchers.png)",
        "",
        "The same in a few lines, for any searcher (a name or an instance):",
        "",
        "```python",
        "from sknas.benchmark.tabulated import TabularBenchmark, regret_at",
        "bench = TabularBenchmark()",
        f"run = bench.simulate(\"evolution\", budget_seconds={args.budget:g}, seed=0)",
        f"regret_at(run, [{args.budget:g}])  # the regret after the budget",
        "```",
        "",
        "## What the table says about low fidelities",
        "",
    ] + fidelity_notes(bench)
    return "\n".join(lines)


def fidelity_notes(bench):
    """Why Hyperband (and BOHB, which promotes the same way) levels off on this table."""
    valid = bench._curves["valid_accuracy"].mean(axis=1)
    final = valid[:, -1]

    def spearman(a, b):
        ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
        return float(np.corrcoef(ra, rb)[0, 1])

    top = np.argsort(-final)[:200]
    best_final, best_first = np.argsort(-final)[:50], np.argsort(-valid[:, 0])[:50]
    relu = [
        np.mean([bench.genotypes[i]["act_0"] == "relu" for i in rows]) for rows in (best_final, best_first)
    ]
    return [
        f"- Over all {len(bench)} networks the validation accuracy after 1 epoch ranks them much as after "
        f"{bench.max_epochs} (Spearman {spearman(valid[:, 0], final):.2f}; after 4 epochs "
        f"{spearman(valid[:, 3], final):.2f}), but among the 200 best it hardly does "
        f"(Spearman {spearman(valid[top, 0], final[top]):.2f}; after 4 epochs "
        f"{spearman(valid[top, 3], final[top]):.2f}).",
        f"- SELU networks learn faster in the first epochs and ReLU ones end higher: {100 * relu[0]:.0f}% of "
        f"the 50 best networks after {bench.max_epochs} epochs have a ReLU first block, against "
        f"{100 * relu[1]:.0f}% of the 50 best after 1 epoch; the two top-50 lists share "
        f"{len(set(best_final) & set(best_first))} networks.",
        "- So Hyperband's promotions out of its 1-epoch rung pick the fast starters, and its full-fidelity "
        "trials are mostly those: it gains early (many cheap trials weed out the poor networks) and then "
        "levels off, while random search and the single-fidelity optimizers keep improving. BOHB promotes "
        "the same way; its model, fitted on the full-fidelity results, adds what it gains over Hyperband.",
        "",
    ]


def plot(results, times, path, args):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_trial) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, r in results.items():
        # Plot a time once every run has an incumbent (before, the mean is undefined).
        known = np.all(np.isfinite(r["by_time"]), axis=0)
        mean = np.where(known, r["by_time"].mean(axis=0), np.nan)
        se = np.where(known, r["by_time"].std(axis=0, ddof=1), np.nan) / np.sqrt(len(r["by_time"]))
        style = {"color": "black", "linestyle": "--"} if name == "random" else {}
        line, = ax_time.plot(times, 100 * mean, label=name, **style)
        ax_time.fill_between(times, 100 * (mean - se), 100 * (mean + se), color=line.get_color(), alpha=0.2)
        # Trials: up to the count that every run reached, so each point averages all seeds.
        k = int(np.min(r["n_trials"]))
        trials = np.arange(1, min(k, r["by_trial"].shape[1]) + 1)
        values = r["by_trial"][:, : len(trials)]
        mean = values.mean(axis=0)
        se = values.std(axis=0, ddof=1) / np.sqrt(len(values))
        ax_trial.plot(trials, 100 * mean, label=name, color=line.get_color(), linestyle=line.get_linestyle())
        ax_trial.fill_between(trials, 100 * (mean - se), 100 * (mean + se), color=line.get_color(), alpha=0.2)
    for ax, xlabel in ((ax_time, "simulated training time (s)"), (ax_trial, "trials")):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean regret (test accuracy points)")
        ax.grid(True, which="both", alpha=0.3)
    ax_trial.set_xscale("log")
    ax_time.legend(fontsize=8)
    fig.suptitle(f"sknas optimizers on the tabulated benchmark (load_digits, {args.seeds} seeds, "
                 f"budget {args.budget:g} s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
