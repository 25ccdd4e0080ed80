"""Snapshot ensembles: several networks from one training run, for free.

Training follows a cyclic cosine annealing schedule with warm restarts: the
horizon is cut into ``M`` equal cycles, in each of which the learning rate
falls from its initial value to (nearly) zero along a cosine and restarts at
its initial value when the next cycle begins,
``lr(t) = lr_0 / 2 * (cos(pi * mod(t, T / M) / (T / M)) + 1)``.
At the end of every cycle the network sits in a (different) local minimum,
and a copy of its weights, a *snapshot*, is kept. The prediction averages the
``M`` snapshots: their class probabilities for classification
(:class:`SnapshotEnsemble` returns ``log(mean softmax)`` so that a softmax
applied on top gives the averaged probabilities back), their outputs for
regression.

The schedule is torch's ``CosineAnnealingWarmRestarts`` driven by a skorch
``LRScheduler`` (stepped every batch, as in the paper, when the number of
batches per epoch is known); :class:`SnapshotCollector` is the skorch callback
that counts the same steps, keeps the snapshots and, when training ends,
swaps the network for their :class:`SnapshotEnsemble`.

Simplifications with respect to the paper: when training stops early (a
deadline), the snapshots taken so far are averaged (the current weights when
no cycle ended yet); batch-normalization statistics are those saved with each
snapshot; all ``M`` snapshots are kept (the paper also studies keeping only
the last few).

References
----------
Huang, Li, Pleiss, Liu, Hopcroft, Weinberger. "Snapshot Ensembles: Train 1,
get M for free." ICLR 2017.
Loshchilov, Hutter. "SGDR: Stochastic Gradient Descent with Warm Restarts."
ICLR 2017.
"""

from __future__ import annotations

import copy
import math

import torch
from skorch.callbacks import Callback
from torch import nn

__all__ = ["SnapshotCollector", "SnapshotEnsemble"]

AVERAGES = ("proba", "mean")


class SnapshotEnsemble(nn.Module):
    """The average of a few networks of the same architecture (the snapshots).

    Parameters
    ----------
    members : list of nn.Module
        The snapshots, each mapping a batch to logits (classification) or
        outputs (regression).
    average : {"proba", "mean"}, default="proba"
        ``"proba"``: return ``log(mean_i softmax(member_i(x)))``, the log of
        the averaged class probabilities (a softmax of it gives them back);
        ``"mean"``: return the mean of the members' outputs (regression).

    The choice is also kept as a (persistent) buffer ``average_proba`` so that
    a state dict alone says how to rebuild the ensemble.
    """

    def __init__(self, members, average="proba"):
        super().__init__()
        if average not in AVERAGES:
            raise ValueError(f"SnapshotEnsemble: average must be one of {AVERAGES}. Got {average!r} instead.")
        members = list(members)
        if not members:
            raise ValueError("SnapshotEnsemble needs at least one member.")
        self.members = nn.ModuleList(members)
        self.average = average
        self.register_buffer("average_proba", torch.tensor(average == "proba"))

    def forward(self, X):
        outputs = torch.stack([member(X) for member in self.members])
        if self.average == "proba":
            # log of the mean probability, computed stably: logsumexp of the members' log-probabilities - log M
            return torch.logsumexp(torch.log_softmax(outputs, dim=-1), dim=0) - math.log(len(self.members))
        return outputs.mean(dim=0)

    @classmethod
    def from_states(cls, template, states, average="proba"):
        """An ensemble of copies of ``template``, one per state dict in ``states``."""
        members = []
        for state in states:
            member = copy.deepcopy(template)
            member.load_state_dict(state)
            members.append(member)
        return cls(members, average=average)

    @classmethod
    def from_state_dict(cls, template, state_dict, prefix=""):
        """An empty-weight ensemble shaped to receive ``state_dict`` (keys ``prefix + "members.<i>..."``).

        Returns None when the state dict holds no snapshot ensemble under ``prefix``.
        """
        head = prefix + "members."
        indices = {int(k[len(head):].split(".", 1)[0]) for k in state_dict if k.startswith(head)}
        if not indices:
            return None
        flag = state_dict.get(prefix + "average_proba")
        average = "mean" if flag is not None and not bool(flag) else "proba"
        return cls([copy.deepcopy(template) for _ in range(max(indices) + 1)], average=average)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class SnapshotCollector(Callback):
    """Keep a snapshot of the weights at the end of every learning-rate cycle; average them after training.

    Counts the same steps as the cyclic schedule (training batches with
    ``unit="batch"``, epochs with ``unit="epoch"``) and takes a snapshot each
    time ``cycle`` steps have passed, up to ``n_snapshots``. When training
    ends, normally or stopped by a deadline (skorch calls ``on_train_end``
    after a ``KeyboardInterrupt`` too), the network is replaced by the
    :class:`SnapshotEnsemble` of the snapshots taken (the current weights when
    none was: no cycle ended).

    Parameters
    ----------
    n_snapshots : int
        ``M``, the number of cycles of the schedule.
    cycle : int
        Steps per cycle.
    unit : {"batch", "epoch"}, default="batch"
    average : {"proba", "mean"}, default="proba"
        See :class:`SnapshotEnsemble`.
    attribute : str or None, default="net"
        The submodule of ``net.module_`` that is snapshotted and replaced by
        the ensemble; None: ``net.module_`` itself.

    Attributes
    ----------
    n_collected_ : int
        Snapshots taken by the last training (also recorded per epoch in the
        history under ``"snapshots"``).
    """

    def __init__(self, n_snapshots, cycle, unit="batch", average="proba", attribute="net"):
        self.n_snapshots = n_snapshots
        self.cycle = cycle
        self.unit = unit
        self.average = average
        self.attribute = attribute

    def initialize(self):
        if self.unit not in ("batch", "epoch"):
            raise ValueError(f"SnapshotCollector: unit must be 'batch' or 'epoch'. Got {self.unit!r} instead.")
        if int(self.n_snapshots) < 1 or int(self.cycle) < 1:
            raise ValueError("SnapshotCollector: n_snapshots and cycle must be >= 1.")
        return self

    def _target(self, net):
        return net.module_ if self.attribute is None else getattr(net.module_, self.attribute)

    def on_train_begin(self, net, **kwargs):
        self.states_ = []
        self.steps_ = 0
        self.n_collected_ = 0

    def _step(self, net):
        self.steps_ += 1
        if self.steps_ % int(self.cycle) == 0 and len(self.states_) < int(self.n_snapshots):
            self.states_.append(_state(self._target(net)))
            net.history.record("snapshots", len(self.states_))

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.unit == "batch":
            self._step(net)

    def on_epoch_end(self, net, **kwargs):
        if self.unit == "epoch":
            self._step(net)

    def on_train_end(self, net, **kwargs):
        states = self.states_ or [_state(self._target(net))]
        ensemble = SnapshotEnsemble.from_states(self._target(net), states, average=self.average)
        if self.attribute is None:
            net.module_ = ensemble
        else:
            setattr(net.module_, self.attribute, ensemble)
        self.n_collected_ = len(self.states_)
        self.states_ = []  # the weights now live in the ensemble; do not pickle them twice
