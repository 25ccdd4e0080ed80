"""Torch modules built from genotypes of the entire-structure spaces."""

from __future__ import annotations

import torch
from torch import nn

from .embeddings import InputLayer
from .tabm import BatchEnsembleLinear, EnsembleBatchNorm, EnsembleHead, MemberMean
from .ops import ACTIVATIONS, make_activation, make_norm

__all__ = ["DENSE_ACTIVATIONS", "DenseDAG", "DropPath", "FeaturePReLU", "ResidualMLP", "count_parameters"]


class FeaturePReLU(nn.Module):
    """A parametric ReLU with one learnable negative slope per feature (last dimension), initialized at 0.25.

    Unlike ``nn.PReLU(width)``, it acts on the last dimension, so it also
    works on ensemble tensors ``(n, k, width)``.

    References
    ----------
    He, Zhang, Ren, Sun. "Delving Deep into Rectifiers: Surpassing Human-Level
    Performance on ImageNet Classification." ICCV 2015.
    """

    def __init__(self, width, init=0.25):
        super().__init__()
        self.weight = nn.Parameter(torch.full((width,), float(init)))

    def forward(self, x):
        return torch.where(x >= 0, x, self.weight * x)


#: Activations of the dense spaces: :data:`sknas.nn.ops.ACTIVATIONS` and ``"prelu"``.
DENSE_ACTIVATIONS = (*ACTIVATIONS, "prelu")


def _activation(name, width):
    return FeaturePReLU(width) if name == "prelu" else make_activation(name)


def _norm(name, width, ensemble):
    if ensemble and name == "batch":
        return EnsembleBatchNorm(width)
    return make_norm(name, width)


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch for whole rows while training (Huang et al. 2016).

    Each row keeps the branch with probability ``1 - p``, scaled by
    ``1 / (1 - p)`` so that evaluation needs no rescaling.

    References
    ----------
    Huang, Sun, Liu, Sedra, Weinberger. "Deep Networks with Stochastic Depth." ECCV 2016.
    """

    def __init__(self, p=0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x):
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype) < keep
        return x * mask / keep


def count_parameters(module):
    return int(sum(p.numel() for p in module.parameters()))


class DenseBlock(nn.Sequential):
    """Linear -> normalization -> activation -> dropout.

    With ``ensemble_k > 1`` the linear layer is a :class:`~sknas.nn.tabm.BatchEnsembleLinear`
    and the block maps ``(n, k, n_in)`` to ``(n, k, width)``.
    """

    def __init__(self, n_in, width, activation, norm, dropout, ensemble_k=1, first=False):
        linear = (nn.Linear(n_in, width) if ensemble_k == 1
                  else BatchEnsembleLinear(n_in, width, ensemble_k, random_signs=first))
        super().__init__(
            linear,
            _norm(norm, width, ensemble_k > 1),
            _activation(activation, width),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
        )


class DenseDAG(nn.Module):
    """A DAG of dense blocks.

    Node 0 is the input; node ``i + 1`` is the output of block ``i``. Block
    ``i`` reads node ``i`` and, when ``skips[i]`` names an earlier node ``j``,
    the concatenation of nodes ``i`` and ``j`` (a DenseNet-style skip that
    needs no width matching). A linear head maps the last node to the outputs.
    With no block, the head reads node 0: the network is a linear model
    (linear or logistic regression) on the input, or on its embeddings.

    Parameters
    ----------
    n_inputs, n_outputs : int
    blocks : list of dict
        Each with ``width``, ``activation``, ``norm``, ``dropout`` and
        ``skip`` (``None`` or an earlier node index). May be empty.
    feature_scale : bool, default=False
        RealMLP's learnable per-feature scaling first (:class:`~sknas.nn.embeddings.FeatureScale`).
    embedding : {"none", "plr", "ple"}, default="none"
        Per-feature numeric embeddings (:mod:`sknas.nn.embeddings`); node 0
        is then the flattened embeddings.
    embedding_dim : int, default=16
    embedding_sigma : float, default=0.1
    ensemble_k : int, default=1
        ``> 1``: TabM, a BatchEnsemble of ``k`` members (:mod:`sknas.nn.tabm`):
        the network returns the members' outputs ``(n, k, n_outputs)`` while
        training and their mean ``(n, n_outputs)`` in evaluation mode. With
        no block, the members are ``k`` linear heads.
    wide : bool, default=False
        The "wide" part of Wide & Deep (Cheng et al. 2016): a bias-free
        linear map from the raw input (before feature scaling or
        embeddings) straight to the outputs, added to the head's output
        (to every member's, with ``ensemble_k > 1``).

    With the defaults the module (and its state dict) is the plain DAG.

    References
    ----------
    Cheng, Koc, Harmsen, Shaked, Chandra, Aradhye, Anderson, Corrado, Chai,
    Ispir, Anil, Haque, Hong, Jain, Liu, Shah. "Wide & Deep Learning for
    Recommender Systems." DLRS workshop 2016 (arXiv:1606.07792).
    """

    def __init__(self, n_inputs, n_outputs, blocks, *, feature_scale=False, embedding="none", embedding_dim=16,
                 embedding_sigma=0.1, ensemble_k=1, wide=False):
        super().__init__()
        self.ensemble_k = int(ensemble_k)
        self.n_inputs, self.n_outputs = int(n_inputs), int(n_outputs)
        # the wide part reads the raw input, so it is made before the input layer changes n_inputs
        self.wide = nn.Linear(n_inputs, n_outputs, bias=False) if wide else None
        self.features = None
        if feature_scale or embedding != "none":
            self.features = InputLayer(n_inputs, feature_scale, embedding, embedding_dim, embedding_sigma)
            n_inputs = self.features.n_outputs
        widths = [n_inputs]
        self.skips = []
        layers = []
        for i, spec in enumerate(blocks):
            skip = spec.get("skip")
            if skip is not None and not 0 <= skip < i:
                raise ValueError(f"Block {i}: skip must name a node in [0, {i - 1}]. Got {skip!r} instead.")
            n_in = widths[i] + (widths[skip] if skip is not None else 0)
            layers.append(DenseBlock(n_in, spec["width"], spec["activation"], spec["norm"], spec["dropout"],
                                     ensemble_k=self.ensemble_k, first=(i == 0)))
            widths.append(spec["width"])
            self.skips.append(skip)
        self.blocks = nn.ModuleList(layers)
        self.node_widths = widths
        if self.ensemble_k == 1:
            self.head = nn.Linear(widths[-1], n_outputs)
        else:
            self.head = EnsembleHead(widths[-1], n_outputs, self.ensemble_k)
            self.member_mean = MemberMean()

    def forward(self, x):
        raw = x
        if self.features is not None:
            x = self.features(x)
        if self.ensemble_k > 1:  # every member starts from the same row
            x = x.unsqueeze(1).expand(-1, self.ensemble_k, -1)
        nodes = [x]
        for block, skip in zip(self.blocks, self.skips):
            h = nodes[-1] if skip is None else torch.cat([nodes[-1], nodes[skip]], dim=-1)
            nodes.append(block(h))
        out = self.head(nodes[-1])
        if self.wide is not None:
            wide = self.wide(raw)
            out = out + (wide.unsqueeze(1) if self.ensemble_k > 1 else wide)
        return self.member_mean(out) if self.ensemble_k > 1 else out


class ResidualBlock(nn.Module):
    """``x + DropPath(Dropout(Linear(Dropout(Act(Linear(Norm(x)))))))`` (Gorishniy et al., 2021).

    ``drop_path > 0`` adds stochastic depth (:class:`DropPath`) to the residual branch.
    """

    def __init__(self, width, hidden, activation, norm, hidden_dropout, residual_dropout, drop_path=0.0):
        super().__init__()
        self.norm = make_norm(norm, width)
        self.linear1 = nn.Linear(width, hidden)
        self.activation = _activation(activation, hidden)
        self.hidden_dropout = nn.Dropout(hidden_dropout)
        self.linear2 = nn.Linear(hidden, width)
        self.residual_dropout = nn.Dropout(residual_dropout)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        z = self.hidden_dropout(self.activation(self.linear1(self.norm(x))))
        return x + self.drop_path(self.residual_dropout(self.linear2(z)))


class ResidualMLP(nn.Module):
    """The ResNet baseline for tabular data of Gorishniy et al. (2021).

    Linear stem, ``n_blocks`` residual blocks, then normalization,
    activation and a linear head. Optional: RealMLP's feature scaling and a
    numeric embedding before the stem (``feature_scale``, ``embedding``,
    ``embedding_dim``, ``embedding_sigma``, as in :class:`DenseDAG`), and
    stochastic depth with the linear rule of Huang et al. (2016): block
    ``l`` of ``L`` drops its branch with probability ``drop_path * l / L``.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data." NeurIPS 2021.
    """

    def __init__(self, n_inputs, n_outputs, n_blocks, width, hidden, activation, norm,
                 hidden_dropout, residual_dropout, *, drop_path=0.0, feature_scale=False, embedding="none",
                 embedding_dim=16, embedding_sigma=0.1):
        super().__init__()
        self.features = None
        if feature_scale or embedding != "none":
            self.features = InputLayer(n_inputs, feature_scale, embedding, embedding_dim, embedding_sigma)
            n_inputs = self.features.n_outputs
        self.stem = nn.Linear(n_inputs, width)
        self.blocks = nn.Sequential(*[
            ResidualBlock(width, hidden, activation, norm, hidden_dropout, residual_dropout,
                          drop_path=drop_path * (i + 1) / n_blocks)
            for i in range(n_blocks)
        ])
        self.head = nn.Sequential(make_norm(norm, width), _activation(activation, width), nn.Linear(width, n_outputs))

    def forward(self, x):
        if self.features is not None:
            x = self.features(x)
        return self.head(self.blocks(self.stem(x)))
