"""Progressive neural architecture search: cells grown block by block, expansions ranked by a surrogate."""

from __future__ import annotations

import itertools
import math
from collections import deque
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..space.genotype import Genotype
from ..space.params import Categorical
from .base import Candidate, Searcher, draw_new, result_score

__all__ = ["PNASSearch"]

_MAX_REDRAWS = 10
_PREDICTORS = ("forest", "knn")


class PNASSearch(Searcher):
    """Progressive NAS (Liu et al. 2018): grow cells one block at a time, keep the top K.

    On a cell space (:class:`~sknas.space.cell.CellSpace`, alone or as the
    architecture of a :class:`~sknas.space.joint.JointSpace`) a *block* is
    one intermediate node of the cell, ``(in0, op0, in1, op1, combine)``.
    The search proceeds in stages:

    1. Stage 1: ``beam_size`` cells of one block are proposed (drawn at
       random among all one-block cells, or ranked by the surrogate when
       told results, e.g. the runner's portfolio, already allow fitting one).
    2. Stage ``b + 1``: the ``beam_size`` best cells of stage ``b`` (by
       measured score; untold ones after the told ones) are expanded by every
       possible next block; a surrogate trained on every result so far
       (``space.encode(genotype) -> score``) ranks the expansions and the
       ``beam_size`` best are proposed.
    3. After the last stage (``b == n_nodes``) the search goes on ranking the
       single-block changes of the ``beam_size`` best full cells told so far
       (an extension: the paper stops at ``B`` blocks, an ask/tell searcher
       must keep proposing while budget remains).

    **Cells of fewer blocks than the space's ``n_nodes``.** Every candidate
    is a valid genotype of the space the searcher was set up with, so a cell
    of ``b < n_nodes`` blocks is written with the convention that each node
    ``k >= b`` repeats its predecessor: ``in0 = in1 = k + 1`` (node ``k - 1``),
    ``op0 = op1 = "skip_connect"`` (the space's first operation when
    ``skip_connect`` is not allowed) and ``combine = "sum"`` (when
    searched and allowed). Such padding nodes add no parameters with
    ``skip_connect``; the cell's output then holds scaled copies of its last
    real node, which the next cell's input projection reads like any feature.

    **Normal and reduction cells.** For images, as in the paper, both cell
    types share one structure: a block is written into the ``normal_*`` and
    the ``reduce_*`` parameters alike.

    **The other decisions** (``n_cells``, ``width``, and in a joint space the
    training and preprocessing decisions: the *context*) are not grown. The
    first stage takes the context of the best genotype told so far (e.g. the
    portfolio's), or of a random sample when none is; a child inherits its
    parent's context, mutated (one decision changed) with probability
    ``context_mutation``.

    **Any other space** has no blocks to add; the search then degrades to a
    surrogate-ranked beam search: each round mutates the ``beam_size`` best
    genotypes told so far ``n_mutations`` times each (``space.mutate``),
    adds as many random samples, and proposes the ``beam_size`` of them the
    surrogate ranks best (random samples in the first round).

    Parameters
    ----------
    beam_size : int, default=8
        K of the paper: cells trained per stage and parents expanded.
    predictor : {"forest", "knn"}, default="forest"
        The surrogate (:class:`~sknas.evaluation.predictor.SurrogatePredictor`).
    min_results : int, default=3
        Successful results needed before the surrogate ranks; before that,
        expansions are ranked at random.
    max_pool : int, default=3000
        At most this many expansions are scored per stage (a uniform random
        subset of them when there are more).
    context_mutation : float, default=0.2
        Probability that a child's context is a mutation of its parent's.
    n_mutations : int, default=16
        Mutants per parent on a space without cells.

    Attributes
    ----------
    stage_ : int
        The number of blocks of the cells proposed last (0 before the first
        ask; on a space without cells, the number of rounds started). Each
        candidate's ``meta`` holds its ``pnas_stage`` (and ``pnas_refine``
        after the last stage).
    refining_ : bool
        Whether the last stage is done and single-block changes are ranked.
    cell_mode_ : bool
        Whether the space has a cell to grow.

    Notes
    -----
    Simplified from the paper: the surrogate is a random forest (or k-NN)
    on the space's generic encoding instead of an ensemble of LSTMs or MLPs
    on block sequences, so it generalizes less well from ``b`` to ``b + 1``
    blocks; stage 1 draws ``beam_size`` one-block cells instead of training
    all of them; the two inputs of a block are unordered (the pair is
    canonically sorted, as the paper removes symmetric duplicates); a
    failed trial counts as the lowest score seen; a stage starts when the
    previous stage's proposals are used up, not when all their results are
    in (the searcher is asynchronous); each proposal carries its predicted
    score in ``search_results_["predicted_score"]`` when the surrogate
    ranked it.

    References
    ----------
    Liu, Zoph, Neumann, Shlens, Hua, Li, Fei-Fei, Yuille, Huang, Murphy.
    "Progressive Neural Architecture Search." ECCV 2018.
    """

    _parameter_constraints: dict = {
        "beam_size": [Interval(Integral, 1, None, closed="left")],
        "predictor": [StrOptions(set(_PREDICTORS))],
        "min_results": [Interval(Integral, 2, None, closed="left")],
        "max_pool": [Interval(Integral, 1, None, closed="left")],
        "context_mutation": [Interval(Real, 0, 1, closed="both")],
        "n_mutations": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, beam_size=8, predictor="forest", min_results=3, max_pool=3000, context_mutation=0.2,
                 n_mutations=16):
        self.beam_size = beam_size
        self.predictor = predictor
        self.min_results = min_results
        self.max_pool = max_pool
        self.context_mutation = context_mutation
        self.n_mutations = n_mutations

    # -- setup -----------------------------------------------------------------------
    def _setup(self):
        self._cell = _cell_layout(self.space_)
        self.cell_mode_ = self._cell is not None
        self.stage_ = 0
        self.refining_ = False
        self._queue = deque()  # (genotype, predicted score or None)
        self._members = {}  # stage -> genotypes proposed at that stage, in order
        self._told = {}  # genotype -> score (None: failed), last result wins
        self._order = []  # genotypes in the order first told (for deterministic ties)
        self._proposed = set()
        self._default_context = None
        self._params = self.space_.params
        self._encodings = {}
        self._block_cache = {}

    # -- ask / tell ----------------------------------------------------------------------
    def _ask(self, n):
        out = []
        while len(out) < n:
            if not self._queue:
                self._next_stage()
            if self._queue:
                genotype, predicted = self._queue.popleft()
                if genotype in self._proposed:
                    continue
            else:
                # nothing new to grow (a tiny space, or every expansion seen): draw at random
                genotype, predicted = self._random_new(), None
            self._proposed.add(genotype)
            self._members.setdefault(self.stage_, []).append(genotype)
            meta = (("pnas_stage", self.stage_),) + ((("pnas_refine", True),) if self.refining_ else ())
            if predicted is not None:
                meta += (("predicted_score", float(predicted)),)
            out.append(Candidate(genotype, meta=meta))
        return out

    def _tell(self, candidate, result):
        genotype = candidate.genotype
        self._proposed.add(genotype)
        if genotype not in self._told:
            self._order.append(genotype)
        self._told[genotype] = result_score(result)

    # -- stages --------------------------------------------------------------------------
    def _next_stage(self):
        # The pool holds plain (blocks, context) recipes; only the subset that is scored
        # becomes genotypes, and only the proposals are validated (``space.params`` is not free).
        if self._cell is None:
            pool = self._mutation_round()
            self.stage_ += 1
        elif self.stage_ == 0:
            context = self._incumbent_context()
            pool = [((block,), context) for block in self._blocks(0)]
            self.stage_ = 1
        elif self.stage_ < self._cell["n_nodes"]:
            b = self.stage_
            pool = []
            for parent in self._ranked(self._members.get(b, []))[: self.beam_size]:
                blocks = tuple(self._read_blocks(parent, b))
                context = self._child_context(parent)
                pool += [(blocks + (block,), context) for block in self._blocks(b)]
            self.stage_ = b + 1
        else:
            pool = self._refinements()
            self.refining_ = True
        if len(pool) > self.max_pool:
            keep = np.sort(self.rng_.choice(len(pool), size=self.max_pool, replace=False))
            pool = [pool[i] for i in keep]
        if self._cell is not None:
            pool = [self._genotype(blocks, context) for blocks, context in pool]
        pool = [g for g in dict.fromkeys(pool) if g not in self._proposed]
        for genotype, predicted in self._rank(pool)[: self.beam_size]:
            self._queue.append((self.space_.validate(genotype), predicted))

    def _ranked(self, genotypes):
        """Told genotypes by measured score (failed last), then the untold ones in proposal order."""
        told = [g for g in genotypes if g in self._told]
        untold = [g for g in genotypes if g not in self._told]
        told.sort(key=lambda g: -math.inf if self._told[g] is None else -self._told[g])
        return told + untold

    def _best_told(self, k):
        successes = [g for g in self._order if self._told[g] is not None]
        successes.sort(key=lambda g: -self._told[g])
        return successes[:k]

    def _rank(self, pool):
        """``(genotype, predicted score)`` pairs, best first; random order (``None``) without a surrogate."""
        if not pool:
            return []
        model = self._surrogate()
        if model is None:
            order = self.rng_.permutation(len(pool))
            return [(pool[i], None) for i in order]
        predicted = model.predict(np.array([self._encode(g) for g in pool]))
        order = np.argsort(-predicted, kind="stable")
        return [(pool[i], float(predicted[i])) for i in order]

    def _surrogate(self):
        from ..evaluation.predictor import SurrogatePredictor

        scores = [self._told[g] for g in self._order]
        successes = [s for s in scores if s is not None]
        if len(successes) < self.min_results:
            return None
        floor = min(successes)
        X = np.array([self._encode(g) for g in self._order])
        y = np.array([floor if s is None else s for s in scores])
        return SurrogatePredictor(self.predictor, random_state=int(self.rng_.integers(2**31 - 1))).fit(X, y)

    def _encode(self, genotype):
        """``space.encode(genotype)``, with the parameters' pieces cached (this runs on every expansion)."""
        parts = []
        for p in self._params:
            key = (p.name, type(genotype[p.name]).__name__, genotype[p.name]) if p.name in genotype else (p.name, None)
            part = self._encodings.get(key)
            if part is None:
                part = p.encode(genotype[p.name]) if p.name in genotype else p.encode_inactive()
                if isinstance(p, Categorical) or p.name not in genotype:
                    self._encodings[key] = part
            parts.append(part)
        return np.concatenate(parts) if parts else np.zeros(0)

    def _random_new(self):
        return draw_new(self.space_, self.rng_, self._proposed, _MAX_REDRAWS)

    # -- any space: a surrogate-ranked beam of mutations ------------------------------------
    def _mutation_round(self):
        parents = self._best_told(self.beam_size)
        if not parents:
            return [self.space_.sample(self.rng_) for _ in range(self.beam_size)]
        mutants = [self.space_.mutate(parent, self.rng_) for parent in parents for _ in range(self.n_mutations)]
        # as many random samples, so that the beam can leave the region of its first parents
        return mutants + [self.space_.sample(self.rng_) for _ in range(len(mutants))]

    # -- cell spaces ------------------------------------------------------------------------
    def _blocks(self, node):
        """Every block node ``node`` may be: unordered pairs of (input, op), times the combines."""
        cached = self._block_cache.get(node)
        if cached is not None:
            return cached
        c = self._cell
        pairs = [(i, op) for i in c["inputs"][node] for op in c["ops"]]
        out = []
        for a, b in itertools.combinations_with_replacement(range(len(pairs)), 2):
            for comb in c["combines"]:
                out.append(pairs[a] + pairs[b] + (comb,))
        self._block_cache[node] = out
        return out

    def _padding(self, node):
        c = self._cell
        return (node + 1, c["identity"], node + 1, c["identity"], c["pad_combine"])

    def _genotype(self, blocks, context):
        """The genotype of a cell of ``len(blocks)`` blocks (padded, see the class doc) in ``context``.

        Not validated here (the caller validates what it proposes): every value comes from its
        parameter's choices and the context from a valid genotype.
        """
        c = self._cell
        values = dict(context)
        for cell in c["cells"]:
            for k in range(c["n_nodes"]):
                in0, op0, in1, op1, comb = blocks[k] if k < len(blocks) else self._padding(k)
                values.update({c["names"][cell, k, "in0"]: in0, c["names"][cell, k, "op0"]: op0,
                               c["names"][cell, k, "in1"]: in1, c["names"][cell, k, "op1"]: op1})
                if c["combines"] != (None,):
                    values[c["names"][cell, k, "combine"]] = comb
        return Genotype(values)

    def _read_blocks(self, genotype, n_blocks):
        c = self._cell
        cell = c["cells"][0]
        blocks = []
        for k in range(n_blocks):
            comb = genotype.get(c["names"][cell, k, "combine"]) if c["combines"] != (None,) else None
            blocks.append((genotype[c["names"][cell, k, "in0"]], genotype[c["names"][cell, k, "op0"]],
                           genotype[c["names"][cell, k, "in1"]], genotype[c["names"][cell, k, "op1"]], comb))
        return blocks

    def _context(self, genotype):
        return {k: v for k, v in genotype.items() if k not in self._cell["node_names"]}

    def _incumbent_context(self):
        best = self._best_told(1)
        if best:
            return self._context(best[0])
        if self._order:
            return self._context(self._order[0])
        if self._default_context is None:
            self._default_context = self._context(self.space_.sample(self.rng_))
        return self._default_context

    def _child_context(self, parent):
        context = self._context(parent)
        if self.context_mutation > 0 and float(self.rng_.random()) < self.context_mutation:
            names = [k for k in context]
            if names:
                name = names[int(self.rng_.integers(len(names)))]
                param = self._cell["params"][name]
                changed = dict(parent)
                changed[name] = param.mutate(parent[name], self.rng_)
                # crossover of a genotype with itself repairs it: newly active decisions are drawn
                repaired = self.space_.crossover(changed, changed, self.rng_)
                context = self._context(repaired)
        return context

    def _refinements(self):
        """Single-block changes of the best full cells told so far, as (blocks, context) recipes."""
        n_nodes = self._cell["n_nodes"]
        parents = self._best_told(self.beam_size) or self._ranked(self._members.get(n_nodes, []))[: self.beam_size]
        pool = []
        for parent in parents:
            blocks = tuple(self._read_blocks(parent, n_nodes))
            context = self._child_context(parent)
            for k in range(n_nodes):
                pool += [(blocks[:k] + (block,) + blocks[k + 1:], context)
                         for block in self._blocks(k) if block != _canonical(blocks[k])]
        return pool


def _canonical(block):
    in0, op0, in1, op1, comb = block
    return (in0, op0, in1, op1, comb) if (in0, str(op0)) <= (in1, str(op1)) else (in1, op1, in0, op0, comb)


def _cell_layout(space):
    """How to read and write the cell of ``space``, or ``None`` when it has no CellSpace cell."""
    from ..space.cell import CellSpace

    cell_space = space if isinstance(space, CellSpace) else getattr(space, "arch", None)
    if not isinstance(cell_space, CellSpace):
        return None
    params = {p.name: p for p in space.params}
    try:
        cells = tuple(cell_space.cell_types())
        n_nodes = int(cell_space.n_nodes)
    except (TypeError, ValueError):
        return None
    # plain data only (names, choices), so that the searcher pickles for checkpoints
    names = {(cell, k, field): cell_space.node_param(cell, k, field)
             for cell in cells for k in range(n_nodes) for field in ("in0", "op0", "in1", "op1", "combine")}
    for (cell, k, field), param_name in names.items():
        if field != "combine" and (param_name not in params or params[param_name].when):
            return None
    node_names = {n for n in names.values() if n in params}
    ops = tuple(params[names[cells[0], 0, "op0"]].choices)
    combine_param = params.get(names[cells[0], 0, "combine"])
    combines = tuple(combine_param.choices) if combine_param is not None else (None,)
    inputs = {k: tuple(params[names[cells[0], k, "in0"]].choices) for k in range(n_nodes)}
    return {
        "cells": cells, "n_nodes": n_nodes, "names": names, "ops": ops, "combines": combines, "inputs": inputs,
        "identity": "skip_connect" if "skip_connect" in ops else ops[0],
        "pad_combine": None if combines == (None,) else ("sum" if "sum" in combines else combines[0]),
        "node_names": frozenset(node_names), "params": params,
    }
