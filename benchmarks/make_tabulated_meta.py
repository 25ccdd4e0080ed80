"""Tabulate sampled genotypes of the default ``"mlp"`` space on real tables (LCBench-style).

For each dataset of ``--datasets`` (names of ``../shared/meta``, see its
README), the table is prepared once: at most ``--max-rows`` rows drawn at
random (stratified for classification, ``random_state=0``), split 60/20/20
into training, validation and test parts (stratified when every class has
enough rows), and preprocessed by the default pipeline of sknas's search
(``PipelineSpace(task).portfolio()[0]``: ``TableCleaner``, then
``TabularPreprocessor`` with quantile scaling and one-hot encoding, fitted
on the training part). Class labels are the sorted distinct target values;
regression targets are floats.

The genotypes are those of ``sknas.benchmark.tabulated.meta_genotypes``:
the entries of the default space's portfolio first (the shipped
meta-portfolio and the hand-picked ones), then genotypes drawn from the
default joint space (``JointSpace(MLPSpace(), TrainingSpace())``,
architecture and training choices) with ``--genotype-seed``. Each is trained
``--runs`` times (torch seeds 0, 1, ...) for ``--epochs`` epochs with its
own training hyperparameters (``train_curves``), recording after every
epoch the validation and test score (accuracy, or R^2) and loss and the
cumulative CPU seconds of training.

The loop runs genotype by genotype over all the datasets of one call, so
that a run stopped early (``--stop-at``, or killed) leaves the same prefix of
genotypes on every dataset; the tables are saved every ``--save-every``
genotypes and a new call with the same arguments resumes them.

Usage::

    nice -n 10 python benchmarks/make_tabulated_meta.py --datasets vote92 gunnels --out sknas/data
    python benchmarks/make_tabulated_meta.py --datasets vote92 --n-genotypes 5 --out /tmp/t  # a quick look
"""

from __future__ import annotations

import argparse
import datetime
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
from sknas.benchmark.tabulated import SCORE_CURVES, meta_genotypes, meta_space, prepare_meta_dataset, train_curves
from sknas.space.genotype import Genotype

ROOT = Path(__file__).resolve().parents[1]
META = ROOT.parent / "shared" / "meta"


def _stored_genotypes(path):
    with np.load(path, allow_pickle=False) as npz:
        return [str(t) for t in npz["genotypes"]], json.loads(str(npz["meta"]))


def extended_genotypes(stored, n, seed):
    """``stored`` (JSON texts, kept in their order) then draws of :func:`meta_genotypes` not among them, up to ``n``.

    For ``--extend``: tables sampled before a change of the space's draws keep
    their rows; the new rows are the current draws (the portfolio's entries
    first), skipping any genotype already stored.
    """
    out = [Genotype.from_json(t) for t in stored]
    seen = {_canonical(g) for g in out}  # the same genotype may have been written with its keys in another order
    want = n
    while len(out) < n:
        for g in meta_genotypes(want, seed=seed):
            if _canonical(g) not in seen:
                seen.add(_canonical(g))
                out.append(g)
                if len(out) == n:
                    break
        want *= 2
    return out


def _canonical(genotype):
    return json.dumps(dict(genotype), sort_keys=True)


def _load_existing(path, genotypes, runs, epochs):
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as npz:
        stored = [str(t) for t in npz["genotypes"]]
        meta = json.loads(str(npz["meta"]))
        if stored != [g.to_json() for g in genotypes[: len(stored)]] or meta["seeds"] != list(range(runs)) \
                or meta["epochs"] != list(range(1, epochs + 1)):
            raise SystemExit(f"{path} was made with other genotypes, seeds or epochs; remove it or change --out.")
        return {name: npz[name] for name in (*SCORE_CURVES, "n_params")}, meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "sknas" / "data")
    parser.add_argument("--n-genotypes", type=int, default=500, help="genotypes in all (portfolio entries included)")
    parser.add_argument("--genotype-seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-rows", type=int, default=1000)
    parser.add_argument("--save-every", type=int, default=10)
    parser.add_argument("--stop-at", default=None, help="UTC time HH:MM after which no new genotype is started")
    parser.add_argument("--extend", action="store_true",
                        help="keep the rows of existing tables (made with earlier draws of the space) and append "
                             "current draws not among them, up to --n-genotypes")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(META))
    from load import load  # noqa: E402  (the benchmark-only loader of ../shared/meta)

    torch.set_num_threads(1)
    genotypes = meta_genotypes(args.n_genotypes, seed=args.genotype_seed)
    kept = None
    if args.extend:
        stored = {name: _stored_genotypes(args.out / f"tabnas_{name}.npz") for name in args.datasets
                  if (args.out / f"tabnas_{name}.npz").is_file()}
        prefixes = {tuple(rows) for rows, _ in stored.values()}
        if len(prefixes) > 1:
            raise SystemExit("--extend: the existing tables hold different genotypes; extend them one by one.")
        if prefixes:
            rows, old_meta = next(iter(stored.values()))
            kept = (len(rows), old_meta.get("genotypes", ""), old_meta.get("genotypes_note", ""))
            genotypes = extended_genotypes(rows, args.n_genotypes, args.genotype_seed)
    seeds = list(range(args.runs))
    stop_at = None
    if args.stop_at:
        hh, mm = (int(v) for v in args.stop_at.split(":"))
        now = datetime.datetime.now(datetime.timezone.utc)
        stop_at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)

    tables = {}
    for name in args.datasets:
        X, y, kind = load(name)
        data, info = prepare_meta_dataset(X, y, kind, max_rows=args.max_rows)
        task = "regression" if kind == "regression" else "classification"
        shape = (len(genotypes), len(seeds), args.epochs)
        curves = {c: np.full(shape, np.nan, dtype=np.float32) for c in SCORE_CURVES}
        n_params = np.zeros(len(genotypes), dtype=np.int64)
        path = args.out / f"tabnas_{name}.npz"
        done, seconds = 0, 0.0
        existing = _load_existing(path, genotypes, args.runs, args.epochs)
        if existing is not None:
            arrays, old = existing
            done, seconds = old["n_genotypes"], old["generation_seconds"]
            for c in SCORE_CURVES:
                curves[c][:done] = arrays[c][:done]
            n_params[:done] = arrays["n_params"][:done]
        tables[name] = dict(data=data, info=info, kind=kind, task=task, curves=curves, n_params=n_params,
                            path=path, done=done, seconds=seconds, space=meta_space(task), failures=0)
        print(f"{name}: {kind}, {info['n_features_out']} features, split {info['split']}, resuming at {done}",
              flush=True)

    def save(table):
        done = table["done"]
        meta = {
            "name": f"tabnas-{table['path'].stem[len('tabnas_'):]}",
            "space": "sknas.benchmark.tabulated.meta_space(task): JointSpace(MLPSpace(), TrainingSpace(task))",
            "dataset": table["info"]["dataset"] if "dataset" in table["info"] else table["path"].stem,
            "task": table["kind"],
            "score": "accuracy" if table["task"] == "classification" else "r2",
            "loss": "log loss" if table["task"] == "classification" else "MSE of the target standardized on train",
            "preprocessing": table["info"],
            "training": {"trainer": "sknas.evaluation.trainer.make_net", "hyperparameters": "the genotype's own",
                         "early_stopping": False, "torch_threads": 1},
            "genotypes": (f"sknas.benchmark.tabulated.meta_genotypes(n, seed={args.genotype_seed}), first {done}"
                          if kept is None else
                          f"rows 0-{kept[0] - 1}: {kept[1]}" + (f" ({kept[2]})" if kept[2] else "")
                          + f"; rows {kept[0]}-{done - 1}: "
                          f"make_tabulated_meta.py --extend, draws of meta_genotypes(n, seed={args.genotype_seed}) "
                          f"of sknas {sknas.__version__} not among the earlier rows"),
            "genotype_seed": args.genotype_seed,
            "n_genotypes": done,
            "failures": table["failures"],
            "epochs": list(range(1, args.epochs + 1)),
            "seeds": seeds,
            "train_time": "cumulative CPU seconds of the training thread (time.thread_time), scoring excluded",
            "generation_seconds": round(table["seconds"], 1),
            "versions": {
                "sknas": sknas.__version__, "torch": torch.__version__, "skorch": skorch.__version__,
                "sklearn": sklearn.__version__, "numpy": np.__version__, "python": platform.python_version(),
            },
            "machine": platform.processor() or platform.machine(),
        }
        curves16 = {c: v[:done].astype(np.float32 if c == "train_time" else np.float16)
                    for c, v in table["curves"].items()}
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = table["path"].with_suffix(".tmp.npz")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, genotypes=np.array([g.to_json() for g in genotypes[:done]]),
                                n_params=table["n_params"][:done], meta=np.array(json.dumps(meta)), **curves16)
        tmp.replace(table["path"])

    start = time.perf_counter()
    first = min(t["done"] for t in tables.values())
    for g_index in range(first, len(genotypes)):
        if stop_at is not None and datetime.datetime.now(datetime.timezone.utc) >= stop_at:
            print(f"stopping at {g_index} genotypes (--stop-at {args.stop_at})", flush=True)
            break
        genotype = genotypes[g_index]
        for table in tables.values():
            if table["done"] > g_index:
                continue
            t0 = time.perf_counter()
            g = table["space"].validate({k: v for k, v in genotype.items()
                                         if k in {p.name for p in table["space"].params}})
            for r, seed in enumerate(seeds):
                try:
                    record = train_curves(table["space"], g, table["data"], task=table["task"],
                                          epochs=args.epochs, seed=seed, classes=table["info"].get("classes"))
                except Exception as exc:  # a failing genotype is recorded as failed (NaN scores), never fatal
                    table["failures"] += 1
                    print(f"  {table['path'].stem} genotype {g_index} seed {seed} failed: {exc!r}", flush=True)
                    continue
                for c in SCORE_CURVES:
                    table["curves"][c][g_index, r] = record[c]
                table["n_params"][g_index] = record["n_params"]
            table["seconds"] += time.perf_counter() - t0
            table["done"] = g_index + 1
        if (g_index + 1) % args.save_every == 0 or g_index + 1 == len(genotypes):
            for table in tables.values():
                save(table)
            print(f"{g_index + 1}/{len(genotypes)} genotypes, {time.perf_counter() - start:.0f}s", flush=True)
    for table in tables.values():
        save(table)
        size = table["path"].stat().st_size / 1e6
        print(f"wrote {table['path']} ({size:.2f} MB, {table['done']} genotypes, {table['seconds']:.0f}s)",
              file=sys.stderr)


if __name__ == "__main__":
    main()
