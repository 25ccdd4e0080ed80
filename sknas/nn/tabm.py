"""Parameter-efficient ensembling inside one network: BatchEnsemble layers as in TabM.

An ensemble tensor has shape ``(n, k, d)``: ``k`` members, each with its own
view of every row. :class:`BatchEnsembleLinear` shares one weight matrix
between the members and gives each a rank-one multiplicative adapter and its
own bias, ``y_i = ((x_i * r_i) W^T) * s_i + b_i`` (Wen et al. 2020);
:class:`EnsembleHead` gives each member a full linear head of its own. A
network built from them (:class:`sknas.nn.builders.DenseDAG` with
``ensemble_k > 1``) returns the ``k`` members' outputs ``(n, k, n_outputs)``
in training mode, where every member is trained on its own loss
(:class:`EnsembleCrossEntropyLoss`, :class:`EnsembleMSELoss`), and their mean
``(n, n_outputs)`` in evaluation mode (prediction).

As in TabM (Gorishniy et al. 2025, and the authors' package), the first
layer's adapter ``r`` is initialized with random signs and every other
adapter with ones, the shared weight and the biases uniformly in
``+-1 / sqrt(in_features)``, with one draw of the bias shared by all members. Simplifications with respect to
TabM: the ``k`` members see the same mini-batch (the paper's default too);
at prediction the members' logits are averaged (a normalized geometric mean
of their class probabilities) rather than their probabilities; batch
normalization shares its statistics and affine parameters across members
(the authors' ``tabm.BatchNorm1dEnsemble`` keeps them per member); with
numeric embeddings, the authors' package draws the first ``r`` from
``N(0, 1)``, one value per feature's embedding, where sknas keeps random
signs, one per element.

The authors' package ``tabm`` has the same layers: :class:`BatchEnsembleLinear`
is ``tabm.LinearBatchEnsemble`` and :class:`EnsembleHead` is
``tabm.LinearEnsemble``, with the same parameter names and shapes (their
state dicts load into each other) and the same outputs;
``tests/nn/test_reference_packages.py`` checks both, and the initialization.

References
----------
Wen, Tran, Ba. "BatchEnsemble: an Alternative Approach to Efficient Ensemble
and Lifelong Learning." ICLR 2020.
Gorishniy, Kotelnikov, Babenko. "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling." ICLR 2025.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "BatchEnsembleLinear", "EnsembleBatchNorm", "EnsembleCrossEntropyLoss", "EnsembleHead", "EnsembleMSELoss",
    "MemberMean",
]


class BatchEnsembleLinear(nn.Module):
    """``(n, k, in) -> (n, k, out)``: a shared weight with per-member rank-one adapters and biases.

    Parameters
    ----------
    in_features, out_features : int
    k : int
        Number of members.
    random_signs : bool, default=False
        Initialize the input adapters ``r`` with random +-1 (TabM does so for
        the first layer, which is what makes the members differ) instead of ones.
    """

    def __init__(self, in_features, out_features, k, random_signs=False):
        super().__init__()
        self.in_features, self.out_features, self.k = in_features, out_features, k
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Linear's initialization
        r = torch.ones(k, in_features)
        if random_signs:
            r = torch.where(torch.rand(k, in_features) < 0.5, -r, r)
        self.r = nn.Parameter(r)
        self.s = nn.Parameter(torch.ones(k, out_features))
        bound = 1.0 / math.sqrt(in_features)
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound).repeat(k, 1))

    def forward(self, x):
        return F.linear(x * self.r, self.weight) * self.s + self.bias


class EnsembleHead(nn.Module):
    """``(n, k, in) -> (n, k, out)``: an independent linear head per member."""

    def __init__(self, in_features, out_features, k):
        super().__init__()
        self.in_features, self.out_features, self.k = in_features, out_features, k
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, out_features).uniform_(-bound, bound))

    def forward(self, x):
        return torch.einsum("nki,kio->nko", x, self.weight) + self.bias


class EnsembleBatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` over the last dimension of ``(n, k, d)`` (statistics shared by the members)."""

    def forward(self, x):
        if x.dim() == 3:
            n, k, d = x.shape
            return super().forward(x.reshape(n * k, d)).reshape(n, k, d)
        return super().forward(x)


class MemberMean(nn.Module):
    """The members' outputs ``(n, k, d)`` while training; their mean ``(n, d)`` in evaluation mode."""

    def forward(self, x):
        return x if self.training else x.mean(dim=1)


def _members_first(input, target):
    """Flatten ``(n, k, d)`` predictions to ``(n * k, d)`` and repeat the targets to match."""
    k = input.shape[1]
    return input.reshape(-1, input.shape[-1]), target.repeat_interleave(k, dim=0)


class EnsembleCrossEntropyLoss(nn.CrossEntropyLoss):
    """``CrossEntropyLoss`` that also takes ``(n, k, C)`` member logits: the mean of the members' losses.

    Targets may be class indices ``(n,)`` or probabilities ``(n, C)`` (mixup).
    """

    def forward(self, input, target):
        if input.dim() == 3:
            input, target = _members_first(input, target)
        return super().forward(input, target)


class EnsembleMSELoss(nn.MSELoss):
    """``MSELoss`` that also takes ``(n, k, d)`` member predictions: the mean of the members' losses."""

    def forward(self, input, target):
        if input.dim() == 3:
            input, target = _members_first(input, target.reshape(len(target), -1))
        return super().forward(input, target)
