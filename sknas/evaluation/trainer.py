"""Training one candidate with skorch: the net classes, callbacks and the evaluator.

The nets are thin skorch subclasses that take a table already turned into a
float matrix (by the preprocessing step of the pipeline) and:

- feed batches by slicing tensors (:class:`TensorBatchIterator`) instead of
  collating samples one by one through a ``DataLoader``, so that a trial costs
  little more than a hand-written torch loop;
- take their validation data explicitly (``valid_data=(X, y)``);
- for classification, accept labels of any type and return them from
  ``predict``; for regression, standardize the target internally and
  restore its scale in ``predict``.

Behaviour is added through skorch callbacks: early stopping with best-epoch
restore (skorch's ``EarlyStopping(load_best=True)``), a wall-clock deadline
(:class:`Deadline`), a guard against non-finite losses
(:class:`FiniteLossGuard`) and, for a genotype with ``snapshots > 1``, the
collection of a snapshot ensemble (:class:`sknas.nn.snapshot.SnapshotCollector`;
Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for free", ICLR).
"""

from __future__ import annotations

import contextlib
import math
import time
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, LRScheduler, PassthroughScoring
from skorch.dataset import Dataset

from ..nn.builders import count_parameters
from ..nn.snapshot import SnapshotCollector, SnapshotEnsemble
from .batched import BatchedFitError, fit_members
from .fidelity import LearningCurvePruner, PlainValidLoss, plain_loss
from .ensembles import EnsembleClassifier, EnsembleRegressor
from .objectives import count_flops, measure_latency
from ..prep.chunked import fit_transform_bounded, transform_bounded
from ..prep.imbalance import resample_training
from ..prep.tabular import TabularPreprocessor
from .trial import TrialResult

__all__ = [
    "Deadline", "Evaluator", "FiniteLossGuard", "NonFiniteLossError", "TabularClassifierNet",
    "TabularRegressorNet", "TensorBatchIterator", "failed_result", "make_net",
]

#: Whether an :class:`Evaluator` trains the folds of a cross-validated trial together
#: (:mod:`sknas.evaluation.batched`) by default. Off: on the 2-core CPUs we measure on, a
#: step of the default space's networks is bound by arithmetic, the optimizer and the
#: dropout sampler, not by dispatch, and the batched form ran at 0.56x (width 512) to 1.51x
#: (width 32, batch 32) the speed of the sequential one
#: (``benchmarks/bench_batched_folds.py``; in whole searches ``bench_throughput.py --configs
#: after,batched``; "Where a trial's time goes" in docs/user_guide/evaluation.rst).
BATCHED_FOLDS = False


def _fused_adamw_on_cpu():
    """Whether this torch has the fused (one kernel for all tensors) AdamW on CPU (torch >= 2.4).

    Read from the version: building an optimizer to find out would import ``torch._dynamo``
    (seconds) whenever sknas is imported.
    """
    major, minor = (int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return (major, minor) >= (2, 4)


#: The searched optimizers: class and fixed keyword arguments. AdamW runs fused where torch
#: has it, the others multi-tensor (``foreach``): the update is the same, computed in fewer
#: kernel calls (on a 3 x 256 network on CPU, the per-tensor loop was a quarter of each step).
OPTIMIZER_CLASSES = {
    "adamw": (torch.optim.AdamW, {"fused": True} if _fused_adamw_on_cpu() else {"foreach": True}),
    "nadam": (torch.optim.NAdam, {"decoupled_weight_decay": True, "foreach": True}),
    "radam": (torch.optim.RAdam, {"decoupled_weight_decay": True, "foreach": True}),
}


class NonFiniteLossError(RuntimeError):
    """Raised when a training or validation loss becomes NaN or infinite."""


class ConstraintViolation(ValueError):
    """Raised before training a candidate that breaks a hard constraint."""


class NoEpochError(RuntimeError):
    """Training was stopped (deadline or interrupt) before its first epoch ended: nothing to score."""


class TensorBatchIterator:
    """Mini-batches sliced from the tensors of a skorch ``Dataset``.

    A ``DataLoader`` indexes and collates samples one at a time; slicing a
    contiguous tensor (after one permutation per epoch) removes that
    per-sample Python overhead. A trailing batch of a single row is dropped
    during training shuffles (batch normalization cannot train on it).
    The permutations come from ``generator`` (a ``torch.Generator``), or from
    torch's global generator when it is None.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, generator=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        n = len(self.dataset)
        return max(1, math.ceil(n / self.batch_size))

    def __iter__(self):
        X, y = self.dataset.X, self.dataset.y
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            X = X[order]
            y = y[order] if y is not None else None
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if self.shuffle and stop - start == 1 and n > 1:
                break
            yield X[start:stop], (y[start:stop] if y is not None else torch.zeros(stop - start))


class Deadline(Callback):
    """Stop training once the wall clock passes ``deadline`` (a ``time.time()`` value) or ``stop`` is set.

    It stops the way skorch's own early stopping does, by raising
    ``KeyboardInterrupt`` (caught by skorch's ``partial_fit``), checked after
    every batch so that one long epoch cannot overrun the budget.
    ``stop`` (a :class:`~sknas.evaluation.trial.StopSignal`) is the runner's
    Ctrl-C, seen in worker processes too.
    """

    def __init__(self, deadline=None, stop=None):
        self.deadline = deadline
        self.stop = stop

    def on_train_begin(self, net, **kwargs):
        self.reached_ = False

    def on_batch_end(self, net, **kwargs):
        if self.deadline is not None and time.time() > self.deadline:
            self.reached_ = True
            raise KeyboardInterrupt
        if self.stop is not None and self.stop.is_set():
            raise KeyboardInterrupt


class FiniteLossGuard(Callback):
    """Fail the trial when the training or validation loss is NaN or infinite."""

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for key in ("train_loss", "valid_loss"):
            if key in row and not math.isfinite(row[key]):
                raise NonFiniteLossError(f"{key} became {row[key]} at epoch {row['epoch']}")


def _no_print(*args, **kwargs):
    pass


class _TabularNetMixin:
    """Shared behaviour of the two sknas nets (see the module docstring)."""

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]

    def _X_tensor(self, X):
        if isinstance(X, torch.Tensor):
            return X.to(dtype=torch.float32)
        return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))

    def get_dataset(self, X, y=None):
        if isinstance(X, Dataset):
            return X
        return Dataset(self._X_tensor(X), None if y is None else self._y_tensor(y))

    def get_split_datasets(self, X, y=None, **fit_params):
        train = self.get_dataset(X, y)
        if self.valid_data is None:
            return train, None
        X_valid, y_valid = self.valid_data
        return train, self.get_dataset(X_valid, y_valid)


class TabularClassifierNet(_TabularNetMixin, NeuralNetClassifier):
    """A skorch classifier for preprocessed tables; labels of any type.

    Parameters
    ----------
    valid_data : tuple (X, y) or None
        Held-out data for the validation loss (and early stopping).
    classes : array-like or None
        All class labels; inferred from ``y`` at fit when None.
    Other parameters are skorch's.
    """

    def __init__(self, module, *args, criterion=torch.nn.CrossEntropyLoss, train_split=None,
                 valid_data=None, iterator_train=TensorBatchIterator, iterator_valid=TensorBatchIterator,
                 **kwargs):
        super().__init__(module, *args, criterion=criterion, train_split=train_split,
                         iterator_train=iterator_train, iterator_valid=iterator_valid, **kwargs)
        self.valid_data = valid_data

    def prepare_target(self, y):
        """Set what the labels are encoded with (``classes_``); returns ``y`` unchanged."""
        if self.classes is None:
            self.classes_inferred_ = np.unique(np.asarray(y))
        return y

    def fit(self, X, y, **fit_params):
        return super().fit(X, self.prepare_target(y), **fit_params)

    def check_data(self, X, y):
        pass

    def _y_tensor(self, y):
        if isinstance(y, torch.Tensor):
            return y.long()
        y = np.asarray(y)
        classes = self.classes_
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        if not np.all(classes[idx] == y):
            raise ValueError(f"{type(self).__name__}: y has labels outside classes {classes!r}.")
        return torch.as_tensor(idx, dtype=torch.int64)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def _get_predict_nonlinearity(self):
        # skorch's "auto" applies the softmax only when the criterion is a CrossEntropyLoss; every sknas
        # classifier's module returns logits (or log-probabilities, a snapshot ensemble), whatever its loss
        # (the generalized cross-entropy is not a CrossEntropyLoss): its probabilities are their softmax
        if self.predict_nonlinearity == "auto":
            self.check_is_fitted()
            return _softmax
        return super()._get_predict_nonlinearity()


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


class TabularRegressorNet(_TabularNetMixin, NeuralNetRegressor):
    """A skorch regressor for preprocessed tables with an internally standardized target.

    ``fit`` stores ``target_mean_`` and ``target_scale_`` and trains on the
    standardized target; ``predict`` returns values on the original scale.
    A net whose weights come from elsewhere (inherited, pruned, loaded from a
    file) gets its statistics from :meth:`prepare_target` (from a target) or
    :meth:`set_target_statistics` (given, e.g. another net's), never by
    setting the attributes.
    """

    def __init__(self, module, *args, train_split=None, valid_data=None,
                 iterator_train=TensorBatchIterator, iterator_valid=TensorBatchIterator, **kwargs):
        super().__init__(module, *args, train_split=train_split, iterator_train=iterator_train,
                         iterator_valid=iterator_valid, **kwargs)
        self.valid_data = valid_data

    def prepare_target(self, y):
        """Store ``target_mean_`` and ``target_scale_`` from ``y``; returns ``y`` as a 2-D float array.

        The scale of a constant target column is 1.
        """
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        scale = y.std(axis=0)
        self.set_target_statistics(y.mean(axis=0), np.where(scale > 0, scale, 1.0))
        return y

    def set_target_statistics(self, mean, scale):
        """Set the target's ``target_mean_`` and ``target_scale_`` (one value per output); returns the net.

        The net trains on ``(y - mean) / scale`` and ``predict`` returns
        ``output * scale + mean``. For a net that does not learn them from a
        ``fit``: one that starts from another net's weights takes that net's
        (``new.set_target_statistics(old.target_mean_, old.target_scale_)``).
        """
        mean = np.array(mean, dtype=np.float64, ndmin=1)
        scale = np.array(scale, dtype=np.float64, ndmin=1)
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise ValueError(f"{type(self).__name__}.set_target_statistics: mean and scale must be 1-D arrays of "
                             f"one value per output, of the same length. Got shapes {mean.shape} and {scale.shape}.")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError(f"{type(self).__name__}.set_target_statistics: mean must be finite and scale finite "
                             f"and > 0. Got mean={mean!r}, scale={scale!r}.")
        self.target_mean_, self.target_scale_ = mean, scale
        return self

    def fit(self, X, y, **fit_params):
        return super().fit(X, self.prepare_target(y), **fit_params)

    def _y_tensor(self, y):
        if isinstance(y, torch.Tensor):
            return y.float()
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return torch.as_tensor((y - self.target_mean_) / self.target_scale_, dtype=torch.float32)

    def predict(self, X):
        out = self.predict_proba(X) * self.target_scale_ + self.target_mean_
        return out.ravel() if out.shape[1] == 1 else out


class GenotypeModule(torch.nn.Module):
    """The network a genotype describes, rebuilt from (space, genotype) on every init.

    Keeping the recipe rather than an instance lets skorch re-initialize the
    module on each ``fit`` (true sklearn semantics) and lets ``clone`` work.

    After a snapshot-ensemble training (``snapshots > 1``) ``net`` is a
    :class:`sknas.nn.snapshot.SnapshotEnsemble` of copies of the built
    network; :meth:`load_state_dict` reshapes a freshly built module the same
    way when given such weights (so that :func:`sknas.io.load` rebuilds it).
    """

    def __init__(self, space, genotype, n_inputs, n_outputs):
        super().__init__()
        self.genotype = genotype
        self.net = space.build(genotype, n_inputs, n_outputs)

    def forward(self, X):
        return self.net(X)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        if not isinstance(self.net, SnapshotEnsemble):
            ensemble = SnapshotEnsemble.from_state_dict(self.net, state_dict, prefix="net.")
            if ensemble is not None:
                self.net = ensemble
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def _training_genotype(space, genotype):
    return space.training_genotype(genotype) if hasattr(space, "training_genotype") else genotype


def snapshot_count(space, genotype):
    """``M``, the snapshots of ``genotype``'s training (1: no snapshot ensemble)."""
    return int(_training_genotype(space, genotype).get("snapshots", 1))


def pruning_start(epochs, n_train, batch_size, lr_schedule, min_steps=100):
    """The first epoch at which learning-curve pruning may judge a trial of ``epochs`` epochs.

    ``batch_size`` is the net's (already at most ``n_train``).

    The later of: 5 epochs; a tenth of the epochs; ``min_steps`` optimizer
    steps (on a few hundred rows an epoch is one or two steps, and a curve
    that has not started yet says nothing); and, under a one-cycle schedule,
    the end of its warm-up (the first 30 % of the epochs, while the learning
    rate still rises). Without these limits, the two portfolio trials that
    ended best on an iris split were pruned at epoch 10 of 100.
    """
    start = max(5, epochs // 10, math.ceil(min_steps / _steps_per_epoch(n_train, batch_size)))
    if lr_schedule == "onecycle":
        start = max(start, math.ceil(0.3 * epochs))
    return start


def _steps_per_epoch(n_train, batch_size):
    """Training batches per epoch, as :class:`TensorBatchIterator` yields them (a lone trailing row is dropped)."""
    full, rest = divmod(n_train, batch_size)
    return max(1, full + (1 if rest > 1 or (rest == 1 and n_train == 1) else 0))


def make_net(space, genotype, task, n_inputs, n_outputs, *, classes=None, max_epochs=100,
             n_train=None, valid_data=None, patience=10, deadline=None, device="cpu",
             schedule_epochs=None, stop=None):
    """The skorch net that trains ``genotype``'s network with its training hyperparameters.

    ``schedule_epochs`` is the horizon of the learning-rate schedule (default
    ``max_epochs``); a refit that stops at a trial's best epoch keeps the
    trial's horizon so that it follows the same learning-rate trajectory.
    ``deadline`` and ``stop`` (a :class:`~sknas.evaluation.trial.StopSignal`)
    end training early through the :class:`Deadline` callback.

    With ``snapshots=M > 1`` in the training genotype, the net is trained as
    a snapshot ensemble (Huang et al. 2017, "Snapshot Ensembles: Train 1, get
    M for free", ICLR): the genotype's ``lr_schedule`` is replaced by cosine
    annealing with warm restarts (torch's ``CosineAnnealingWarmRestarts`` in a
    skorch ``LRScheduler``), ``M`` equal cycles over ``max_epochs`` (here
    ``schedule_epochs`` is ignored: the whole schedule is always trained),
    stepped every batch when ``n_train`` is known (every epoch otherwise);
    early stopping is off (a deadline still stops training); a
    :class:`sknas.nn.snapshot.SnapshotCollector` keeps the weights at the end
    of every cycle and, after training, makes the module's network the
    average of those snapshots (mean class probabilities, or mean outputs for
    regression). When the number of steps is not a multiple of ``M``, the
    few steps left after the ``M``-th cycle are trained but not used.

    The training-time choices of the genotype's pipeline part (see
    :meth:`sknas.space.pipeline.PipelineSpace.training_options`) are wired
    here: an augmentation wraps the training iterator
    (:class:`sknas.prep.augment.AugmentedIterator`; validation and
    prediction use ``iterator_valid``, so it is off there), and
    ``class_weight="balanced"`` adds the
    :class:`sknas.prep.imbalance.BalancedClassWeight` callback.

    The training genotype's ``loss`` picks the criterion (see
    :class:`sknas.space.training.TrainingSpace` and :mod:`sknas.nn.losses`):
    cross-entropy (``"ce"``, the default) or generalized cross-entropy
    (``"gce"``) for classifiers, both with the genotype's label smoothing;
    squared error (``"mse"``, the default) or the Huber loss with
    ``huber_delta`` (``"huber"``) for regressors.
    """
    from ..prep.augment import AugmentedIterator, make_augmentation
    from ..prep.imbalance import BalancedClassWeight
    from ..nn.tabm import EnsembleCrossEntropyLoss, EnsembleMSELoss
    from ..nn.losses import GCE_Q, EnsembleHuberLoss, GeneralizedCrossEntropyLoss

    training = _training_genotype(space, genotype)
    snapshots = int(training.get("snapshots", 1))
    horizon = max_epochs if snapshots > 1 else (schedule_epochs or max_epochs)
    lr = training.get("lr", 1e-3)
    batch_size = int(training.get("batch_size", 128))
    if n_train is not None:
        batch_size = max(1, min(batch_size, n_train))
    opt_cls, opt_kwargs = OPTIMIZER_CLASSES[training.get("optimizer", "adamw")]
    callbacks = [("finite_loss", FiniteLossGuard()), ("deadline", Deadline(deadline, stop))]
    if valid_data is not None and snapshots == 1:
        callbacks.append(("early_stopping", EarlyStopping(
            monitor="valid_loss", patience=patience, threshold=1e-4, load_best=True, sink=_no_print,
        )))
    schedule = training.get("lr_schedule", "constant")
    if snapshots > 1:
        if n_train is not None:
            unit, cycle = "batch", max(1, horizon * _steps_per_epoch(n_train, batch_size) // snapshots)
        else:
            unit, cycle = "epoch", max(1, horizon // snapshots)
        # before the deadline, which may interrupt training in the same batch
        callbacks.insert(1, ("snapshots", SnapshotCollector(
            snapshots, cycle, unit=unit, average="proba" if task == "classification" else "mean",
        )))
        callbacks.append(("lr_schedule", LRScheduler(
            policy=torch.optim.lr_scheduler.CosineAnnealingWarmRestarts, T_0=cycle, step_every=unit,
        )))
    elif schedule == "cosine":
        callbacks.append(("lr_schedule", LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=horizon)))
    elif schedule == "onecycle" and n_train is not None:
        steps_per_epoch = max(1, math.ceil(n_train / batch_size))
        callbacks.append(("lr_schedule", LRScheduler(
            policy=torch.optim.lr_scheduler.OneCycleLR, max_lr=lr, total_steps=horizon * steps_per_epoch + 1, step_every="batch",
        )))
    pipeline_space = getattr(space, "pipeline", None)
    options = {}
    if pipeline_space is not None and hasattr(pipeline_space, "training_options"):
        options = pipeline_space.training_options(space.pipeline_genotype(genotype))
    augment = make_augmentation(
        options.get("augment", "none"), options.get("augment_strength", 0.1),
        n_classes=n_outputs if task == "classification" else None,
    )
    extra = {}
    if augment is not None:
        extra = dict(iterator_train=AugmentedIterator, iterator_train__augment=augment,
                     iterator_train__iterator=TensorBatchIterator)
    if task == "classification" and options.get("class_weight") == "balanced":
        callbacks.append(("class_weight", BalancedClassWeight()))
    common = dict(
        module=GenotypeModule, module__space=space, module__genotype=genotype,
        module__n_inputs=n_inputs, module__n_outputs=n_outputs,
        optimizer=opt_cls, lr=lr, optimizer__weight_decay=training.get("weight_decay", 0.0),
        batch_size=batch_size, max_epochs=max_epochs, iterator_train__shuffle=True,
        callbacks=callbacks, valid_data=valid_data, device=device, verbose=0,
        **{f"optimizer__{k}": v for k, v in opt_kwargs.items()}, **extra,
    )
    # a TabM network (ensemble_k > 1) returns its k members' outputs while training: each member gets its own loss
    ensemble = int(genotype.get("ensemble_k", 1)) > 1
    loss = training.get("loss", "ce" if task == "classification" else "mse")
    if task == "classification":
        if loss == "gce":  # generalized cross-entropy (Zhang & Sabuncu 2018), robust to flipped labels
            criterion = dict(criterion=GeneralizedCrossEntropyLoss, criterion__q=GCE_Q)
        elif loss == "ce":
            criterion = dict(criterion=EnsembleCrossEntropyLoss if ensemble else torch.nn.CrossEntropyLoss)
        else:
            raise ValueError(f"make_net: unknown classification loss {loss!r}.")
        return TabularClassifierNet(
            **criterion, criterion__label_smoothing=training.get("label_smoothing", 0.0),
            classes=classes, **common,
        )
    if loss == "huber":  # delta in standard deviations of the standardized target
        criterion = dict(criterion=EnsembleHuberLoss, criterion__delta=float(training.get("huber_delta", 1.0)))
    elif loss == "mse":
        criterion = dict(criterion=EnsembleMSELoss if ensemble else torch.nn.MSELoss)
    else:
        raise ValueError(f"make_net: unknown regression loss {loss!r}.")
    return TabularRegressorNet(**criterion, **common)


@dataclass
class _FoldTrial:
    """One fold of a trial between its preparation and its scoring (see :meth:`Evaluator._prepare_fold`)."""

    genotype: object
    prep: object
    Xt: object
    y_train: object
    Xv: object
    y_valid: object
    net: object
    pruner: object
    epochs: int
    first: bool
    stop: object = None
    inherited: bool = False  # the network started from given weights (Evaluator.evaluate_inherited)


def _nbytes(a):
    return int(getattr(a, "nbytes", 0))


def failed_result(exc, fit_time=0.0, **kwargs):
    """The ``"failed"`` :class:`TrialResult` of a candidate whose training or scoring raised ``exc``.

    The error is ``"ExceptionType: message"``, plus the last lines of the
    traceback unless it is a failure a search expects (a non-finite loss,
    out of memory, a broken constraint, no epoch before the deadline).
    Every failing trial, inherited-weights network and supernet is
    recorded this way.
    """
    error = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, (NonFiniteLossError, MemoryError, ConstraintViolation, NoEpochError)):
        error += "\n" + "".join(traceback.format_exception(exc)[-3:])
    return TrialResult.failed(error, fit_time=fit_time, **kwargs)


@contextlib.contextmanager
def torch_threads(n_threads):
    """Set torch's intra-op threads for the duration of a trial, then restore them."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Evaluator:
    """Scores one candidate: preprocess, train a skorch net, score on the validation part.

    Parameters
    ----------
    space : JointSpace
    task : {"classification", "regression"}
    scorer : callable
        An sklearn scorer ``scorer(estimator, X, y)``.
    max_epochs : int
    classes : array or None
    preprocessing : "auto", "none" or an sklearn transformer
        With "auto" the scaler comes from the genotype.
    patience : int
        Early-stopping patience in epochs.
    n_threads : int or None
        torch intra-op threads inside a trial (None leaves torch's setting).
    device : str
    keep_model : bool
        Return the fitted pipeline in ``TrialResult.model``.
    bag : bool
        With cross-validation folds, ``TrialResult.model`` is the trial's
        *bag*: the fitted pipelines of all its folds, averaged with equal
        weights (an :class:`~sknas.evaluation.ensembles.EnsembleClassifier`
        or ``EnsembleRegressor``), instead of the first fold's pipeline. A
        bag needs no refit on all the data: every row trained some of its
        members (AutoGluon's k-fold bagging; Erickson et al. 2020).
    max_params : int or None
        A hard limit on the network's parameter count: a candidate over it is
        a failed trial, found by building the network, before any training.
        A snapshot ensemble (``snapshots=M > 1``) counts its ``M`` copies.
        :meth:`fit_limits` repairs a proposal over it before it is run.
    max_flops : int or None
        The same for the FLOPs of one row's forward pass
        (:func:`~sknas.evaluation.objectives.count_flops`).
    keep_predictions : bool
        Return the validation predictions (for ensemble selection).
    measure_latency : bool
        Measure the trained network's forward latency (batch 1 and 1024).
    prune : bool
        Allow learning-curve pruning when the runner passes an incumbent loss.
    cache_size : int
        Preprocessed copies of the data kept between trials (one per fold
        and preprocessing choice), so that trials sharing a preprocessing
        choice do not refit it.
    cache_bytes : int
        Most bytes those copies may take together (the newest is always
        kept); older ones are dropped first.
    batched_folds : bool or None
        Train the folds of a cross-validated trial together as one batched
        module (:mod:`sknas.evaluation.batched`) instead of one after the
        other; None: :data:`BATCHED_FOLDS`. An internal knob: the results
        are the same up to floating-point rounding and the random streams
        of dropout and augmentation.
    """

    def __init__(self, space, task, scorer, max_epochs=100, classes=None, preprocessing="auto",
                 patience=10, n_threads=1, device="cpu", keep_model=True, cache_size=6, max_params=None,
                 keep_predictions=False, measure_latency=False, prune=False, cache_bytes=512 * 2**20,
                 batched_folds=None, bag=False, max_flops=None):
        self.space = space
        self.task = task
        self.scorer = scorer
        self.max_epochs = max_epochs
        self.classes = classes
        self.preprocessing = preprocessing
        self.patience = patience
        self.n_threads = n_threads
        self.device = device
        self.keep_model = keep_model
        self.cache_size = cache_size
        self.cache_bytes = cache_bytes
        self.max_params = max_params
        self.max_flops = max_flops
        self.keep_predictions = keep_predictions
        self.measure_latency = measure_latency
        self.prune = prune
        self.batched_folds = BATCHED_FOLDS if batched_folds is None else bool(batched_folds)
        self.bag = bag
        self._cache = {}

    #: A :class:`~sknas.evaluation.pretext.MaskedFeaturePretext` (the fit's unlabeled rows) or None: when set,
    #: every trial's and refit's net is pre-trained on the pretext task before its supervised training.
    pretext = None

    def make_preprocessor(self, genotype):
        """The unfitted preprocessing step of ``genotype``'s pipeline.

        With ``preprocessing="auto"`` the space's pipeline part builds it
        from the genotype (:meth:`sknas.space.pipeline.PipelineSpace.build`).
        """
        if self.preprocessing == "auto":
            pipeline_space = getattr(self.space, "pipeline", None)
            if pipeline_space is not None:
                return pipeline_space.build(self.space.pipeline_genotype(genotype))
            return TabularPreprocessor()
        if self.preprocessing == "none":
            return TabularPreprocessor(scaler="standard")
        return clone(self.preprocessing)

    def _preprocess(self, genotype, data, data_fraction, seed):
        """Fit the genotype's preprocessing on the training rows; returns ``prep, Xt, y_train, Xv, y_valid``.

        At a data fraction below 1 (low fidelity) the trial trains on that
        share of the training rows and is validated on the same share of the
        validation rows (at least 2,000 of them, or all), drawn with the
        trial's seed; such copies are not cached (each trial draws its own).
        """
        prep = self.make_preprocessor(genotype)
        X_train, y_train = data.X_train, data.y_train
        X_valid, y_valid = data.X_valid, data.y_valid
        if data_fraction < 1.0:
            rng = np.random.default_rng(seed)
            n = len(y_train)
            keep = np.sort(rng.choice(n, size=max(2, int(round(n * data_fraction))), replace=False))
            X_train = _safe_indexing(X_train, keep)
            y_train = y_train[keep]
            n_valid = len(y_valid)
            m = min(n_valid, max(2000, int(round(n_valid * data_fraction))))
            if m < n_valid:
                keep = np.sort(rng.choice(n_valid, size=m, replace=False))
                X_valid = _safe_indexing(X_valid, keep)
                y_valid = y_valid[keep]
            Xt = fit_transform_bounded(prep, X_train, y_train, seed=seed)
            return prep, Xt, y_train, transform_bounded(prep, X_valid), y_valid
        key = (repr(prep.get_params()), id(data))
        if key in self._cache:
            prep, Xt, Xv = self._cache.pop(key)
        else:
            Xt = fit_transform_bounded(prep, X_train, y_train, seed=seed)
            Xv = transform_bounded(prep, X_valid)
        self._cache[key] = (prep, Xt, Xv)
        # bounded memory: drop the oldest entries beyond cache_size, or beyond cache_bytes in all
        while len(self._cache) > self.cache_size or (
                len(self._cache) > 1 and sum(_nbytes(a) + _nbytes(b) for _, a, b in self._cache.values())
                > self.cache_bytes):
            self._cache.pop(next(iter(self._cache)))
        return prep, Xt, y_train, Xv, y_valid

    def clear_cache(self):
        """Drop the preprocessed copies kept between trials (before a refit on all the data)."""
        self._cache.clear()

    # -- size limits, known before training ------------------------------------------------
    @property
    def has_size_limits(self):
        """Whether a parameter or FLOPs limit is set (what :meth:`fit_limits` repairs)."""
        return self.max_params is not None or self.max_flops is not None

    def size(self, genotype, data, flops=True):
        """``(n_params, flops)`` of the network ``genotype`` describes on ``data``, without training.

        The network is built on the width of the genotype's preprocessed
        features (the preprocessing is fitted on the training rows of the
        first fold, and kept in the cache the trial then reads); a snapshot
        ensemble counts its ``M`` copies, as the limits do. ``flops=False``
        skips counting FLOPs (``None`` in their place).
        """
        fold = data[0] if isinstance(data, (list, tuple)) else data
        _, Xt, _, _, _ = self._preprocess(genotype, fold, 1.0, seed=0)
        n_outputs = len(self.classes) if self.task == "classification" else 1
        module = self.space.build(genotype, Xt.shape[1], n_outputs)
        copies = snapshot_count(self.space, genotype)
        return (count_parameters(module) * copies,
                count_flops(module, Xt.shape[1]) * copies if flops else None)

    def within_limits(self, n_params, flops):
        """Whether a network of this size meets ``max_params`` and ``max_flops`` (``None`` sizes are not checked)."""
        return ((self.max_params is None or n_params is None or n_params <= self.max_params)
                and (self.max_flops is None or flops is None or flops <= self.max_flops))

    def fit_limits(self, genotype, data, max_steps=64):
        """``genotype``, or the first smaller genotype within the size limits, or ``None``.

        Steps through the space's :meth:`~sknas.space.base.SearchSpace.shrink`
        (fewer snapshot copies, no TabM copies, no embedding, narrower, then
        shallower networks) until the network fits ``max_params`` and
        ``max_flops``; ``None`` when the space knows no smaller network that
        fits (the candidate is then run as it is, and fails before training).
        Cheap: networks are built, never trained.
        """
        for _ in range(max_steps):
            if self.within_limits(*self.size(genotype, data, flops=self.max_flops is not None)):
                return genotype
            genotype = self.space.shrink(genotype)
            if genotype is None:
                return None
        return None

    def evaluate(self, candidate, data, deadline=None, seed=0, incumbent_loss=None, stop=None):
        """Train and score ``candidate``; never raises for a failing candidate.

        ``data`` is one :class:`TrialData` (a holdout split) or a list of
        them (cross-validation folds). With folds, the score is the mean
        over the folds that finished before ``deadline`` (at least one),
        ``best_epoch`` the median of theirs, ``fit_time`` their total, and
        the model kept is the first fold's. With ``incumbent_loss`` (the
        best validation loss so far on the first fold) and ``prune=True``,
        the first fold may be stopped by learning-curve extrapolation; the
        trial is then ``"pruned"`` and the other folds are skipped.

        With ``batched_folds=True`` the folds are trained together as one
        batched module (:func:`sknas.evaluation.batched.fit_members`); a
        genotype whose network cannot be batched falls back to training
        the folds one after the other, and ``TrialResult.train_mode`` says
        which happened and why.

        ``stop`` (a :class:`~sknas.evaluation.trial.StopSignal`, the runner's
        Ctrl-C) ends training at the next batch and skips the folds not yet
        started; the trial is then ``"interrupted"``: scored, with its best
        epoch restored, on the folds it trained (when no epoch ended, it fails
        with ``"interrupted before the first epoch ended"``; the runner records
        that as interrupted too).
        """
        start = time.perf_counter()
        folds = data if isinstance(data, (list, tuple)) else [data]
        train_mode = "single"
        try:
            with torch_threads(self.n_threads), torch.random.fork_rng(devices=[]):
                results = None
                if len(folds) > 1 and self.batched_folds:
                    try:
                        results = self._evaluate_batched(candidate, folds, deadline, seed, incumbent_loss, stop)
                        train_mode = f"batched x{len(folds)}"
                    except BatchedFitError as exc:
                        train_mode = f"sequential ({exc})"
                elif len(folds) > 1:
                    train_mode = "sequential"
                if results is None:
                    results = self._evaluate_sequential(candidate, folds, deadline, seed, incumbent_loss, stop)
        except Exception as exc:  # a failing candidate is data, never a crashed search
            return failed_result(exc, fit_time=time.perf_counter() - start, train_mode=train_mode)
        first = results[0]
        complete = len(results) == len(folds)
        interrupted = stop is not None and stop.is_set() and (
            not complete or any(r.status == "interrupted" for r in results))
        predictions = None
        if self.keep_predictions and complete and first.status == "ok":
            predictions = np.concatenate([r.predictions for r in results], axis=0)
        model = first.model
        if self.keep_model and self.bag and len(folds) > 1:
            model = self._bag([r.model for r in results])
        return TrialResult(
            score=float(np.mean([r.score for r in results])), status="interrupted" if interrupted else first.status,
            fit_time=time.perf_counter() - start, n_params=first.n_params,
            n_epochs=int(round(np.mean([r.n_epochs for r in results]))),
            best_epoch=int(np.median([r.best_epoch for r in results])),
            stop_reason="interrupted" if interrupted else first.stop_reason if complete else (
                first.stop_reason if first.status == "pruned" else "time_limit"),
            learning_curve=first.learning_curve, plain_curve=first.plain_curve, plain_loss=first.plain_loss,
            model=model,
            n_folds=len(results),
            flops=first.flops, latency_ms=first.latency_ms, latency_batch_ms=first.latency_batch_ms,
            predictions=predictions, train_mode=train_mode,
        )

    def _bag(self, models):
        """The fold pipelines of one trial, averaged with equal weights (the folds the deadline let finish)."""
        cls = EnsembleClassifier if self.task == "classification" else EnsembleRegressor
        return cls(list(models), [1] * len(models))

    def _evaluate_sequential(self, candidate, folds, deadline, seed, incumbent_loss, stop=None):
        """The folds trained one after the other, each seeded ``seed + k``.

        Stops at a pruned first fold, and before a fold when the deadline
        has passed or the stop is set; a later fold cut before its first
        epoch ends the trial with the folds done.
        """
        results = []
        for k, fold in enumerate(folds):
            if results and deadline is not None and time.time() >= deadline:
                break
            if results and stop is not None and stop.is_set():
                break
            torch.manual_seed(seed + k)
            trial = self._prepare_fold(candidate, fold, deadline, seed, first=(k == 0),
                                       incumbent_loss=incumbent_loss if k == 0 else None, stop=stop)
            trial.net.fit(trial.Xt, trial.y_train)
            try:
                results.append(self._score_fold(trial))
            except NoEpochError:
                if not results:
                    raise
                break  # a later fold stopped before its first epoch: score the folds done
            if results[-1].status == "pruned":
                break
        return results

    def _evaluate_batched(self, candidate, folds, deadline, seed, incumbent_loss, stop=None):
        """The folds trained together (:func:`~sknas.evaluation.batched.fit_members`).

        Each fold's net is built and initialized under the seed
        ``seed + k``, as in :meth:`_evaluate_sequential`, and draws its
        batch order from a generator that continues that seed's stream, so
        that a fold's initial weights and batches are those of its
        sequential fit. A pruned first fold stops every fold, and so do the
        deadline and the stop (they are shared).
        """
        trials = []
        for k, fold in enumerate(folds):
            torch.manual_seed(seed + k)
            generator = torch.Generator()
            trial = self._prepare_fold(candidate, fold, deadline, seed, first=(k == 0),
                                       incumbent_loss=incumbent_loss if k == 0 else None, stop=stop)
            trial.net.set_params(iterator_train__generator=generator)
            trial.net.initialize()
            generator.set_state(torch.get_rng_state())
            trials.append(trial)
        pruner = trials[0].pruner
        fit_members([t.net for t in trials], [(t.Xt, t.net.prepare_target(t.y_train)) for t in trials],
                    stop_all=None if pruner is None else (lambda: pruner.pruned_))
        results = [self._score_fold(trials[0])]
        if results[0].status != "pruned":
            for trial in trials[1:]:
                try:
                    results.append(self._score_fold(trial))
                except NoEpochError:
                    break
        return results

    def _prepare_fold(self, candidate, data, deadline, seed, first, incumbent_loss=None, stop=None):
        """Preprocess one fold and build its (unfitted) net, with the pruner and the params constraint."""
        genotype = candidate.genotype
        prep, Xt, y_train, Xv, y_valid = self._preprocess(genotype, data, candidate.data_fraction, seed)
        # the genotype's oversampling (if any) adds synthetic rows to the training rows only, never to Xv
        Xt, y_train = resample_training(self.space, genotype, Xt, y_train, seed)
        epochs = min(candidate.epochs or self.max_epochs, self.max_epochs)
        n_outputs = len(self.classes) if self.task == "classification" else 1
        net = make_net(
            self.space, genotype, self.task, Xt.shape[1], n_outputs, classes=self.classes,
            max_epochs=epochs, n_train=len(Xt), valid_data=(Xv, y_valid), patience=self.patience,
            deadline=deadline, device=self.device, stop=stop,
        )
        if self.pretext is not None:  # UnNAS: pre-train on the unlabeled rows first (sknas.evaluation.pretext)
            self.pretext.attach(net, prep, seed)
        pruner = None
        if self.prune:
            # every trial records the comparable loss: any of them may become the incumbent
            extra = [("plain_valid_loss", PlainValidLoss(self.task))]
            if incumbent_loss is not None:
                # a snapshot ensemble is judged at the ends of its cycles (see LearningCurvePruner)
                pruner = LearningCurvePruner(incumbent_loss=incumbent_loss, horizon=epochs,
                                             min_epochs=pruning_start(
                                                 epochs, len(Xt), net.batch_size,
                                                 _training_genotype(self.space, genotype).get("lr_schedule")),
                                             monitor="valid_plain_loss",
                                             snapshots=snapshot_count(self.space, genotype))
                extra.append(("pruner", pruner))
            net.set_params(callbacks=list(net.callbacks) + extra)
        if self.has_size_limits:
            net.initialize()
            # a snapshot ensemble predicts with M copies of the network: the constraint is on all of them
            copies = snapshot_count(self.space, genotype)
            n_params = count_parameters(net.module_) * copies
            if self.max_params is not None and n_params > self.max_params:
                raise ConstraintViolation(
                    f"n_params={n_params} exceeds the constraint params <= {self.max_params}; not trained"
                )
            if self.max_flops is not None:
                flops = count_flops(net.module_, Xt.shape[1]) * copies
                if flops > self.max_flops:
                    raise ConstraintViolation(
                        f"flops={flops} exceeds the constraint flops <= {self.max_flops}; not trained")
        return _FoldTrial(genotype=genotype, prep=prep, Xt=Xt, y_train=y_train, Xv=Xv, y_valid=y_valid,
                          net=net, pruner=pruner, epochs=epochs, first=first, stop=stop)

    def _score_fold(self, trial):
        """The :class:`TrialResult` of one fold whose net has been trained."""
        net, genotype, Xv, y_valid = trial.net, trial.genotype, trial.Xv, trial.y_valid
        net.valid_data = None  # do not carry the validation arrays in the kept model
        history = net.history
        curve = [float(row["valid_loss"]) for row in history if row.get("valid_loss") is not None]
        plain_curve = [float(row["valid_plain_loss"]) for row in history if row.get("valid_plain_loss") is not None]
        if not curve and not trial.inherited:  # an inherited network is usable before any epoch
            stop = trial.stop
            raise NoEpochError("interrupted before the first epoch ended" if stop is not None and stop.is_set()
                               else "the deadline passed before the first epoch ended")
        status = "ok"
        if trial.inherited and trial.epochs == 0:  # scored as it was given, not trained
            stop_reason = None
        elif trial.stop is not None and trial.stop.is_set():  # a Ctrl-C (here or in the runner's process) cut training short
            status, stop_reason = "interrupted", "interrupted"
        elif trial.pruner is not None and trial.pruner.pruned_:
            status, stop_reason = "pruned", "pruned"
        elif dict(net.callbacks_)["deadline"].reached_:
            stop_reason = "time_limit"
        elif len(history) < trial.epochs:
            stop_reason = "early_stopping"
        else:
            stop_reason = "max_epochs"
        score = float(self.scorer(net, Xv, y_valid))
        if not math.isfinite(score):
            raise NonFiniteLossError(f"validation score is {score}")
        # a snapshot ensemble uses its whole schedule: a refit trains as many epochs as the trial did
        best_epoch = (None if not curve else len(curve) if snapshot_count(self.space, genotype) > 1
                      else int(np.nanargmin(curve)) + 1)
        result = TrialResult(
            score=score, status=status, n_params=count_parameters(net.module_), n_epochs=len(curve),
            best_epoch=best_epoch, stop_reason=stop_reason, learning_curve=curve, plain_curve=plain_curve,
        )
        if self.prune and trial.first:
            # the comparable loss of the model that was scored (a snapshot ensemble's is on no curve):
            # what a later trial must beat when this one is the incumbent
            result.plain_loss = plain_loss(net, Xv, y_valid, self.task)
        if self.keep_predictions:
            result.predictions = net.predict_proba(Xv) if self.task == "classification" else net.predict(Xv)
        if self.keep_model and (trial.first or self.bag):
            result.model = Pipeline([("preprocessing", trial.prep), ("net", net)])
        if trial.first:
            result.flops = count_flops(net.module_, trial.Xt.shape[1])
            if self.measure_latency:
                latency = measure_latency(net.module_, trial.Xt.shape[1])
                result.latency_ms, result.latency_batch_ms = latency[1], latency[1024]
        return result

    # -- networks that start from given weights ------------------------------------------
    def evaluate_inherited(self, genotype, data, weights, epochs=0, deadline=None, stop=None):
        """Score ``genotype``'s network started from ``weights``, after ``epochs`` epochs of training (0: none).

        The scoring of :meth:`evaluate`, for a network that does not start
        from a random initialization: a one-shot child with weights
        inherited from a supernet, a morphed child, a network extracted from
        a trained supernet. The net is the one :meth:`evaluate` trains for
        ``genotype`` (:func:`make_net`: same optimizer, schedule, early
        stopping on the validation part, ``deadline`` and ``stop``); it is
        initialized, its network loaded with ``weights``, its target
        encoding set from ``data.y_train``, trained ``epochs`` more epochs
        (``partial_fit``) and scored as a trial's fold is.

        Parameters
        ----------
        genotype : Genotype
            The (joint) genotype: its network part must describe ``weights``.
        data : PreparedFold
            One fold, already preprocessed (the features ``weights`` were
            trained on); ``data.prep`` becomes the pipeline's preprocessing.
        weights : torch.nn.Module or dict
            The genotype's network (as ``space.build`` makes it) or its state dict.
        epochs : int, default=0
        deadline : float or None
            A ``time.time()`` value that stops training.
        stop : StopSignal or None

        Returns
        -------
        TrialResult
            As :meth:`evaluate` returns for one fold (with ``plain_loss``,
            ``predictions`` and latency as the evaluator's settings ask),
            except that ``model`` is always the fitted pipeline
            (``data.prep`` and the net) and that a network trained no epoch
            (``epochs=0``, or a deadline within the first) is scored as it
            is (``n_epochs=0``, ``best_epoch=None``). A failing network is
            a ``"failed"`` result with its error, recorded as a failing
            trial's is (:func:`failed_result`); this never raises for it.
            Torch's random stream (dropout, batch order) is the caller's:
            seed it for a reproducible fine-tuning.
        """
        start = time.perf_counter()
        try:
            trial = self._inherited_fold(genotype, data, weights, epochs, deadline, stop)
            if trial.epochs > 0:
                trial.net.partial_fit(trial.Xt, trial.y_train)
            result = self._score_fold(trial)
        except Exception as exc:  # a failing network is data, never a crashed search
            return failed_result(exc, fit_time=time.perf_counter() - start)
        if result.model is None:
            result.model = Pipeline([("preprocessing", trial.prep), ("net", trial.net)])
        result.fit_time = time.perf_counter() - start
        return result

    def _inherited_fold(self, genotype, data, weights, epochs, deadline, stop):
        """The :class:`_FoldTrial` of :meth:`evaluate_inherited`: the net initialized with ``weights``."""
        epochs = max(0, int(epochs))
        Xt, y_train, Xv, y_valid = data.Xt, data.y_train, data.Xv, data.y_valid
        if self.task == "classification":
            n_outputs = len(self.classes) if self.classes is not None else len(np.unique(np.asarray(y_train)))
        else:
            n_outputs = np.asarray(y_train).reshape(len(y_train), -1).shape[1]
        net = make_net(
            self.space, genotype, self.task, Xt.shape[1], n_outputs, classes=self.classes,
            max_epochs=max(1, epochs), n_train=len(Xt), valid_data=(Xv, y_valid), patience=self.patience,
            deadline=deadline, device=self.device, stop=stop,
        )
        if self.prune and epochs > 0:  # the comparable loss per epoch, as a trial records it
            net.set_params(callbacks=list(net.callbacks) + [("plain_valid_loss", PlainValidLoss(self.task))])
        net.initialize()
        net.module_.net.load_state_dict(weights.state_dict() if isinstance(weights, torch.nn.Module) else weights)
        net.prepare_target(y_train)
        return _FoldTrial(genotype=genotype, prep=data.prep, Xt=Xt, y_train=y_train, Xv=Xv, y_valid=y_valid,
                          net=net, pruner=None, epochs=epochs, first=True, stop=stop, inherited=True)

    def refit(self, genotype, X, y, epochs, schedule_epochs=None, deadline=None, seed=0):
        """Train ``genotype`` on all of ``X, y`` for ``epochs`` epochs, without validation.

        Returns ``(pipeline, completed)``; ``completed`` is False when the
        deadline stopped training before ``epochs`` epochs. A snapshot
        ensemble (``snapshots > 1``) trains its ``M`` cycles over ``epochs``
        (``schedule_epochs`` is ignored, see :func:`make_net`).
        """
        with torch_threads(self.n_threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            prep = self.make_preprocessor(genotype)
            Xt = fit_transform_bounded(prep, X, y, seed=seed)
            Xt, y = resample_training(self.space, genotype, Xt, y, seed)  # training rows only, as in a trial
            n_outputs = len(self.classes) if self.task == "classification" else 1
            net = make_net(
                self.space, genotype, self.task, Xt.shape[1], n_outputs, classes=self.classes,
                max_epochs=epochs, n_train=len(Xt), valid_data=None, deadline=deadline, device=self.device,
                schedule_epochs=schedule_epochs,
            )
            if self.pretext is not None:  # UnNAS: pre-train on the unlabeled rows first (sknas.evaluation.pretext)
                self.pretext.attach(net, prep, seed)
            net.fit(Xt, y)
            completed = not dict(net.callbacks_)["deadline"].reached_ and len(net.history) >= epochs
            return Pipeline([("preprocessing", prep), ("net", net)]), completed
