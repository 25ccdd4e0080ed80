"""What one trial is: the data it sees, the result it returns and the stop request it obeys."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

__all__ = ["PreparedFold", "StopSignal", "TrialData", "TrialResult"]


class StopSignal:
    """A request to stop the trials in flight (the runner's Ctrl-C).

    :meth:`set` raises it in this process and, when ``path`` is given, by
    creating that file, so that trials in worker processes on the same
    machine (loky, a local Dask cluster) see it too: it travels to them with
    the trial's arguments, and :meth:`is_set` looks for the file at most every
    ``poll`` seconds. Training checks it after every batch
    (:class:`sknas.evaluation.trainer.Deadline`).
    """

    def __init__(self, path=None, poll=0.05):
        self.path = path
        self.poll = poll
        self._set = False
        self._checked = -float("inf")

    def set(self):
        self._set = True
        if self.path is not None:
            try:
                with open(self.path, "w"):
                    pass
            except OSError:  # the stop still holds in this process
                pass

    def is_set(self):
        if self._set or self.path is None:
            return self._set
        now = time.monotonic()
        if now - self._checked >= self.poll:
            self._checked = now
            self._set = os.path.exists(self.path)
        return self._set

    def __getstate__(self):
        return {"path": self.path, "poll": self.poll, "_set": self._set, "_checked": -float("inf")}


@dataclass
class TrialData:
    """Raw (not yet preprocessed) training and validation parts of the data."""

    X_train: object
    y_train: object
    X_valid: object
    y_valid: object


@dataclass
class PreparedFold:
    """One fold already preprocessed: the fitted preprocessing ``prep`` and its outputs.

    ``Xt``/``y_train`` are the preprocessed training part and its target,
    ``Xv``/``y_valid`` the validation part (float matrices, targets as
    given). What :meth:`sknas.evaluation.trainer.Evaluator.evaluate_inherited`
    trains and scores a network on; the one-shot searchers' prepared data
    (:class:`sknas.search.oneshot.base.PreparedData`) is one.
    """

    prep: object
    Xt: object
    y_train: object
    Xv: object
    y_valid: object


@dataclass
class TrialResult:
    """The outcome of evaluating one candidate.

    ``status`` is ``"ok"``, ``"failed"`` (with ``error``), ``"pruned"``
    (stopped by learning-curve extrapolation; ``score`` is then the partial
    model's) or ``"interrupted"`` (cut short by Ctrl-C: ``score`` and
    ``model`` are those of the epochs trained, best epoch restored, or
    ``None`` when no epoch ended; the runner does not tell such a trial to
    the searcher, and a resumed search runs it again); ``score`` is the
    validation score (larger is better) or ``None`` when the trial failed. ``flops`` counts one row's forward pass;
    ``latency_ms`` / ``latency_batch_ms`` are measured medians for a batch of
    1 and of 1024 rows (when latency is an objective or a constraint).
    ``predictions`` holds the validation predictions (probabilities for
    classifiers), concatenated over folds, when the runner asked for them.
    ``learning_curve`` is the validation loss per epoch under the trial's own
    criterion; ``plain_curve`` (recorded with learning-curve pruning) is the
    plain cross-entropy or squared error, comparable across trials (see
    :class:`sknas.evaluation.fidelity.PlainValidLoss`), and ``plain_loss``
    that loss for the model the trial ended with (first fold; for a snapshot
    ensemble, the average of its snapshots).
    ``stop_reason`` tells why training ended: ``"early_stopping"``,
    ``"max_epochs"`` or ``"time_limit"``. ``model`` is the fitted pipeline
    (preprocessing and net) when the runner asked to keep it; with
    cross-validation, ``n_folds`` folds were trained (``fit_time`` is their
    total) and ``model`` is the first fold's. ``train_mode`` says how the
    folds were trained: ``"single"`` (one holdout split), ``"batched xk"``
    (the k folds together, as one batched module) or ``"sequential"`` (one
    after the other; with the reason when batching was tried and refused).
    """

    score: float | None = None
    status: str = "ok"
    error: str | None = None
    fit_time: float = 0.0
    n_params: int | None = None
    n_epochs: int = 0
    best_epoch: int | None = None
    stop_reason: str | None = None
    learning_curve: list = field(default_factory=list)
    plain_curve: list = field(default_factory=list)
    plain_loss: float | None = None
    n_folds: int = 1
    train_mode: str = "single"
    flops: int | None = None
    latency_ms: float | None = None
    latency_batch_ms: float | None = None
    predictions: object = field(default=None, repr=False)
    model: object = field(default=None, repr=False)

    @classmethod
    def failed(cls, error, fit_time=0.0, **kwargs):
        return cls(score=None, status="failed", error=error, fit_time=fit_time, **kwargs)
