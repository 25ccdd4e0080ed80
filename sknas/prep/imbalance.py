"""Class imbalance: class weights in the classification loss (searched on/off)."""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = ["BalancedClassWeight", "balanced_class_weights"]


def balanced_class_weights(y, classes):
    """``n / (n_classes * count)`` of each class (sklearn's ``class_weight="balanced"``).

    Classes absent from ``y`` get weight 1 (they never enter the loss).
    """
    classes = np.asarray(classes)
    y = np.asarray(y)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    if not np.all(classes[idx] == y):
        raise ValueError(f"y has labels outside classes {classes!r}.")
    counts = np.bincount(idx, minlength=len(classes))
    return np.where(counts > 0, len(y) / (len(classes) * np.maximum(counts, 1)), 1.0)


class BalancedClassWeight(Callback):
    """Weight each class in the loss by ``n / (n_classes * count)`` in its training data.

    At the start of every ``fit`` it sets the ``weight`` of the net's
    criterion (``CrossEntropyLoss``) from the training labels, so that
    every class contributes equally to the loss, as sklearn's
    ``class_weight="balanced"`` does. The validation loss (and early
    stopping) use the same weights. Combine with
    ``scoring="balanced_accuracy"`` to rank candidates the same way.

    Attributes
    ----------
    weights_ : ndarray
        Weight of each class, in the order of ``net.classes_``.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if y is None:
            return
        classes = np.asarray(net.classes_)
        if isinstance(y, torch.Tensor):  # already class indices
            y = classes[y.cpu().numpy().astype(np.int64)]
        self.weights_ = balanced_class_weights(y, classes)
        net.criterion_.weight = torch.as_tensor(self.weights_, dtype=torch.float32, device=net.device)
