"""``python -m sknas`` / ``sknas``: fit, predict, show and export models from the command line.

::

    sknas fit data.csv --target y [--task classification|regression] [--time-budget 60]
              [--search tpe] [--out model.sknas]
    sknas predict model.sknas new.csv [--out predictions.csv] [--proba]
    sknas show model.sknas
    sknas export model.sknas model.onnx          # or model.pt (TorchScript of the network)
    sknas report model.sknas [-o report.html]    # one self-contained HTML search report
    sknas demo

Errors are reported as one line on stderr with a non-zero exit code
(``--traceback`` shows the Python traceback instead).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time

__all__ = ["CLIError", "detect_task", "main"]

REGRESSION_MIN_DISTINCT = 20  # a numeric target with more distinct values than this is a regression target


class CLIError(Exception):
    """An error the command line reports as one line, without a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _note(message):
    print(f"sknas: {message}", file=sys.stderr, flush=True)


def _existing_file(path, what):
    if not os.path.exists(path):
        raise CLIError(f"no such {what}: {path!r}")
    if os.path.isdir(path):
        raise CLIError(f"{path!r} is a directory, not a {what}")
    return path


def read_table(path, sep=","):
    """A CSV file as a DataFrame, with one-line errors for the usual problems."""
    import zipfile

    import pandas as pd

    _existing_file(path, "data file")
    if zipfile.is_zipfile(path):
        raise CLIError(f"{path!r} is a zip archive (a model file?), not a CSV data file")
    try:
        frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise CLIError(f"{path!r} is empty: expected a CSV file with a header row") from None
    except pd.errors.ParserError as exc:
        raise CLIError(f"{path!r} is not a valid CSV file: {_one_line(exc)}") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path!r} is not a text CSV file (wrong format?)") from None
    if frame.shape[0] == 0:
        raise CLIError(f"{path!r} has a header but no data rows")
    return frame


def _one_line(exc):
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_target(frame, target, path):
    if target in frame.columns:
        return
    columns = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(target, columns, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    raise CLIError(f"unknown target column {target!r} in {path!r}{hint} (columns: {shown})")


def detect_task(y):
    """``("classification" | "regression", reason)`` guessed from a target column.

    A numeric (non-boolean) target with more than 20 distinct values, or with
    non-integer values, is a regression target; anything else (text,
    booleans, few integer levels) is a classification target.
    """
    import numpy as np
    import pandas as pd

    values = y.dropna()
    n_distinct = int(values.nunique())
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        return "classification", f"non-numeric target with {n_distinct} distinct values"
    numbers = values.to_numpy(dtype=np.float64)
    if n_distinct > REGRESSION_MIN_DISTINCT:
        return "regression", f"numeric target with {n_distinct} distinct values"
    if np.any(numbers != np.round(numbers)):
        return "regression", "numeric target with non-integer values"
    return "classification", f"numeric target with only {n_distinct} distinct integer values"


def _load_model(path):
    from .io import load

    _existing_file(path, "model file")
    return load(path)


def _metadata(path):
    from .io import read_metadata

    return read_metadata(path)


# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
def fit(args):
    frame = read_table(args.data, sep=args.sep)
    _check_target(frame, args.target, args.data)
    y = frame[args.target]
    X = frame.drop(columns=[args.target])
    if X.shape[1] == 0:
        raise CLIError(f"{args.data!r} has no feature column besides the target {args.target!r}")
    missing = y.isna().to_numpy()
    if missing.all():
        raise CLIError(f"the target column {args.target!r} has no values")
    if missing.any():
        _note(f"dropped {int(missing.sum())} row(s) whose target {args.target!r} is missing")
        X, y = X.loc[~missing], y.loc[~missing]
    task = args.task
    if task == "auto":
        task, reason = detect_task(y)
        _note(f"task: {task} ({reason}); pass --task to override")
    from . import AutoNASClassifier, AutoNASRegressor
    from .io import save
    from .results import leaderboard

    cls = AutoNASClassifier if task == "classification" else AutoNASRegressor
    estimator = cls(time_budget=args.time_budget, max_trials=args.max_trials, max_epochs=args.max_epochs,
                    validation_fraction=args.validation_fraction, search=args.search, space=args.space,
                    random_state=args.random_state, verbose=args.verbose, ensemble_size=args.ensemble_size)
    out = args.out or os.path.splitext(os.path.basename(args.data))[0] + ".sknas"
    start = time.time()
    estimator.fit(X, y.to_numpy())
    elapsed = time.time() - start
    save(estimator, out, metadata={"target": str(args.target), "task": task,
                                   "data": os.path.basename(args.data)})
    print(leaderboard(estimator.search_results_, top=args.top))
    print()
    print(f"best genotype : {estimator.best_genotype_}")
    print(f"validation    : {estimator.best_score_:.4f} ({estimator.n_trials_} trials, fit {elapsed:.1f}s)")
    print(f"saved model   : {out}")
    return 0


def predict(args):
    import pandas as pd

    estimator = _load_model(args.model)
    meta = _metadata(args.model)
    frame = read_table(args.data, sep=args.sep)
    target = meta.get("target")
    X = frame.drop(columns=[target]) if target is not None and target in frame.columns else frame
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        lacking = [n for n in names if n not in X.columns]
        if lacking:
            shown = ", ".join(map(repr, lacking[:8])) + (f" and {len(lacking) - 8} more" if len(lacking) > 8 else "")
            raise CLIError(f"{args.data!r} lacks {len(lacking)} column(s) the model was trained on: {shown}")
        extra = [c for c in X.columns if c not in names]
        if extra:
            _note(f"ignoring column(s) not used in training: {extra}")
        X = X[names]
    elif X.shape[1] != estimator.n_features_in_:
        raise CLIError(f"{args.data!r} has {X.shape[1]} feature columns; the model expects {estimator.n_features_in_}")
    column = target or "prediction"
    result = pd.DataFrame({column: estimator.predict(X)}, index=frame.index)
    if args.proba:
        if not hasattr(estimator, "predict_proba"):
            raise CLIError("--proba needs a classification model")
        proba = estimator.predict_proba(X)
        for j, c in enumerate(estimator.classes_):
            result[f"proba_{c}"] = proba[:, j]
    if args.out:
        result.to_csv(args.out, index=False)
        _note(f"wrote {len(result)} predictions to {args.out}")
    else:
        result.to_csv(sys.stdout, index=False)
    return 0


def _describe_preprocessing(step, indent="  "):
    from sklearn.pipeline import Pipeline

    lines = []
    steps = step.steps if isinstance(step, Pipeline) else [("preprocessing", step)]
    for name, s in steps:
        lines.append(f"{indent}{name}: {' '.join(repr(s).split())}")
        numeric = getattr(s, "numeric_columns_", None)
        categorical = getattr(s, "categorical_columns_", None)
        if numeric is not None or categorical is not None:
            lines.append(f"{indent}  {len(numeric or [])} numeric, {len(categorical or [])} categorical column(s)")
        removed = getattr(s, "removed_columns_", None)
        if removed:
            lines.append(f"{indent}  removed: " + ", ".join(f"{k} ({v})" for k, v in removed.items()))
    return lines


def show(args):
    from . import __version__
    from .results import leaderboard

    estimator = _load_model(args.model)
    meta = _metadata(args.model)
    task = "classification" if hasattr(estimator, "classes_") else "regression"
    print(f"model         : {args.model} ({type(estimator).__name__}, read by sknas {__version__})")
    line = f"target        : {meta.get('target', '?')} ({task}"
    if task == "classification":
        line += f", classes {list(estimator.classes_)}"
    print(line + ")")
    names = getattr(estimator, "feature_names_in_", None)
    shown = "" if names is None else ": " + ", ".join(map(str, names[:12])) + (", ..." if len(names) > 12 else "")
    print(f"features      : {estimator.n_features_in_} column(s){shown}")
    refit = getattr(estimator, "refit_", None)
    fit_time = getattr(estimator, "fit_time_", None)
    print(f"search        : {estimator.get_params()['search']!r} on {estimator.get_params()['space']!r}, "
          f"{estimator.n_trials_} trials" + (f" in {fit_time:.1f}s" if fit_time is not None else "")
          + f"; best score {estimator.best_score_:.4f} (trial {estimator.best_index_})"
          + ("" if refit is None else ("; refit on all data" if refit else "; best trial's model kept")))
    print(f"best genotype : {estimator.best_genotype_}")
    print("preprocessing :")
    for line in _describe_preprocessing(estimator.best_estimator_.named_steps["preprocessing"]):
        print(line)
    print()
    print(leaderboard(estimator.search_results_, top=args.top))
    return 0


def export(args):
    fmt = args.format
    if fmt == "auto":
        ext = os.path.splitext(args.out)[1].lower()
        if ext == ".onnx":
            fmt = "onnx"
        elif ext in (".pt", ".pth", ".torchscript"):
            fmt = "torchscript"
        else:
            raise CLIError(f"cannot tell the export format from {args.out!r}; use a .onnx or .pt name, or --format")
    from .export import export_onnx, export_torchscript

    estimator = _load_model(args.model)
    if fmt == "onnx":
        export_onnx(estimator, args.out)
    else:
        export_torchscript(estimator, args.out)
    _note(f"wrote {fmt} export to {args.out}")
    return 0


def report(args):
    from .report import report as write_report

    estimator = _load_model(args.model)
    out = args.out or os.path.splitext(os.path.basename(args.model))[0] + ".html"
    write_report(estimator, out, top=args.top)
    _note(f"wrote the search report to {out} ({os.path.getsize(out) / 1024:.0f} KiB)")
    return 0


def demo(args):
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from . import AutoNASClassifier
    from .results import leaderboard

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    print(f"sknas demo: breast_cancer, {X_train.shape[0]} training rows x {X_train.shape[1]} columns, "
          f"time_budget={args.time_budget}s, search={args.search!r}")
    start = time.time()
    clf = AutoNASClassifier(time_budget=args.time_budget, search=args.search, random_state=args.random_state,
                            verbose=args.verbose)
    clf.fit(X_train, y_train)
    elapsed = time.time() - start
    print()
    print(leaderboard(clf.search_results_, top=10))
    print()
    print(f"best genotype : {clf.best_genotype_}")
    print(f"validation    : {clf.best_score_:.4f} ({clf.n_trials_} trials, fit {elapsed:.1f}s, "
          f"{_final_model(clf)})")
    print(f"held-out test : accuracy {clf.score(X_test, y_test):.4f}")
    frame = pd.DataFrame(clf.search_results_)
    print(f"statuses      : {frame['status'].value_counts().to_dict()}")
    return 0


# ---------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------
def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _final_model(estimator):
    """What a fitted estimator predicts with, in a few words."""
    ensemble = getattr(estimator, "ensemble_", None)
    if ensemble is None:
        return "refit on all data" if estimator.refit_ else "trial model kept"
    from .evaluation.ensembles import leaves

    networks = len(leaves(ensemble))
    members = len(estimator.ensemble_members_)
    if members == 1:
        return f"the best trial's bag of {networks} fold models"
    return f"an ensemble of {members} trials, {networks} networks"


def _ensemble_size(text):
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {text!r}") from None


def build_parser():
    parser = _Parser(prog="sknas", description="AutoML with neural architecture search.")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("fit", help="search a network for a CSV table and save the fitted model")
    p.add_argument("data", help="CSV file with a header row")
    p.add_argument("--target", required=True, help="name of the column to predict")
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="default: guessed from the target (numeric with many distinct values: regression)")
    p.add_argument("--time-budget", type=_positive_float, default=60.0, help="seconds for the whole fit")
    p.add_argument("--max-trials", type=_positive_int, default=None)
    p.add_argument("--max-epochs", type=_positive_int, default=100)
    p.add_argument("--validation-fraction", type=float, default=0.2,
                   help="share of rows held out to score candidates (k-fold on small tables)")
    p.add_argument("--search", default="tpe", help="optimizer name (random, tpe, evolution...)")
    p.add_argument("--space", default="mlp", help="search space name (mlp, resnet...)")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--ensemble-size", type=_ensemble_size, default="auto",
                   help="'auto' (bags and a Caruana ensemble), k, or 1 (one network, e.g. for a torchscript export)")
    p.add_argument("--out", default=None, help="model file to write (default: DATA's name with .sknas)")
    p.add_argument("--sep", default=",", help="CSV field separator")
    p.add_argument("--top", type=_positive_int, default=10, help="rows of the leaderboard printed")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0: silent; 1: a progress bar on stderr (default); 2: also one line per trial")
    p.set_defaults(func=fit)

    p = sub.add_parser("predict", help="predict a CSV table with a saved model")
    p.add_argument("model", help="a .sknas file written by 'sknas fit' or sknas.io.save")
    p.add_argument("data", help="CSV file with the training columns (the target column is ignored)")
    p.add_argument("--out", default=None, help="CSV file to write (default: standard output)")
    p.add_argument("--proba", action="store_true", help="add class probability columns (classifiers)")
    p.add_argument("--sep", default=",", help="CSV field separator")
    p.set_defaults(func=predict)

    p = sub.add_parser("show", help="describe a saved model: leaderboard, best genotype, preprocessing")
    p.add_argument("model")
    p.add_argument("--top", type=_positive_int, default=10)
    p.set_defaults(func=show)

    p = sub.add_parser("export", help="export a saved model to ONNX (whole pipeline) or TorchScript (network)")
    p.add_argument("model")
    p.add_argument("out", help="file to write: .onnx or .pt")
    p.add_argument("--format", choices=("auto", "onnx", "torchscript"), default="auto")
    p.set_defaults(func=export)

    p = sub.add_parser("report", help="write a self-contained HTML report of a saved model's search")
    p.add_argument("model")
    p.add_argument("-o", "--out", default=None, help="HTML file to write (default: MODEL's name with .html)")
    p.add_argument("--top", type=_positive_int, default=10, help="rows of the leaderboard")
    p.set_defaults(func=report)

    p = sub.add_parser("demo", help="search a network for load_breast_cancer and report it")
    p.add_argument("--time-budget", type=float, default=30.0)
    p.add_argument("--search", default="tpe")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0: silent; 1: a progress bar on stderr (default); 2: also one line per trial")
    p.set_defaults(func=demo)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    0 on success, 1 after an error (reported as one line on standard error),
    2 for a usage error, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("sknas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (``| head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # one line, never a traceback, unless asked for
        if args.traceback:
            raise
        message = _one_line(exc)
        if not isinstance(exc, (CLIError, ValueError, TypeError, OSError, ImportError)):
            message = f"{type(exc).__name__}: {message}"
        print(f"sknas: error: {' '.join(message.split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
