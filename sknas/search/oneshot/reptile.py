"""DARTS started from architecture logits meta-learned across tables with Reptile (MetaNAS's part (a)).

MetaNAS (Elsken, Staffler, Metzen, Hutter 2020) meta-learns DARTS's
architecture parameters (and the weights) across tasks with Reptile (Nichol,
Achiam, Schulman 2018): for each meta-training task in turn, search from the
current meta-parameters ``alpha0`` for a few epochs, reaching ``alpha_task``,
then move ``alpha0 += eps * (alpha_task - alpha0)``. A new task's search
then starts from ``alpha0`` instead of DARTS's near-zero random logits.

sknas's version meta-learns the logits only (not the supernet's weights,
whose shapes follow each table's number of features), on the mlp space's
supernet, over a handful of small tables of ``../shared/meta``
(``benchmarks/build_metanas.py --reptile``); the result ships as
``sknas/data/metanas_alpha0.json``. :class:`MetaDARTSSearch` is DARTS
started from it: when its supernet has exactly the decisions and choices of
the shipped logits (the mlp space's supernet around the same base genotype:
the default portfolio's first network, the same width factors), every
logit starts from ``alpha0``; otherwise DARTS's own initialization is kept
and ``alpha_init_note_`` says why.
"""

from __future__ import annotations

import json

import torch
from sklearn.utils._param_validation import StrOptions

from ..metanas import read_package_json
from .darts import DARTSSearch

__all__ = ["ALPHA_FILE", "MetaDARTSSearch", "load_alpha0", "reptile_update"]

ALPHA_FILE = "metanas_alpha0.json"


def reptile_update(alpha0, alpha_task, eps):
    """Reptile's outer step ``alpha0 + eps * (alpha_task - alpha0)``, logit by logit.

    Both are in the format of ``supernet.alphas()``: ``{decision: {choice:
    logit}}``; they must have the same decisions and choices (ValueError
    otherwise). Returns a new dict.
    """
    if not 0.0 < float(eps) <= 1.0:
        raise ValueError(f"reptile_update: eps must be in (0, 1]. Got {eps!r} instead.")
    if set(alpha0) != set(alpha_task) or any(set(alpha0[k]) != set(alpha_task[k]) for k in alpha0):
        raise ValueError("reptile_update: the task's logits have other decisions or choices than alpha0.")
    return {k: {c: float(v) + float(eps) * (float(alpha_task[k][c]) - float(v)) for c, v in choices.items()}
            for k, choices in alpha0.items()}


def load_alpha0(path=None):
    """The shipped meta-learned logits (or those saved at ``path``): ``(alphas, info)``.

    The file stores each decision's choices as ``[choice, logit]`` pairs, so
    integer choices (widths, skip sources) stay integers.
    """
    data = read_package_json(ALPHA_FILE, path)
    alphas = {name: {c: float(v) for c, v in pairs} for name, pairs in data["alphas"].items()}
    return alphas, {k: v for k, v in data.items() if k != "alphas"}


def save_alpha0(path, alphas, **info):
    data = {**info, "alphas": {name: [[c, round(float(v), 6)] for c, v in choices.items()]
                               for name, choices in alphas.items()}}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def apply_alphas(supernet, alphas):
    """Set ``supernet``'s logits to ``alphas``; returns ``""`` or the reason it could not (nothing changed then)."""
    choices = getattr(supernet, "choices", None)
    weights = getattr(supernet, "arch_weights", None)
    if not isinstance(choices, dict) or weights is None:
        return (f"{type(supernet).__name__} is not the mlp space's supernet (the meta-learned logits are "
                "over its decisions)")
    if set(choices) != set(alphas):
        missing, extra = sorted(set(choices) - set(alphas)), sorted(set(alphas) - set(choices))
        return f"the supernet's decisions differ from the meta-learned ones (not learned: {missing}; absent: {extra})"
    for name, options in choices.items():
        if list(options) != list(alphas[name]):
            return (f"decision {name!r} has choices {list(options)} in this supernet and "
                    f"{list(alphas[name])} in the meta-learned logits")
    with torch.no_grad():
        for name, options in choices.items():
            param = weights[name]
            param.copy_(torch.tensor([alphas[name][c] for c in options], dtype=param.dtype, device=param.device))
    return ""


class MetaDARTSSearch(DARTSSearch):
    """DARTS whose architecture logits start from values meta-learned across tables (Reptile, MetaNAS).

    Every parameter of :class:`~sknas.search.oneshot.darts.DARTSSearch`,
    plus ``alpha_init``. The search is DARTS's; only the logits' starting
    point differs (see the module docstring for how they were learned).

    Parameters
    ----------
    alpha_init : {"meta", "default"} or dict, default="meta"
        ``"meta"``: the shipped logits (:func:`load_alpha0`); ``"default"``:
        DARTS's own near-zero random start; a dict: logits in the format of
        ``supernet.alphas()`` (what Reptile's meta-training passes).
    **darts_params
        As :class:`~sknas.search.oneshot.darts.DARTSSearch`.

    Attributes
    ----------
    alpha_init_used_ : bool
        Whether the supernet started from the meta-learned logits.
    alpha_init_note_ : str
        Why not, when it did not ("" when it did, or with ``alpha_init="default"``).

    References
    ----------
    Elsken, Staffler, Metzen, Hutter. "Meta-Learning of Neural Architectures
    for Few-Shot Learning." CVPR 2020.
    Nichol, Achiam, Schulman. "On First-Order Meta-Learning Algorithms."
    arXiv:1803.02999, 2018 (Reptile).
    Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search." ICLR 2019.
    """

    _parameter_constraints: dict = {
        **DARTSSearch._parameter_constraints,
        "alpha_init": [StrOptions({"meta", "default"}), dict],
    }

    def __init__(self, alpha_init="meta", order="first", arch_lr=3e-3, arch_weight_decay=1e-3,
                 early_stop_skips=None, skip_dropout=0.0, max_skips=None, warmup_epochs=0, epochs=None,
                 time_share=0.5, arch_fraction=0.5, batch_size=64, one_stage=False, supernet_options=None):
        self.alpha_init = alpha_init
        super().__init__(order=order, arch_lr=arch_lr, arch_weight_decay=arch_weight_decay,
                         early_stop_skips=early_stop_skips, skip_dropout=skip_dropout, max_skips=max_skips,
                         warmup_epochs=warmup_epochs, epochs=epochs, time_share=time_share,
                         arch_fraction=arch_fraction, batch_size=batch_size, one_stage=one_stage,
                         supernet_options=supernet_options)

    def _setup(self):
        super()._setup()
        self.alpha_init_used_ = False
        self.alpha_init_note_ = ""

    def _train(self, supernet, data, epochs, deadline):
        if self.alpha_init != "default":
            alphas = load_alpha0()[0] if self.alpha_init == "meta" else self.alpha_init
            self.alpha_init_note_ = apply_alphas(supernet, alphas)
            self.alpha_init_used_ = not self.alpha_init_note_
        return super()._train(supernet, data, epochs, deadline)
