"""P-DARTS: differentiable search in stages that deepen the supernet and prune its operations."""

from __future__ import annotations

import math
import time
from numbers import Real
from types import MethodType

import numpy as np
import torch
from sklearn.base import clone
from torch import nn
from torch.nn import functional as F

from .darts import DARTSSearch

__all__ = ["PDARTSSearch"]


def _decisions(supernet):
    """``{decision key: number of choices}`` of a supernet (cell edges ``(type, row)``, or mlp parameter names)."""
    if hasattr(supernet, "choices"):  # MLPSuperNet
        return {name: len(choices) for name, choices in supernet.choices.items()}
    return {(t, r): len(supernet.op_names) for t in supernet.cell_types for r in range(supernet.n_edges)}


def _labels(supernet, key):
    """The choices of one decision, as the space names them."""
    if hasattr(supernet, "choices"):
        return tuple(supernet.choices[key])
    return tuple(supernet.op_names)


def _candidate_gates(self, key):
    """:meth:`SuperNet.gates` over the candidates P-DARTS still keeps for ``key`` (softmax among them only)."""
    allowed = self.candidates_.get(key)
    if self.mode == "fixed" or allowed is None:
        return type(self).gates(self, key)
    logits = self._logits(key)[list(allowed)]
    if self.mode == "softmax":
        weights = torch.softmax(logits, dim=-1)
        return [(i, weights[j]) for j, i in enumerate(allowed)]
    hard = F.gumbel_softmax(logits, tau=self.tau, hard=True)
    j = int(hard.argmax())
    return [(allowed[j], hard[j])]


def restrict(supernet, candidates):
    """Let only ``candidates`` (``{decision key: choice indices}``) run in ``supernet``'s forward pass.

    The other choices get no architecture weight and never run; in a cell
    supernet their operations are removed, so that the weights (and the
    memory) of a stage are those of the operations it keeps.
    """
    supernet.candidates_ = {k: tuple(v) for k, v in candidates.items()}
    supernet.gates = MethodType(_candidate_gates, supernet)
    if not hasattr(supernet, "choices"):  # a cell supernet: drop the modules of the pruned operations
        for cell in supernet.body.cells:
            for (kind, row), kept in supernet.candidates_.items():
                if kind != cell.kind:
                    continue
                for o in range(len(supernet.op_names)):
                    # op 0 of an edge stays: MixedCell falls back on it when every input is "none"
                    if o not in kept and o != 0:
                        cell.edges[row][o] = nn.Identity()
    return supernet


def _graft(supernet, fresh):
    """Give ``supernet`` the modules and buffers of ``fresh`` (a new stage's supernet), in place."""
    for name, child in fresh.named_children():
        setattr(supernet, name, child)
    for name, buffer in fresh.named_buffers(recurse=False):
        setattr(supernet, name, buffer)


class PDARTSSearch(DARTSSearch):
    """P-DARTS (Chen et al. 2019): DARTS in stages that deepen the supernet while pruning its operations.

    The search runs in ``len(keep) + 1`` stages. Each stage builds a fresh
    supernet (new weights and logits, as in the paper) and trains it like
    :class:`~sknas.search.oneshot.darts.DARTSSearch` (alternating logit and
    weight steps on the two shares of the training part). Between stages
    every decision keeps only its strongest candidates by the softmax of
    its logits (``keep``: P-DARTS keeps 5, then 3 of 8 operations per
    edge), so later stages mix fewer operations; on the cell space they
    also stack more cells, from about a third of the searched depth up to
    the depth of the genotype the search hands on (the *depth gap* of
    DARTS, which searches shallow and evaluates deep), so that the
    memory per stage stays about flat. Two regularizers fight the drift
    to parameter-free operations: dropout on the output of skip
    connections, from 0 in the first stage up to ``skip_dropout`` in the
    last (decaying linearly to 0 within each stage), and a cap of
    ``max_skips`` skip connections in the derived normal cell (the
    weakest extra ones take their edge's next operation).

    On the cell space (``space="cell"``) this is the paper's algorithm.
    On the mlp space there is no depth gap to bridge (the supernet already
    spans every depth up to the base genotype's, as its ``n_blocks``
    decision), so the stages keep the same depth and prune the choices of
    every decision (activation, normalization, width, skip, depth) by the
    same shares; skip dropout applies to the mixed skips between blocks,
    and ``max_skips`` caps the blocks with a skip.

    Parameters
    ----------
    keep : tuple of float, default=(0.625, 0.375)
        After stage ``s``, every decision keeps ``ceil(keep[s] * n)`` of its
        ``n`` choices (at least one), the strongest; non-increasing shares
        in (0, 1]. The default keeps P-DARTS's 5 and 3 of 8 operations.
        ``()``: one stage, DARTS with skip dropout and the skip cap.
    order : {"first", "second"}, default="first"
    arch_lr : float, default=3e-3
    arch_weight_decay : float, default=1e-3
    early_stop_skips : int or None, default=None
        DARTS+ inside each stage: a stage ends at the end of the epoch whose
        derived normal cell (before the cap) has at least this many skip
        connections; the next stage then begins (the last one ends the search).
    skip_dropout : float, default=0.7
        Skip dropout of the last stage (stage ``s`` of ``S`` starts at
        ``skip_dropout * s / (S - 1)``; the paper's 0.0, 0.4, 0.7).
    max_skips : int or None, default=2
        Skip connections kept in the derived normal cell (the paper's M = 2).
    warmup_epochs : int, default=0
        Epochs of each stage that train only the weights (the paper: 10 of 25).
    epochs : int or None, default=None
        Supernet epochs over all stages, split evenly (at least one per
        stage); ``None``: ``min(max_epochs, 50)``.
    time_share, arch_fraction, batch_size, one_stage, supernet_options : see DARTSSearch

    Attributes
    ----------
    stages_ : list of dict
        One per stage run: ``n_cells`` (the supernet's cells; ``None`` on
        the mlp space), ``candidates`` (``{decision: choices kept}`` during
        the stage; a cell decision is ``(cell type, edge row)``),
        ``skip_dropout`` (its starting rate), ``n_params`` (the supernet's
        weights), ``n_epochs``, ``stop_reason`` and ``alphas`` (the logits
        at its end, pruned choices below every kept one).
    alphas_, derived_, base_, stopped_early_ : see DARTSSearch
        ``alphas_`` ranks pruned choices below the kept ones (the later
        pruned, the higher), so that the skip cap and the samples of later
        asks fall back on them in that order. ``stopped_early_``: DARTS+'s
        criterion ended at least one stage.

    Notes
    -----
    Scaled down and simplified from the paper: the stages split one epoch
    budget (the paper runs 25 epochs each) and the cell space's depths
    grow towards the searched genotype's ``n_cells`` (``ceil(D (s + 1) /
    S)`` cells in stage ``s`` for depth ``D``; the paper goes 5, 11, 17
    cells for an evaluation at 20) rather than to ``final_cells``; skip
    dropout decays linearly within a stage (the paper: exponentially after
    the warm-up); the operation that replaces a capped skip is the edge's
    strongest other one by the final logits, with pruned ones ranked by
    when they were pruned (the paper takes the second operation kept in
    the last stage). "none" is pruned like any operation (the paper
    removes it before its final pruning; here ``derive`` ignores it). The
    simplifications of DARTSSearch apply.

    References
    ----------
    Chen, Xie, Wu, Tian. "Progressive Differentiable Architecture Search:
    Bridging the Depth Gap between Search and Evaluation." ICCV 2019.
    Liang, Zhang, Sun, He, Huang, Zhuang, Li. "DARTS+: Improved Differentiable
    Architecture Search with Early Stopping." arXiv:1909.06035, 2019.
    """

    _parameter_constraints: dict = {
        **DARTSSearch._parameter_constraints,
        "keep": [tuple],
    }

    def __init__(self, keep=(0.625, 0.375), order="first", arch_lr=3e-3, arch_weight_decay=1e-3,
                 early_stop_skips=None, skip_dropout=0.7, max_skips=2, warmup_epochs=0, epochs=None,
                 time_share=0.5, arch_fraction=0.5, batch_size=64, one_stage=False, supernet_options=None):
        self.keep = keep
        super().__init__(order=order, arch_lr=arch_lr, arch_weight_decay=arch_weight_decay,
                         early_stop_skips=early_stop_skips, skip_dropout=skip_dropout, max_skips=max_skips,
                         warmup_epochs=warmup_epochs, epochs=epochs, time_share=time_share,
                         arch_fraction=arch_fraction, batch_size=batch_size, one_stage=one_stage,
                         supernet_options=supernet_options)

    def _check_params(self):
        super()._check_params()
        keep = self.keep
        if (any(not isinstance(k, Real) or isinstance(k, bool) or not 0 < k <= 1 for k in keep)
                or any(a < b for a, b in zip(keep, keep[1:]))):
            raise ValueError(
                f"The 'keep' parameter of {type(self).__name__} must be a tuple of non-increasing shares "
                f"in (0, 1]. Got {keep!r} instead."
            )

    def _setup(self):
        super()._setup()
        self.stages_ = []
        self._pruned = {}

    # -- the stages ----------------------------------------------------------------------
    def _stage_depths(self, n_stages):
        """Cells of each stage's supernet: growing to the base genotype's ``n_cells`` (``None``: not a cell space)."""
        arch = self._arch_space()
        if not hasattr(arch, "cell_nodes"):
            return [None] * n_stages
        depth = arch.network_size(self._arch_part(self.base_))[0]
        return [max(1, math.ceil(depth * (s + 1) / n_stages)) for s in range(n_stages)]

    def _stage_supernet(self, n_cells, data, device):
        arch = self._arch_space()
        if n_cells is not None:
            arch = clone(arch).set_params(n_cells=n_cells)
        fresh = arch.supernet(data.n_features, data.n_outputs, base=self._arch_part(self.base_),
                              **(self.supernet_options or {}))
        return fresh.to(device)

    def _alphas_of(self, supernet):
        """The supernet's logits, each pruned choice below every kept one (the later pruned, the higher).

        A choice pruned after stage ``s`` gets ``min(kept logits) - 10 (len(keep) - s)``
        plus its softmax weight when pruned (below 1).
        """
        alphas = supernet.alphas()
        for key, pruned in self._pruned.items():
            kept = supernet.candidates_[key]
            if isinstance(key, tuple):  # a cell edge: a row of the cell type's (n_edges, n_ops) array
                kind, row = key
                values, names = alphas[kind][row], list(range(len(alphas[kind][row])))
            else:  # an mlp decision: {choice: logit}
                values = alphas[key]
                names = list(values)
            low = float(min(values[names[i]] for i in kept))
            for i, rank in pruned.items():
                stage = int(rank)
                values[names[i]] = low - 10.0 * (len(self.keep) - stage) + (rank - stage)
        return alphas

    def _prune(self, supernet, stage, share):
        """The candidates of the next stage: the ``ceil(share * n)`` strongest of each decision's kept ones."""
        nxt = {}
        for key, kept in supernet.candidates_.items():
            n = len(_labels(supernet, key))
            n_keep = min(len(kept), max(1, math.ceil(share * n)))
            probs = torch.softmax(supernet._logits(key).detach()[list(kept)], dim=-1).cpu().numpy()
            order = np.argsort(-probs, kind="stable")
            nxt[key] = tuple(sorted(kept[j] for j in order[:n_keep]))
            for j in order[n_keep:]:
                # rank: the stage that pruned it, plus its weight then (below 1)
                self._pruned.setdefault(key, {})[kept[j]] = stage + 0.999 * float(probs[j])
        return nxt

    def _train(self, supernet, data, epochs, deadline):
        n_stages = len(self.keep) + 1
        depths = self._stage_depths(n_stages)
        per_stage = [max(1, epochs // n_stages)] * n_stages
        per_stage[-1] += max(0, epochs - sum(per_stage))
        device = next(supernet.parameters()).device
        self.stages_, self._pruned = [], {}
        candidates = None
        curve, n_epochs, stop_reason = [], 0, "max_epochs"
        for stage in range(n_stages):
            _graft(supernet, self._stage_supernet(depths[stage], data, device))
            if candidates is None:
                candidates = {key: tuple(range(n)) for key, n in _decisions(supernet).items()}
            restrict(supernet, candidates)
            rate = float(self.skip_dropout) * (stage / (n_stages - 1) if n_stages > 1 else 1.0)
            stage_deadline = None
            if deadline is not None:
                now = time.time()
                stage_deadline = now + max(0.0, deadline - now) * per_stage[stage] / sum(per_stage[stage:])
            run = self._train_stage(supernet, data, per_stage[stage], stage_deadline, rate)
            curve += run["learning_curve"]
            n_epochs += run["n_epochs"]
            stop_reason = run["stop_reason"]
            self.stopped_early_ |= stop_reason == "early_stopping"
            self.stages_.append({
                "n_cells": depths[stage],
                "candidates": {key: tuple(_labels(supernet, key)[i] for i in kept) for key, kept in candidates.items()},
                "skip_dropout": rate, "n_params": int(sum(p.numel() for p in supernet.weight_parameters())),
                "n_epochs": run["n_epochs"], "stop_reason": stop_reason, "alphas": self._alphas_of(supernet),
            })
            if stop_reason == "time_limit":
                break
            if stage < n_stages - 1:
                candidates = self._prune(supernet, stage, float(self.keep[stage]))
        alphas = self._alphas_of(supernet)
        return {"genotype": self._derive(alphas), "alphas": alphas, "n_epochs": n_epochs,
                "learning_curve": curve, "stop_reason": stop_reason}
