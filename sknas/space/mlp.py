"""Entire-structure spaces of dense networks: ``"mlp"`` (a DAG) and ``"resnet"``."""

from __future__ import annotations

import numpy as np

from ..nn.builders import DenseDAG, ResidualMLP
from ..nn.ops import ACTIVATIONS, NORMS
from .base import SearchSpace
from .genotype import Genotype
from .params import Categorical, Float, Int

__all__ = ["MLPSpace", "ResNetSpace"]


class MLPSpace(SearchSpace):
    """Entire-structure search space of dense networks (the survey's chain and DAG spaces).

    A network is ``n_blocks`` dense blocks (Linear, normalization, activation,
    dropout), each with its own width, activation, normalization and dropout.
    Block ``i > 0`` may also take a skip connection from an earlier node
    (the input or an earlier block's output), concatenated to its input,
    which makes the network a DAG rather than only a chain.

    Parameters
    ----------
    max_blocks : int, default=8
        Largest number of blocks.
    min_width, max_width : int, default=16, 1024
        Range of block widths (sampled on a log scale).
    activations : tuple of str, default=("relu", "gelu", "silu", "selu", "mish")
    norms : tuple of str, default=("none", "batch", "layer")
    max_dropout : float, default=0.5
    """

    def __init__(self, max_blocks=8, min_width=16, max_width=1024,
                 activations=("relu", "gelu", "silu", "selu", "mish"),
                 norms=("none", "batch", "layer"), max_dropout=0.5):
        self.max_blocks = max_blocks
        self.min_width = min_width
        self.max_width = max_width
        self.activations = activations
        self.norms = norms
        self.max_dropout = max_dropout

    def _params(self):
        if not isinstance(self.max_blocks, int) or self.max_blocks < 1:
            raise ValueError(f"MLPSpace: max_blocks must be an int >= 1. Got {self.max_blocks!r} instead.")
        for name, values, known in (("activations", self.activations, ACTIVATIONS), ("norms", self.norms, NORMS)):
            unknown = [v for v in values if v not in known]
            if unknown or not values:
                raise ValueError(
                    f"MLPSpace: {name} must be a non-empty tuple of {sorted(known)}. Got {values!r} instead."
                )
        params = [Int("n_blocks", 1, self.max_blocks)] if self.max_blocks > 1 else []
        for i in range(self.max_blocks):
            when = {"n_blocks": tuple(range(i + 1, self.max_blocks + 1))} if self.max_blocks > 1 else None
            params += [
                Int(f"width_{i}", self.min_width, self.max_width, log=True, when=when),
                Categorical(f"act_{i}", self.activations, when=when),
                Categorical(f"norm_{i}", self.norms, when=when),
                Float(f"dropout_{i}", 0.0, self.max_dropout, when=when),
            ]
            if i > 0:
                params.append(Categorical(f"skip_{i}", ("none",) + tuple(range(i)), when=when))
        return params

    def blocks(self, genotype):
        n_blocks = genotype.get("n_blocks", 1)
        return [
            {
                "width": genotype[f"width_{i}"],
                "activation": genotype[f"act_{i}"],
                "norm": genotype[f"norm_{i}"],
                "dropout": genotype[f"dropout_{i}"],
                "skip": None if i == 0 or genotype[f"skip_{i}"] == "none" else genotype[f"skip_{i}"],
            }
            for i in range(n_blocks)
        ]

    def build(self, genotype, n_inputs, n_outputs):
        return DenseDAG(n_inputs, n_outputs, self.blocks(genotype))

    def portfolio(self):
        def chain(n, width, act, norm, dropout):
            # adapted to a customised space: depth and width clipped to its ranges
            n = min(n, self.max_blocks)
            width = min(max(width, self.min_width), self.max_width)
            act = act if act in self.activations else self.activations[0]
            norm = norm if norm in self.norms else self.norms[0]
            dropout = min(dropout, self.max_dropout)
            g = {"n_blocks": n} if self.max_blocks > 1 else {}
            for i in range(n):
                g.update({f"width_{i}": width, f"act_{i}": act, f"norm_{i}": norm, f"dropout_{i}": dropout})
                if i > 0:
                    g[f"skip_{i}"] = "none"
            return g

        candidates = [chain(3, 256, "silu", "none", 0.15), chain(2, 512, "relu", "batch", 0.25)]
        return _valid_only(self, candidates)

    # -- one-shot search -----------------------------------------------------------------
    def supernet(self, n_inputs, n_outputs, base=None, width_factors=(0.25, 0.5, 1.0), mix_depth=True):
        """The weight-sharing supernet of this space (:class:`sknas.nn.supernet.MLPSuperNet`).

        Every block's activation, normalization, width (a few candidate
        widths, by masking) and skip, and the number of blocks, become
        mixed decisions with their own architecture weights; the depth, the
        largest widths and the dropouts are the ``base`` genotype's.

        Parameters
        ----------
        n_inputs, n_outputs : int
        base : Genotype or None, default=None
            A genotype of this space (extra keys, e.g. of a joint space, are
            ignored). ``None``: the first portfolio entry.
        width_factors : tuple of float, default=(0.25, 0.5, 1.0)
            Candidate widths as shares of the base widths.
        mix_depth : bool, default=True
            Relax ``n_blocks`` over ``1 .. base n_blocks``.
        """
        from ..nn.supernet import MLPSuperNet

        names = {p.name for p in self.params}
        if base is None:
            portfolio = self.portfolio()
            base = portfolio[0] if portfolio else self.sample(0)
        base = self.validate(Genotype({k: v for k, v in base.items() if k in names}))
        return MLPSuperNet(self, base, n_inputs, n_outputs, width_factors=width_factors, mix_depth=mix_depth)

    def derive(self, alphas, base=None, max_skips=None):
        """The genotype of the strongest choice of every decision (argmax of its logits).

        Parameters
        ----------
        alphas : dict
            ``{parameter name: {choice: logit}}``, as returned by the
            supernet's ``alphas()``. Parameters without logits (dropouts,
            and any decision the supernet did not relax) take the ``base``
            genotype's values (its last block's for blocks beyond its depth).
        base : Genotype or None, default=None
            ``None``: the first portfolio entry.
        max_skips : int or None, default=None
            Keep at most this many skips, the ones with the largest softmax
            weight (the P-DARTS cap on skip connections); the others become
            ``"none"``.
        """
        names = {p.name for p in self.params}
        if base is None:
            portfolio = self.portfolio()
            base = portfolio[0] if portfolio else self.sample(0)
        base = self.validate(Genotype({k: v for k, v in base.items() if k in names}))

        def strongest(name, default):
            logits = alphas.get(name)
            if not logits:
                return default, 1.0
            choices = list(logits)
            values = np.array([float(logits[c]) for c in choices])
            weights = np.exp(values - values.max())
            k = int(np.argmax(values))
            return choices[k], float(weights[k] / weights.sum())

        base_blocks = self.blocks(base)
        n = strongest("n_blocks", base.get("n_blocks", 1))[0] if self.max_blocks > 1 else 1
        g = {"n_blocks": n} if self.max_blocks > 1 else {}
        skips = []
        for i in range(n):
            spec = base_blocks[min(i, len(base_blocks) - 1)]
            g[f"width_{i}"] = strongest(f"width_{i}", spec["width"])[0]
            g[f"act_{i}"] = strongest(f"act_{i}", spec["activation"])[0]
            g[f"norm_{i}"] = strongest(f"norm_{i}", spec["norm"])[0]
            g[f"dropout_{i}"] = spec["dropout"]
            if i > 0:
                skip, weight = strongest(f"skip_{i}", "none")
                g[f"skip_{i}"] = skip
                if skip != "none":
                    skips.append((weight, i))
        if max_skips is not None and len(skips) > max_skips:
            for _, i in sorted(skips, reverse=True)[max_skips:]:
                g[f"skip_{i}"] = "none"
        return self.validate(g)


class ResNetSpace(SearchSpace):
    """The residual MLP of Gorishniy et al. (2021), depth and widths searched.

    Parameters
    ----------
    max_blocks : int, default=8
    min_width, max_width : int, default=32, 512
        Range of the residual stream's width (log scale).
    max_hidden_factor : float, default=4.0
        The hidden width of a block is ``hidden_factor * width``, searched in
        ``[1, max_hidden_factor]``.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data." NeurIPS 2021.
    """

    def __init__(self, max_blocks=8, min_width=32, max_width=512, max_hidden_factor=4.0):
        self.max_blocks = max_blocks
        self.min_width = min_width
        self.max_width = max_width
        self.max_hidden_factor = max_hidden_factor

    def _params(self):
        return [
            Int("n_blocks", 1, self.max_blocks),
            Int("width", self.min_width, self.max_width, log=True),
            Float("hidden_factor", 1.0, self.max_hidden_factor),
            Categorical("norm", ("batch", "layer")),
            Categorical("act", ("relu", "gelu", "silu")),
            Float("hidden_dropout", 0.0, 0.5),
            Float("residual_dropout", 0.0, 0.2),
        ]

    def build(self, genotype, n_inputs, n_outputs):
        width = genotype["width"]
        return ResidualMLP(
            n_inputs, n_outputs, n_blocks=genotype["n_blocks"], width=width,
            hidden=max(1, int(round(width * genotype["hidden_factor"]))),
            activation=genotype["act"], norm=genotype["norm"],
            hidden_dropout=genotype["hidden_dropout"], residual_dropout=genotype["residual_dropout"],
        )

    def portfolio(self):
        return _valid_only(self, [{
            "n_blocks": 2, "width": 192, "hidden_factor": 2.0, "norm": "batch", "act": "relu",
            "hidden_dropout": 0.2, "residual_dropout": 0.0,
        }])


def _valid_only(space, candidates):
    """Keep the portfolio entries that a customised space still allows."""
    out = []
    for c in candidates:
        try:
            out.append(space.validate(Genotype(c)))
        except (TypeError, ValueError):
            continue
    return out
