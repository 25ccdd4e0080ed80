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
    "DEFAULT_TABLE", "TabularBenchSpace", "TabularBenchmark", "digits_split", "enumerate_genotypes",
    "load_table", "regret_at", "train_learning_curve",
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
        row = {"train_time": self._elapsed}
        for name, (X, y_index) in self.parts.items():
            proba = net.predict_proba(X)
            picked = proba[np.arange(len(y_index)), y_index]
            row[f"{name}_accuracy"] = float(np.mean(proba.argmax(axis=1) == y_index))
            row[f"{name}_loss"] = float(-np.mean(np.log(np.clip(picked, 1e-12, None))))
        self.rows_.append(row)


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


def load_table(table=None):
    """Read a table made by ``benchmarks/make_tabulated_benchmark.py``.

    Parameters
    ----------
    table : str, path or None, default=None
        ``None``: the table shipped with sknas (:data:`DEFAULT_TABLE`).

    Returns
    -------
    dict
        ``genotypes`` (list of Genotype), ``n_params`` (int array),
        ``meta`` (dict), ``epochs`` (int array of the recorded epochs) and
        the float arrays of :data:`CURVES`, shaped
        ``(n_genotypes, n_runs, n_epochs)``.
    """
    if table is None:
        source = resources.files("sknas").joinpath("data", DEFAULT_TABLE)
        with resources.as_file(source) as path:
            return _read_table(path)
    path = Path(table)
    if not path.is_file():
        raise ValueError(f"load_table: no table file at {str(path)!r}. Got table={table!r} instead.")
    return _read_table(path)


def _read_table(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    missing = sorted({"genotypes", "n_params", "meta", *CURVES} - set(arrays))
    if missing:
        raise ValueError(f"load_table: {str(path)!r} is not a sknas benchmark table; it lacks {missing}.")
    out = {name: np.asarray(arrays[name], dtype=np.float64) for name in CURVES}
    out["genotypes"] = [Genotype.from_json(str(text)) for text in arrays["genotypes"]]
    out["n_params"] = np.asarray(arrays["n_params"], dtype=np.int64)
    out["meta"] = json.loads(str(arrays["meta"]))
    out["epochs"] = np.asarray(out["meta"].get("epochs", range(1, out["valid_accuracy"].shape[2] + 1)), dtype=int)
    shape = (len(out["genotypes"]),) + out["valid_accuracy"].shape[1:]
    for name in CURVES:
        if out[name].shape != shape or out[name].shape[2] != len(out["epochs"]):
            raise ValueError(
                f"load_table: {name} has shape {out[name].shape}; expected {shape} with "
                f"{len(out['epochs'])} recorded epochs."
            )
    return out


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

    The shipped table (``tabnas_digits.npz``, about 0.5 MB): scikit-learn's
    ``load_digits`` (1,797 rows, 64 features, 10 classes) split 50/25/25
    into training, validation and test parts; each of the 1,374 networks
    trained twice (torch seeds 0 and 1) for 12 epochs with AdamW at a
    constant learning rate of 1e-3 and batch size 128; times are CPU
    seconds of one core. Scores are accuracies.

    Parameters
    ----------
    table : str, path or None, default=None
        A table file; ``None``: the shipped one.
    runs : {"mean", "sample"}, default="mean"
        Which training run answers. ``"mean"``: the average over the
        recorded runs (deterministic). ``"sample"``: run
        ``seed % n_runs``, where ``seed`` is the trial seed given to
        :meth:`evaluate`, so a query is as noisy as a real training.

    Attributes
    ----------
    space : TabularBenchSpace
        The space the table covers.
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

    def __init__(self, table=None, runs="mean"):
        if runs not in ("mean", "sample"):
            raise ValueError(f"TabularBenchmark: runs must be 'mean' or 'sample'. Got {runs!r} instead.")
        self.table = table
        self.runs = runs
        data = load_table(table)
        self.space = TabularBenchSpace()
        self.genotypes = data["genotypes"]
        self.meta = data["meta"]
        self.epochs = data["epochs"]
        self.max_epochs = int(self.epochs[-1])
        self.n_params = data["n_params"]
        self._curves = {name: data[name] for name in CURVES}
        self.n_runs = self._curves["valid_accuracy"].shape[1]
        self._index = {g: i for i, g in enumerate(self.genotypes)}
        if len(self._index) != len(self.genotypes):
            raise ValueError("TabularBenchmark: the table lists a genotype twice.")
        self.final_test_accuracy = self._curves["test_accuracy"][:, :, -1].mean(axis=1)
        best = int(np.argmax(self.final_test_accuracy))
        self.optimum = float(self.final_test_accuracy[best])
        self.best_genotype = self.genotypes[best]

    def __len__(self):
        return len(self.genotypes)

    # -- lookups -------------------------------------------------------------------
    def _row(self, genotype):
        genotype = genotype if isinstance(genotype, Genotype) else Genotype(genotype)
        row = self._index.get(genotype)
        if row is None:
            self.space.validate(genotype)  # names the problem when it is not of the space
            raise ValueError(f"TabularBenchmark: the table has no entry for {genotype}.")
        return row

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
        return TrialResult(
            score=float(at("valid_accuracy", column)), status="ok", fit_time=float(at("train_time", column)),
            n_params=int(self.n_params[row]), n_epochs=n_epochs, best_epoch=n_epochs,
            stop_reason="max_epochs", learning_curve=[float(v) for v in np.atleast_1d(curve)],
        )

    def test_accuracy(self, genotype, epochs=None, run=None):
        """Test accuracy of ``genotype`` at ``epochs`` (one run, or the average over runs)."""
        return self.lookup(genotype, epochs, run)["test_accuracy"]

    def regret(self, genotype):
        """``optimum`` minus the average final test accuracy of ``genotype`` (never negative)."""
        return self.optimum - float(self.final_test_accuracy[self._row(genotype)])

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
                best_key, best = (full, score), candidate.genotype
            row = self._row(best) if best is not None else None
            columns["trial"].append(len(columns["trial"]) + 1)
            columns["time"].append(clock)
            columns["genotype"].append(candidate.genotype)
            columns["epochs"].append(result.n_epochs)
            columns["score"].append(math.nan if score is None else score)
            columns["fit_time"].append(result.fit_time)
            columns["incumbent_score"].append(math.nan if best_key is None else best_key[1])
            columns["incumbent_test"].append(math.nan if row is None else float(self.final_test_accuracy[row]))
            columns["regret"].append(math.nan if row is None else self.optimum - float(self.final_test_accuracy[row]))
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
