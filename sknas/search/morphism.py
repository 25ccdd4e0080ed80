"""Network morphism search: hill climbing over function-preserving morphs, children inherit weights."""

from __future__ import annotations

import math
import time
import traceback
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval

from ..evaluation.trial import TrialResult
from ..space.genotype import Genotype
from .base import Candidate, result_score
from .oneshot import DataSearcher, prepare_data

__all__ = ["MorphismSearch"]


class MorphismSearch(DataSearcher):
    """Hill climbing with network morphisms (Elsken et al. 2017), on the mlp space.

    The search starts from a small network (the base genotype's first block,
    a quarter of its width), trained ``initial_epochs`` epochs. Each step
    makes ``n_neighbours`` children of the current parent, each by
    ``n_morphs`` random function-preserving morphs of the parent's trained
    network (:mod:`sknas.nn.morphism`: Net2WiderNet multiplies a block's
    width by ``widen_factor``; Net2DeeperNet inserts an identity block;
    a zero-weight skip connection is added), and trains each child for
    ``child_epochs`` epochs starting from the inherited weights. The best
    child replaces the parent when its validation score is higher.

    Because the runner trains every candidate from scratch, the climb runs
    inside the searcher, in its first ``ask``: every network trained there
    is recorded as a row of ``search_results_`` with ``source="morphism"``,
    its validation score, ``fit_time`` and fitted model (the inherited
    weights after training), and ``epochs`` the epochs its weights were
    trained for, counting its ancestors' (at most ``max_epochs``). That
    first ask then returns the best genotype of the climb, which the runner
    retrains from scratch as a normal trial; later asks return mutations of
    the best genotype. The non-architecture decisions (training and
    preprocessing) are the base genotype's: the space's first portfolio
    entry (when that is the linear model, the climb starts from the first
    block of the first portfolio entry with blocks, see
    :meth:`MLPSpace.deep_base <sknas.space.mlp.MLPSpace.deep_base>`).

    Parameters
    ----------
    n_steps : int, default=5
        Hill-climbing steps (the climb also stops at its time share).
    n_neighbours : int, default=4
        Children per step.
    n_morphs : int, default=2
        Morphs applied in a row to make one child.
    child_epochs : int, default=5
        Epochs of training after each morph.
    initial_epochs : int or None, default=None
        Epochs of the starting network; ``None``: ``min(max_epochs, 2 * child_epochs)``.
    widen_factor : float, default=2.0
        A widened block gets ``ceil(widen_factor * width)`` units (at most the space's largest width).
    time_share : float, default=0.5
        The climb may use this share of the search time left at the first ask.

    Attributes
    ----------
    best_genotype_ : Genotype
        The best genotype of the climb.
    best_score_ : float or None
    base_ : Genotype
    n_children_ : int

    Notes
    -----
    Simplified from the papers: the morphs are the ones that exist on the
    mlp space's dense DAGs (wider, deeper, skip), not convolutional ones;
    a widened block copies units (Net2Net) and splits their outgoing
    weights randomly, instead of adding noise, so the function is kept
    exactly while the copies' symmetry is broken; an inserted block uses
    ReLU, after a bounded-below activation with a shift absorbed by the
    next layer's bias, instead of Wei et al.'s parametric activations; a
    block with layer normalization is not widened. Children train with the
    base genotype's optimizer and schedule (early stopping on the
    validation part), not SGDR; the parent is kept when no child beats it;
    only the first fold is used.

    References
    ----------
    Elsken, Metzen, Hutter. "Simple and efficient architecture search for
    Convolutional Neural Networks." ICLR workshop 2018 (arXiv:1711.04528, 2017).
    Chen, Goodfellow, Shlens. "Net2Net: Accelerating Learning via Knowledge
    Transfer." ICLR 2016.
    Wei, Wang, Rui, Chen. "Network Morphism." ICML 2016.
    """

    _parameter_constraints: dict = {
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "n_neighbours": [Interval(Integral, 1, None, closed="left")],
        "n_morphs": [Interval(Integral, 1, None, closed="left")],
        "child_epochs": [Interval(Integral, 1, None, closed="left")],
        "initial_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "widen_factor": [Interval(Real, 1, None, closed="neither")],
        "time_share": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, n_steps=5, n_neighbours=4, n_morphs=2, child_epochs=5, initial_epochs=None,
                 widen_factor=2.0, time_share=0.5):
        self.n_steps = n_steps
        self.n_neighbours = n_neighbours
        self.n_morphs = n_morphs
        self.child_epochs = child_epochs
        self.initial_epochs = initial_epochs
        self.widen_factor = widen_factor
        self.time_share = time_share

    def _setup(self):
        from ..space.mlp import MLPSpace

        name = type(self).__name__
        arch = self._arch_space()
        if not isinstance(arch, MLPSpace):
            raise ValueError(
                f"{name} morphs dense networks of the mlp space (space='mlp' or an MLPSpace). "
                f"Got {type(arch).__name__} instead."
            )
        self._start_search()
        self.best_genotype_ = None
        self.best_score_ = None
        self.n_children_ = 0
        self._climbed = False

    def set_budget(self, max_epochs=None, max_trials=None, **budget):
        """The runner's budget before each ask: ``max_trials`` is how many rows are still allowed.

        The climb records each child as a row, so it stops one row short of
        that cap (the last row is the retrain of the best genotype).
        """
        self._max_rows = None if max_trials is None else max(1, int(max_trials) - 1)

    def _rows_left(self):
        limit = getattr(self, "_max_rows", None)
        return limit is None or self.n_children_ < limit

    # -- genotypes <-> block specifications ---------------------------------------------------
    def _genotype(self, blocks):
        """The joint genotype of block specifications (other decisions from the base)."""
        arch = self._arch_space()
        names = {p.name for p in arch.params}
        g = {k: v for k, v in self.base_.items() if k not in names}
        if "n_blocks" in names:
            g["n_blocks"] = len(blocks)
        for i, spec in enumerate(blocks):
            g.update({f"width_{i}": int(spec["width"]), f"act_{i}": spec["activation"], f"norm_{i}": spec["norm"],
                      f"dropout_{i}": float(spec["dropout"])})
            if i > 0:
                g[f"skip_{i}"] = "none" if spec["skip"] is None else int(spec["skip"])
        return self.space_.validate(Genotype(g))

    def _start(self):
        arch = self._arch_space()
        # a linear base (n_blocks=0) starts from the first block of the space's first deep portfolio entry
        first = arch.blocks(arch.deep_base(self._arch_part(self.base_)))[0]
        width = min(max(int(first["width"]) // 4, arch.min_width), arch.max_width)
        return [dict(first, width=width, skip=None)]

    # -- morphs ------------------------------------------------------------------------------
    def _morphs(self, blocks):
        """The morphs the space allows on ``blocks``: ``(kind, arguments)``."""
        arch = self._arch_space()
        out = []
        for i, spec in enumerate(blocks):
            if spec["norm"] != "layer" and spec["width"] < arch.max_width:
                out.append(("wider", i))
        if len(blocks) < arch.max_blocks and "relu" in arch.activations and "none" in arch.norms:
            out += [("deeper", p) for p in range(1, len(blocks) + 1)]
        for k in range(1, len(blocks)):
            if blocks[k]["skip"] is None:
                out.append(("skip", k))
        return out

    def _morph(self, blocks, net):
        from ..nn.morphism import add_skip, net2deeper, net2wider

        for _ in range(int(self.n_morphs)):
            options = self._morphs(blocks)
            if not options:
                break
            kind, where = options[int(self.rng_.integers(len(options)))]
            if kind == "wider":
                width = blocks[where]["width"]
                new = min(self._arch_space().max_width, max(width + 1, math.ceil(self.widen_factor * width)))
                blocks, net = net2wider(net, blocks, where, new, rng=self.rng_)
            elif kind == "deeper":
                blocks, net = net2deeper(net, blocks, where)
            else:
                blocks, net = add_skip(net, blocks, where, int(self.rng_.integers(where)))
        return blocks, net

    # -- ask / tell ------------------------------------------------------------------------
    def _ask(self, n):
        out = []
        if not self._climbed:
            if getattr(self, "_data", None) is None:
                raise RuntimeError(
                    f"{type(self).__name__} trains networks itself (needs_data=True): the runner hands it the "
                    "data through set_data(data, evaluator, deadline) before the first ask."
                )
            self._climb()
            self._climbed = True
            if self.best_genotype_ is not None:
                out.append(Candidate(self.best_genotype_))
        seen = self._proposed | self.seen_
        start = self.best_genotype_ if self.best_genotype_ is not None else self.base_
        while len(out) < n:
            g = start
            for _ in range(20):
                g = self.space_.mutate(g, self.rng_)
                if g not in seen:
                    break
            out.append(Candidate(g))
            seen.add(g)
        for c in out:
            self._proposed.add(c.genotype)
        return out

    def _record(self, genotype, model, result, epochs):
        result.model = model
        epochs = max(1, min(int(epochs), int(self._evaluator.max_epochs)))
        self._records.append((Candidate(genotype, epochs=epochs), result, "morphism"))
        self.n_children_ += 1

    def _climb(self):
        from ..evaluation.trainer import torch_threads

        evaluator, fold = self._evaluator, self._data[0]
        start = time.time()
        deadline = None if self._deadline is None else start + self.time_share * max(0.0, self._deadline - start)
        seed = int(self.rng_.integers(2**31 - 1))
        arch = self._arch_space()
        initial = self.initial_epochs or max(1, min(int(evaluator.max_epochs), 2 * int(self.child_epochs)))
        blocks = self._start()
        genotype = self._genotype(blocks)
        try:
            with torch_threads(evaluator.n_threads), torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                data = prepare_data(evaluator, self.space_, self.base_, fold, 0.0, seed)
                module = arch.build(self._arch_part(genotype), data.n_features, data.n_outputs)
                result = evaluator.evaluate_inherited(genotype, data, module, epochs=initial, deadline=deadline)
                if result.status == "failed":  # no parent to morph: the searcher cannot go on
                    raise RuntimeError(f"the morphism search's initial network failed: {result.error}")
                model = result.model
                self._record(genotype, model, result, initial)
                parent = (blocks, model.named_steps["net"].module_.net, result_score(result), initial, genotype)
                self.best_genotype_, self.best_score_ = genotype, parent[2]
                for _ in range(int(self.n_steps)):
                    if (deadline is not None and time.time() >= deadline) or not self._rows_left():
                        break
                    best_child = None
                    for _ in range(int(self.n_neighbours)):
                        if (deadline is not None and time.time() >= deadline) or not self._rows_left():
                            break
                        child_blocks, child_net = self._morph(parent[0], parent[1])
                        child_genotype = self._genotype(child_blocks)
                        result = evaluator.evaluate_inherited(child_genotype, data, child_net,
                                                              epochs=int(self.child_epochs), deadline=deadline)
                        if result.status == "failed":  # one failing child is a failed row
                            self._records.append((Candidate(child_genotype), result, "morphism"))
                            continue
                        model = result.model
                        epochs = parent[3] + result.n_epochs
                        self._record(child_genotype, model, result, epochs)
                        score = result_score(result)
                        if score is not None and (best_child is None or score > best_child[2]):
                            best_child = (child_blocks, model.named_steps["net"].module_.net, score, epochs,
                                          child_genotype)
                    if best_child is not None and (parent[2] is None or best_child[2] > parent[2]):
                        parent = best_child
                        self.best_genotype_, self.best_score_ = parent[4], parent[2]
        except Exception as exc:  # a failing climb is a failed row, never a crashed fit
            error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])
            self._records.append((Candidate(genotype), TrialResult.failed(error, fit_time=time.time() - start),
                                  "morphism"))
        finally:
            self._data = self._evaluator = None
