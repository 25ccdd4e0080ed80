"""Training hyperparameters, searched jointly with the architecture (joint HPO + NAS)."""

from __future__ import annotations

from .base import SearchSpace
from .mlp import _added
from .params import Categorical, Float

__all__ = ["TrainingSpace", "OPTIMIZERS", "LR_SCHEDULES", "SNAPSHOTS", "LOSSES"]

OPTIMIZERS = ("adamw", "nadam", "radam")
LR_SCHEDULES = ("constant", "cosine", "onecycle")
SNAPSHOTS = (1, 3, 5)
LOSSES = {"classification": ("ce", "gce"), "regression": ("mse", "huber")}
"""The training losses of each task; the first is the plain one (what a genotype without ``loss`` means)."""
HUBER_DELTAS = (0.1, 0.3, 1.0)


class TrainingSpace(SearchSpace):
    """Learning rate, weight decay, batch size, optimizer, schedule, snapshots, loss (and label smoothing).

    ``snapshots`` is one of the regularization "cocktail" choices (Kadra et
    al. 2021): with ``snapshots=M > 1`` the network is trained as a snapshot
    ensemble (Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for
    free", ICLR): ``M`` cycles of cosine annealing with warm restarts over the
    epoch horizon (replacing ``lr_schedule``), without early stopping, and
    the prediction averages the ``M`` end-of-cycle snapshots (see
    :mod:`sknas.nn.snapshot` and :func:`sknas.evaluation.trainer.make_net`).
    ``1`` (off) is the default, and a genotype saved before the parameter
    existed validates with it. ``lr_schedule`` is conditional on
    ``snapshots=1``: a snapshot ensemble has its own schedule, so the
    decision is inactive (absent from the genotype) for ``M > 1`` and no
    search spends proposals on a choice training ignores. (Changed after 0.1.0: the
    snapshot count is drawn before the schedule, so seeded draws of the
    training space differ from earlier versions, and a saved genotype with
    ``snapshots > 1`` and an ``lr_schedule`` no longer validates.)

    ``loss`` is the training loss, with noise-robust choices next to the
    plain one: for classifiers ``"ce"`` (cross-entropy, with the searched
    label smoothing) or ``"gce"``, the generalized cross-entropy ``L_q`` of
    Zhang and Sabuncu (2018, NeurIPS) with the paper's ``q = 0.7``, bounded
    and less pulled by flipped labels (label smoothing applies to it too);
    for regressors ``"mse"`` (squared error) or ``"huber"`` (Huber 1964),
    with ``huber_delta`` (conditional on it) in standard deviations of the
    standardized target the network is trained on. See
    :mod:`sknas.nn.losses`. The loss only trains: the validation score is
    the task's metric, and the loss learning-curve pruning compares trials
    by stays plain cross-entropy or squared error
    (:class:`sknas.evaluation.fidelity.PlainValidLoss`); early stopping
    monitors the trial's own loss on the validation rows. The plain loss is
    the first choice and what a genotype without the key means, so
    genotypes saved before the parameter existed keep their meaning.
    (Changed after 0.1.0: ``loss`` is drawn after the other training
    parameters, so seeded draws of a joint space's later parts differ.)

    Parameters
    ----------
    task : {"classification", "regression"}, default="classification"
        Label smoothing is searched for classifiers only.
    batch_sizes : tuple of int, default=(32, 64, 128, 256, 512)
    snapshots : tuple of int, default=(1, 3, 5)
        The snapshot counts searched (each >= 1; 1 is off). A genotype
        without the key reads 1 when 1 is among them.
    losses : tuple of str or None, default=None
        The losses searched, among the task's (``LOSSES[task]``); None
        searches all of them. ``("ce",)`` or ``("mse",)`` leaves the robust
        losses out: the space is then the one of before they existed (no
        ``loss`` decision, same seeded draws); a genotype with another
        loss does not validate in it.
    """

    def __init__(self, task="classification", batch_sizes=(32, 64, 128, 256, 512), snapshots=SNAPSHOTS,
                 losses=None):
        self.task = task
        self.batch_sizes = batch_sizes
        self.snapshots = snapshots
        self.losses = losses

    def _losses(self):
        if self.task not in LOSSES:
            raise ValueError(
                f"TrainingSpace: task must be 'classification' or 'regression'. Got {self.task!r} instead."
            )
        known = LOSSES[self.task]
        if self.losses is None:
            return known
        losses = (self.losses,) if isinstance(self.losses, str) else tuple(self.losses)
        if not losses or any(not isinstance(l, str) or l not in known for l in losses) \
                or len(set(losses)) != len(losses):
            raise ValueError(
                f"TrainingSpace: losses must be distinct names among {known} for task={self.task!r}. "
                f"Got {self.losses!r} instead.")
        return losses

    def loss(self, genotype):
        """The training loss of ``genotype`` (the plain loss of the task when the key is absent)."""
        return genotype.get("loss", LOSSES[self.task][0])

    def _params(self):
        if self.task not in ("classification", "regression"):
            raise ValueError(
                f"TrainingSpace: task must be 'classification' or 'regression'. Got {self.task!r} instead."
            )
        snapshots = tuple(self.snapshots)
        if not snapshots or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in snapshots):
            raise ValueError(f"TrainingSpace: snapshots must be ints >= 1. Got {self.snapshots!r} instead.")
        params = [
            Float("lr", 1e-4, 3e-2, log=True),
            Float("weight_decay", 1e-6, 1e-1, log=True),
            Categorical("batch_size", tuple(self.batch_sizes)),
            Categorical("optimizer", OPTIMIZERS),
            _added(Categorical("snapshots", snapshots), 1),
        ]
        # a snapshot ensemble replaces the schedule by cosine annealing with warm restarts:
        # the schedule is a decision only without one (inactive, so never searched in vain)
        if 1 in snapshots:
            when = {"snapshots": (1,)} if len(snapshots) > 1 else None
            params.append(Categorical("lr_schedule", LR_SCHEDULES, when=when))
        if self.task == "classification":
            params.append(Float("label_smoothing", 0.0, 0.2))
        # last, so that the draws of the parameters before it keep their random streams
        losses = self._losses()
        if losses != LOSSES[self.task][:1]:
            params.append(_added(Categorical("loss", losses), LOSSES[self.task][0]))
            if "huber" in losses:
                params.append(Categorical("huber_delta", HUBER_DELTAS, when={"loss": ("huber",)}))
        return params

    def shrink(self, genotype):
        """A snapshot ensemble (``M`` copies of the network at prediction) becomes one network, with the
        portfolio's cosine schedule; ``None`` otherwise (see :meth:`SearchSpace.shrink
        <sknas.space.base.SearchSpace.shrink>`)."""
        if genotype.get("snapshots", 1) > 1 and 1 in self.snapshots:
            return self.replace(genotype, snapshots=1, lr_schedule="cosine")
        return None

    def portfolio(self):
        g = {"lr": 1e-3, "weight_decay": 1e-5, "batch_size": 128 if 128 in self.batch_sizes else self.batch_sizes[0],
             "optimizer": "adamw", "snapshots": 1 if 1 in self.snapshots else next(iter(self.snapshots))}
        if g["snapshots"] == 1:
            g["lr_schedule"] = "cosine"
        if self.task == "classification":
            g["label_smoothing"] = 0.0
        losses = self._losses()
        if losses != LOSSES[self.task][:1]:
            g["loss"] = LOSSES[self.task][0] if LOSSES[self.task][0] in losses else losses[0]
            if g["loss"] == "huber":
                g["huber_delta"] = 1.0
        return [self.validate(g)]
