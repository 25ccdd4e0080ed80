"""Pruning of a fitted estimator's network: structured (neurons) and unstructured (magnitude).

:func:`prune` returns a *new* fitted estimator (the original is deep-copied
and left untouched) whose network has a requested share of its parameters
removed, then optionally retrained: fine-tuned from the surviving weights
(``retrain="finetune"``) or trained from scratch with the pruned
architecture (``retrain="scratch"``), the comparison of Liu et al. (2019).
:func:`prune_to` prunes just enough to meet a parameter limit, e.g. a
``constraints={"params": ...}`` that the search alone did not meet.

Structured pruning (L1-norm neuron pruning, Li et al. 2017) really shrinks
the ``Linear`` layers, so that
:func:`~sknas.nn.builders.count_parameters` counts fewer parameters. It
supports the networks of the ``"mlp"`` space
(:class:`~sknas.nn.builders.DenseDAG`: every block's width, with the
columns of its skip connections and of the head that read it) and of the
``"resnet"`` space (:class:`~sknas.nn.builders.ResidualMLP`: the hidden
width inside the residual blocks; the residual stream, which every block
adds to, keeps its width). Input layers (feature scaling, numeric
embeddings) are kept whole; per-unit parameters after a pruned layer
(normalization, PReLU slopes) are cut with it; a BatchEnsemble network
(``ensemble_k > 1``) is not supported (use magnitude pruning). A neuron's
importance is the L1 norm of its incoming weights. The pruned network is exactly the network of
another genotype (smaller ``width_i`` or ``hidden_factor``), which becomes
the new estimator's ``best_genotype_``; it may lie outside the space's
ranges (e.g. a width below ``min_width``), and it saves and loads with
:mod:`sknas.io` like any other.

Magnitude pruning zeroes the weights (of every module's ``weight`` matrix or
kernel: linear, convolution, embedding layers; biases, normalizations and
per-unit slopes are kept) of smallest absolute value across the whole network, with :mod:`torch.nn.utils.prune`; the mask is kept during
retraining and then made permanent, so the tensors keep their shapes and
the parameter count is reported as the number of non-zero parameters
(:func:`count_nonzero_parameters`). It works on every space.

An estimator that predicts with a bag (the fold models of a cross-validated
trial) or an ensemble of bags has every member network pruned the same way
(each to its own target: ``amount`` of its own parameters, or at most
``max_params``), each retrained on ``X, y`` through its own fitted
preprocessing; the bag or ensemble keeps its structure and weights, and
``pruning_`` describes the network of ``best_estimator_``.
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn.utils import prune as torch_prune

from .evaluation.ensembles import EnsembleClassifier, EnsembleRegressor, leaves
from .nn.builders import DenseDAG, ResidualMLP, count_parameters

__all__ = ["count_nonzero_parameters", "prune", "prune_to"]

METHODS = ("structured", "magnitude")
RETRAIN = ("finetune", "scratch", None)


def count_nonzero_parameters(module):
    """Number of non-zero entries over all parameters of ``module``."""
    return int(sum(int(torch.count_nonzero(p.detach())) for p in module.parameters()))


def prune(estimator, amount, method="structured", retrain="finetune", X=None, y=None, epochs=None,
          finetune_lr_factor=0.1, random_state=None):
    """A new fitted estimator whose network has ``amount`` of its parameters removed.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        A fitted estimator. It is not modified. A bag or ensemble has each
        of its member networks pruned (see the module docstring).
    amount : float in [0, 1)
        Share of the network's parameters to remove (of
        ``count_parameters(net)``). Structured pruning removes the same
        share of neurons from every prunable layer, the largest share that
        brings the count to at most ``(1 - amount)`` times the original;
        magnitude pruning zeroes exactly that many weights.
    method : {"structured", "magnitude"}, default="structured"
        See the module docstring.
    retrain : {"finetune", "scratch"} or None, default="finetune"
        ``"finetune"``: train the pruned network further from its surviving
        weights, at a constant learning rate of ``finetune_lr_factor`` times
        the genotype's; ``"scratch"``: train the pruned architecture (and,
        for magnitude pruning, the same sparsity mask) from a new random
        initialization with the genotype's own training recipe (learning
        rate, schedule); ``None``: no retraining (``X`` and ``y`` are not
        needed).
    X, y : array-like, default=None
        Training data, raw as given to ``fit``; it goes through the fitted
        preprocessing of ``estimator.best_estimator_`` (and the genotype's
        oversampling, when it has one). Required unless ``retrain=None``.
    epochs : int or None, default=None
        Retraining epochs. ``None``: for ``"scratch"``, as many as the
        original network was trained (Scratch-E of Liu et al. 2019); for
        ``"finetune"``, a quarter of that (at least 1), the ratio of the
        fine-tuning schedules compared in that paper.
    finetune_lr_factor : float, default=0.1
        Fine-tuning learning rate as a share of the genotype's.
    random_state : int, RandomState instance or None, default=None
        Seeds the retraining (initialization and batch order).

    Returns
    -------
    pruned : estimator
        A deep copy of ``estimator`` whose ``best_estimator_`` holds the
        pruned network, with ``best_genotype_`` the pruned genotype
        (structured pruning) and ``pruning_``, a dict: ``method``,
        ``amount``, ``retrain``, ``epochs``, ``n_params_before``,
        ``n_params`` (non-zero parameters after pruning), ``genotype_before``,
        ``neuron_share`` (structured: share of neurons kept in each
        pruned layer), all of ``best_estimator_``'s network, and
        ``n_networks`` (the networks pruned: more than one for a bag or an
        ensemble, whose ``ensemble_`` then holds the pruned members).

    References
    ----------
    Liu, Sun, Zhou, Huang, Darrell. "Rethinking the Value of Network
    Pruning." ICLR 2019.
    Li, Kadav, Durdanovic, Samet, Graf. "Pruning Filters for Efficient
    ConvNets." ICLR 2017 (L1-norm structured pruning).
    Han, Pool, Tran, Dally. "Learning both Weights and Connections for
    Efficient Neural Networks." NeurIPS 2015 (magnitude pruning).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sknas import AutoNASClassifier
    >>> from sknas.compress import prune
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = AutoNASClassifier(space="mlp", time_budget=None, max_trials=1, max_epochs=5,
    ...                         random_state=0).fit(X, y)
    >>> small = prune(clf, 0.5, X=X, y=y, epochs=2, random_state=0)
    >>> small.pruning_["n_params"] <= 0.5 * small.pruning_["n_params_before"]
    True
    >>> small.predict(X[:3]).shape
    (3,)
    """
    _check_amount(amount)
    amount = float(amount)
    return _prune(estimator, lambda n: (math.floor((1.0 - amount) * n + 1e-9), amount),
                  method, retrain, X, y, epochs, finetune_lr_factor, random_state)


def prune_to(estimator, max_params, X=None, y=None, method="structured", retrain="finetune", epochs=None,
             finetune_lr_factor=0.1, random_state=None):
    """A new fitted estimator whose network has at most ``max_params`` (non-zero) parameters.

    Prunes the smallest share that meets the limit (see :func:`prune` for
    the other parameters); an estimator already within the limit is
    returned as an unpruned deep copy (``pruning_["amount"] == 0``).
    Typical use: a ``constraints={"params": limit}`` search that found no
    network small enough, or a smaller deployment target after the fact.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sknas import AutoNASClassifier
    >>> from sknas.compress import prune_to
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = AutoNASClassifier(time_budget=None, max_trials=1, max_epochs=5, random_state=0).fit(X, y)
    >>> prune_to(clf, 5_000, X, y, epochs=2, random_state=0).pruning_["n_params"] <= 5_000
    True
    """
    if isinstance(max_params, bool) or not isinstance(max_params, numbers.Real) or not max_params >= 1:
        raise ValueError(f"prune_to: max_params must be a number >= 1. Got {max_params!r} instead.")
    limit = math.floor(max_params)
    return _prune(estimator, lambda n: (n, 0.0) if n <= limit else (limit, 1.0 - limit / n),
                  method, retrain, X, y, epochs, finetune_lr_factor, random_state)


# -- the work ----------------------------------------------------------------------------
def _check_amount(amount):
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not 0.0 <= amount < 1.0:
        raise ValueError(f"prune: amount must be a float in [0, 1). Got {amount!r} instead.")


def _rebuilt(model, pruned):
    """``model`` with each of its pipelines replaced by ``pruned[id(pipeline)]``."""
    if isinstance(model, (EnsembleClassifier, EnsembleRegressor)):
        return type(model)([_rebuilt(member, pruned) for member in model.estimators], list(model.weights))
    return pruned[id(model)]


def _network(estimator, pipeline):
    """``(net, n_params)`` of one fitted sknas pipeline of ``estimator``, checked."""
    from .evaluation.trainer import GenotypeModule

    net = pipeline.named_steps.get("net") if isinstance(pipeline, Pipeline) else None
    if net is None or not isinstance(getattr(net, "module_", None), GenotypeModule):
        raise TypeError(f"prune: {type(estimator).__name__} does not predict with sknas pipelines with a net.")
    return net, count_nonzero_parameters(net.module_)


def _prune(estimator, target_of, method, retrain, X, y, epochs, finetune_lr_factor, random_state):
    """Prune every network ``estimator`` predicts with; ``target_of(n_params) -> (target, amount)``."""
    if method not in METHODS:
        raise ValueError(f"prune: method must be one of {METHODS}. Got {method!r} instead.")
    if retrain not in RETRAIN:
        raise ValueError(f"prune: retrain must be one of {RETRAIN}. Got {retrain!r} instead.")
    if retrain is not None and (X is None or y is None):
        raise ValueError(f"prune: retrain={retrain!r} needs the training data X and y; pass them, or retrain=None.")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1):
        raise ValueError(f"prune: epochs must be None or an int >= 1. Got {epochs!r} instead.")
    if isinstance(finetune_lr_factor, bool) or not isinstance(finetune_lr_factor, numbers.Real) \
            or not finetune_lr_factor > 0:
        raise ValueError(f"prune: finetune_lr_factor must be a positive float. Got {finetune_lr_factor!r} instead.")
    check_is_fitted(estimator, "best_estimator_")
    new = copy.deepcopy(estimator)  # the best pipeline and the bag's first member stay one object
    final = getattr(new, "ensemble_", None)
    pipelines = {id(p): p for p in [new.best_estimator_] + ([] if final is None else leaves(final))}
    for p in pipelines.values():
        _network(new, p)  # every member is checked before any work
    Xc = None if retrain is None else new._check_predict_X(X)
    seed = int(check_random_state(random_state).randint(2**31 - 1))
    pruned, info = {}, {}
    for key, pipeline in pipelines.items():
        pruned[key], info[key] = _prune_pipeline(new, pipeline, target_of, method, retrain, Xc, y, epochs,
                                                 finetune_lr_factor, seed)
    best = id(new.best_estimator_)
    new.best_estimator_ = pruned[best]
    if final is not None:
        new.ensemble_ = _rebuilt(final, pruned)
    new.best_genotype_ = info[best]["genotype"]
    new.pruning_ = {k: v for k, v in info[best].items() if k != "genotype"}
    new.pruning_["n_networks"] = len(pipelines)
    return new


def _prune_pipeline(estimator, pipeline, target_of, method, retrain, X, y, epochs, finetune_lr_factor, seed):
    """``(pruned pipeline, info)`` for one fitted pipeline (``X``: checked raw data or None)."""
    net, n_before = _network(estimator, pipeline)  # of the estimator's deep copy: read, never modified
    target, amount = target_of(n_before)
    if amount == 0.0:
        retrain = None
    prep = pipeline.named_steps["preprocessing"]
    params = net.get_params()
    space, genotype = params["module__space"], params["module__genotype"]
    n_inputs, n_outputs = params["module__n_inputs"], params["module__n_outputs"]
    trained_epochs = max(1, len(net.history))
    if epochs is None:
        epochs = trained_epochs if retrain == "scratch" else max(1, trained_epochs // 4)

    neuron_share = None
    masks = None
    if amount == 0.0:
        new_genotype, state = genotype, net.module_.state_dict()
    elif method == "structured":
        new_genotype, state, neuron_share = _structured(space, genotype, net.module_, n_inputs, n_outputs, target)
    else:
        new_genotype = genotype
        state, masks = _magnitude(net.module_, n_before - target)

    Xt = yt = None
    if retrain is not None:
        Xt = prep.transform(X)
        yt = np.asarray(y)
        if len(yt) != len(Xt):
            raise ValueError(f"prune: X has {len(Xt)} rows but y has {len(yt)}.")
        from .prep.imbalance import resample_training

        Xt, yt = resample_training(space, new_genotype, Xt, yt, seed)
    new_net = _retrained_net(net, space, new_genotype, n_inputs, n_outputs, state, masks, retrain, Xt, yt,
                             epochs if retrain is not None else trained_epochs, finetune_lr_factor, seed)
    info = {
        "method": method, "amount": amount, "retrain": retrain, "epochs": epochs if retrain is not None else 0,
        "n_params_before": n_before, "n_params": count_nonzero_parameters(new_net.module_),
        "genotype_before": genotype, "neuron_share": neuron_share, "genotype": new_genotype,
    }
    return Pipeline([("preprocessing", prep), ("net", new_net)]), info


def _retrained_net(old, space, genotype, n_inputs, n_outputs, state, masks, retrain, Xt, yt, epochs, lr_factor, seed):
    """The skorch net of the pruned network, retrained as asked (see :func:`prune`)."""
    from .evaluation.trainer import TabularClassifierNet, make_net, torch_threads

    task = "classification" if isinstance(old, TabularClassifierNet) else "regression"
    classes = old.classes_ if task == "classification" else None
    net = make_net(space, genotype, task, n_inputs, n_outputs, classes=classes, max_epochs=epochs,
                   n_train=None if Xt is None else len(Xt), valid_data=None, device=old.device)
    if retrain == "finetune":
        changes = {"lr": float(net.lr) * float(lr_factor)}
        if "lr_schedule" in dict(net.callbacks):
            changes["callbacks__lr_schedule"] = None  # a constant, small learning rate
        net.set_params(**changes)
    with torch_threads(1), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if retrain == "scratch" and masks is None:
            net.fit(Xt, yt)  # a new initialization of the pruned architecture
        else:
            net.initialize()
            if retrain != "scratch":
                net.module_.load_state_dict(state)
            if masks is not None:
                for name, mask in masks.items():
                    torch_prune.custom_from_mask(net.module_.get_submodule(name), "weight", mask.to(net.device))
                net.initialize_optimizer()  # the weights are now ``weight_orig`` parameters
            if task == "regression":  # the target keeps the scale the network was trained on
                net.set_target_statistics(old.target_mean_, old.target_scale_)
            if retrain is not None:
                net.partial_fit(Xt, yt)
            if masks is not None:
                for name in masks:
                    torch_prune.remove(net.module_.get_submodule(name), "weight")
    if retrain is None:
        net.history_ = copy.deepcopy(old.history_)
    net.module_.eval()
    return net


# -- magnitude -----------------------------------------------------------------------------
def _magnitude(module, n_remove):
    """``(state, masks)``: the state with the ``n_remove`` smallest weights zeroed, and their masks."""
    work = copy.deepcopy(module)
    targets = [(name, m) for name, m in work.named_modules()
               if isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.dim() >= 2]
    n_prunable = sum(m.weight.numel() for _, m in targets)
    # weights already zero (a network pruned before) are the smallest: count them in
    n_remove += sum(int((m.weight == 0).sum()) for _, m in targets)
    if n_remove > n_prunable:
        total = count_parameters(module)
        raise ValueError(
            f"prune: magnitude pruning can zero at most the {n_prunable} weight-matrix entries of this network "
            f"({n_prunable / total:.1%} of its {total} parameters; biases and normalizations are kept). "
            f"Got a request to remove {n_remove}."
        )
    torch_prune.global_unstructured([(m, "weight") for _, m in targets], pruning_method=torch_prune.L1Unstructured,
                                    amount=int(n_remove))
    masks = {name: m.weight_mask.detach().clone() for name, m in targets}
    for _, m in targets:
        torch_prune.remove(m, "weight")
    return work.state_dict(), masks


# -- structured ----------------------------------------------------------------------------
def _structured(space, genotype, module, n_inputs, n_outputs, target):
    """``(pruned genotype, its state dict, neuron share kept)`` with at most ``target`` parameters."""
    from .space.mlp import MLPSpace, ResNetSpace

    arch = getattr(space, "arch", space)
    inner = module.net
    # importance of a neuron: the L1 norm of its incoming weights (Li et al. 2017)
    plain_dag = isinstance(inner, DenseDAG) and getattr(inner, "ensemble_k", 1) == 1 \
        and isinstance(inner.head, nn.Linear) and all(isinstance(b[0], nn.Linear) for b in inner.blocks)
    if plain_dag and isinstance(arch, MLPSpace):
        widths = [block[0].out_features for block in inner.blocks]
        importance = [block[0].weight.detach().abs().sum(dim=1).cpu() for block in inner.blocks]

        def pruned_genotype(kept):
            return genotype.replace(**{f"width_{i}": int(k) for i, k in enumerate(kept)})

        def per_layer(kept):
            return kept
    elif isinstance(inner, ResidualMLP) and isinstance(arch, ResNetSpace) and len(inner.blocks):
        width = inner.stem.out_features
        # every block keeps the same number of hidden neurons (its own ones), so that the
        # pruned network is still one ResNetSpace genotype (a single hidden_factor)
        widths = [inner.blocks[0].linear1.out_features]
        importance = [b.linear1.weight.detach().abs().sum(dim=1).cpu() for b in inner.blocks]

        def pruned_genotype(kept):
            return genotype.replace(hidden_factor=float(kept[0]) / width)

        def per_layer(kept):
            return kept * len(inner.blocks)
    else:
        what = f"a {type(inner).__name__} of {type(arch).__name__}"
        if isinstance(inner, DenseDAG) and getattr(inner, "ensemble_k", 1) != 1:
            what += f" with ensemble_k={inner.ensemble_k} (a BatchEnsemble)"
        raise ValueError(
            f"prune: structured pruning supports the plain networks of the 'mlp' space (DenseDAG) and of the "
            f"'resnet' space (ResidualMLP); this network is {what}. Use method='magnitude'."
        )

    def kept_at(share):
        return [max(1, round(share * w)) for w in widths]

    def size(kept):
        with torch.device("meta"):
            return count_parameters(space.build(pruned_genotype(kept), n_inputs, n_outputs))

    smallest = size([1] * len(widths))
    if smallest > target:
        total = count_parameters(module)
        raise ValueError(
            f"prune: structured pruning of this {type(inner).__name__} keeps at least {smallest} of its {total} "
            f"parameters (one neuron per pruned layer; inputs, outputs{' and the residual stream' if isinstance(inner, ResidualMLP) else ''} "
            f"are kept), more than the {target} asked for. Ask for at most "
            f"{1 - smallest / total:.3f}, or use method='magnitude'."
        )
    low, high = 0.0, 1.0  # size(kept_at(low)) <= target; find the largest such share
    for _ in range(40):
        mid = (low + high) / 2
        if size(kept_at(mid)) <= target:
            low = mid
        else:
            high = mid
    kept = kept_at(low)
    keep = [torch.sort(torch.topk(score, k).indices).values for score, k in zip(importance, per_layer(kept))]
    new_genotype = pruned_genotype(kept)
    state = _sliced_state(inner, keep)
    state = {f"net.{k}": v for k, v in state.items()}
    return new_genotype, state, float(low)


def _sliced_state(inner, keep):
    """The state dict of ``inner`` with only the kept neurons (see :func:`_structured`)."""
    state = {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()}  # loaded onto the net's device later

    def rows(prefix, index):
        for key in list(state):
            if key.startswith(prefix) and state[key].dim() >= 1 and not key.endswith("num_batches_tracked"):
                state[key] = state[key].index_select(0, index)

    def columns(key, index):
        state[key] = state[key].index_select(1, index)

    if isinstance(inner, DenseDAG):
        # node 0 is the input (kept whole); node i + 1 is block i's output, cut to keep[i]
        node_index = [torch.arange(inner.blocks[0][0].in_features)] + list(keep)
        widths = [len(node_index[0])] + [block[0].out_features for block in inner.blocks]
        for i, (block, skip) in enumerate(zip(inner.blocks, inner.skips)):
            rows(f"blocks.{i}.0.", keep[i])  # the Linear's rows
            for part in range(1, len(block)):  # per-unit parameters after it: normalization, PReLU slopes
                rows(f"blocks.{i}.{part}.", keep[i])
            cols = node_index[i]
            if skip is not None:
                cols = torch.cat([cols, widths[i] + node_index[skip]])
            columns(f"blocks.{i}.0.weight", cols)
        columns("head.weight", node_index[-1])
    else:
        for i, index in enumerate(keep):
            rows(f"blocks.{i}.linear1.", index)
            rows(f"blocks.{i}.activation.", index)  # per-unit slopes of a PReLU, if any
            columns(f"blocks.{i}.linear2.weight", index)
    return state
