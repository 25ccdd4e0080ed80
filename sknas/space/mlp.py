"""Entire-structure spaces of dense networks: ``"mlp"`` (a DAG) and ``"resnet"``."""

from __future__ import annotations

import numpy as np

from sklearn.base import clone

from ..nn.builders import DENSE_ACTIVATIONS, DenseDAG, ResidualMLP
from ..nn.embeddings import EMBEDDINGS
from ..nn.ops import ACTIVATIONS, NORMS
from .base import SearchSpace
from .genotype import Genotype
from .params import Categorical, Float, Int

__all__ = ["MLPSpace", "ResNetSpace"]


def chain_blocks(n, width, act="silu", norm="none", dropout=0.15):
    """The keys of a plain chain of ``n`` equal dense blocks (no skips) in :class:`MLPSpace`'s naming."""
    g = {"n_blocks": n}
    for i in range(n):
        g.update({f"width_{i}": width, f"act_{i}": act, f"norm_{i}": norm, f"dropout_{i}": dropout})
        if i > 0:
            g[f"skip_{i}"] = "none"
    return g


class MLPSpace(SearchSpace):
    """Entire-structure search space of dense networks (the survey's chain and DAG spaces).

    A network is ``n_blocks`` dense blocks (Linear, normalization, activation,
    dropout), each with its own width, activation, normalization and dropout,
    then a linear head. Block ``i > 0`` may also take a skip connection from
    an earlier node (the input or an earlier block's output), concatenated
    to its input, which makes the network a DAG rather than only a chain.
    ``n_blocks=0`` is a linear model on the input (after the embeddings or
    feature scaling the genotype chooses): linear regression, or logistic
    regression for a classifier. With blocks, ``wide=True`` adds the wide
    part of Wide & Deep (Cheng et al. 2016): a linear map from the input
    straight to the outputs, added to the deep network's output.

    Parameters
    ----------
    max_blocks : int, default=8
        Largest number of blocks.
    min_blocks : int, default=0
        Smallest number of blocks; 0 puts the linear model in the space.
    min_width, max_width : int, default=16, 1024
        Range of block widths (sampled on a log scale).
    activations : tuple of str, default=("relu", "gelu", "silu", "selu", "mish")
        Any of these and ``"prelu"`` (a parametric ReLU, one learnable slope
        per unit). ``"prelu"`` is opt-in: network morphism
        (``search="morphism"``) cannot deepen after it (it has no lower
        bound) and one-shot supernets do not relax it.
    norms : tuple of str, default=("none", "batch", "layer")
    max_dropout : float, default=0.5
    embeddings : tuple of str, default=("none", "plr", "ple")
        Numeric feature embeddings (Gorishniy et al. 2022, see
        :mod:`sknas.nn.embeddings`): ``embedding``, with ``embedding_dim``
        (8, 16 or 32 per feature) and, for ``"plr"``, the frequency scale
        ``embedding_sigma`` (0.01 .. 10, log scale) active when it is not ``"none"``.
    feature_scales : tuple of bool, default=(False, True)
        RealMLP's learnable per-feature scaling as the first layer (``feature_scale``).
    ensemble_ks : tuple of int, default=(1, 4, 8)
        TabM's BatchEnsemble members (``ensemble_k``; 1: a plain network;
        see :mod:`sknas.nn.tabm`).

    Notes
    -----
    The "regularization cocktail" of Kadra et al. (2021) is spread over the
    joint space: dropout here, weight decay and label smoothing in
    :class:`~sknas.space.training.TrainingSpace`, mixup in the pipeline's
    ``augment``, stochastic depth in :class:`ResNetSpace` (``drop_path``);
    best-epoch restore is always on (early stopping restores the best epoch).
    Snapshot ensembling is not offered.

    The linear model (``n_blocks=0``) has no block keys and no ``wide``
    (it would repeat the head); ``ensemble_k > 1`` there makes ``k``
    linear heads, averaged. Network morphism and the one-shot supernet
    start from a network with blocks: with a linear base genotype they use
    the first portfolio entry that has blocks, and the supernet's depth
    choices start at 1.

    References
    ----------
    Gorishniy, Rubachev, Babenko. "On Embeddings for Numerical Features in
    Tabular Deep Learning." NeurIPS 2022.
    Holzmüller, Grinsztajn, Steinwart. "Better by Default: Strong Pre-Tuned
    MLPs and Boosted Trees on Tabular Data." NeurIPS 2024.
    Gorishniy, Kotelnikov, Babenko. "TabM: Advancing Tabular Deep Learning
    with Parameter-Efficient Ensembling." ICLR 2025.
    Kadra, Lindauer, Hutter, Grabocka. "Well-tuned Simple Nets Excel on
    Tabular Datasets." NeurIPS 2021.
    Cheng, Koc, Harmsen, Shaked, Chandra, Aradhye, Anderson, Corrado, Chai,
    Ispir, Anil, Haque, Hong, Jain, Liu, Shah. "Wide & Deep Learning for
    Recommender Systems." DLRS workshop 2016 (arXiv:1606.07792).
    """

    def __init__(self, max_blocks=8, min_width=16, max_width=1024,
                 activations=("relu", "gelu", "silu", "selu", "mish"),
                 norms=("none", "batch", "layer"), max_dropout=0.5, embeddings=EMBEDDINGS,
                 feature_scales=(False, True), ensemble_ks=(1, 4, 8), min_blocks=0):
        self.max_blocks = max_blocks
        self.min_blocks = min_blocks
        self.min_width = min_width
        self.max_width = max_width
        self.activations = activations
        self.norms = norms
        self.max_dropout = max_dropout
        self.embeddings = embeddings
        self.feature_scales = feature_scales
        self.ensemble_ks = ensemble_ks

    def _has_depth(self):
        """Whether ``n_blocks`` is a decision (the space allows more than one depth)."""
        return self.max_blocks > self.min_blocks

    def _params(self):
        if isinstance(self.max_blocks, bool) or not isinstance(self.max_blocks, int) or self.max_blocks < 1:
            raise ValueError(f"MLPSpace: max_blocks must be an int >= 1. Got {self.max_blocks!r} instead.")
        if (isinstance(self.min_blocks, bool) or not isinstance(self.min_blocks, int)
                or not 0 <= self.min_blocks <= self.max_blocks):
            raise ValueError(
                f"MLPSpace: min_blocks must be an int in [0, max_blocks={self.max_blocks}]. "
                f"Got {self.min_blocks!r} instead."
            )
        for name, values, known in (("activations", self.activations, DENSE_ACTIVATIONS),
                                    ("norms", self.norms, NORMS)):
            unknown = [v for v in values if v not in known]
            if unknown or not values:
                raise ValueError(
                    f"MLPSpace: {name} must be a non-empty tuple of {sorted(known)}. Got {values!r} instead."
                )
        ks = tuple(self.ensemble_ks)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise ValueError(f"MLPSpace: ensemble_ks must be a non-empty tuple of ints >= 1. Got {ks!r} instead.")
        params = _input_params("MLPSpace", self.embeddings, self.feature_scales)
        params.append(_added(Categorical("ensemble_k", ks), 1))
        if self._has_depth():
            # a genotype without the key (a space that had no depth decision) reads one block
            params.append(_added(Int("n_blocks", self.min_blocks, self.max_blocks), 1))
        for i in range(self.max_blocks):
            when = None
            if self._has_depth() and i >= self.min_blocks:
                when = {"n_blocks": tuple(range(i + 1, self.max_blocks + 1))}
            params += [
                Int(f"width_{i}", self.min_width, self.max_width, log=True, when=when),
                Categorical(f"act_{i}", self.activations, when=when),
                Categorical(f"norm_{i}", self.norms, when=when),
                Float(f"dropout_{i}", 0.0, self.max_dropout, when=when),
            ]
            if i > 0:
                params.append(Categorical(f"skip_{i}", ("none",) + tuple(range(i)), when=when))
        # last, so that the draws of the parameters before it keep their random streams;
        # inactive for the linear model, where it would only repeat the head
        when = None
        if self._has_depth() and self.min_blocks == 0:
            when = {"n_blocks": tuple(range(1, self.max_blocks + 1))}
        params.append(_added(Categorical("wide", (False, True), when=when), False))
        return params

    def n_blocks(self, genotype):
        """The depth of ``genotype`` (a space without the decision has ``max_blocks`` blocks)."""
        return int(genotype.get("n_blocks", self.max_blocks if not self._has_depth() else 1))

    def blocks(self, genotype):
        n_blocks = self.n_blocks(genotype)
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
        return DenseDAG(n_inputs, n_outputs, self.blocks(genotype), ensemble_k=genotype.get("ensemble_k", 1),
                        wide=bool(genotype.get("wide", False)), **_input_options(genotype))

    def portfolio(self):
        """The linear model first, then the plain 3x256 SiLU MLP, then a modern one (PLR embeddings and TabM).

        The linear model (``n_blocks=0``, no embedding, no feature scaling)
        trains in well under a second and covers near-linear tables from the
        first trial (where a linear model is what wins, e.g. small
        regression tables); a space with ``min_blocks > 0`` leaves it out.
        The modern entry, TabM (k=8) with PLR embeddings on a 3x256 SiLU
        MLP, replaced the former third entry (2x512 ReLU with batch
        normalization), which is still in the space.
        """
        def linear():
            g = _front(self)
            g["n_blocks"] = 0
            return g

        def chain(n, width, act, norm, dropout, **front):
            g = _front(self, **front)
            # adapted to a customised space: depth and width clipped to its ranges
            n = max(min(n, self.max_blocks), self.min_blocks)
            width = min(max(width, self.min_width), self.max_width)
            act = act if act in self.activations else self.activations[0]
            norm = norm if norm in self.norms else self.norms[0]
            dropout = min(dropout, self.max_dropout)
            g.update(chain_blocks(n, width, act, norm, dropout))
            g["wide"] = False
            if not self._has_depth():
                del g["n_blocks"]  # a space of one depth has no depth decision
            return g

        candidates = [
            linear(),
            chain(3, 256, "silu", "none", 0.15),
            # TabM with PLR embeddings (Gorishniy et al. 2025's recommended TabM + PLR setting (our PLR is the full, non-lite one), on a 3x256 MLP)
            chain(3, 256, "silu", "none", 0.1, embedding="plr", embedding_dim=16, embedding_sigma=0.1, ensemble_k=8),
        ]
        return _valid_only(self, candidates)

    def shrink(self, genotype):
        """One step towards a smaller network (see :meth:`SearchSpace.shrink <sknas.space.base.SearchSpace.shrink>`).

        In this order, one change a step: TabM's ``k`` copies down to the
        smallest allowed ``ensemble_k``; the input embedding off (it multiplies
        the input width by ``embedding_dim``); the widest block halved (down to
        ``min_width``); the last block removed (down to ``min_blocks``: with the
        default ``min_blocks=0``, the linear model). ``None`` from the linear
        model (or the smallest network of a customised space).
        """
        k, smallest_k = genotype.get("ensemble_k", 1), min(self.ensemble_ks)
        if k > smallest_k:
            return self.replace(genotype, ensemble_k=smallest_k)
        if genotype.get("embedding", "none") != "none" and "none" in self.embeddings:
            return self.replace(genotype, embedding="none")
        n = self.n_blocks(genotype)
        widths = [genotype[f"width_{i}"] for i in range(n)]
        if widths and max(widths) > self.min_width:
            i = int(np.argmax(widths))
            return self.replace(genotype, **{f"width_{i}": max(self.min_width, widths[i] // 2)})
        if self._has_depth() and n > self.min_blocks:
            return self.replace(genotype, n_blocks=n - 1)
        return None

    #: What the linear model of the portfolio needs of a joint space's other parts: a larger
    #: learning rate and smaller batches (at 1e-3 and 128 rows a step, a linear model is far
    #: from converged within a small table's few hundred steps: 0.12 against RidgeCV's 0.62
    #: validation R^2 on diabetes; 0.81 against 0.89 accuracy on 3 blobs within 30 epochs
    #: with 128 rows a step at 1e-2), and a plain standard scaler, so that it is the linear
    #: model of the raw features.
    LINEAR_SETTINGS = {"lr": 1e-2, "batch_size": 64, "scaler": "standard", "clip": "none"}

    def portfolio_settings(self, genotype):
        """Keys of a joint space's other parts (training, preprocessing) that the portfolio entry ``genotype`` needs.

        Read by :meth:`JointSpace.hand_portfolio <sknas.space.joint.JointSpace.hand_portfolio>`:
        :data:`LINEAR_SETTINGS` for the linear model, nothing for the others.
        """
        return dict(self.LINEAR_SETTINGS) if self.n_blocks(genotype) == 0 else {}

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
            ignored). ``None``: the first portfolio entry with blocks. A
            linear base (``n_blocks=0``) is replaced by that entry, with the
            base's input layer: the supernet's depth choices start at 1.
        width_factors : tuple of float, default=(0.25, 0.5, 1.0)
            Candidate widths as shares of the base widths.
        mix_depth : bool, default=True
            Relax ``n_blocks`` over ``1 .. base n_blocks``.
        """
        from ..nn.supernet import MLPSuperNet

        base = self.deep_base(base)
        space = self
        known = tuple(a for a in self.activations if a in ACTIVATIONS)
        if known != tuple(self.activations) and known:
            # the supernet mixes the elementwise activations of sknas.nn.ops; "prelu" is not relaxed
            space = clone(self).set_params(activations=known)
            base = Genotype({k: (v if not k.startswith("act_") or v in known else known[0]) for k, v in base.items()})
        return MLPSuperNet(space, base, n_inputs, n_outputs, width_factors=width_factors, mix_depth=mix_depth)

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
            ``None``: the first portfolio entry with blocks; a linear base
            is replaced by it, as in :meth:`supernet`.
        max_skips : int or None, default=None
            Keep at most this many skips, the ones with the largest softmax
            weight (the P-DARTS cap on skip connections); the others become
            ``"none"``.
        """
        base = self.deep_base(base)

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
        n = strongest("n_blocks", self.n_blocks(base))[0] if self._has_depth() else self.n_blocks(base)
        # the input layer, ensemble size and wide part are not relaxed: the base genotype's
        g = {k: base[k] for k in _FRONT_KEYS + ("ensemble_k", "wide") if k in base}
        if self._has_depth():
            g["n_blocks"] = n
        if n == 0:
            g.pop("wide", None)
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

    def deep_base(self, base):
        """The base genotype of one-shot search: ``base`` (restricted to this space) when it has blocks.

        ``None`` or a linear base give the first portfolio entry with blocks
        (a random one when none is valid), keeping a linear base's input
        layer and ensemble size where that stays a genotype of this space.
        """
        names = {p.name for p in self.params}
        if base is not None:
            base = self.validate(Genotype({k: v for k, v in base.items() if k in names}))
            if self.n_blocks(base) > 0:
                return base
        deep = next((g for g in self.portfolio() if self.n_blocks(g) > 0), None)
        rng = np.random.default_rng(0)
        while deep is None:
            g = self.sample(rng)
            deep = g if self.n_blocks(g) > 0 else None
        if base is None:
            return deep
        merged = {k: v for k, v in deep.items() if k not in _FRONT_KEYS + ("ensemble_k",)}
        merged.update({k: base[k] for k in _FRONT_KEYS + ("ensemble_k",) if k in base})
        try:
            return self.validate(merged)
        except (TypeError, ValueError):
            return deep


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
    embeddings : tuple of str, default=("none", "plr", "ple")
        Numeric feature embeddings before the stem, as in :class:`MLPSpace`.
    feature_scales : tuple of bool, default=(False, True)
        RealMLP's learnable per-feature scaling first, as in :class:`MLPSpace`.
    max_drop_path : float, default=0.2
        Stochastic depth (``drop_path``, searched in ``[0, max_drop_path]``;
        0 turns it off): the last block's branch is dropped with this
        probability, earlier ones linearly less (Huang et al. 2016).

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data." NeurIPS 2021.
    Huang, Sun, Liu, Sedra, Weinberger. "Deep Networks with Stochastic
    Depth." ECCV 2016.
    """

    def __init__(self, max_blocks=8, min_width=32, max_width=512, max_hidden_factor=4.0, embeddings=EMBEDDINGS,
                 feature_scales=(False, True), max_drop_path=0.2):
        self.max_blocks = max_blocks
        self.min_width = min_width
        self.max_width = max_width
        self.max_hidden_factor = max_hidden_factor
        self.embeddings = embeddings
        self.feature_scales = feature_scales
        self.max_drop_path = max_drop_path

    def _params(self):
        params = _input_params("ResNetSpace", self.embeddings, self.feature_scales)
        params += [
            Int("n_blocks", 1, self.max_blocks),
            Int("width", self.min_width, self.max_width, log=True),
            Float("hidden_factor", 1.0, self.max_hidden_factor),
            Categorical("norm", ("batch", "layer")),
            Categorical("act", ("relu", "gelu", "silu", "prelu")),
            Float("hidden_dropout", 0.0, 0.5),
            Float("residual_dropout", 0.0, 0.2),
        ]
        if self.max_drop_path > 0:
            params.append(_added(Float("drop_path", 0.0, float(self.max_drop_path)), 0.0))
        return params

    def build(self, genotype, n_inputs, n_outputs):
        width = genotype["width"]
        return ResidualMLP(
            n_inputs, n_outputs, n_blocks=genotype["n_blocks"], width=width,
            hidden=max(1, int(round(width * genotype["hidden_factor"]))),
            activation=genotype["act"], norm=genotype["norm"],
            hidden_dropout=genotype["hidden_dropout"], residual_dropout=genotype["residual_dropout"],
            drop_path=genotype.get("drop_path", 0.0), **_input_options(genotype),
        )

    def shrink(self, genotype):
        """One step towards a smaller network: the embedding off, then the width halved (down to
        ``min_width``), then ``hidden_factor`` down to 1, then one block fewer (down to 1); ``None`` after."""
        if genotype.get("embedding", "none") != "none" and "none" in self.embeddings:
            return self.replace(genotype, embedding="none")
        if genotype["width"] > self.min_width:
            return self.replace(genotype, width=max(self.min_width, genotype["width"] // 2))
        if genotype["hidden_factor"] > 1.0:
            return self.replace(genotype, hidden_factor=1.0)
        if genotype["n_blocks"] > 1:
            return self.replace(genotype, n_blocks=genotype["n_blocks"] - 1)
        return None

    def portfolio(self):
        g = _front(self)
        g.update({
            "n_blocks": 2, "width": 192, "hidden_factor": 2.0, "norm": "batch", "act": "relu",
            "hidden_dropout": 0.2, "residual_dropout": 0.0,
        })
        if self.max_drop_path > 0:
            g["drop_path"] = 0.0
        return _valid_only(self, [g])


# -- the input layer shared by both spaces ---------------------------------------------------
_FRONT_KEYS = ("feature_scale", "embedding", "embedding_dim", "embedding_sigma")
EMBEDDING_DIMS = (8, 16, 32)


def _input_params(owner, embeddings, feature_scales):
    """``feature_scale``, ``embedding`` and its conditional ``embedding_dim`` / ``embedding_sigma``."""
    embeddings, feature_scales = tuple(embeddings), tuple(feature_scales)
    unknown = [e for e in embeddings if e not in EMBEDDINGS]
    if unknown or not embeddings:
        raise ValueError(f"{owner}: embeddings must be a non-empty tuple of {EMBEDDINGS}. Got {embeddings!r} instead.")
    if not feature_scales or any(not isinstance(v, bool) for v in feature_scales):
        raise ValueError(f"{owner}: feature_scales must be a non-empty tuple of bool. Got {feature_scales!r} instead.")
    params = [_added(Categorical("feature_scale", feature_scales), False),
              _added(Categorical("embedding", embeddings), "none")]
    active = tuple(e for e in embeddings if e != "none")
    if active:
        params.append(Categorical("embedding_dim", EMBEDDING_DIMS, when={"embedding": active}))
    if "plr" in embeddings:
        params.append(Float("embedding_sigma", 0.01, 10.0, log=True, when={"embedding": "plr"}))
    return params


def _added(param, off):
    """Mark a parameter added after genotypes were saved: a genotype without it validates with ``off``.

    Read by :meth:`SearchSpace._complete <sknas.space.base.SearchSpace._complete>` when validating (never
    when sampling), and only when ``off`` is one of the parameter's allowed values.
    """
    try:
        param.validate(off)
    except (TypeError, ValueError):
        return param
    object.__setattr__(param, "absent_default", off)
    return param


def _input_options(genotype):
    """The keyword arguments of the input layer (:class:`sknas.nn.embeddings.InputLayer`) of ``genotype``."""
    return {
        "feature_scale": bool(genotype.get("feature_scale", False)),
        "embedding": genotype.get("embedding", "none"),
        "embedding_dim": int(genotype.get("embedding_dim", 16)),
        "embedding_sigma": float(genotype.get("embedding_sigma", 0.1)),
    }


def _front(space, feature_scale=False, embedding="none", embedding_dim=16, embedding_sigma=0.1, ensemble_k=1):
    """The global (non-block) keys of a portfolio entry, adapted to a customised space."""
    g = {"feature_scale": feature_scale if feature_scale in space.feature_scales else space.feature_scales[0],
         "embedding": embedding if embedding in space.embeddings else space.embeddings[0]}
    if g["embedding"] != "none":
        g["embedding_dim"] = embedding_dim
    if g["embedding"] == "plr":
        g["embedding_sigma"] = embedding_sigma
    if hasattr(space, "ensemble_ks"):
        g["ensemble_k"] = ensemble_k if ensemble_k in space.ensemble_ks else space.ensemble_ks[0]
    return g


def _valid_only(space, candidates):
    """Keep the portfolio entries that a customised space still allows."""
    out = []
    for c in candidates:
        try:
            out.append(space.validate(Genotype(c)))
        except (TypeError, ValueError):
            continue
    return out
