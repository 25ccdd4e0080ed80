"""Input layers for numeric features: learnable scaling and per-feature embeddings.

The network of a trial only sees the preprocessed float matrix (see
:mod:`sknas.space.pipeline`), so every layer here works on already scaled
columns: the default ``"quantile"`` scaler maps each column to a standard
normal, ``"standard"`` to mean 0 and variance 1, and RealMLP's robust scaling
with smooth clipping (``clip="smooth"``, :class:`sknas.prep.clipping.Clipper`)
to a bounded, roughly unit scale.

- :class:`FeatureScale`: RealMLP's learnable per-feature scaling, a diagonal
  layer initialized at 1 (Holzmüller et al. 2024).
- :class:`PeriodicEmbedding`: the "PLR" embedding of Gorishniy et al. (2022):
  ``x -> [cos(2 pi c x), sin(2 pi c x)] -> Linear -> ReLU`` per feature,
  frequencies ``c ~ N(0, sigma)`` trained with the rest of the network.
- :class:`PiecewiseLinearEncoding`: the "PLE" encoding of Gorishniy et al.
  (2022) followed by a per-feature ``Linear -> ReLU``.

Every embedding maps ``(n, n_features)`` to ``(n, n_features * d)`` (the
per-feature embeddings flattened), ready for a dense backbone.

References
----------
Gorishniy, Rubachev, Babenko. "On Embeddings for Numerical Features in Tabular
Deep Learning." NeurIPS 2022.
Holzmüller, Grinsztajn, Steinwart. "Better by Default: Strong Pre-Tuned MLPs
and Boosted Trees on Tabular Data." NeurIPS 2024.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["EMBEDDINGS", "FeatureScale", "InputLayer", "PeriodicEmbedding", "PiecewiseLinearEncoding"]

EMBEDDINGS = ("none", "plr", "ple")


class FeatureScale(nn.Module):
    """``x * w``: a learnable scale per input feature, initialized at 1 (RealMLP's first layer).

    Simplification: RealMLP trains this layer with a larger learning rate
    (a factor 6) than the rest; here it shares the network's learning rate.
    """

    def __init__(self, n_features):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_features))

    def forward(self, x):
        return x * self.weight


class _PerFeatureLinear(nn.Module):
    """A separate ``Linear(d_in, d_out)`` for every feature: ``(n, f, d_in) -> (n, f, d_out)``."""

    def __init__(self, n_features, d_in, d_out):
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(n_features, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_features, d_out).uniform_(-bound, bound))

    def forward(self, x):
        return torch.einsum("nfi,fio->nfo", x, self.weight) + self.bias


class PeriodicEmbedding(nn.Module):
    """PLR: periodic activations, then a per-feature linear layer and ReLU (Gorishniy et al. 2022).

    ``v = 2 pi c_f x_f`` with ``n_frequencies`` trainable frequencies ``c_f``
    per feature drawn from ``N(0, sigma)``; ``[cos v, sin v]`` goes through
    a linear layer of its own for each feature (``2 n_frequencies -> d``)
    and a ReLU.

    This is the paper's PLR, not the "lite" variant of later papers (TabR,
    TabM), whose linear layer is shared by all features. It computes the
    same function as the authors' ``rtdl_num_embeddings.PeriodicEmbeddings(
    lite=False)`` with the same weights (``frequencies`` is their
    ``periodic.weight``; their output is ``(n, n_features, d)``, not
    flattened); ``tests/nn/test_reference_packages.py`` checks it. Two
    differences at initialization: the package truncates the frequencies'
    normal at ``3 sigma`` (the paper and this class do not), and its
    default ``n_frequencies`` is 48.

    Parameters
    ----------
    n_features : int
    d_embedding : int, default=16
    sigma : float, default=0.1
        Standard deviation of the initial frequencies; the paper's most
        important hyperparameter, searched on a log scale.
    n_frequencies : int or None, default=None
        ``None``: ``d_embedding`` (a simplification; the paper tunes it apart).
    """

    def __init__(self, n_features, d_embedding=16, sigma=0.1, n_frequencies=None):
        super().__init__()
        m = n_frequencies or d_embedding
        self.frequencies = nn.Parameter(torch.randn(n_features, m) * sigma)
        self.linear = _PerFeatureLinear(n_features, 2 * m, d_embedding)
        self.d_embedding = d_embedding

    def forward(self, x):
        v = 2 * math.pi * self.frequencies * x.unsqueeze(-1)
        z = torch.relu(self.linear(torch.cat([torch.cos(v), torch.sin(v)], dim=-1)))
        return z.flatten(1)


class PiecewiseLinearEncoding(nn.Module):
    """PLE with fixed bins on the standardized scale, then a per-feature ``Linear -> ReLU``.

    Bin ``t`` of a feature with edges ``b_{t-1} < b_t`` encodes
    ``(x - b_{t-1}) / (b_t - b_{t-1})`` clipped to ``[0, 1]``, except that the
    first bin is not clipped below and the last bin not clipped above, as in
    the paper.

    Simplification: the paper computes the edges from the training
    quantiles (or target-aware trees) of each raw feature, the outer edges
    being the feature's minimum and maximum. The network only sees
    preprocessed columns, so the edges here are fixed, the same for every
    feature: the standard normal's quantiles at the probabilities
    ``0.01 + 0.98 t / n_bins`` (``t = 0 .. n_bins``), that is ``n_bins``
    bins of equal probability between the 1% and the 99% quantiles. After
    the default ``"quantile"`` scaler the paper's edges would be the
    quantiles at ``t / n_bins`` instead, with outer edges near +-5.2 (for
    ``n_bins=16`` the first inner edge is -1.47 here, -1.53 there); after
    standard or robust scaling they follow the data. The per-feature linear
    layer that follows learns how to combine the bins.

    Given the same edges, this computes the same function as the authors'
    ``rtdl_num_embeddings.PiecewiseLinearEmbeddings(bins, d, activation=True,
    version="A")`` (the paper's version; their output is not flattened),
    with edges from their ``compute_bins`` too (set ``lower`` and ``width``
    to ``(n_features, n_bins)`` tensors); ``tests/nn/test_reference_packages.py``
    checks both.

    Parameters
    ----------
    n_features : int
    n_bins : int, default=16
    d_embedding : int or None, default=None
        ``None``: ``n_bins``.
    """

    def __init__(self, n_features, n_bins=16, d_embedding=None):
        super().__init__()
        probs = torch.linspace(0.01, 0.99, n_bins + 1, dtype=torch.float64)
        edges = (math.sqrt(2.0) * torch.erfinv(2 * probs - 1)).float()
        self.register_buffer("lower", edges[:-1].clone())
        self.register_buffer("width", (edges[1:] - edges[:-1]).clone())
        d = d_embedding or n_bins
        self.linear = _PerFeatureLinear(n_features, n_bins, d)
        self.d_embedding = d

    def forward(self, x):
        t = (x.unsqueeze(-1) - self.lower) / self.width  # (n, f, n_bins)
        n_bins = t.shape[-1]
        if n_bins > 1:
            t = torch.cat([
                t[..., :1].clamp(max=1.0),
                t[..., 1:-1].clamp(0.0, 1.0),
                t[..., -1:].clamp(min=0.0),
            ], dim=-1)
        return torch.relu(self.linear(t)).flatten(1)


class InputLayer(nn.Module):
    """The optional front of a dense network: feature scaling, then an embedding.

    Parameters
    ----------
    n_features : int
    feature_scale : bool, default=False
    embedding : {"none", "plr", "ple"}, default="none"
    embedding_dim : int, default=16
    embedding_sigma : float, default=0.1
        PLR's frequency scale.

    Attributes
    ----------
    n_outputs : int
        Width of the output (``n_features * embedding_dim`` with an embedding).
    """

    def __init__(self, n_features, feature_scale=False, embedding="none", embedding_dim=16, embedding_sigma=0.1):
        super().__init__()
        if embedding not in EMBEDDINGS:
            raise ValueError(f"InputLayer: embedding must be one of {EMBEDDINGS}. Got {embedding!r} instead.")
        self.scale = FeatureScale(n_features) if feature_scale else nn.Identity()
        if embedding == "plr":
            self.embedding = PeriodicEmbedding(n_features, embedding_dim, embedding_sigma)
        elif embedding == "ple":
            self.embedding = PiecewiseLinearEncoding(n_features, embedding_dim)
        else:
            self.embedding = nn.Identity()
        self.n_outputs = n_features * (embedding_dim if embedding != "none" else 1)

    def forward(self, x):
        return self.embedding(self.scale(x))
