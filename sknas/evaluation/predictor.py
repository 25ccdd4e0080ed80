"""Surrogate performance predictors: a candidate scored from its encoding, before any training.

A predictor learns ``space.encode(genotype) -> score`` from finished trials
and ranks new candidates before any training (as PNAS ranks cell expansions
with its surrogate). The searchers use it:
:class:`~sknas.search.predictor_filter.PredictorFilter` lets any optimizer
keep only the proposals it ranks best, and
:class:`~sknas.search.pnas.PNASSearch` ranks its expansions with it.

Three models: a random forest (``"forest"``), nearest neighbours
(``"knn"``), and the encoder-predictor network of NAO and SemiNAS
(``"mlp"``). SemiNAS (Luo et al. 2020) is ``semi_supervised=True``: the
encoder-predictor is trained on the labelled genotypes, pseudo-labels
``n_unlabelled`` unevaluated ones, and is trained again on both.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.ensemble import RandomForestRegressor
from sklearn.neighbors import KNeighborsRegressor
from torch import nn

from .trainer import torch_threads

__all__ = ["SurrogatePredictor"]

_KINDS = ("forest", "knn", "mlp")


class SurrogatePredictor:
    """A regressor on genotype encodings: a forest, nearest neighbours, or an encoder-predictor (SemiNAS).

    ``kind="mlp"`` is the encoder-predictor of NAO (Luo et al. 2018) and
    SemiNAS (Luo et al. 2020): an encoder maps the encoding to a latent
    vector ``z``, a predictor (an MLP) maps ``z`` to the score, and a
    decoder maps ``z`` back to the encoding. They are trained jointly on
    ``trade_off * MSE(score) + (1 - trade_off) * MSE(reconstruction)``
    (scores standardized), full batch, with Adam.

    With ``semi_supervised=True`` it is SemiNAS: after that training on the
    labelled genotypes, the model predicts the score of ``n_unlabelled``
    unevaluated genotypes (the ``unlabelled`` given to :meth:`fit`, a random
    subset when more are given), and training continues for as many steps
    on the labelled and the pseudo-labelled genotypes together (both terms
    of the loss on both sets).

    Parameters
    ----------
    kind : {"forest", "knn", "mlp"} or None, default=None
        ``None``: ``"mlp"`` when ``semi_supervised``, else ``"forest"``.
    semi_supervised : bool, default=False
        SemiNAS pseudo-labelling; needs ``kind`` ``"mlp"`` (or ``None``).
    n_unlabelled : int, default=200
        Most unlabelled genotypes pseudo-labelled (SemiNAS's M).
    random_state : int, default=0
    hidden_size : int, default=64
        Width of the hidden layers of the three networks (``"mlp"``).
    latent_size : int, default=16
        Width of ``z`` (``"mlp"``).
    n_steps : int, default=300
        Adam steps of each training phase (``"mlp"``).
    trade_off : float, default=0.8
        Weight of the prediction loss against the reconstruction loss
        (NAO's and SemiNAS's lambda).

    Attributes
    ----------
    kind_ : str
        The model in use.
    n_pseudo_labels_ : int
        Unlabelled genotypes pseudo-labelled and trained on by the last fit.

    Notes
    -----
    Simplified from SemiNAS: the paper's encoder and decoder are LSTMs on
    the architecture's token sequence (the decoder also generates new
    architectures, as in NAO); here they are MLPs on the space's fixed-
    length encoding (``space.encode``: one-hot choices, unit-scaled
    numbers), an MLP autoencoder with a reconstruction MSE, since the
    predictor only ranks. One pseudo-labelling round per fit, as in one
    iteration of the paper's search; the paper uses N=100 labels and
    M=10,000 unlabelled architectures on NAS-Bench-101.

    Measured on the tabulated benchmark (``benchmarks/bench_seminas.py``,
    ``docs/benchmarks/seminas.md``: Kendall's tau on held-out networks, 30
    to 100 labels): the encoder-predictor ranks better than the forest
    (+0.04 to +0.07), the pseudo-labels add nothing measurable (within
    0.002 of the same network without them).

    References
    ----------
    Luo, Tan, Wang, Qin, Chen, Liu. "Semi-Supervised Neural Architecture
    Search." NeurIPS 2020.
    Luo, Tian, Qin, Chen, Liu. "Neural Architecture Optimization." NeurIPS 2018.
    """

    def __init__(self, kind=None, semi_supervised=False, n_unlabelled=200, random_state=0,
                 hidden_size=64, latent_size=16, n_steps=300, trade_off=0.8):
        self.kind = kind
        self.semi_supervised = semi_supervised
        self.n_unlabelled = n_unlabelled
        self.random_state = random_state
        self.hidden_size = hidden_size
        self.latent_size = latent_size
        self.n_steps = n_steps
        self.trade_off = trade_off

    def _check(self):
        kind = self.kind
        if kind is None:
            kind = "mlp" if self.semi_supervised else "forest"
        if kind not in _KINDS:
            raise ValueError(
                f"SurrogatePredictor: kind must be 'forest', 'knn', 'mlp' or None. Got {self.kind!r} instead.")
        if self.semi_supervised and kind != "mlp":
            raise ValueError(
                f"SurrogatePredictor: semi_supervised (SemiNAS) trains the encoder-predictor; kind must be "
                f"'mlp' or None. Got {self.kind!r} instead."
            )
        for name in ("n_unlabelled", "n_steps", "hidden_size", "latent_size"):
            value = getattr(self, name)
            low = 0 if name == "n_unlabelled" else 1
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                raise ValueError(f"SurrogatePredictor: {name} must be an int >= {low}. Got {value!r} instead.")
        if isinstance(self.trade_off, bool) or not isinstance(self.trade_off, Real) or not 0 < self.trade_off <= 1:
            raise ValueError(f"SurrogatePredictor: trade_off must be in (0, 1]. Got {self.trade_off!r} instead.")
        return kind

    def fit(self, X, y, unlabelled=None):
        """Fit on encodings ``X`` and scores ``y``; ``unlabelled``: encodings without a score (SemiNAS)."""
        self.kind_ = self._check()
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        if X.ndim != 2 or len(X) != len(y) or len(y) == 0:
            raise ValueError(
                f"SurrogatePredictor.fit: X must be 2-d with one row per score. Got {X.shape} and {y.shape} instead.")
        self.n_pseudo_labels_ = 0
        if self.kind_ == "forest":
            self.model_ = RandomForestRegressor(n_estimators=40, min_samples_leaf=2,
                                                random_state=self.random_state).fit(X, y)
        elif self.kind_ == "knn":
            self.model_ = KNeighborsRegressor(n_neighbors=min(3, len(y)), weights="distance").fit(X, y)
        else:
            pool = None
            if self.semi_supervised and unlabelled is not None and self.n_unlabelled > 0:
                pool = np.asarray(unlabelled, dtype=float).reshape(-1, X.shape[1])
                if len(pool) > self.n_unlabelled:
                    pick = np.random.default_rng(self.random_state).choice(len(pool), self.n_unlabelled, replace=False)
                    pool = pool[np.sort(pick)]
            self._fit_network(X, y, pool)
        return self

    def _fit_network(self, X, y, pool):
        self._mean = float(y.mean())
        self._scale = float(y.std()) if y.std() > 1e-12 else 1.0
        target = torch.tensor((y - self._mean) / self._scale, dtype=torch.float32)
        inputs = torch.tensor(X, dtype=torch.float32)
        # one thread: the network is tiny, and more threads only contend with the trials running beside it
        with torch_threads(1), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))
            self.model_ = _EncoderPredictor(X.shape[1], int(self.hidden_size), int(self.latent_size))
            optimizer = torch.optim.Adam(self.model_.parameters(), lr=3e-3, weight_decay=1e-4)
            self._train(optimizer, inputs, target)
            if pool is not None and len(pool):
                unlabelled = torch.tensor(pool, dtype=torch.float32)
                self.model_.eval()
                with torch.no_grad():
                    pseudo = self.model_.predict(self.model_.encode(unlabelled))
                self.n_pseudo_labels_ = len(pool)
                self._train(optimizer, torch.cat([inputs, unlabelled]), torch.cat([target, pseudo]))
        self.model_.eval()

    def _train(self, optimizer, inputs, target):
        model, w = self.model_, float(self.trade_off)
        model.train()
        for _ in range(int(self.n_steps)):
            z = model.encode(inputs)
            loss = w * nn.functional.mse_loss(model.predict(z), target)
            if w < 1:
                loss = loss + (1 - w) * nn.functional.mse_loss(model.decoder(z), inputs)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def predict(self, X):
        """Predicted scores of encodings ``X``."""
        X = np.asarray(X, dtype=float)
        if self.kind_ != "mlp":
            return self.model_.predict(X)
        with torch_threads(1), torch.no_grad():
            z = self.model_.encode(torch.tensor(X, dtype=torch.float32))
            return self.model_.predict(z).numpy().astype(float) * self._scale + self._mean

    def reconstruction_error(self, X):
        """Mean squared error of the autoencoder on encodings ``X`` (``kind="mlp"`` only)."""
        if self.kind_ != "mlp":
            raise ValueError(
                "SurrogatePredictor.reconstruction_error: only the 'mlp' kind has a decoder. "
                f"Got kind {self.kind_!r} instead.")
        inputs = torch.tensor(np.asarray(X, dtype=float), dtype=torch.float32)
        with torch_threads(1), torch.no_grad():
            return float(nn.functional.mse_loss(self.model_.decoder(self.model_.encode(inputs)), inputs))


class _EncoderPredictor(nn.Module):
    """Encoder (MLP to ``z``), predictor (MLP from ``z``) and decoder (MLP from ``z`` to the encoding)."""

    def __init__(self, n_inputs, hidden_size, latent_size):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_inputs, hidden_size), nn.ReLU(), nn.Linear(hidden_size, latent_size),
                                     nn.Tanh())
        self.predictor = nn.Sequential(nn.Linear(latent_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 1))
        self.decoder = nn.Sequential(nn.Linear(latent_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_inputs))

    def encode(self, x):
        return self.encoder(x)

    def predict(self, z):
        return self.predictor(z).squeeze(-1)
