"""A tabulated NAS benchmark for tabular data: every network of a small space, trained once.

NAS-Bench-101, NAS-Bench-201 and LCBench made NAS comparisons cheap and
reproducible by training every architecture of a small space once, with
fixed training settings, and shipping the table of results: an optimizer
is then benchmarked by looking its candidates up instead of training them,
on a simulated clock that charges each lookup the recorded training time.
This module is that idea for sknas's dense networks on tabular data:

- :class:`TabularBenchSpace`: a fully enumerable corner of the ``"mlp"``
  space (1,374 networks of one to three dense blocks, see its docstring);
- :func:`train_learning_curve`: trains one of its networks with sknas's own
  skorch trainer (:func:`~sknas.evaluation.trainer.make_net`) and records,
  after every epoch, validation and test accuracy and loss and the training
  time; ``benchmarks/make_tabulated_benchmark.py`` runs it over the whole
  space to make the shipped table;
- :class:`TabularBenchmark`: answers ``evaluate(candidate)`` from the table
  at once, as an :class:`~sknas.evaluation.trainer.Evaluator` would after
  training, and :meth:`TabularBenchmark.simulate` runs a searcher's
  ask/tell loop against it on a simulated clock, recording the regret of
  its incumbent.

Multi-dataset tables (LCBench-style): ``TabularBenchmark(dataset=NAME)``
loads ``sknas/data/tabnas_NAME.npz`` (:func:`available_datasets` lists
them), made by ``benchmarks/make_tabulated_meta.py`` on real tables of
``../shared/meta``. Each holds the same genotypes, row for row: the
default ``"mlp"`` space with its training choices (:func:`meta_space`), the
default portfolio's entries first, then draws capped to small networks
(:func:`meta_genotypes`), each trained twice (torch seeds 0 and 1) for 10
epochs with its own training hyperparameters on the table preprocessed once
by the search's default pipeline (:func:`prepare_meta_dataset`: at most
1,000 rows, split 60/20/20). Per epoch: validation and test score and loss,
and the cumulative CPU seconds of training. Scores are accuracy for
classification and R^2 for regression (losses: log loss, and the mean
squared error of the standardized target). Since these genotypes are a
sample, not the whole space, a searcher runs on :class:`TabulatedSpace`:
the default space's parameters, but every genotype it hands out is
tabulated and any other proposal is answered by the nearest tabulated
genotype in the space's encoding.

References
----------
Ying, Klein, Real, Christiansen, Murphy, Hutter. "NAS-Bench-101: Towards
Reproducible Neural Architecture Search." ICML 2019.
Dong, Yang. "NAS-Bench-201: Extending the Scope of Reproducible Neural
Architecture Search." ICLR 2020.
Zimmer, Lindauer, Hutter. "Auto-PyTorch Tabular: Multi-Fidelity
MetaLearning for Efficient and Robust AutoDL." IEEE TPAMI 2021 (LCBench).
"""

from __future__ import annotations

import json
import math
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from sklearn.base import clone
from skorch.callbacks import Callback

from ..evaluation.trainer import make_net, torch_threads
from ..evaluation.trial import TrialResult
from ..nn.builders import DenseDAG, count_parameters
from ..search.base import Candidate, make_searcher, result_score
from ..space.base import SearchSpace
from ..space.genotype import Genotype
from ..space.params import Categorical

__all__ = [
    "DEFAULT_TABLE", "TabularBenchSpace", "TabularBenchmark", "TabulatedSpace", "available_datasets", "digits_split",
    "enumerate_genotypes", "table_path",
    "META_MAX_COST", "SCORE_CURVES", "genotype_cost", "load_table", "meta_genotypes", "meta_space",
    "prepare_meta_dataset", "regret_at", "train_curves", "train_learning_curve",
]

#: The table shipped with sknas (``load_digits``, see ``benchmarks/make_tabulated_benchmark.py``).
DEFAULT_TABLE = "tabnas_digits.npz"

#: The arrays of a table with one value per (genotype, training run, epoch).
CURVES = ("valid_accuracy", "valid_loss", "test_accuracy", "test_loss", "train_time")


class TabularBenchSpace(SearchSpace):
    """The enumerable space of the tabulated benchmark: 1,374 dense DAGs.

    A corner of :class:`~sknas.space.mlp.MLPSpace` with the same parameter
    names, every one categorical: ``n_blocks`` in {1, 2, 3}; for each
    active block ``i``, ``width_i`` in {16, 64, 256} and ``act_i`` in
    {"relu", "selu"}; for blocks ``i > 0``, ``skip_i`` ("none" or an
    earlier node, concatenated to the block's input as in the mlp space).
    Normalization (batch norm) and dropout (none) are fixed. The
    conditional structure is kept: the width of an absent block is
    inactive, so the space holds 6 + 72 + 1,296 = 1,374 distinct genotypes.

    The space has no parameters: it is the one the shipped table covers.

    See Also
    --------
    TabularBenchmark : the table of these networks' results.
    sknas.space.mlp.MLPSpace : the full space this one is cut from.
    """

    max_blocks = 3
    widths = (16, 64, 256)
    activations = ("relu", "selu")
    norm = "batch"
    dropout = 0.0

    def _params(self):
        params = [Categorical("n_blocks", tuple(range(1, self.max_blocks + 1)))]
        for i in range(self.max_blocks):
            when = {"n_blocks": tuple(range(i + 1, self.max_blocks + 1))} if i > 0 else None
            params += [
                Categorical(f"width_{i}", self.widths, when=when),
                Categorical(f"act_{i}", self.activations, when=when),
            ]
            if i > 0:
                params.append(Categorical(f"skip_{i}", ("none",) + tuple(range(i)), when=when))
        return params

    def blocks(self, genotype):
        """The block specifications of :class:`~sknas.nn.builders.DenseDAG`."""
        return [
            {
                "width": genotype[f"width_{i}"],
                "activation": genotype[f"act_{i}"],
                "norm": self.norm,
                "dropout": self.dropout,
                "skip": None if i == 0 or genotype[f"skip_{i}"] == "none" else genotype[f"skip_{i}"],
            }
            for i in range(genotype["n_blocks"])
        ]

    def build(self, genotype, n_inputs, n_outputs):
        return DenseDAG(n_inputs, n_outputs, self.blocks(genotype))


def enumerate_genotypes(space):
    """Every genotype of a space of categorical parameters, in a fixed order.

    Parameters are enumerated in the space's order, choices in their order,
    and an inactive parameter is left out (so no two genotypes differ only
    in inactive values).

    Parameters
    ----------
    space : SearchSpace
        Every parameter must be :class:`~sknas.space.params.Categorical`.

    Returns
    -------
    list of Genotype
    """
    params = space.params
    numeric = [p.name for p in params if not isinstance(p, Categorical)]
    if numeric:
        raise TypeError(
            f"enumerate_genotypes: {type(space).__name__} has non-categorical parameters {numeric}; "
            "only a space of Categorical parameters can be enumerated."
        )
    out = []

    def walk(i, assigned):
        if i == len(params):
            out.append(Genotype(assigned))
            return
        p = params[i]
        if not p.is_active(assigned):
            walk(i + 1, assigned)
            return
        for value in p.choices:
            walk(i + 1, {**assigned, p.name: value})

    walk(0, {})
    return out


class _CurveRecorder(Callback):
    """After each epoch: the epoch's training time, then accuracy and loss on the held-out parts.

    The time is the CPU time of the training thread (``time.thread_time``)
    from the start of the epoch to its end, before the held-out parts are
    scored: with one torch thread it is the training's own cost, and it
    hardly depends on what else the machine runs.
    """

    def __init__(self, parts):
        self.parts = parts

    def on_train_begin(self, net, **kwargs):
        self.rows_ = []
        self._elapsed = 0.0

    def on_epoch_begin(self, net, **kwargs):
        self._start = time.thread_time()

    def on_epoch_end(self, net, **kwargs):
        self._elapsed += time.thread_time() - self._start
        self.rows_.append({"train_time": self._elapsed, **self._scores(net)})

    def _scores(self, net):
        row = {}
        for name, (X, y_index) in self.parts.items():
            proba = net.predict_proba(X)
            picked = proba[np.arange(len(y_index)), y_index]
            row[f"{name}_accuracy"] = float(np.mean(proba.argmax(axis=1) == y_index))
            row[f"{name}_loss"] = float(-np.mean(np.log(np.clip(picked, 1e-12, None))))
        return row


def digits_split(seed=0):
    """The data of the shipped table: ``load_digits`` split 50/25/25, standardized.

    The split is stratified (``train_test_split`` with ``random_state=seed``,
    first training against the rest, then the rest in halves) and a
    ``StandardScaler`` is fitted on the training part.

    Returns
    -------
    dict
        ``X_train, y_train, X_valid, y_valid, X_test, y_test``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, train_size=0.5, stratify=y, random_state=seed)
    X_valid, X_test, y_valid, y_test = train_test_split(
        X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=seed,
    )
    scaler = StandardScaler().fit(X_train)
    return {
        "X_train": scaler.transform(X_train), "y_train": y_train,
        "X_valid": scaler.transform(X_valid), "y_valid": y_valid,
        "X_test": scaler.transform(X_test), "y_test": y_test,
    }


def train_learning_curve(space, genotype, data, *, epochs, seed, classes):
    """Train one network with sknas's trainer and record its learning curves.

    The network of ``genotype`` is trained by
    :func:`~sknas.evaluation.trainer.make_net` with its default training
    settings (AdamW, learning rate 1e-3 held constant, no weight decay,
    batch size 128) for ``epochs`` epochs, without early stopping, under
    ``torch.manual_seed(seed)`` and one torch thread. A constant learning
    rate makes the state after ``e`` epochs the same as that of a run of
    ``e`` epochs, so one run gives every fidelity of the table.

    Parameters
    ----------
    space : SearchSpace
        Builds the network (e.g. :class:`TabularBenchSpace`).
    genotype : Genotype
    data : dict
        ``X_train, y_train, X_valid, y_valid, X_test, y_test``: preprocessed
        float matrices and labels.
    epochs : int
    seed : int
        Seeds the weights' initialization and the batches' order.
    classes : array-like
        All class labels, sorted.

    Returns
    -------
    dict
        ``n_params`` (int) and, for each name of :data:`CURVES`, a float
        array with one value per epoch (``train_time`` is cumulative, in
        CPU seconds).
    """
    classes = np.asarray(classes)
    parts = {
        name: (np.asarray(data[f"X_{name}"], dtype=np.float32), np.searchsorted(classes, data[f"y_{name}"]))
        for name in ("valid", "test")
    }
    X_train = np.asarray(data["X_train"], dtype=np.float32)
    recorder = _CurveRecorder(parts)
    with torch_threads(1), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = make_net(
            space, genotype, "classification", X_train.shape[1], len(classes), classes=classes,
            max_epochs=epochs, n_train=len(X_train), valid_data=None,
        )
        net.callbacks.append(("tabulate", recorder))
        net.fit(X_train, data["y_train"])
    rows = recorder.rows_
    if len(rows) != epochs:
        raise RuntimeError(f"training stopped after {len(rows)} of {epochs} epochs")
    out = {name: np.array([row[name] for row in rows]) for name in CURVES}
    out["n_params"] = count_parameters(net.module_)
    return out


class _ScoreRecorder(_CurveRecorder):
    """After each epoch: cumulative training CPU time, then score and loss on the held-out parts.

    Classification: the score is accuracy and the loss the log loss.
    Regression: the score is R^2 and the loss the mean squared error of the
    standardized target (the target standardized with the training part's
    mean and standard deviation, as the net trains on it), so that
    ``1 - R^2 = loss * var_train / var_part``. The time is measured as in
    :class:`_CurveRecorder`.
    """

    def __init__(self, parts, task):
        super().__init__(parts)
        self.task = task

    def _scores(self, net):
        return score_parts(net, self.parts, self.task)


def score_parts(net, parts, task):
    """``{part}_score`` and ``{part}_loss`` of a fitted net on each held-out part (see :class:`_ScoreRecorder`)."""
    row = {}
    for name, (X, y) in parts.items():
        if task == "classification":
            proba = net.predict_proba(X)
            picked = proba[np.arange(len(y)), y]
            score = float(np.mean(proba.argmax(axis=1) == y))
            loss = float(-np.mean(np.log(np.clip(picked, 1e-12, None))))
        else:
            pred = np.asarray(net.predict(X), dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(pred)):
                score, loss = -np.inf, np.inf
            else:
                resid = np.sum((y - pred) ** 2)
                score = float(1.0 - resid / max(np.sum((y - y.mean()) ** 2), 1e-300))
                loss = float(np.mean(((y - pred) / float(net.target_scale_[0])) ** 2))
        row[f"{name}_score"], row[f"{name}_loss"] = score, loss
    return row


#: The arrays of a multi-dataset table with one value per (genotype, training run, epoch).
SCORE_CURVES = ("valid_score", "valid_loss", "test_score", "test_loss", "train_time")


def train_curves(space, genotype, data, *, task, epochs, seed, classes=None):
    """Train one genotype of a joint (architecture + training) space and record its learning curves.

    The generalization of :func:`train_learning_curve` to the default
    ``"mlp"`` space with its training choices and to regression: the
    network of ``genotype`` is trained by
    :func:`~sknas.evaluation.trainer.make_net` with the genotype's own
    training hyperparameters (learning rate, weight decay, batch size,
    optimizer, schedule over ``epochs`` epochs, label smoothing, snapshots)
    for ``epochs`` epochs, without early stopping, under
    ``torch.manual_seed(seed)`` and one torch thread. After every epoch the
    validation and test score and loss are recorded (see
    :class:`_ScoreRecorder`); the learning-rate schedule spans the
    ``epochs`` epochs, so an earlier epoch is a point on the full run's
    curve, as in LCBench. A snapshot ensemble's last epoch is scored on the
    averaged snapshots, the model the trainer returns.

    Parameters
    ----------
    space : JointSpace
    genotype : Genotype
    data : dict
        ``X_train, y_train, X_valid, y_valid, X_test, y_test``: preprocessed
        float matrices; labels (classification) or float targets.
    task : {"classification", "regression"}
    epochs, seed : int
    classes : array-like or None
        All class labels, sorted (classification only).

    Returns
    -------
    dict
        ``n_params`` (int) and, for each name of :data:`SCORE_CURVES`, a
        float array with one value per epoch (``train_time`` cumulative CPU
        seconds).
    """
    if task == "classification":
        classes = np.asarray(classes)
        encode = lambda y: np.searchsorted(classes, y)  # noqa: E731
        n_outputs = len(classes)
    else:
        encode = lambda y: np.asarray(y, dtype=np.float64)  # noqa: E731
        n_outputs = 1
    parts = {name: (np.asarray(data[f"X_{name}"], dtype=np.float32), encode(data[f"y_{name}"]))
             for name in ("valid", "test")}
    X_train = np.asarray(data["X_train"], dtype=np.float32)
    y_train = data["y_train"] if task == "classification" else np.asarray(data["y_train"], dtype=np.float32)
    recorder = _ScoreRecorder(parts, task)
    with torch_threads(1), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = make_net(
            space, genotype, task, X_train.shape[1], n_outputs, classes=classes,
            max_epochs=epochs, n_train=len(X_train), valid_data=None,
        )
        net.callbacks.append(("tabulate", recorder))
        net.fit(X_train, y_train)
        rows = recorder.rows_
        if len(rows) != epochs:
            raise RuntimeError(f"training stopped after {len(rows)} of {epochs} epochs")
        if int(space.training_genotype(genotype).get("snapshots", 1)) > 1:
            rows[-1].update(score_parts(net, parts, task))
    out = {name: np.array([row[name] for row in rows]) for name in SCORE_CURVES}
    out["n_params"] = count_parameters(net.module_)
    return out


def meta_space(task="classification"):
    """The space of the multi-dataset tables: the default ``"mlp"`` space with its training choices.

    ``JointSpace(MLPSpace(), TrainingSpace(task, losses=(plain,)))``, the
    architecture and training parts of the space an ``AutoNASClassifier`` or
    ``AutoNASRegressor`` searches by default (its preprocessing part is held
    fixed in the tables, see :func:`prepare_meta_dataset`), without the
    robust training losses: the tables were made before the space searched
    the loss, and their genotypes train with the plain one (cross-entropy or
    squared error; this also keeps :func:`meta_genotypes`' draws).
    """
    from ..space.joint import JointSpace
    from ..space.mlp import MLPSpace
    from ..space.training import LOSSES, TrainingSpace

    return JointSpace(MLPSpace(), TrainingSpace(task=task, losses=LOSSES[task][:1]))


#: The cost cap of the drawn genotypes of the multi-dataset tables (see :func:`meta_genotypes`).
META_MAX_COST = 100_000


def genotype_cost(space, genotype, n_inputs=16, n_outputs=2):
    """Parameters of ``genotype``'s network for ``n_inputs`` inputs, times its TabM members (``ensemble_k``).

    A proxy of the compute of one training step: a BatchEnsemble of ``k``
    members shares its weights but runs ``k`` forward passes.
    """
    return count_parameters(space.build(genotype, n_inputs, n_outputs)) * int(genotype.get("ensemble_k", 1))


def meta_genotypes(n, seed=0, max_cost=META_MAX_COST):
    """The genotypes the multi-dataset tables are made of, in the tables' order.

    First the entries of the default space's portfolio (the shipped
    meta-portfolio, then the hand-picked entries), reduced to their
    architecture and training keys; then genotypes drawn from
    :func:`meta_space` ``("classification")`` with ``numpy``'s
    ``default_rng(seed)``, skipping repeats, until there are ``n``. A drawn
    genotype is kept only when :func:`genotype_cost` (parameters for 16
    inputs and 2 outputs, times ``ensemble_k``) is at most ``max_cost``
    (``None``: no cap): the tables are computed on shared CPUs, and the
    default space's prior puts most of its mass on networks of millions of
    parameters (about 21 % of its draws pass the default cap of 100,000).
    The tabulated genotypes are therefore a sample of the default space
    *restricted to small networks*, not of its prior; the portfolio
    entries are kept whatever their cost. On a regression table
    ``label_smoothing`` (a classification-only key) is dropped from each
    genotype.
    """
    from ..space.joint import JointSpace
    from ..space.pipeline import PipelineSpace

    space = meta_space("classification")
    names = {p.name for p in space.params}
    full = JointSpace(space.arch, space.training, PipelineSpace(task="classification"))
    out = []
    for entry in full.portfolio() + full.hand_portfolio():
        g = space.validate({k: v for k, v in entry.items() if k in names})
        if g not in out:
            out.append(g)
    rng = np.random.default_rng(seed)
    while len(out) < n:
        g = space.sample(rng)
        if max_cost is not None and genotype_cost(space, g) > max_cost:
            continue
        if g not in out:
            out.append(g)
    return out[:n]


def prepare_meta_dataset(X, y, kind, *, max_rows=1000, seed=0):
    """One raw table made ready for tabulation: subsampled, split 60/20/20, preprocessed once.

    At most ``max_rows`` rows are kept (drawn at random, stratified by class
    for classification), split into training, validation and test parts of
    60/20/20 (stratified when every class has at least 5 rows), and
    preprocessed by the default pipeline of sknas's search,
    ``PipelineSpace(task).build(PipelineSpace(task).portfolio()[0])``
    (``TableCleaner``, then ``TabularPreprocessor`` with quantile scaling
    and one-hot encoding, then float32), fitted on the training part. Class
    labels are encoded as ``0 .. n_classes - 1`` (sorted distinct values).

    Parameters
    ----------
    X : DataFrame
    y : Series or array
    kind : {"binary", "multiclass", "regression"}
    max_rows : int, default=1000
    seed : int, default=0

    Returns
    -------
    data : dict
        ``X_train, y_train, X_valid, y_valid, X_test, y_test``.
    info : dict
        A JSON-able record of what was done (rows, split, classes, features).
    """
    from sklearn.model_selection import train_test_split

    from ..space.pipeline import PipelineSpace

    if kind not in ("binary", "multiclass", "regression"):
        raise ValueError(f"prepare_meta_dataset: kind must be binary, multiclass or regression. Got {kind!r} instead.")
    task = "regression" if kind == "regression" else "classification"
    y = np.asarray(y)
    info = {"rows_total": int(len(y))}
    if task == "classification":
        original, y = np.unique(y.astype(str), return_inverse=True)
        info["classes_original"] = [str(c) for c in original]
        info["classes"] = list(range(len(original)))
    else:
        y = y.astype(np.float64)
    index = np.arange(len(y))

    def stratify(idx):
        if task != "classification":
            return None
        counts = np.unique(y[idx], return_counts=True)[1]
        return y[idx] if counts.min() >= 5 else None

    if len(index) > max_rows:
        index, _ = train_test_split(index, train_size=max_rows, random_state=seed, stratify=stratify(index))
        index = np.sort(index)
    train, rest = train_test_split(index, train_size=0.6, random_state=seed, stratify=stratify(index))
    valid, test = train_test_split(rest, train_size=0.5, random_state=seed, stratify=stratify(rest))
    pipeline_space = PipelineSpace(task=task)
    prep = pipeline_space.build(pipeline_space.portfolio()[0])
    X_train = prep.fit_transform(X.iloc[train], y[train])
    data = {"X_train": X_train, "y_train": y[train],
            "X_valid": prep.transform(X.iloc[valid]), "y_valid": y[valid],
            "X_test": prep.transform(X.iloc[test]), "y_test": y[test]}
    info.update({
        "rows_used": int(len(index)), "split": {"train": len(train), "valid": len(valid), "test": len(test)},
        "method": f"random subsample to at most {max_rows} rows, then 60/20/20 train_test_split "
                  f"(stratified for classification when every class has >= 5 rows), random_state={seed}",
        "pipeline": dict(pipeline_space.portfolio()[0]),
        "n_features_in": int(X.shape[1]), "n_features_out": int(X_train.shape[1]),
    })
    return data, info


def table_path(dataset):
    """The shipped table file of ``dataset`` (``"digits"`` or a name of :func:`available_datasets`)."""
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a str. Got {dataset!r} instead.")
    name = DEFAULT_TABLE if dataset == "digits" else f"tabnas_{dataset}.npz"
    if dataset not in available_datasets():
        raise ValueError(
            f"no shipped table for dataset {dataset!r}; the shipped ones are {available_datasets()}."
        )
    return resources.files("sknas").joinpath("data", name)


def available_datasets():
    """Names of the datasets with a table shipped in ``sknas/data``: ``"digits"`` first, then the others sorted."""
    names = [
        entry.name[len("tabnas_"):-len(".npz")] for entry in resources.files("sknas").joinpath("data").iterdir()
        if entry.name.startswith("tabnas_") and entry.name.endswith(".npz") and not entry.name.endswith(".tmp.npz")
    ]
    return ["digits"] + sorted(n for n in names if n != "digits")


def load_table(table=None, dataset=None):
    """Read a table made by ``benchmarks/make_tabulated_benchmark.py`` or ``make_tabulated_meta.py``.

    Parameters
    ----------
    table : str, path or None, default=None
        A table file.
    dataset : str or None, default=None
        A shipped table by name (see :func:`available_datasets`); ``table``
        and ``dataset`` both ``None``: the digits table (:data:`DEFAULT_TABLE`).

    Returns
    -------
    dict
        ``genotypes`` (list of Genotype), ``n_params`` (int array),
        ``meta`` (dict), ``epochs`` (int array of the recorded epochs),
        ``task`` ("classification" or "regression") and the float arrays of
        :data:`SCORE_CURVES` shaped ``(n_genotypes, n_runs, n_epochs)``;
        for classification also those of :data:`CURVES` (the scores under
        their accuracy names). Failed trainings hold NaN scores.
    """
    if table is not None and dataset is not None:
        raise ValueError("load_table: give table or dataset, not both.")
    if table is None:
        source = table_path("digits" if dataset is None else dataset)
        with resources.as_file(source) as path:
            return _read_table(path)
    path = Path(table)
    if not path.is_file():
        raise ValueError(f"load_table: no table file at {str(path)!r}. Got table={table!r} instead.")
    return _read_table(path)


def _read_table(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    if "valid_accuracy" in arrays and "valid_score" not in arrays:  # the digits table's names
        for old, new in zip(CURVES, SCORE_CURVES):
            if old in arrays:
                arrays[new] = arrays.pop(old)
    missing = sorted({"genotypes", "n_params", "meta", *SCORE_CURVES} - set(arrays))
    if missing:
        raise ValueError(f"load_table: {str(path)!r} is not a sknas benchmark table; it lacks {missing}.")
    out = {name: np.asarray(arrays[name], dtype=np.float64) for name in SCORE_CURVES}
    out["genotypes"] = [Genotype.from_json(str(text)) for text in arrays["genotypes"]]
    out["n_params"] = np.asarray(arrays["n_params"], dtype=np.int64)
    out["meta"] = json.loads(str(arrays["meta"]))
    out["task"] = "regression" if out["meta"].get("task") == "regression" else "classification"
    out["epochs"] = np.asarray(out["meta"].get("epochs", range(1, out["valid_score"].shape[2] + 1)), dtype=int)
    shape = (len(out["genotypes"]),) + out["valid_score"].shape[1:]
    for name in SCORE_CURVES:
        if out[name].shape != shape or out[name].shape[2] != len(out["epochs"]):
            raise ValueError(
                f"load_table: {name} has shape {out[name].shape}; expected {shape} with "
                f"{len(out['epochs'])} recorded epochs."
            )
    if out["task"] == "classification":
        out.update({old: out[new] for old, new in zip(CURVES, SCORE_CURVES)})
    return out


def _valid(space, genotype, params):
    """``space.validate(genotype)`` with the space's parameters given (validate looks them up on every call)."""
    checked = space._complete(genotype, None, params)
    extra = set(genotype) - set(checked)
    if extra:
        raise ValueError(f"{type(space).__name__}: genotype has inactive or unknown parameters {sorted(extra)}.")
    return checked


class TabulatedSpace(SearchSpace):
    """A finite space: the genotypes of a table, inside the parameters of the space they were drawn from.

    The multi-dataset tables hold a sample of the default ``"mlp"`` space
    (:func:`meta_genotypes`), not all of it, so a searcher must be kept to
    the sample. This space has the parameters of ``base`` (every searcher
    sees the decisions, encodings and priors it would see on the real
    space), and every genotype it hands out is tabulated:

    - :meth:`sample` draws a tabulated genotype uniformly (random search is
      uniform over the table, as on NAS-Bench-101/201);
    - :meth:`mutate` and :meth:`crossover` apply ``base``'s operator, then
      :meth:`nearest` maps the child to the closest tabulated genotype
      (for a mutation, the closest one other than the parent, so a mutation
      always moves);
    - :meth:`from_decisions` and :meth:`from_hyperopt` (the controllers'
      and TPE's way to name a genotype) map their genotype the same way;
    - :meth:`validate` accepts any genotype of ``base``: what a searcher
      builds by other means is answered by the benchmark through
      :meth:`nearest` as well (:meth:`TabularBenchmark.evaluate`).

    Closeness is the Euclidean distance of ``base.encode`` (one-hot
    categoricals, unit-scaled numbers, log-scaled where the parameter is
    log-uniform; inactive parameters encode as zeros or -1), the
    encoding every model-based searcher of sknas already uses. This is a
    nearest-neighbour surrogate of the untabulated part of the space; the
    regret of a search is that of the tabulated genotype it was answered
    with.

    Parameters
    ----------
    base : SearchSpace
        The space the genotypes belong to.
    genotypes : list of Genotype
        The tabulated genotypes (each valid in ``base``).
    """

    def __init__(self, base, genotypes):
        self.base = base
        self.genotypes = genotypes

    def _params(self):
        return list(self.base.params)

    @property
    def params(self):
        # the base space's (cached there); this space's own get_params would repr every genotype
        return self.base.params

    def build(self, genotype, n_inputs, n_outputs):
        return self.base.build(genotype, n_inputs, n_outputs)

    def _encode(self, genotype, params):
        parts = [p.encode(genotype[p.name]) if p.name in genotype else p.encode_inactive() for p in params]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _code(self, genotype):
        params = self._table()[3]
        genotype = genotype if isinstance(genotype, Genotype) else Genotype(genotype)
        return self._encode(self.base._complete(genotype, None, params), params)

    def _table(self):
        key = (id(self.base), id(self.genotypes), len(self.genotypes))
        cached = self.__dict__.get("_table_cache")
        if cached is None or cached[0] != key:
            params = self.base.params
            table = [_valid(self.base, g, params) for g in self.genotypes]
            codes = np.stack([self._encode(g, params) for g in table]) if table else np.zeros((0, 0))
            cached = (key, table, codes, {g: i for i, g in enumerate(table)}, params)
            self.__dict__["_table_cache"] = cached
        table, codes, rows, params = cached[1:]
        return table, codes, rows, params

    def index(self, genotype):
        """Row of the tabulated genotype :meth:`nearest` maps ``genotype`` to."""
        table, codes, rows, _ = self._table()
        genotype = genotype if isinstance(genotype, Genotype) else Genotype(genotype)
        row = rows.get(genotype)
        if row is not None:
            return row
        return int(np.argmin(((codes - self._code(genotype)) ** 2).sum(axis=1)))

    def nearest(self, genotype, exclude=None):
        """The tabulated genotype closest to ``genotype`` (itself when tabulated), never ``exclude``."""
        table, codes, rows, _ = self._table()
        if exclude is None:
            return table[self.index(genotype)]
        distance = ((codes - self._code(genotype)) ** 2).sum(axis=1)
        skip = rows.get(exclude if isinstance(exclude, Genotype) else Genotype(exclude))
        if skip is not None and len(table) > 1:
            distance[skip] = np.inf
        return table[int(np.argmin(distance))]

    def sample(self, rng):
        table = self._table()[0]
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return table[int(rng.integers(len(table)))]

    def mutate(self, genotype, rng):
        return self.nearest(self.base.mutate(genotype, rng), exclude=genotype)

    def crossover(self, a, b, rng):
        return self.nearest(self.base.crossover(a, b, rng))

    def from_decisions(self, values):
        return self.nearest(self.base.from_decisions(values))

    def from_hyperopt(self, point):
        return self.nearest(self.base.from_hyperopt(point))


class TabularBenchmark:
    """An evaluator that answers candidates from a table of trained networks, at once.

    Every genotype of :class:`TabularBenchSpace` was trained with fixed
    settings and its learning curves recorded (validation and test
    accuracy and loss, training time, after every epoch; see
    ``benchmarks/make_tabulated_benchmark.py``). :meth:`evaluate` has the
    signature of :meth:`sknas.evaluation.trainer.Evaluator.evaluate` and
    returns the :class:`~sknas.evaluation.trial.TrialResult` that training
    would have returned, with the recorded training time as ``fit_time``,
    so a benchmark of optimizers costs lookups instead of trainings and can
    charge each trial its true cost to a simulated clock
    (:meth:`simulate`).

    The default table (``tabnas_digits.npz``, about 0.5 MB): scikit-learn's
    ``load_digits`` (1,797 rows, 64 features, 10 classes) split 50/25/25
    into training, validation and test parts; each of the 1,374 networks
    trained twice (torch seeds 0 and 1) for 12 epochs with AdamW at a
    constant learning rate of 1e-3 and batch size 128; times are CPU
    seconds of one core. Scores are accuracies.

    The multi-dataset tables (``dataset=NAME``, see the module docstring):
    the genotypes are a capped sample of the default ``"mlp"`` space with
    training choices, answered on :class:`TabulatedSpace` (a proposal that
    is not tabulated gets its nearest tabulated genotype's results, and its
    regret); scores are accuracy (classification) or R^2 (regression); a
    failed training (NaN score) is answered as a failed trial, and its
    genotype's final test score counts as the table's worst.

    Parameters
    ----------
    table : str, path or None, default=None
        A table file; ``None`` (and no ``dataset``): the digits table.
    dataset : str or None, default=None
        A shipped table by name (:func:`available_datasets`), e.g.
        ``"vote92"``; ``"digits"`` is the default table.
    runs : {"mean", "sample"}, default="mean"
        Which training run answers. ``"mean"``: the average over the
        recorded runs (deterministic). ``"sample"``: run
        ``seed % n_runs``, where ``seed`` is the trial seed given to
        :meth:`evaluate`, so a query is as noisy as a real training.

    Attributes
    ----------
    space : TabularBenchSpace or TabulatedSpace
        The space the table covers (the digits table: all of it).
    task : {"classification", "regression"}
    final_test_score : ndarray
        Test score (accuracy or R^2) of each genotype at ``max_epochs``,
        averaged over runs; ``final_test_accuracy`` is the same array for
        classification tables.
    genotypes : list of Genotype
        Every genotype of the table, in the table's order.
    epochs : ndarray of int
        The recorded epochs (fidelities), ascending.
    max_epochs : int
        The highest recorded epoch: the full fidelity.
    n_runs : int
        Training runs recorded per genotype.
    meta : dict
        How the table was made (data, split, training settings, versions).
    final_test_accuracy : ndarray
        Test accuracy of each genotype at ``max_epochs``, averaged over runs.
    optimum : float
        The largest ``final_test_accuracy``: regret is measured from it.
    best_genotype : Genotype
        The genotype that reaches ``optimum``.

    Notes
    -----
    Fidelity: ``Candidate.epochs`` is answered at the largest recorded epoch
    not above it (every epoch from 1 to 12 is recorded in the shipped
    table); ``None`` or more than ``max_epochs`` means ``max_epochs``. The
    learning rate is constant, so a network's state after ``e`` epochs is
    that of a training of ``e`` epochs. A candidate is charged the time of
    training it from scratch, as sknas's
    :class:`~sknas.evaluation.trainer.Evaluator` does (a promotion of
    Hyperband pays for its lower rungs again). ``Candidate.data_fraction``
    below 1 is not supported (the table holds no subsampled training) and
    raises a ValueError. ``data`` and ``deadline`` are accepted for the
    evaluator's signature and ignored: the table has its own data, and the
    simulated clock stands for the wall clock.

    References
    ----------
    Ying, Klein, Real, Christiansen, Murphy, Hutter. "NAS-Bench-101: Towards
    Reproducible Neural Architecture Search." ICML 2019.
    Dong, Yang. "NAS-Bench-201: Extending the Scope of Reproducible Neural
    Architecture Search." ICLR 2020.
    Zimmer, Lindauer, Hutter. "Auto-PyTorch Tabular: Multi-Fidelity
    MetaLearning for Efficient and Robust AutoDL." IEEE TPAMI 2021 (LCBench).

    Examples
    --------
    >>> from sknas.benchmark.tabulated import TabularBenchmark
    >>> from sknas.search.evolution import RegularizedEvolution
    >>> bench = TabularBenchmark()
    >>> run = bench.simulate(RegularizedEvolution(), max_trials=50, seed=0)
    >>> bool(run["regret"][-1] <= run["regret"][0])
    True
    """

    def __init__(self, table=None, runs="mean", dataset=None):
        if runs not in ("mean", "sample"):
            raise ValueError(f"TabularBenchmark: runs must be 'mean' or 'sample'. Got {runs!r} instead.")
        self.table = table
        self.runs = runs
        self.dataset = dataset
        data = load_table(table, dataset=dataset)
        self.task = data["task"]
        self.meta = data["meta"]
        self.genotypes = data["genotypes"]
        if str(self.meta.get("space", "")).startswith("sknas.benchmark.tabulated.meta_space"):
            base = meta_space(self.task)
            params = base.params
            names = {p.name for p in params}
            # row i is the same genotype in every table; a regression table drops label_smoothing
            self.genotypes = [_valid(base, {k: v for k, v in g.items() if k in names}, params) for g in self.genotypes]
            self.space = TabulatedSpace(base, self.genotypes)
        else:
            self.space = TabularBenchSpace()
        self.epochs = data["epochs"]
        self.max_epochs = int(self.epochs[-1])
        self.n_params = data["n_params"]
        names = SCORE_CURVES + (CURVES if self.task == "classification" else ())
        self._curves = {name: data[name] for name in names}
        self.n_runs = self._curves["valid_score"].shape[1]
        self._index = {g: i for i, g in enumerate(self.genotypes)}
        if len(self._index) != len(self.genotypes):
            raise ValueError("TabularBenchmark: the table lists a genotype twice.")
        with np.errstate(invalid="ignore"):
            final = self._curves["test_score"][:, :, -1].mean(axis=1)
        # a failed training (NaN score) counts as the worst score of the table
        self.final_test_score = np.where(np.isfinite(final), final, np.nanmin(np.where(np.isfinite(final), final, np.nan)))
        if self.task == "classification":
            self.final_test_accuracy = self.final_test_score
        best = int(np.argmax(self.final_test_score))
        self.optimum = float(self.final_test_score[best])
        self.best_genotype = self.genotypes[best]

    def final_valid_scores(self):
        """Final validation score of every genotype, ``(n_genotypes, n_runs)`` (NaN for a failed run)."""
        return self._curves["valid_score"][:, :, -1].copy()

    def __len__(self):
        return len(self.genotypes)

    # -- lookups -------------------------------------------------------------------
    def _row(self, genotype):
        genotype = genotype if isinstance(genotype, Genotype) else Genotype(genotype)
        row = self._index.get(genotype)
        if row is None:
            self.space.validate(genotype)  # names the problem when it is not of the space
            if isinstance(self.space, TabulatedSpace):
                return self.space.index(genotype)
            raise ValueError(f"TabularBenchmark: the table has no entry for {genotype}.")
        return row

    def answered(self, genotype):
        """The tabulated genotype that answers ``genotype``: itself, or its nearest (see :class:`TabulatedSpace`)."""
        return self.genotypes[self._row(genotype)]

    def _epoch_column(self, epochs):
        if epochs is None or epochs >= self.max_epochs:
            return len(self.epochs) - 1
        column = int(np.searchsorted(self.epochs, epochs, side="right")) - 1
        return max(column, 0)

    def _run(self, seed):
        return None if self.runs == "mean" else int(seed) % self.n_runs

    def lookup(self, genotype, epochs=None, run=None):
        """The recorded metrics of one genotype at one fidelity.

        Parameters
        ----------
        genotype : Genotype or dict
        epochs : int or None, default=None
            Answered at the largest recorded epoch not above it; ``None``:
            the full fidelity.
        run : int or None, default=None
            One training run, or ``None`` for the average over runs.

        Returns
        -------
        dict
            ``epochs`` (the recorded epoch answered), ``n_params`` and each
            name of :data:`CURVES` (``train_time`` is in seconds).
        """
        row, column = self._row(genotype), self._epoch_column(epochs)
        runs = slice(None) if run is None else run
        out = {name: float(np.mean(values[row, runs, column])) for name, values in self._curves.items()}
        out["genotype"] = self.genotypes[row]
        out["epochs"] = int(self.epochs[column])
        out["n_params"] = int(self.n_params[row])
        return out

    def evaluate(self, candidate, data=None, deadline=None, seed=0, incumbent_loss=None, stop=None):
        """The result training ``candidate`` would return, read from the table.

        Parameters
        ----------
        candidate : Candidate
            A genotype of :attr:`space`, at ``epochs`` (see the class Notes);
            ``data_fraction`` must be 1.
        data, deadline, incumbent_loss : ignored
            Accepted for the signature of ``Evaluator.evaluate`` (the table
            holds whole learning curves: nothing is pruned).
        seed : int, default=0
            Picks the training run when ``runs="sample"``.

        Returns
        -------
        TrialResult
            ``score`` is the validation accuracy, ``fit_time`` the recorded
            training time, ``learning_curve`` the validation losses up to
            the answered epoch.
        """
        if not isinstance(candidate, Candidate):
            raise TypeError(f"TabularBenchmark.evaluate expects a Candidate. Got {candidate!r} instead.")
        if candidate.data_fraction != 1.0:
            raise ValueError(
                "TabularBenchmark: the table records training on the whole training part only; "
                f"data_fraction must be 1.0. Got {candidate.data_fraction!r} instead."
            )
        row, column = self._row(candidate.genotype), self._epoch_column(candidate.epochs)
        run = self._run(seed)
        runs = slice(None) if run is None else run

        def at(name, columns):
            values = self._curves[name][row, runs, columns]
            return values.mean(axis=0) if run is None else values

        curve = at("valid_loss", slice(0, column + 1))
        n_epochs = int(self.epochs[column])
        score = float(at("valid_score", column))
        fit_time = float(at("train_time", column))
        fit_time = fit_time if math.isfinite(fit_time) else 0.0
        if not math.isfinite(score):
            return TrialResult(
                score=None, status="failed", error="the tabulated training failed (non-finite score)",
                fit_time=fit_time, n_params=int(self.n_params[row]), n_epochs=n_epochs,
            )
        return TrialResult(
            score=score, status="ok", fit_time=fit_time,
            n_params=int(self.n_params[row]), n_epochs=n_epochs, best_epoch=n_epochs,
            stop_reason="max_epochs", learning_curve=[float(v) for v in np.atleast_1d(curve)],
        )

    def test_accuracy(self, genotype, epochs=None, run=None):
        """Test accuracy of ``genotype`` at ``epochs`` (one run, or the average over runs); classification only."""
        if self.task != "classification":
            raise ValueError("TabularBenchmark.test_accuracy: a regression table has no accuracy; use test_score.")
        return self.lookup(genotype, epochs, run)["test_accuracy"]

    def test_score(self, genotype, epochs=None, run=None):
        """Test score (accuracy, or R^2 for regression) of ``genotype`` at ``epochs``."""
        return self.lookup(genotype, epochs, run)["test_score"]

    def regret(self, genotype):
        """``optimum`` minus the average final test score of ``genotype`` (never negative)."""
        return self.optimum - float(self.final_test_score[self._row(genotype)])

    # -- simulation ----------------------------------------------------------------
    def simulate(self, searcher, *, budget_seconds=None, max_trials=None, seed=None):
        """Run a searcher's ask/tell loop on the table, on a simulated clock.

        One worker: the searcher is asked one candidate at a time, the
        candidate is answered by :meth:`evaluate`, the clock advances by
        its recorded training time, and the result is told. The loop stops
        once the clock reaches ``budget_seconds`` (the trial running then
        is completed, so the last time may pass the budget), after
        ``max_trials`` trials, or when the searcher has nothing left.

        The incumbent is chosen as sknas's runner chooses it: full-fidelity
        trials rank above low-fidelity ones, then the larger validation
        score, and the earlier trial on ties. Its regret is that of its
        genotype (:meth:`regret`): what the search found, measured on the
        test part after full training, as in NAS-Bench-201.

        Parameters
        ----------
        searcher : Searcher or str
            A searcher or a name of :data:`sknas.search.base.SEARCHERS`. It
            is cloned, never changed; ``set_budget(max_epochs=max_epochs)``
            tells the multi-fidelity searchers the full fidelity. Searchers
            that train weights of their own (``needs_data``: the one-shot
            ones and network morphism) cannot be simulated: ValueError.
        budget_seconds : float or None, default=None
            Simulated seconds of training.
        max_trials : int or None, default=None
            At least one of the two budgets must be given.
        seed : int or None, default=None
            Seeds the searcher and the trial seeds.

        Returns
        -------
        dict
            Equal-length columns, one row per trial: ``trial`` (from 1),
            ``time`` (the simulated clock when the trial ended), ``genotype``,
            ``epochs``, ``score`` (validation accuracy), ``fit_time``,
            ``incumbent_score``, ``incumbent_test`` (final test accuracy of
            the incumbent's genotype) and ``regret``; plus the scalar
            ``optimum`` and the fitted ``searcher``.
        """
        if budget_seconds is None and max_trials is None:
            raise ValueError("TabularBenchmark.simulate: give budget_seconds, max_trials or both.")
        if budget_seconds is not None and not (isinstance(budget_seconds, (int, float)) and budget_seconds > 0):
            raise ValueError(
                f"TabularBenchmark.simulate: budget_seconds must be a number > 0. Got {budget_seconds!r} instead."
            )
        if max_trials is not None and (not isinstance(max_trials, (int, np.integer)) or max_trials < 1):
            raise ValueError(f"TabularBenchmark.simulate: max_trials must be an int >= 1. Got {max_trials!r} instead.")
        searcher = clone(make_searcher(searcher))
        if getattr(searcher, "needs_data", False):
            raise ValueError(
                f"TabularBenchmark.simulate: {type(searcher).__name__} trains weights of its own "
                "(needs_data=True); a table of separately trained networks cannot stand in for that. "
                "Only black-box searchers (ask/tell on scores) can be simulated."
            )
        rng = np.random.default_rng(seed)
        searcher.setup(self.space, int(rng.integers(2**63 - 1)))
        searcher.set_budget(max_epochs=self.max_epochs)
        columns = {name: [] for name in (
            "trial", "time", "genotype", "epochs", "score", "fit_time", "incumbent_score", "incumbent_test", "regret",
        )}
        clock, best_key, best = 0.0, None, None
        while (max_trials is None or len(columns["trial"]) < max_trials) and (
            budget_seconds is None or clock < budget_seconds
        ):
            asked = searcher.ask(1)
            if not asked:
                break
            candidate = asked[0]
            result = self.evaluate(candidate, seed=int(rng.integers(2**31 - 1)))
            clock += result.fit_time
            searcher.tell(candidate, result)
            score = result_score(result)
            full = result.n_epochs >= self.max_epochs
            if score is not None and (best_key is None or (full, score) > best_key):
                best_key, best = (full, score), self.answered(candidate.genotype)
            row = self._row(best) if best is not None else None
            columns["trial"].append(len(columns["trial"]) + 1)
            columns["time"].append(clock)
            columns["genotype"].append(candidate.genotype)
            columns["epochs"].append(result.n_epochs)
            columns["score"].append(math.nan if score is None else score)
            columns["fit_time"].append(result.fit_time)
            columns["incumbent_score"].append(math.nan if best_key is None else best_key[1])
            columns["incumbent_test"].append(math.nan if row is None else float(self.final_test_score[row]))
            columns["regret"].append(math.nan if row is None else self.optimum - float(self.final_test_score[row]))
        out = {name: (values if name == "genotype" else np.asarray(values)) for name, values in columns.items()}
        out["optimum"] = self.optimum
        out["searcher"] = searcher
        return out


def regret_at(run, times):
    """Regret of a simulated run's incumbent at given simulated times.

    Parameters
    ----------
    run : dict
        A result of :meth:`TabularBenchmark.simulate`.
    times : array-like of float
        Simulated seconds.

    Returns
    -------
    ndarray
        For each time, the regret after the last trial that ended by then
        (NaN before the first trial ended).
    """
    times = np.asarray(times, dtype=float)
    ended = np.searchsorted(run["time"], times, side="right")
    regret = np.asarray(run["regret"], dtype=float)
    return np.where(ended > 0, regret[np.maximum(ended - 1, 0)], np.nan)
