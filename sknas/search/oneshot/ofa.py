"""Once-for-All: one elastic supernet trained once, sub-networks picked for any size without retraining."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, validate_parameter_constraints

from . import (
    OneShotSearcher,
    check_loss,
    epoch_batches,
    inherited_trial,
    weight_update,
)

__all__ = ["OFASearch"]


class OFASearch(OneShotSearcher):
    """Once-for-All (Cai et al. 2020): train an elastic network once, then specialize it by search.

    The supernet of the mlp space (:meth:`sknas.space.mlp.MLPSpace.supernet`)
    is used as an *elastic* network, run one sub-network at a time
    (supernet mode ``"fixed"``):

    - elastic depth: a sub-network keeps the first ``k`` blocks
      (``n_blocks`` over ``1 .. base n_blocks``);
    - elastic width: block ``i`` keeps the first ``w`` units of its Linear
      layer (``width_i`` over the supernet's candidate widths, see
      ``width_factors`` of ``supernet_options``);

    activations, normalizations and dropouts are the base genotype's, and
    sub-networks have no skips. Training follows the sandwich rule: each
    mini-batch of the weights share of the training part, the gradients of
    the largest sub-network (first), the smallest one and ``n_random``
    random ones are accumulated into one step of the shared weights.

    Sub-networks are then picked *without retraining*: an evolutionary
    search over sub-network configurations (a random population under the
    parameter limit, then ``n_generations`` of mutation and crossover of
    the best), each ranked by its shared-weight score (accuracy, or ``1 -
    MSE`` of the standardized target) on the architecture share of the
    training part, with the supernet's weights copied into it
    (batch-norm statistics re-estimated). :meth:`subnet_for` does this for
    any parameter limit and returns a fitted pipeline.

    As a searcher: the first ask records the supernet's row (the best
    sub-network under ``max_params``, scored with inherited weights) and
    returns that sub-network's genotype, which the runner retrains from
    scratch (see :mod:`sknas.search.oneshot`); later asks return the next
    best-ranked sub-networks under the limit. The limit is ``max_params``,
    or, when it is None, the estimator's ``constraints["params"]`` (the
    evaluator's ``max_params``); the runner does not pass constraints to a
    searcher otherwise, so pass it explicitly when in doubt, e.g.
    ``AutoNASClassifier(search=OFASearch(max_params=20_000))``.

    Parameters
    ----------
    max_params : int or None, default=None
        Parameter limit of the sub-networks the asks return (the network
        alone, as :func:`sknas.nn.builders.count_parameters` counts it).
    n_random : int, default=2
        Random sub-networks per step besides the largest and the smallest.
    population : int, default=32
        Sub-networks drawn at random before the evolution.
    n_generations : int, default=4
    n_children : int, default=16
        Sub-networks bred per generation from the best quarter of those scored.
    epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options : see DARTSSearch
        ``arch_fraction`` (default 0.3) is the share of the training part
        the sub-networks are ranked on; ``supernet_options`` sets e.g. the
        elastic widths (``{"width_factors": (0.25, 0.5, 0.75, 1.0)}``).

    Attributes
    ----------
    supernet_ : MLPSuperNet
        The trained elastic network, kept after the search (the point of
        once-for-all): :meth:`subnet_for` picks from it.
    derived_, base_ : Genotype
    subnets_ : dict
        ``{max_params: {"genotype", "n_params", "supernet_score", "score"}}``
        of every :meth:`subnet_for` call (``score``: the held-out score on
        the validation part, with the inherited weights).

    Notes
    -----
    Simplified from the paper: progressive shrinking (largest network
    first, then elastic kernel, depth and width stages with knowledge
    distillation from the largest network) becomes the sandwich rule of
    BigNAS/slimmable networks at every step, without distillation; there
    is no elastic kernel size or resolution (dense blocks), and no
    accuracy predictor (sub-networks are ranked by their measured
    shared-weight score). The ranking data and the fitted preprocessing
    are kept in memory after the search so that :meth:`subnet_for` can
    score sub-networks; they are dropped when the searcher is pickled
    (checkpoints, saved estimators), after which :meth:`subnet_for` is
    no longer available. Only the first fold of cross-validation is used.

    References
    ----------
    Cai, Gan, Wang, Zhang, Han. "Once-for-All: Train One Network and
    Specialize it for Efficient Deployment." ICLR 2020.
    Yu, Huang. "Universally Slimmable Networks and Improved Training
    Techniques." ICCV 2019 (the sandwich rule).
    """

    _parameter_constraints: dict = {
        **OneShotSearcher._parameter_constraints,
        "max_params": [Interval(Integral, 1, None, closed="left"), None],
        "n_random": [Interval(Integral, 0, None, closed="left")],
        "population": [Interval(Integral, 1, None, closed="left")],
        "n_generations": [Interval(Integral, 0, None, closed="left")],
        "n_children": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, max_params=None, n_random=2, population=32, n_generations=4, n_children=16, epochs=None,
                 time_share=0.5, arch_fraction=0.3, batch_size=64, one_stage=False, supernet_options=None):
        self.max_params = max_params
        self.n_random = n_random
        self.population = population
        self.n_generations = n_generations
        self.n_children = n_children
        self._set_common_params(epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options)

    def _check_params(self):
        name = type(self).__name__
        if not hasattr(self._arch_space(), "blocks"):
            raise ValueError(
                f"{name} needs the mlp space's supernet (dense blocks) as its elastic network: space='mlp' or "
                f"an MLPSpace. Got {type(self._arch_space()).__name__} instead."
            )

    def _setup(self):
        super()._setup()
        self.supernet_ = None
        self.subnets_ = {}
        self._pool = []
        self._prepared = None
        self._ofa_evaluator = None
        self._scores = {}
        self._n_params = {}
        self._seed = None
        self.max_params_ = None

    # -- elastic configurations ----------------------------------------------------------
    def _elastic(self):
        """``[(decision, choices)]``: depth and widths of the supernet."""
        return [(name, choices) for name, choices in self.supernet_.choices.items()
                if name == "n_blocks" or name.startswith("width_")]

    def _random_config(self, rng):
        return tuple(choices[int(rng.integers(len(choices)))] for _, choices in self._elastic())

    def _extreme_config(self, largest):
        return tuple(choices[-1 if largest else 0] for _, choices in self._elastic())

    def _genotype(self, config):
        """Architecture genotype of a configuration (widths of blocks beyond the depth are ignored)."""
        return self.supernet_.genotype_of(dict(zip((name for name, _ in self._elastic()), config)))

    def _canonical(self, config):
        """The configuration with the widths of dropped blocks set to their largest (one key per network)."""
        names = [name for name, _ in self._elastic()]
        values = dict(zip(names, config))
        depth = values.get("n_blocks", self.supernet_.depth)
        return tuple(
            self.supernet_.choices[n][-1] if n.startswith("width_") and int(n.split("_")[1]) >= depth else values[n]
            for n in names
        )

    def _params_of(self, config):
        if config not in self._n_params:
            from ...nn.builders import count_parameters

            net = self._arch_space().build(self._genotype(config), self.supernet_.n_inputs, self.supernet_.n_outputs)
            self._n_params[config] = count_parameters(net)
        return self._n_params[config]

    @torch.no_grad()
    def _score_of(self, config):
        """Shared-weight score of a sub-network on the ranking share (architecture share) of the training part."""
        from ...nn.supernet import recalibrate_batchnorm

        if config not in self._scores:
            data = self._prepared
            child = self.supernet_.extract(self._genotype(config)).to(data.X_train.device)
            recalibrate_batchnorm(child, data.X_train)
            child.eval()
            X, y = data.arch if len(data.arch[0]) > 1 else data.weights
            self._scores[config] = float(data.reward(child(X), y))
        return self._scores[config]

    def _mutate(self, config, rng):
        config = list(config)
        k = int(rng.integers(len(config)))
        config[k] = self._elastic()[k][1][int(rng.integers(len(self._elastic()[k][1])))]
        return tuple(config)

    def _rank(self, max_params, seed):
        """Configurations under ``max_params``, best shared-weight score first (ties: fewer parameters)."""
        rng = np.random.default_rng(seed)
        fits = (lambda c: True) if max_params is None else (lambda c: self._params_of(c) <= max_params)
        found = set()

        def consider(config):
            config = self._canonical(config)
            if config not in found and fits(config):
                found.add(config)
                self._score_of(config)

        for config in (self._extreme_config(False), self._extreme_config(True)):
            consider(config)
        for _ in range(50 * int(self.population)):
            if len(found) >= int(self.population):
                break
            consider(self._random_config(rng))
        for _ in range(int(self.n_generations)):
            ranked = sorted(found, key=lambda c: (-self._scores[c], self._params_of(c), c))
            parents = ranked[:max(2, len(ranked) // 4)]
            if not parents:
                break
            for _ in range(int(self.n_children)):
                a = parents[int(rng.integers(len(parents)))]
                b = parents[int(rng.integers(len(parents)))]
                child = tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b))
                consider(self._mutate(child, rng))
        if not found:
            smallest = self._params_of(self._canonical(self._extreme_config(False)))
            raise ValueError(
                f"OFASearch: no sub-network of the supernet has at most max_params={max_params} parameters; "
                f"the smallest has {smallest}. Got {max_params!r} instead."
            )
        return sorted(found, key=lambda c: (-self._scores[c], self._params_of(c), c))

    def _limit(self):
        if self.max_params is not None:
            return int(self.max_params)
        limit = getattr(self._evaluator, "max_params", None)
        return None if limit is None else int(limit)

    # -- the search ----------------------------------------------------------------------
    def _train(self, supernet, data, epochs, deadline):
        self.supernet_ = supernet
        self._prepared = data
        self._ofa_evaluator = self._evaluator
        self._seed = int(torch.randint(2**31 - 1, (1,), generator=self._generator))
        limit = self._limit()
        self.max_params_ = limit
        generator = self._generator
        rng = np.random.default_rng(self._seed)
        weights = supernet.weight_parameters()
        w_opt, scheduler = self._weight_training(weights, data, epochs)
        Xw, yw = data.weights
        Xa, ya = data.arch if len(data.arch[0]) > 1 else data.weights
        largest, smallest = self._extreme_config(True), self._extreme_config(False)
        curve, stop_reason, n_epochs = [], "max_epochs", 0
        for epoch in range(epochs):
            supernet.train()
            timed_out = False
            for rows in epoch_batches(len(Xw), self.batch_size, generator):
                configs = [largest, smallest] + [self._random_config(rng) for _ in range(int(self.n_random))]
                w_opt.zero_grad()
                for config in configs:
                    supernet.use_genotype(self._genotype(config))
                    loss = data.loss(supernet(Xw[rows]), yw[rows])
                    check_loss(loss, "a sub-network", epoch)
                    (loss / len(configs)).backward()
                if weight_update(weights, w_opt, scheduler, deadline):
                    timed_out = True
                    break
            n_epochs = epoch + 1
            supernet.use_genotype(self._genotype(largest))
            supernet.eval()
            with torch.no_grad():
                curve.append(float(data.loss(supernet(Xa), ya)))
            if timed_out:
                stop_reason = "time_limit"
                break
        supernet.eval()
        self._scores = {}
        ranked = self._rank(limit, self._seed)
        self._pool = [self._genotype(c) for c in ranked[1:]]
        return {"genotype": self._genotype(ranked[0]), "alphas": None, "n_epochs": n_epochs,
                "learning_curve": curve, "stop_reason": stop_reason}

    def _sample_architecture(self):
        if not self._pool:
            raise LookupError("every ranked sub-network was proposed")
        return self._pool.pop(0)

    # -- once for all ----------------------------------------------------------------------
    def subnet_for(self, max_params=None):
        """The best sub-network with at most ``max_params`` parameters, as a fitted pipeline, without retraining.

        Sub-networks are searched (evolution, see the class docstring) and
        ranked by their shared-weight score on the ranking share of the
        training part; the best one gets the supernet's weights
        (batch-norm statistics re-estimated) and is scored on the
        validation part, which neither training nor ranking saw. Its
        genotype, parameter count and scores are recorded in
        ``subnets_[max_params]``.

        Parameters
        ----------
        max_params : int or None, default=None
            ``None``: the best sub-network of any size.

        Returns
        -------
        Pipeline
            The fitted preprocessing of the search and a skorch net holding the sub-network.
        """
        from ...nn.supernet import recalibrate_batchnorm

        if getattr(self, "supernet_", None) is None or getattr(self, "_prepared", None) is None:
            raise RuntimeError(
                "OFASearch.subnet_for needs the trained supernet and its data: call it after the search "
                "(the first ask) in the same process; a pickled searcher keeps no data."
            )
        validate_parameter_constraints({"max_params": self._parameter_constraints["max_params"]},
                                       {"max_params": max_params}, caller_name="OFASearch.subnet_for")
        data = self._prepared
        ranked = self._rank(max_params, [self._seed, 0 if max_params is None else int(max_params)])
        best = ranked[0]
        arch = self._genotype(best)
        genotype = self._joint(arch)
        child = self.supernet_.extract(arch).to(data.X_train.device)
        recalibrate_batchnorm(child, data.X_train)
        pipeline, result = inherited_trial(self._ofa_evaluator, self.space_, genotype, child, data, epochs=0)
        self.subnets_[max_params] = {"genotype": genotype, "n_params": self._params_of(best),
                                     "supernet_score": self._scores[best], "score": result.score}
        return pipeline

    def __getstate__(self):
        state = super().__getstate__()
        for key in ("_prepared", "_ofa_evaluator"):
            state[key] = None
        return state
