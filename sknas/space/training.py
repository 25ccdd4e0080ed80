"""Training hyperparameters, searched jointly with the architecture (joint HPO + NAS)."""

from __future__ import annotations

from .base import SearchSpace
from .params import Categorical, Float

__all__ = ["TrainingSpace", "OPTIMIZERS", "LR_SCHEDULES"]

OPTIMIZERS = ("adamw", "nadam", "radam")
LR_SCHEDULES = ("constant", "cosine", "onecycle")


class TrainingSpace(SearchSpace):
    """Learning rate, weight decay, batch size, optimizer, schedule (and label smoothing).

    Parameters
    ----------
    task : {"classification", "regression"}, default="classification"
        Label smoothing is searched for classifiers only.
    batch_sizes : tuple of int, default=(32, 64, 128, 256, 512)
    """

    def __init__(self, task="classification", batch_sizes=(32, 64, 128, 256, 512)):
        self.task = task
        self.batch_sizes = batch_sizes

    def _params(self):
        if self.task not in ("classification", "regression"):
            raise ValueError(
                f"TrainingSpace: task must be 'classification' or 'regression'. Got {self.task!r} instead."
            )
        params = [
            Float("lr", 1e-4, 3e-2, log=True),
            Float("weight_decay", 1e-6, 1e-1, log=True),
            Categorical("batch_size", tuple(self.batch_sizes)),
            Categorical("optimizer", OPTIMIZERS),
            Categorical("lr_schedule", LR_SCHEDULES),
        ]
        if self.task == "classification":
            params.append(Float("label_smoothing", 0.0, 0.2))
        return params

    def portfolio(self):
        g = {"lr": 1e-3, "weight_decay": 1e-5, "batch_size": 128 if 128 in self.batch_sizes else self.batch_sizes[0],
             "optimizer": "adamw", "lr_schedule": "cosine"}
        if self.task == "classification":
            g["label_smoothing"] = 0.0
        return [self.validate(g)]
