"""Training losses robust to noisy targets: generalized cross-entropy and the Huber loss.

Both accept a TabM network's ``(n, k, d)`` member outputs as
:class:`sknas.nn.tabm.EnsembleCrossEntropyLoss` does (each member gets
its own loss, the mean is returned), so that every architecture of the
spaces trains with them.

- :class:`GeneralizedCrossEntropyLoss` is the ``L_q`` loss of Zhang and
  Sabuncu (2018), ``(1 - p_y^q) / q``. Its gradient is the cross-entropy's
  times ``p_y^q``: a sample the network confidently contradicts (small
  ``p_y``, as a flipped label is once the network has learned the clean
  pattern) pulls far less than under cross-entropy, and the loss is bounded
  by ``1 / q`` (cross-entropy is the limit ``q -> 0``; ``q = 1`` is the mean
  absolute error, robust but slow to train). ``q = 0.7`` is the paper's
  choice for all its experiments. Simplification: the paper's truncated
  ``L_q`` (which drops samples with ``p_y`` below a threshold, pruned every
  ten epochs) is not implemented.
- :class:`EnsembleHuberLoss` is torch's Huber loss (Huber 1964): squared
  error within ``delta`` of the target, absolute error beyond, so that an
  outlying target pulls with a bounded force. sknas trains regressors on the
  standardized target, so ``delta`` is in target standard deviations.

References
----------
Zhang, Sabuncu. "Generalized Cross Entropy Loss for Training Deep Neural
Networks with Noisy Labels." NeurIPS 2018.
Huber. "Robust Estimation of a Location Parameter." The Annals of
Mathematical Statistics 35(1), 1964.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .tabm import _members_first

__all__ = ["EnsembleHuberLoss", "GeneralizedCrossEntropyLoss", "GCE_Q"]

GCE_Q = 0.7
"""The ``q`` of Zhang and Sabuncu (2018), used in all their experiments."""


class GeneralizedCrossEntropyLoss(nn.Module):
    """``L_q = (1 - p_y^q) / q``, the generalized cross-entropy of Zhang and Sabuncu (2018).

    Takes logits ``(n, C)`` or a TabM network's member logits ``(n, k, C)``
    (the mean of the members' losses) and targets as class indices ``(n,)``
    or probabilities ``(n, C)`` (mixup). With soft targets ``t`` (or label
    smoothing, which turns an index into ``(1 - eps) * onehot + eps / C``)
    the loss of a row is ``sum_c t_c (1 - p_c^q) / q``, which is the
    smoothed cross-entropy's form with ``-log p`` replaced by
    ``(1 - p^q) / q``. ``weight`` (per class, as in ``CrossEntropyLoss``,
    set by :class:`sknas.prep.imbalance.BalancedClassWeight`) weighs each
    term, and the mean over the rows is normalized as ``CrossEntropyLoss``
    does (by the rows' weights for index targets, by ``n`` for soft ones).

    Parameters
    ----------
    q : float in (0, 1], default=0.7
    label_smoothing : float in [0, 1), default=0.0
    weight : tensor of shape (C,) or None
    """

    def __init__(self, q=GCE_Q, label_smoothing=0.0, weight=None):
        super().__init__()
        if not 0.0 < float(q) <= 1.0:
            raise ValueError(f"GeneralizedCrossEntropyLoss: q must be in (0, 1]. Got {q!r} instead.")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(
                f"GeneralizedCrossEntropyLoss: label_smoothing must be in [0, 1). Got {label_smoothing!r} instead.")
        self.q = float(q)
        self.label_smoothing = float(label_smoothing)
        self.weight = weight

    def forward(self, input, target):
        if input.dim() == 3:
            input, target = _members_first(input, target)
        n_classes = input.shape[-1]
        # (1 - p^q) / q per class, from the log-probabilities (stable for tiny p; expm1 keeps small q accurate)
        per_class = -torch.expm1(self.q * F.log_softmax(input, dim=-1)) / self.q
        hard = not torch.is_floating_point(target)
        if hard:
            t = F.one_hot(target.long(), n_classes).to(per_class.dtype)
        else:
            t = target.to(per_class.dtype)
        if self.label_smoothing > 0:
            t = t * (1.0 - self.label_smoothing) + self.label_smoothing / n_classes
        w = None if self.weight is None else self.weight.to(per_class)
        terms = t * per_class if w is None else t * per_class * w
        rows = terms.sum(dim=-1)
        if hard and w is not None:
            return rows.sum() / w[target.long()].sum()
        return rows.mean()


class EnsembleHuberLoss(nn.HuberLoss):
    """``HuberLoss`` that also takes ``(n, k, d)`` member predictions: the mean of the members' losses."""

    def forward(self, input, target):
        if input.dim() == 3:
            input, target = _members_first(input, target.reshape(len(target), -1))
        return super().forward(input, target)
