"""Training hyperparameters, searched jointly with the architecture (joint HPO + NAS)."""

from __future__ import annotations

from .base import SearchSpace
from .mlp import _added
from .params import Categorical, Float

__all__ = ["TrainingSpace", "OPTIMIZERS", "LR_SCHEDULES", "SNAPSHOTS"]

OPTIMIZERS = ("adamw", "nadam", "radam")
LR_SCHEDULES = ("constant", "cosine", "onecycle")
SNAPSHOTS = (1, 3, 5)


class TrainingSpace(SearchSpace):
    """Learning rate, weight decay, batch size, optimizer, schedule, snapshots (and label smoothing).

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

    Parameters
    ----------
    task : {"classification", "regression"}, default="classification"
        Label smoothing is searched for classifiers only.
    batch_sizes : tuple of int, default=(32, 64, 128, 256, 512)
    snapshots : tuple of int, default=(1, 3, 5)
        The snapshot counts searched (each >= 1; 1 is off). A genotype
        without the key reads 1 when 1 is among them.
    """

    def __init__(self, task="classification", batch_sizes=(32, 64, 128, 256, 512), snapshots=SNAPSHOTS):
        self.task = task
        self.batch_sizes = batch_sizes
        self.snapshots = snapshots

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
        return [self.validate(g)]
