"""Held-out quality on real tables (``../shared/meta``), raw frames as a user has them.

Each table is split 75/25 (stratified for classification, ``random_state``
= the split number); every model is fit on the training part as it comes
(strings, missing values, constant columns) and scored on the test part:
accuracy (classification) or R^2 (regression), and log loss for
classifiers. Models, each on one core:

- ``sknas``: the defaults at ``--time-budget`` (``ensemble_size="auto"``:
  bags of fold models and a Caruana ensemble);
- ``sknas single``: ``ensemble_size=1`` (the single best trial: its bag
  under 1,000 rows, the refit winner above);
- ``sknas before``: the defaults of another checkout (``--before PATH``,
  e.g. a ``git worktree`` of an earlier commit), for a before/after table;
- ``sknas bag3``: 3-fold bags whatever the number of rows (the default
  scores trials on a holdout share from 1,000 rows on and refits the
  winner): the bag-or-refit question on the larger tables;
- ``HistGradientBoosting`` (categorical columns as categories), and, when
  installed, ``LightGBM`` and ``CatBoost`` defaults;
- ``MLP``: sklearn's MLP after imputation, scaling and one-hot encoding;
- optional extras, skipped when they do not import: ``AutoGluon``
  (``pip install "autogluon.tabular[lightgbm,catboost,xgboost,fastai]"
  torch==2.13.0``; ``TabularPredictor`` defaults, ``time_limit`` =
  ``--time-budget``, ``num_cpus=1``), ``RealMLP-TD`` and ``TabM-D``
  (``pip install pytabkit torch==2.13.0``; pytabkit's tuned defaults on one
  thread, categorical columns as categories, missing numbers replaced by
  the training median, which pytabkit requires). Each is fit in a
  subprocess of the Python given by ``--python MODEL=PATH`` (e.g. a
  separate virtual environment: AutoGluon pins its own versions).

sknas fits run in a subprocess each (the checkout on its ``PYTHONPATH``), so
two of them side by side (``--n-jobs 2``) each get one core, as the
baselines do (``OMP_NUM_THREADS=1``, ``n_jobs=1``).

Mean rank is over every (table, split), 1 = best; failed fits rank last.
Tables are described by kind: small (< 1,000 rows, cross-validated by sknas)
or large, numeric or mixed (string columns), binary, multiclass or
regression.

    python benchmarks/bench_quality_real.py --time-budget 60 --splits 1 --tables 12 --n-jobs 2 \\
        [--before ../wt-before] [--models sknas "sknas single" HistGradientBoosting] [--add earlier.csv] \\
        [--rows run.jsonl]

Writes benchmarks/results/quality_real.md and quality_real.csv. ``--splits``
takes a number N (splits 0 to N-1) or split numbers (``1,2``). ``--rows
FILE`` appends each finished fit to a JSON-lines file and, run again, skips
the fits it holds (a long run survives an interruption). ``--report A.csv
B.jsonl ...`` fits nothing: it ranks the rows of earlier runs together,
first the models present on every (table, split), then, on each split where
other models ran too, all the models of that split.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
META = ROOT.parent / "shared" / "meta"

#: A fixed, spread selection of tables (task, size, string columns), in the order they are taken by --tables N;
#: 6 of the first 20 have more than 1,000 training rows (a holdout split for sknas), the others are cross-validated.
#: None of them is among the 8 tabulated tables (``sknas/data/tabnas_*.npz``) the default portfolio was learned
#: from (``benchmarks/build_portfolio_tables.py``): fishing_mode, gunnels, hmda_deny, medpar_died, olive_oil_area,
#: quakes_magnitude, saratoga_house_price and vote92 are left out.
DEFAULT_TABLES = [
    "penguins", "boston_housing", "mroz_lfp", "spam7", "pbc_status", "titanic", "computer_price", "wage2_earnings",
    "hawks_species", "wells_switch", "sat_quantitative", "breast_biopsy", "london_exam", "galton_height",
    "commute_mode", "kershaw_pitch_type", "jobs_depression", "pima_diabetes", "arrests_released",
    "windsor_house_price", "help_substance", "gestation_birth_weight", "nc_birth_weight", "beps_vote",
    "loan_approval", "gapminder_life_exp", "contraception_use", "forbes2000_market_value", "chile_vote",
    "math_placement",
]
#: The tables the default portfolio was built on: never judged here.
PORTFOLIO_TABLES = ("fishing_mode", "gunnels", "hmda_deny", "medpar_died", "olive_oil_area", "quakes_magnitude",
                    "saratoga_house_price", "vote92")

SKNAS_MODELS = ("sknas", "sknas single", "sknas before", "sknas bag3")
#: The constructor parameters of each sknas model ('sknas bag3': 3-fold bags even on tables of 1,000 rows or more,
#: where the default scores on a holdout share and refits the winner; the bag-or-refit question of issue 17).
SKNAS_PARAMS = {"sknas single": {"ensemble_size": 1},
                "sknas bag3": {"validation_fraction": 1 / 3, "_cv_max_samples": 10 ** 9}}
BASELINES = ("HistGradientBoosting", "LightGBM", "CatBoost", "MLP")
#: Optional extras, each fit in a subprocess of the Python given by ``--python MODEL=PATH`` (default: this one),
#: so that each can live in its own environment (AutoGluon pins its own versions): the module that must import.
EXTERNAL = {"AutoGluon": "autogluon.tabular", "RealMLP-TD": "pytabkit", "TabM-D": "pytabkit"}

_EXTERNAL_FIT = r"""
import json, sys, tempfile, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[1])
import numpy as np
from bench_quality_real import _as_categories, _split
from sklearn.metrics import accuracy_score, log_loss, r2_score
model_name, name, split, budget = sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
X_tr, X_te, y_tr, y_te, task = _split(name, split)
classification = task != "regression"
start = time.time()
if model_name == "AutoGluon":
    from autogluon.tabular import TabularPredictor
    label = "__target__"
    predictor = TabularPredictor(label=label, problem_type=task, path=tempfile.mkdtemp(prefix="ag_"), verbosity=0,
                                 eval_metric="accuracy" if classification else "r2")
    predictor.fit(X_tr.assign(**{label: np.asarray(y_tr)}), time_limit=budget, num_cpus=1, num_gpus=0)
    fit_time = time.time() - start
    pred = predictor.predict(X_te)
    proba = predictor.predict_proba(X_te) if classification else None
    classes = list(proba.columns) if classification else None
    proba = proba.to_numpy() if classification else None
else:
    import torch
    torch.set_num_threads(1)
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor, TabM_D_Classifier, TabM_D_Regressor
    cls = {("RealMLP-TD", True): RealMLP_TD_Classifier, ("RealMLP-TD", False): RealMLP_TD_Regressor,
           ("TabM-D", True): TabM_D_Classifier, ("TabM-D", False): TabM_D_Regressor}[model_name, classification]
    X_tr, X_te, cats = _as_categories(X_tr, X_te)
    for c in X_tr.columns:  # pytabkit refuses missing numbers: the training median, its only preparation here
        if c not in cats and X_tr[c].isna().any() | X_te[c].isna().any():
            median = X_tr[c].median()
            X_tr[c], X_te[c] = X_tr[c].fillna(median), X_te[c].fillna(median)
    model = cls(random_state=split, n_threads=1, device="cpu", verbosity=0)
    model.fit(X_tr, np.asarray(y_tr))
    fit_time = time.time() - start
    pred = model.predict(X_te)
    proba = model.predict_proba(X_te) if classification else None
    classes = list(model.classes_) if classification else None
out = {"fit_time": fit_time}
if classification:
    out["score"] = float(accuracy_score(np.asarray(y_te), np.asarray(pred)))
    out["log_loss"] = float(log_loss(np.asarray(y_te), proba, labels=classes))
else:
    out["score"] = float(r2_score(np.asarray(y_te, dtype=float), np.asarray(pred, dtype=float)))
print("RESULT " + json.dumps(out))
"""

_SKNAS_FIT = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[1])
from bench_quality_real import _split  # the split every model of this benchmark gets
from sknas import AutoNASClassifier, AutoNASRegressor
name, split, budget, params = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5])
if "_cv_max_samples" in params:  # 'sknas bag3': cross-validate (and bag) whatever the number of rows
    import sknas.estimators
    sknas.estimators.CV_MAX_SAMPLES = params.pop("_cv_max_samples")
X_tr, X_te, y_tr, y_te, task = _split(name, split)
classification = task != "regression"
cls = AutoNASClassifier if classification else AutoNASRegressor
model = cls(time_budget=budget, random_state=split, **params)
start = time.time()
model.fit(X_tr, y_tr)
fit_time = time.time() - start
out = {"score": float(model.score(X_te, y_te)), "fit_time": fit_time, "n_trials": int(model.n_trials_),
       "refit": bool(model.refit_), "ensemble_members": len(getattr(model, "ensemble_members_", []) or [])
       if model.ensemble_ is not None else 0}
if classification:
    from sklearn.metrics import log_loss
    out["log_loss"] = float(log_loss(y_te, model.predict_proba(X_te), labels=model.classes_))
print("RESULT " + json.dumps(out))
"""


def _split(name, split):
    from sklearn.model_selection import train_test_split

    sys.path.insert(0, str(META))
    from load import load

    X, y, task = load(name)
    classification = task != "regression"
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=split,
                                              stratify=y if classification else None)
    return X_tr, X_te, y_tr, y_te, task


def _categorical(X):
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


def _as_categories(X_tr, X_te):
    cats = _categorical(X_tr)
    X_tr, X_te = X_tr.copy(), X_te.copy()
    for c in cats:
        levels = pd.Index(X_tr[c].dropna().astype(str).unique())
        X_tr[c] = pd.Categorical(X_tr[c].astype(str).where(X_tr[c].notna()), categories=levels)
        X_te[c] = pd.Categorical(X_te[c].astype(str).where(X_te[c].notna()), categories=levels)
    for c in X_tr.columns:
        if c not in cats and X_tr[c].dtype == bool:
            X_tr[c], X_te[c] = X_tr[c].astype(float), X_te[c].astype(float)
    return X_tr, X_te, cats


def _baseline(model_name, classification, seed, cats):
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if model_name == "HistGradientBoosting":
        cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        return cls(random_state=seed, categorical_features="from_dtype")
    if model_name == "LightGBM":
        import lightgbm

        cls = lightgbm.LGBMClassifier if classification else lightgbm.LGBMRegressor
        return cls(random_state=seed, verbose=-1, n_jobs=1)
    if model_name == "CatBoost":
        import catboost

        cls = catboost.CatBoostClassifier if classification else catboost.CatBoostRegressor
        return cls(random_seed=seed, verbose=0, thread_count=1, cat_features=cats or None, allow_writing_files=False)
    if model_name == "MLP":
        from sklearn.compose import make_column_selector

        prep = make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), make_column_selector(dtype_include="number")),
            (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
             make_column_selector(dtype_include="category")),
        )
        cls = MLPClassifier if classification else MLPRegressor
        return make_pipeline(prep, cls(random_state=seed, max_iter=1000, early_stopping=True))
    raise ValueError(model_name)


def _fit_in_subprocess(command, env, timeout):
    """Run one fit script in a subprocess and return the dict of its last 'RESULT ' line."""
    proc = subprocess.run(command, cwd="/tmp", env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no result")
    return json.loads(lines[-1][len("RESULT "):])


def fit_one(name, split, model_name, args):
    warnings.filterwarnings("ignore")
    row = {"dataset": name, "split": split, "model": model_name, "score": float("nan"), "log_loss": float("nan"),
           "fit_time": float("nan"), "error": ""}
    start = time.time()
    try:
        here = str(Path(__file__).resolve().parent)
        if model_name in SKNAS_MODELS:
            checkout = Path(args.before).resolve() if model_name == "sknas before" else ROOT
            params = SKNAS_PARAMS.get(model_name, {})
            row.update(_fit_in_subprocess(
                [sys.executable, "-c", _SKNAS_FIT, here, name, str(split), str(args.time_budget), json.dumps(params)],
                dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS="1"), 10 * args.time_budget + 120))
        elif model_name in EXTERNAL:
            row.update(_fit_in_subprocess(
                [args.pythons.get(model_name, sys.executable), "-c", _EXTERNAL_FIT, here, model_name, name, str(split),
                 str(args.time_budget)],
                dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"), 10 * args.time_budget + 600))
        else:
            X_tr, X_te, y_tr, y_te, task = _split(name, split)
            classification = task != "regression"
            X_tr, X_te, cats = _as_categories(X_tr, X_te)
            model = _baseline(model_name, classification, split, cats)
            if model_name == "HistGradientBoosting":  # at most 255 levels as categories; more: their codes as numbers
                for c in cats:
                    if len(X_tr[c].cat.categories) > 255:
                        X_tr[c], X_te[c] = X_tr[c].cat.codes.replace(-1, np.nan), X_te[c].cat.codes.replace(-1, np.nan)
            if model_name == "CatBoost" and cats:
                X_tr, X_te = X_tr.copy(), X_te.copy()
                for c in cats:
                    X_tr[c] = X_tr[c].astype(object).where(X_tr[c].notna(), "<missing>").astype(str)
                    X_te[c] = X_te[c].astype(object).where(X_te[c].notna(), "<missing>").astype(str)
            model.fit(X_tr, y_tr)
            row["fit_time"] = time.time() - start
            row["score"] = float(model.score(X_te, y_te))
            if classification:
                from sklearn.metrics import log_loss

                row["log_loss"] = float(log_loss(y_te, model.predict_proba(X_te), labels=model.classes_))
    except Exception as exc:  # a failed fit is a row (ranked last), not a crashed benchmark
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        row["fit_time"] = time.time() - start
    print(f"{name:24s} split {split} {model_name:22s} score {row['score']:.4f} fit {row['fit_time']:6.1f}s"
          + (f"  {row['error']}" if row["error"] else ""), flush=True)
    if args.rows:  # a checkpoint: the row is on disk as soon as its fit ends
        with _ROWS_LOCK, open(args.rows, "a") as f:
            f.write(json.dumps(row) + "\n")
    return row


_ROWS_LOCK = threading.Lock()


def _done_rows(path):
    """The rows a --rows file already holds (an interrupted run's finished fits)."""
    if not path or not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _kinds(names):
    sys.path.insert(0, str(META))
    from load import _catalog

    out = {}
    for name in names:
        info = _catalog()[name]
        rows = int(info["n_rows"])
        out[name] = {"size": "small (<1000)" if 0.75 * rows < 1000 else "large",
                     "columns": "mixed" if int(info["n_categorical"]) > 0 else "numeric",
                     "task": info["task"]}
    return out


def summarize(frame, args):
    ranks = frame.groupby(["dataset", "split"])["score"].rank(ascending=False, na_option="bottom")
    frame = frame.assign(rank=ranks)
    kinds = _kinds(sorted(frame["dataset"].unique()))
    table = frame.groupby("model").agg(mean_rank=("rank", "mean"), wins=("rank", lambda r: int((r == 1).sum())),
                                       mean_score=("score", "mean"), mean_fit_s=("fit_time", "mean"),
                                       failed=("score", lambda v: int(v.isna().sum())))
    cls = frame[frame["dataset"].map(lambda n: kinds[n]["task"] != "regression")]  # failed fits rank last
    if len(cls):
        ll_rank = cls.groupby(["dataset", "split"])["log_loss"].rank(ascending=True, na_option="bottom")
        table["log_loss_rank"] = cls.assign(r=ll_rank).groupby("model")["r"].mean()
    over = frame[frame["model"].isin(SKNAS_MODELS + ("AutoGluon",))]  # the models given the time budget
    if len(over):
        table["max_overrun_%"] = (100 * (over.groupby("model")["fit_time"].max() / args.time_budget - 1)).round(1)
    if "n_trials" in frame:
        table["mean_trials"] = frame[frame["model"].isin(SKNAS_MODELS)].groupby("model")["n_trials"].mean()
    table = table.sort_values("mean_rank")
    by_kind = []
    for key in ("size", "columns", "task"):
        col = frame["dataset"].map(lambda n, key=key: kinds[n][key])
        by_kind.append(frame.assign(kind=col).pivot_table(index="model", columns="kind", values="rank",
                                                          aggfunc="mean"))
    by_kind = pd.concat(by_kind, axis=1).loc[table.index]
    per_table = frame.pivot_table(index="dataset", columns="model", values="score", aggfunc="mean")
    return table, by_kind, per_table


def _section(frame, args, title):
    table, by_kind, per_table = summarize(frame, args)
    n_tables, splits = frame["dataset"].nunique(), sorted(frame["split"].unique())
    return (f"## {title}\n\n{n_tables} tables x split(s) {', '.join(map(str, splits))}; models: "
            f"{', '.join(table.index)}.\n\n{table.to_markdown(floatfmt='.3f')}\n\n### Mean rank by kind of table\n\n"
            f"{by_kind.to_markdown(floatfmt='.2f')}\n\n### Mean test score per table\n\n"
            f"{per_table.to_markdown(floatfmt='.4f')}\n\n")


def report(args):
    """Rank earlier runs' rows together: the models on every (table, split), then each split's models."""
    frame = pd.concat([pd.DataFrame(_done_rows(path)) if path.endswith(".jsonl") else pd.read_csv(path)
                       for path in args.report], ignore_index=True)
    frame["error"] = frame["error"].astype(object).fillna("")
    frame = frame.drop_duplicates(["dataset", "split", "model"], keep="last")
    cells = frame.groupby(["dataset", "split"]).ngroups
    complete = [m for m, rows in frame.groupby("model") if len(rows) == cells]
    text = (f"# Quality on real tables\n\n`python benchmarks/bench_quality_real.py --report "
            f"{' '.join(args.report)}`\n\n")
    text += _section(frame[frame["model"].isin(complete)], args, "Every table and split")
    for split, part in frame.groupby("split"):
        tables = part["dataset"].nunique()
        models = [m for m, rows in part.groupby("model") if rows["dataset"].nunique() == tables]
        if set(models) != set(complete):
            text += _section(part[part["model"].isin(models)], args, f"Split {split}, every model run on it")
    partial = [m for m in frame["model"].unique() if m not in complete]
    for m in partial:  # a model run on some tables only (e.g. 'sknas bag3' on the larger ones)
        part = frame[frame["model"] == m]
        keys = set(zip(part["dataset"], part["split"]))
        if len(keys) < frame[frame["split"].isin(part["split"].unique())].groupby(["dataset", "split"]).ngroups:
            sub = frame[[k in keys for k in zip(frame["dataset"], frame["split"])]]
            sub = sub[sub["model"].isin(complete + [m])]
            text += _section(sub, args, f"The tables '{m}' ran on")
    Path(args.out + ".md").write_text(text)
    print(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--splits", default="3", help="a number N (splits 0 to N-1) or comma-separated split numbers")
    parser.add_argument("--tables", default="30", help="a number (the first N of DEFAULT_TABLES) or comma-separated names")
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--before", help="path of another sknas checkout: adds the 'sknas before' model")
    parser.add_argument("--n-jobs", type=int, default=2, help="fits side by side (one core each)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "quality_real"))
    parser.add_argument("--python", action="append", default=[], metavar="MODEL=PATH",
                        help="the Python to fit an optional extra with (AutoGluon, RealMLP-TD, TabM-D), e.g. "
                             "AutoGluon=../venv-ag/bin/python; default: this one")
    parser.add_argument("--add", nargs="*", default=[],
                        help="CSV files of earlier runs (other models, same tables and splits) to rank together")
    parser.add_argument("--rows", help="a JSON-lines file each finished fit is appended to; fits it already holds "
                                       "are not run again (resume an interrupted run)")
    parser.add_argument("--report", nargs="+", default=None, metavar="CSV",
                        help="fit nothing: rank the rows of these earlier runs together (see the docstring)")
    args = parser.parse_args()
    if args.report:
        return report(args)
    args.pythons = dict(item.split("=", 1) for item in args.python)
    tables = DEFAULT_TABLES[:int(args.tables)] if args.tables.isdigit() else args.tables.split(",")
    models = args.models or ["sknas", "sknas single"] + (["sknas before"] if args.before else []) + list(BASELINES)
    available = []
    for m in models:
        if m in ("LightGBM", "CatBoost"):
            try:
                __import__(m.lower())
            except ImportError:
                print(f"{m} is not installed (pip install {m.lower()}): skipped")
                continue
        if m in EXTERNAL:
            python = args.pythons.get(m, sys.executable)
            found = subprocess.run([python, "-c", f"import {EXTERNAL[m]}"], capture_output=True).returncode == 0
            if not found:
                print(f"{m}: {EXTERNAL[m]} does not import in {python}: skipped")
                continue
        available.append(m)
    splits = [int(v) for v in args.splits.split(",") if v] if "," in args.splits else list(range(int(args.splits)))
    done = [r for r in _done_rows(args.rows)  # this selection's fits an earlier run finished
            if r["dataset"] in tables and r["split"] in splits and r["model"] in available]
    finished = {(r["dataset"], r["split"], r["model"]) for r in done}
    tasks = [(name, split, m) for name in tables for split in splits for m in available
             if (name, split, m) not in finished]
    # the slow (sknas) fits first, so that the quick baselines fill the gaps at the end
    tasks.sort(key=lambda t: t[2] not in SKNAS_MODELS + tuple(EXTERNAL))
    rows = Parallel(n_jobs=args.n_jobs, backend="threading")(delayed(fit_one)(*t, args) for t in tasks)
    frame = pd.concat([pd.DataFrame(done + rows)] + [pd.read_csv(path) for path in args.add], ignore_index=True)
    frame["error"] = frame["error"].astype(object).fillna("")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out + ".csv", index=False)
    table, by_kind, per_table = summarize(frame, args)
    cmd = (f"python benchmarks/bench_quality_real.py --time-budget {args.time_budget:g} --splits {args.splits} "
           f"--tables {args.tables} --n-jobs {args.n_jobs}" + (" --before PATH" if args.before else "")
           + (" --models " + " ".join(repr(m) if " " in m else m for m in args.models) if args.models else "")
           + "".join(f" --python {m}=PATH" for m in args.pythons)
           + (" --add " + " ".join(args.add) if args.add else ""))
    text = (f"# Quality on real tables\n\n`{cmd}`\n\n{len(tables)} tables of `../shared/meta` x {len(splits)} "
            f"split(s), 75/25, raw frames; 2-core machine, {args.n_jobs} fit(s) at a time, one core each. "
            f"Score: accuracy or R^2; mean rank over every (table, split), 1 = best; log-loss rank over the "
            f"classification tables.\n\n{table.to_markdown(floatfmt='.3f')}\n\n## Mean rank by kind of table\n\n"
            f"{by_kind.to_markdown(floatfmt='.2f')}\n\n## Mean test score per table\n\n"
            f"{per_table.to_markdown(floatfmt='.4f')}\n")
    Path(args.out + ".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
