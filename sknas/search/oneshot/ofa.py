"""Once-for-All: one elastic supernet trained once, sub-networks picked for any size without retraining."""

from __future__ import annotations

import copy
import time
from collections import Counter
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

from .base import OneShotSearcher, check_loss, epoch_batches, weight_optimizer, weight_update

__all__ = ["OFASearch", "sort_units"]


@torch.no_grad()
def sort_units(supernet):
    """Reorder the units of every block of an :class:`~sknas.nn.supernet.MLPSuperNet`, most important first.

    The importance of a unit is the L1 norm of the weights that read it in
    the largest network (the next block's linear layer; the head for the
    last block), as Once-for-All sorts channels before elastic width, so
    that the first ``w`` units, the ones a narrower sub-network keeps,
    are the ones that matter most. The unit's own weights (linear rows,
    bias, skip rows, every normalization's parameters and statistics) and
    the columns that read it move with it: the largest network computes the
    same function. The head is shared by every depth, so the networks of
    other depths would not: call it before they train. Returns the
    permutation of each block.
    """
    depth = supernet.depth
    permutations = []
    for i in range(depth):
        width = supernet.max_widths[i]
        reader = supernet.linears[i + 1].weight if i + 1 < depth else supernet.head.weight
        importance = reader[:, :width].abs().sum(dim=0)
        perm = torch.argsort(importance, descending=True, stable=True)
        linear = supernet.linears[i]
        linear.weight.copy_(linear.weight[perm])
        linear.bias.copy_(linear.bias[perm])
        for skip in supernet.skip_linears[i]:
            skip.weight.copy_(skip.weight[perm])
        for norm in supernet.norm_ops[i]:
            for tensor in list(norm.parameters(recurse=False)) + list(norm.buffers(recurse=False)):
                if tensor.dim() == 1 and len(tensor) == width:
                    tensor.copy_(tensor[perm])
        if i + 1 < depth:
            readers = [supernet.linears[i + 1]] + [supernet.skip_linears[k][i + 1] for k in range(i + 2, depth)]
        else:
            readers = [supernet.head]
        for module in readers:
            module.weight[:, :width] = module.weight[:, :width][:, perm]
        permutations.append(perm)
    return permutations


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
    sub-networks have no skips. Training follows ``schedule``:

    ``"progressive"``: progressive shrinking, as in the paper.
        The largest network (deepest, widest) trains alone first; its units
        are then sorted by importance (:func:`sort_units`); then the
        elastic depth phase unlocks the depths one at a time, largest first
        (stage 1 samples depths ``{D, D-1}``, stage 2 adds ``D-2`` ...),
        widths kept largest; then the elastic width phase unlocks the
        widths of every block one at a time, largest first, while the depth
        is drawn from all depths. Each step of a shrinking stage samples
        ``n_random + 2`` sub-networks from the sizes unlocked so far and
        accumulates their gradients into one step of the shared weights.
        Every shrinking stage distils the largest network: a frozen copy
        of it taken at the end of the first phase (the teacher) gives soft
        targets (classification: the KL divergence to the teacher's
        softmax; regression: the squared error to the teacher's
        prediction, an extra target) added with weight ``kd_weight`` to the
        loss on the labels. The phases take ``phase_fractions`` of the
        training steps (a phase's share split evenly among its stages), or
        of the supernet's time when a deadline comes first; each stage
        restarts the optimizer with a cosine schedule over its steps, the
        shrinking stages at ``SHRINK_LR`` times the base learning rate.
    ``"sandwich"`` (default): the sandwich rule of BigNAS/slimmable
        networks. Each mini-batch accumulates the gradients of the largest
        sub-network, the smallest one and ``n_random`` random ones into one
        step, under one cosine schedule over all epochs, without
        distillation.

    What was trained is recorded in ``phases_``. The sandwich rule is the
    default because progressive shrinking was worse on one of the two
    tables of ``benchmarks/bench_ofa.py`` at 30 supernet epochs (3 seeds,
    ``docs/benchmarks/ofa.md``): on spam7 it gave the small and middle
    sub-networks 0.3 to 0.9 points more accuracy and the largest 0.7
    points less; on boston_housing it was worse at every size (R^2 -0.02
    to -0.22). Its shrinking stages are a few epochs long here, too short
    to recover what the width phase, which never trains the largest
    network itself, takes from it.

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
    schedule : {"progressive", "sandwich"}, default="sandwich"
        How the elastic network is trained (see above).
    n_random : int, default=2
        Sandwich rule: random sub-networks per step besides the largest and
        the smallest. Progressive shrinking: ``n_random + 2`` sub-networks
        are sampled per step of a shrinking stage (the same number of
        forward passes per step).
    phase_fractions : tuple of 3 floats, default=(0.4, 0.3, 0.3)
        Progressive shrinking: shares of the training steps of the largest
        network, elastic depth and elastic width phases (normalized over
        the phases the supernet has: no depth phase when the depth is
        fixed, no width phase when the widths are). The first must be > 0.
    kd_weight : float, default=1.0
        Progressive shrinking: weight of the distillation loss (the paper's
        ``kd_ratio``); 0 trains without a teacher.
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
    phases_ : list of dict
        One entry per training stage, in order: ``phase`` (``"largest"``,
        ``"depth"``, ``"width"`` or ``"sandwich"``), ``depths`` and
        ``widths`` (the sizes unlocked: the depths, and each block's
        widths), ``lr``, ``steps`` (weight steps taken), ``trained`` (a
        Counter of the sub-network configurations trained, as tuples over
        ``n_blocks`` and ``width_i``) and ``kd_loss`` (the mean
        distillation term, None without a teacher).

    Notes
    -----
    Simplified from the paper: dense blocks have no elastic kernel size or
    resolution, so progressive shrinking has no kernel phase; the units
    are sorted by importance once, at the end of the largest network's
    phase, not before each width stage (the head is shared by every depth,
    so sorting later would scramble the shallower networks, which have
    trained by then); elastic width is the width of a block's output (the
    paper's is the expansion of a bottleneck, whose output stays whole);
    the phases are shares of one run's steps rather than separate runs of
    100+ epochs each, and the shrinking stages keep the base learning rate
    (``SHRINK_LR``; the paper lowers it); there is no accuracy predictor
    (sub-networks are ranked by their measured shared-weight score). The
    ranking data, the fitted preprocessing and the teacher are kept in
    memory after the search so that :meth:`subnet_for` can score
    sub-networks; they are dropped when the searcher is pickled
    (checkpoints, saved estimators), after which :meth:`subnet_for` is no
    longer available. Only the first fold of cross-validation is used.

    References
    ----------
    Cai, Gan, Wang, Zhang, Han. "Once-for-All: Train One Network and
    Specialize it for Efficient Deployment." ICLR 2020.
    Yu, Huang. "Universally Slimmable Networks and Improved Training
    Techniques." ICCV 2019 (the sandwich rule).
    """

    #: learning rate of the shrinking stages, as a share of the base genotype's (the largest network's) rate;
    #: the paper lowers it, but at a few dozen epochs 0.3 left the small networks undertrained (bench_ofa.py)
    SHRINK_LR = 1.0

    _parameter_constraints: dict = {
        **OneShotSearcher._parameter_constraints,
        "max_params": [Interval(Integral, 1, None, closed="left"), None],
        "schedule": [StrOptions({"progressive", "sandwich"})],
        "n_random": [Interval(Integral, 0, None, closed="left")],
        "phase_fractions": [tuple],
        "kd_weight": [Interval(Real, 0, None, closed="left")],
        "population": [Interval(Integral, 1, None, closed="left")],
        "n_generations": [Interval(Integral, 0, None, closed="left")],
        "n_children": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, max_params=None, schedule="sandwich", n_random=2, phase_fractions=(0.4, 0.3, 0.3),
                 kd_weight=1.0, population=32, n_generations=4, n_children=16, epochs=None, time_share=0.5,
                 arch_fraction=0.3, batch_size=64, one_stage=False, supernet_options=None):
        self.max_params = max_params
        self.schedule = schedule
        self.n_random = n_random
        self.phase_fractions = phase_fractions
        self.kd_weight = kd_weight
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
        fractions = self.phase_fractions
        if (len(fractions) != 3 or not all(isinstance(f, Real) and not isinstance(f, bool) and f >= 0
                                           for f in fractions) or not fractions[0] > 0):
            raise ValueError(
                f"The 'phase_fractions' parameter of {name} must be 3 non-negative numbers (largest network, "
                f"elastic depth, elastic width), the first > 0. Got {fractions!r} instead."
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
        self.phases_ = []
        self._teacher = None  # the frozen largest network of progressive shrinking (kept like the data)

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
        rng = np.random.default_rng(self._seed)
        train = self._train_sandwich if self.schedule == "sandwich" else self._train_progressive
        n_epochs, curve, stop_reason = train(supernet, data, epochs, deadline, rng)
        supernet.eval()
        self._scores = {}
        ranked = self._rank(limit, self._seed)
        self._pool = [self._genotype(c) for c in ranked[1:]]
        return {"genotype": self._genotype(ranked[0]), "alphas": None, "n_epochs": n_epochs,
                "learning_curve": curve, "stop_reason": stop_reason}

    def _largest_loss(self, supernet, data):
        """Loss of the largest network on the ranking share (the learning curve's point of an epoch)."""
        Xa, ya = data.arch if len(data.arch[0]) > 1 else data.weights
        supernet.use_genotype(self._genotype(self._extreme_config(True)))
        supernet.eval()
        with torch.no_grad():
            return float(data.loss(supernet(Xa), ya))

    def _train_sandwich(self, supernet, data, epochs, deadline, rng):
        """The sandwich rule: largest, smallest and ``n_random`` random sub-networks per step."""
        generator = self._generator
        weights = supernet.weight_parameters()
        w_opt, scheduler = self._weight_training(weights, data, epochs)
        Xw, yw = data.weights
        largest, smallest = self._extreme_config(True), self._extreme_config(False)
        stage = {"phase": "sandwich", "depths": self._unlocked("n_blocks", None),
                 "widths": tuple(self._unlocked(n, None) for n, _ in self._elastic() if n != "n_blocks"),
                 "lr": float(w_opt.param_groups[0]["lr"]), "steps": 0, "trained": Counter(), "kd_loss": None}
        self.phases_ = [stage]
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
                stage["steps"] += 1
                stage["trained"].update(self._canonical(c) for c in configs)
                if weight_update(weights, w_opt, scheduler, deadline):
                    timed_out = True
                    break
            n_epochs = epoch + 1
            curve.append(self._largest_loss(supernet, data))
            if timed_out:
                stop_reason = "time_limit"
                break
        return n_epochs, curve, stop_reason

    # -- progressive shrinking -------------------------------------------------------------
    def _unlocked(self, name, k):
        """The choices of decision ``name`` unlocked at stage ``k`` of its phase: the ``k + 1`` largest.

        ``k=0``: the largest only; ``None``: every choice. ``()`` when the
        supernet does not have the decision.
        """
        choices = self.supernet_.choices.get(name, ())
        return tuple(choices) if k is None else tuple(choices[max(0, len(choices) - 1 - k):])

    def _stages(self):
        """``[(phase, depths, widths, share)]``: every stage of progressive shrinking, in order."""
        names = [n for n, _ in self._elastic() if n != "n_blocks"]
        n_depth = max(0, len(self._unlocked("n_blocks", None)) - 1)
        n_width = max([len(self._unlocked(n, None)) - 1 for n in names] + [0])
        largest = (self._unlocked("n_blocks", 0), tuple(self._unlocked(n, 0) for n in names))
        every_depth = self._unlocked("n_blocks", None)
        plan = [("largest", [largest]),
                ("depth", [(self._unlocked("n_blocks", k), largest[1]) for k in range(1, n_depth + 1)]),
                ("width", [(every_depth, tuple(self._unlocked(n, k) for n in names)) for k in range(1, n_width + 1)])]
        fractions = [float(f) if stages else 0.0 for f, (_, stages) in zip(self.phase_fractions, plan)]
        total = sum(fractions)
        return [(phase, depths, widths, fraction / total / len(stages))
                for fraction, (phase, stages) in zip(fractions, plan) if fraction > 0
                for depths, widths in stages]

    def _stage_config(self, depths, widths, rng):
        """A configuration drawn uniformly from the unlocked depths and (per block) widths."""
        names = [n for n, _ in self._elastic()]
        values = {} if not depths else {"n_blocks": depths[int(rng.integers(len(depths)))]}
        width_names = [n for n in names if n != "n_blocks"]
        for name, allowed in zip(width_names, widths):
            values[name] = allowed[int(rng.integers(len(allowed)))]
        return tuple(values[n] for n in names)

    @staticmethod
    def _distillation(outputs, teacher, data):
        """The distillation term: KL divergence to the teacher's softmax (classification), squared error (regression).

        The KL divergence is the paper's soft-target cross-entropy less the
        teacher's entropy (a constant): the same gradient, and 0 when the
        student matches the teacher.
        """
        if data.task == "classification":
            return torch.nn.functional.kl_div(torch.log_softmax(outputs, dim=1), torch.log_softmax(teacher, dim=1),
                                              reduction="batchmean", log_target=True)
        return torch.nn.functional.mse_loss(outputs, teacher)

    def _train_progressive(self, supernet, data, epochs, deadline, rng):
        """Progressive shrinking with distillation from the largest network (see the class docstring)."""
        generator = self._generator
        weights = supernet.weight_parameters()
        Xw, yw = data.weights
        steps_per_epoch = max(1, len(epoch_batches(len(Xw), self.batch_size, generator)))
        total = epochs * steps_per_epoch
        stages = self._stages()
        shares = np.cumsum([share for *_, share in stages])
        ends = [int(round(c * total)) for c in shares[:-1]] + [total]
        start = time.time()
        time_ends = None if deadline is None else [start + c * max(0.0, deadline - start) for c in shares]
        base_lr = float(weight_optimizer(self.space_, self.base_, weights).param_groups[0]["lr"])
        n_sampled = int(self.n_random) + 2
        largest = self._extreme_config(True)
        self.phases_ = []
        self._teacher = None
        teacher, kd_sum = None, 0.0
        index, step = -1, 0
        w_opt = scheduler = stage = None

        def begin(k):
            nonlocal w_opt, scheduler, stage, teacher, kd_sum
            phase, depths, widths, _ = stages[k]
            if phase != "largest" and self.phases_[-1]["phase"] == "largest":
                sort_units(supernet)  # only the largest network has trained: nothing else to keep
            if phase != "largest" and teacher is None and float(self.kd_weight) > 0:
                teacher = copy.deepcopy(supernet).use_genotype(self._genotype(largest)).eval()
                teacher.requires_grad_(False)
                self._teacher = teacher
            if stage is not None and stage["kd_loss"] is not None:
                stage["kd_loss"] = kd_sum / max(1, stage["steps"])
            lr = base_lr * (1.0 if phase == "largest" else float(self.SHRINK_LR))
            w_opt = weight_optimizer(self.space_, self.base_, weights)
            for group in w_opt.param_groups:
                group["lr"] = lr
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, T_max=max(1, ends[k] - step))
            stage = {"phase": phase, "depths": depths, "widths": widths, "lr": lr, "steps": 0,
                     "trained": Counter(), "kd_loss": None if teacher is None else 0.0}
            kd_sum = 0.0
            self.phases_.append(stage)

        curve, stop_reason, n_epochs = [], "max_epochs", 0
        for epoch in range(epochs):
            supernet.train()
            timed_out = False
            for rows in epoch_batches(len(Xw), self.batch_size, generator):
                while index < len(stages) - 1 and (index < 0 or step >= ends[index] or (
                        time_ends is not None and time.time() > time_ends[index])):
                    index += 1
                    begin(index)
                phase, depths, widths, _ = stages[index]
                configs = [largest] if phase == "largest" else [
                    self._stage_config(depths, widths, rng) for _ in range(n_sampled)]
                X, y = Xw[rows], yw[rows]
                soft = None
                if teacher is not None:
                    with torch.no_grad():
                        soft = teacher(X)
                w_opt.zero_grad()
                for config in configs:
                    supernet.use_genotype(self._genotype(config))
                    outputs = supernet(X)
                    loss = data.loss(outputs, y)
                    if soft is not None:
                        kd = self._distillation(outputs, soft, data)
                        kd_sum += float(kd.detach()) / len(configs)
                        loss = loss + float(self.kd_weight) * kd
                    check_loss(loss, "a sub-network", epoch)
                    (loss / len(configs)).backward()
                stage["steps"] += 1
                stage["trained"].update(self._canonical(c) for c in configs)
                step += 1
                if weight_update(weights, w_opt, scheduler, deadline):
                    timed_out = True
                    break
            n_epochs = epoch + 1
            curve.append(self._largest_loss(supernet, data))
            if timed_out:
                stop_reason = "time_limit"
                break
        if stage is not None and stage["kd_loss"] is not None:
            stage["kd_loss"] = kd_sum / max(1, stage["steps"])
        return n_epochs, curve, stop_reason

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
        result = self._ofa_evaluator.evaluate_inherited(genotype, data, child, epochs=0)
        if result.status == "failed":
            raise RuntimeError(f"OFASearch.subnet_for: the sub-network {genotype} failed: {result.error}")
        pipeline = result.model
        self.subnets_[max_params] = {"genotype": genotype, "n_params": self._params_of(best),
                                     "supernet_score": self._scores[best], "score": result.score}
        return pipeline

    def __getstate__(self):
        state = super().__getstate__()
        for key in ("_prepared", "_ofa_evaluator", "_teacher"):
            state[key] = None
        return state
