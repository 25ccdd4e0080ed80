"""Low fidelity and learning-curve early stopping.

``LearningCurvePruner`` stops a trial whose validation-loss curve, extrapolated
with parametric learning-curve models in the spirit of Domhan et al. (2015),
is very unlikely to reach the best loss seen so far. ``plan_data_fraction``
chooses the share of the training data each trial uses when the data is too
large for the budget (the winner is then retrained at full fidelity).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback

from ..nn.tabm import EnsembleCrossEntropyLoss, EnsembleMSELoss

__all__ = ["LearningCurvePruner", "PlainValidLoss", "extrapolate_best_loss", "plain_loss", "plan_data_fraction"]


def _pow3(t, a, b, c):
    return a + b * np.power(t, -c)


def _exp3(t, a, b, c):
    return a + b * np.exp(-c * t)


def _mmf(t, a, b, c, d):
    # Morgan-Mercer-Flodin: a sigmoid in log t that saturates at a
    return a - (a - b) / (1.0 + np.power(np.maximum(c, 1e-12) * t, d))


def extrapolate_best_loss(curve, horizon):
    """The most optimistic plausible loss the curve reaches by epoch ``horizon``.

    Fits three saturating curve families of Domhan et al. (2015) -- pow3
    ``a + b t^-c``, exp3 ``a + b e^{-ct}`` and MMF (Morgan-Mercer-Flodin) --
    to the running minimum of the curve, evaluates each at ``horizon``, and
    returns the lowest prediction (optimism guards against pruning a slow
    starter), never below 0 (losses are non-negative). Fits that fail or
    predict non-finite values are ignored; when none succeeds the current
    best is returned.

    Simplified from the paper: no MCMC over a weighted ensemble, just the
    best-case member, which errs on the side of not pruning.
    """
    from scipy.optimize import curve_fit

    y = np.minimum.accumulate(np.asarray(curve, dtype=float))
    t = np.arange(1, len(y) + 1, dtype=float)
    predictions = [y[-1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model, p0 in ((_pow3, (y[-1], y[0] - y[-1], 0.5)), (_exp3, (y[-1], y[0] - y[-1], 0.1)),
                          (_mmf, (y[-1], y[0], 0.5, 1.0))):
            try:
                params, _ = curve_fit(model, t, y, p0=p0, maxfev=400)
            except (RuntimeError, ValueError, TypeError):
                continue
            value = float(model(float(horizon), *params))
            if math.isfinite(value):
                predictions.append(max(0.0, value))
    return min(predictions)


class PlainValidLoss(Callback):
    """Record ``valid_plain_loss``: the validation loss every trial shares.

    A trial's ``valid_loss`` uses its own criterion: label smoothing raises
    the cross-entropy's floor (to about 0.5 nats for 10 classes and 0.1
    smoothing) and balanced class weights reweigh it, so two trials'
    ``valid_loss`` do not compare, and a pruner reading it would stop every
    smoothed trial against an unsmoothed incumbent. This callback computes
    the plain mean cross-entropy (classification; members averaged for a
    TabM network's ``(n, k, C)`` logits, as in training) or mean squared
    error (regression) from the validation batches' outputs, with no extra
    forward pass.
    """

    def __init__(self, task="classification"):
        self.task = task

    def on_train_begin(self, net, **kwargs):
        self._loss = _plain_criterion(self.task)

    def on_epoch_begin(self, net, **kwargs):
        self._total, self._count = 0.0, 0

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        if training or y_pred is None or batch is None or batch[1] is None:
            return
        total, n = _batch_total(self._loss, self.task, y_pred, batch[1])
        self._total += total
        self._count += n

    def on_epoch_end(self, net, **kwargs):
        if self._count:
            net.history.record("valid_plain_loss", self._total / self._count)


def _plain_criterion(task):
    return EnsembleCrossEntropyLoss() if task == "classification" else EnsembleMSELoss()


def _batch_total(loss, task, y_pred, y):
    """The batch's summed plain loss and its row count."""
    y = y.to(y_pred.device)
    return float(loss(y_pred.float(), y if task == "classification" else y.float())) * len(y), len(y)


def plain_loss(net, X, y, task="classification"):
    """The plain validation loss of ``net`` as it is now, on ``X, y`` (as :class:`PlainValidLoss` computes it).

    Used on the model a trial ended with -- for a snapshot ensemble, the
    average of its snapshots, which no per-epoch curve shows -- so that the
    incumbent the pruner compares against is the loss of the model that was
    scored. ``X, y`` are given as to the net's ``valid_data``.
    """
    loss, total, count = _plain_criterion(task), 0.0, 0
    with torch.no_grad():
        for batch in net.get_iterator(net.get_dataset(X, y), training=False):
            y_pred = net.evaluation_step(batch, training=False)
            batch_total, n = _batch_total(loss, task, y_pred, batch[1])
            total += batch_total
            count += n
    return total / count if count else None


class LearningCurvePruner(Callback):
    """Stop a trial whose extrapolated validation loss cannot beat the incumbent.

    After ``min_epochs`` epochs, and every ``every`` epochs after that, the
    validation-loss curve (history key ``monitor``; the evaluator uses the
    comparable ``valid_plain_loss`` of :class:`PlainValidLoss`) is extrapolated to ``horizon`` epochs with
    :func:`extrapolate_best_loss`; when even that optimistic value is worse
    than ``incumbent_loss`` by more than ``tolerance`` (relative), training
    stops (the skorch way, by ``KeyboardInterrupt``) and ``pruned_`` is set.

    A snapshot ensemble (``snapshots=M > 1``, Huang et al. 2017) is judged
    instead at the end of each of its cycles, from the ``min_cycles``-th on
    (the epoch in which :class:`sknas.nn.snapshot.SnapshotCollector` records
    a snapshot). Its curve restarts with every cycle, so the extrapolated
    quantity is the running minimum of that curve, the best single network
    so far. It is taken as a bound for the ensemble: the average of the
    snapshots taken at the cycles' ends had a higher loss than the curve's
    minimum on all 40 snapshot trials drawn from the default space on 4
    bundled datasets (1.002 to 4.2 times, median 1.16;
    ``benchmarks/bench_snapshot_bound.py``), so the rule errs towards keeping
    the trial. A pruned snapshot trial keeps the ensemble of the
    cycles it finished.

    References
    ----------
    Domhan, Springenberg, Hutter. "Speeding up Automatic Hyperparameter
    Optimization of Deep Neural Networks by Extrapolation of Learning Curves."
    IJCAI 2015.
    """

    def __init__(self, incumbent_loss=None, horizon=100, min_epochs=5, every=2, tolerance=0.05,
                 monitor="valid_loss", snapshots=1, min_cycles=2):
        self.incumbent_loss = incumbent_loss
        self.monitor = monitor
        self.horizon = horizon
        self.min_epochs = min_epochs
        self.every = every
        self.tolerance = tolerance
        self.snapshots = snapshots
        self.min_cycles = min_cycles

    def on_train_begin(self, net, **kwargs):
        self.pruned_ = False
        self.predicted_loss_ = None

    def _due(self, net):
        if int(self.snapshots) > 1:
            # a cycle ended in this epoch (the collector records the snapshot count in its epoch's row)
            taken = net.history[-1].get("snapshots")
            return taken is not None and taken >= self.min_cycles
        epoch = len(net.history)
        return epoch >= self.min_epochs and (epoch - self.min_epochs) % self.every == 0

    def on_epoch_end(self, net, **kwargs):
        if self.incumbent_loss is None or not self._due(net):
            return
        curve = [row.get(self.monitor) for row in net.history]
        if any(v is None for v in curve):
            return
        self.predicted_loss_ = extrapolate_best_loss(curve, self.horizon)
        limit = self.incumbent_loss + self.tolerance * abs(self.incumbent_loss)
        if self.predicted_loss_ > limit:
            self.pruned_ = True
            raise KeyboardInterrupt


def plan_data_fraction(n_rows, seconds_per_row_epoch, time_budget, min_trials=10, typical_epochs=30,
                       search_share=0.7, min_rows=2000):
    """Share of the training data a trial should use so that the search sees ``min_trials`` trials.

    The cost of a trial is estimated as ``typical_epochs`` epochs at the
    measured seconds per row and epoch. Returns 1.0 when full data fits,
    otherwise the fraction that fits (never fewer than ``min_rows`` rows).
    """
    if time_budget is None or n_rows <= min_rows:
        return 1.0
    trial_seconds_full = typical_epochs * seconds_per_row_epoch * n_rows
    affordable = search_share * time_budget / min_trials
    if trial_seconds_full <= affordable:
        return 1.0
    return float(max(min_rows / n_rows, min(1.0, affordable / trial_seconds_full)))
