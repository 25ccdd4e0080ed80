"""Progressive neural architecture search: networks grown block by block, expansions ranked by a surrogate."""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections import deque
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..space.genotype import Genotype
from ..space.params import Categorical, Int
from .base import Candidate, Searcher, draw_new, result_score

__all__ = ["PNASSearch"]

_MAX_REDRAWS = 10
_PREDICTORS = ("forest", "knn")
_MODES = ("cells", "blocks", "mutation_beam")
_LOG = logging.getLogger(__name__)


class PNASSearch(Searcher):
    """Progressive NAS (Liu et al. 2018): grow networks one block at a time, keep the top K.

    PNAS searches from simple to complex: it trains the ``K`` best networks
    of ``b`` blocks, expands each by one more block in every possible way,
    ranks the expansions with a surrogate trained on every network trained
    so far, and trains the ``K`` the surrogate ranks best. What a *block*
    is depends on the space, read from its parameters (:attr:`mode_`):

    - ``"cells"``: on a cell space (:class:`~sknas.space.cell.CellSpace`,
      alone or as the architecture of a :class:`~sknas.space.joint.JointSpace`)
      a block is one intermediate node of the cell, ``(in0, op0, in1, op1,
      combine)``, as in the paper.
    - ``"blocks"``: on a space of stacked blocks with a depth decision
      ``n_blocks`` and per-block decisions ``<field>_<i>`` active exactly
      when ``n_blocks > i`` (:class:`~sknas.space.mlp.MLPSpace`: ``width_i``,
      ``act_i``, ``norm_i``, ``dropout_i``, ``skip_i``; the tabulated
      benchmark's :class:`~sknas.benchmark.tabulated.TabularBenchSpace`),
      a block is one dense block, the tuple of its decisions, and growing
      a network appends a block (``n_blocks`` goes up by one). Numeric
      decisions of a block are discretized into ``n_levels`` levels
      (``Param.levels``), so the expansions of a network are enumerable.
    - ``"mutation_beam"``: any other space (e.g. ``"resnet"``, whose blocks
      share one set of decisions, or the hierarchical space) has no block
      to add. The search is then **not** PNAS but a surrogate-ranked beam
      search over mutations: each round mutates the ``beam_size`` best
      genotypes told so far ``n_mutations`` times each (``space.mutate``),
      adds as many random samples, and proposes the ``beam_size`` of them
      the surrogate ranks best (random samples in the first round). The
      searcher says so in :attr:`mode_`, in each candidate's ``meta``
      (``pnas_mode``) and in a log message (logger ``sknas.search.pnas``,
      level INFO).

    The progressive search proceeds in stages:

    1. Stage 1: ``beam_size`` networks of one block are proposed among all
       one-block networks (drawn at random, or ranked by the surrogate when
       told results, e.g. the runner's portfolio, already allow fitting one).
       In a space whose smallest depth is ``d > 1``, stage ``d`` comes first,
       its networks' blocks drawn at random.
    2. Stage ``b + 1``: the ``beam_size`` best networks of ``b`` blocks (by
       measured score; untold ones after the told ones) are expanded by every
       possible next block (a uniform sample of ``max_pool`` expansions when
       there are more); a surrogate trained on every result so far
       (``space.encode(genotype) -> score``) ranks the expansions and the
       ``beam_size`` best are proposed. In ``"blocks"`` mode the parents are
       every network of ``b`` blocks told or proposed so far (the runner's
       portfolio included); in ``"cells"`` mode those proposed at stage ``b``.
    3. After the last stage (the space's largest depth, or ``n_nodes``) the
       search goes on ranking the single-block changes of the ``beam_size``
       best networks told so far (an extension: the paper stops at ``B``
       blocks, an ask/tell searcher must keep proposing while budget
       remains). In ``"blocks"`` mode, where depth is a decision whose best
       value is not always the largest, a change is also appending a block
       or removing the last one.

    **Cells of fewer blocks than the space's ``n_nodes``.** Every candidate
    is a valid genotype of the space the searcher was set up with, so a cell
    of ``b < n_nodes`` blocks is written with the convention that each node
    ``k >= b`` repeats its predecessor: ``in0 = in1 = k + 1`` (node ``k - 1``),
    ``op0 = op1 = "skip_connect"`` (the space's first operation when
    ``skip_connect`` is not allowed) and ``combine = "sum"`` (when
    searched and allowed). Such padding nodes add no parameters with
    ``skip_connect``; the cell's output then holds scaled copies of its last
    real node, which the next cell's input projection reads like any feature.
    (In ``"blocks"`` mode no padding is needed: ``n_blocks`` is the depth.)

    **Normal and reduction cells.** For images, as in the paper, both cell
    types share one structure: a block is written into the ``normal_*`` and
    the ``reduce_*`` parameters alike.

    **The other decisions** (in a cell space ``n_cells`` and ``width``; in
    a block space the embedding, TabM copies, ``wide``; in a joint space
    the training and preprocessing decisions: the *context*) are not grown.
    The first stage takes the context of the best genotype told so far
    (e.g. the portfolio's), or of a random sample when none is; a child
    inherits its parent's context, mutated (one decision changed) with
    probability ``context_mutation``.

    Parameters
    ----------
    beam_size : int, default=8
        K of the paper: networks trained per stage and parents expanded.
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
        Mutants per parent in ``"mutation_beam"`` mode.
    n_levels : int, default=4
        Levels of each numeric decision of a block in ``"blocks"`` mode
        (e.g. widths 16, 64, 256, 1024 of the mlp space).

    Attributes
    ----------
    mode_ : {"cells", "blocks", "mutation_beam"}
        What the searcher grows (see above); ``"mutation_beam"`` is the
        fallback that is not PNAS.
    cell_mode_ : bool
        Whether ``mode_ == "cells"``.
    stage_ : int
        The number of blocks of the networks proposed last (0 before the
        first ask; in ``"mutation_beam"`` mode, the number of rounds
        started). Each candidate's ``meta`` holds its ``pnas_mode``, its
        ``pnas_stage`` (and ``pnas_refine`` after the last stage).
    refining_ : bool
        Whether the last stage is done and single-block changes are ranked.

    Notes
    -----
    Simplified from the paper: the surrogate is a random forest (or k-NN)
    on the space's generic encoding instead of an ensemble of LSTMs or MLPs
    on block sequences, so it generalizes less well from ``b`` to ``b + 1``
    blocks; stage 1 proposes ``beam_size`` one-block networks instead of
    training all of them; the two inputs of a cell block are unordered (the
    pair is canonically sorted, as the paper removes symmetric duplicates);
    a failed trial counts as the lowest score seen; a stage starts when the
    previous stage's proposals are used up, not when all their results are
    in (the searcher is asynchronous); each proposal carries its predicted
    score in ``search_results_["predicted_score"]`` when the surrogate
    ranked it. In ``"blocks"`` mode the forest also reads, for each decision
    every block has alike (``width``, ``act``...), its mean encoding over the
    blocks: position-free features standing in for the paper's LSTM, which
    reads every block with the same weights. Without them a forest fitted on
    networks of ``b`` blocks scored every expansion of a parent alike, and
    the search did worse than random search on the tabulated benchmark
    (regret 1.57 against 1.13 points after 20 simulated seconds, 30 seeds;
    with them 0.62, 100 seeds, ``benchmarks/results/margins.md``). The
    paper's ``K`` is 256 and its ``B`` 5; the defaults here
    (``K = 8``, the space's depth) fit budgets of tens of trials.

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
        "n_levels": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, beam_size=8, predictor="forest", min_results=3, max_pool=3000, context_mutation=0.2,
                 n_mutations=16, n_levels=4):
        self.beam_size = beam_size
        self.predictor = predictor
        self.min_results = min_results
        self.max_pool = max_pool
        self.context_mutation = context_mutation
        self.n_mutations = n_mutations
        self.n_levels = n_levels

    # -- setup -----------------------------------------------------------------------
    def _setup(self):
        self._cell = _cell_layout(self.space_)
        self._stack = None if self._cell is not None else _block_layout(self.space_, self.n_levels)
        self.mode_ = "cells" if self._cell is not None else "blocks" if self._stack is not None else "mutation_beam"
        self.cell_mode_ = self.mode_ == "cells"
        if self.mode_ == "mutation_beam":
            _LOG.info(
                "PNASSearch: %s has neither a cell nor stacked blocks with a depth decision to grow; "
                "searching by a surrogate-ranked mutation beam instead (not progressive NAS).",
                type(self.space_).__name__,
            )
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
        self._encoded = {}  # genotype -> encoding
        self._slices = None

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
            meta = (("pnas_mode", self.mode_), ("pnas_stage", self.stage_))
            meta += (("pnas_refine", True),) if self.refining_ else ()
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
        if self.mode_ == "mutation_beam":
            pool = self._mutation_round()
            self.stage_ += 1
        elif self.mode_ == "blocks":
            pool = self._stack_stage()
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
        if self.mode_ == "blocks":
            ranked = self._rank_stack(pool)
        else:
            if self.mode_ == "cells":
                pool = [self._genotype(blocks, context) for blocks, context in pool]
            ranked = self._rank([g for g in dict.fromkeys(pool) if g not in self._proposed])
        for genotype, predicted in itertools.islice(ranked, self.beam_size):
            self._queue.append((self._valid(genotype), predicted))

    def _valid(self, genotype):
        """``genotype`` validated; repaired when a context decision's activity depends on the depth.

        (E.g. the mlp space's ``wide`` is active only with blocks: a context taken
        from the linear model lacks it.) A crossover of a genotype with itself keeps
        every valid active value and draws the missing ones.
        """
        try:
            return self.space_.validate(genotype)
        except ValueError:
            if self.mode_ != "blocks":
                raise
            return self.space_.validate(self.space_.crossover(genotype, genotype, self.rng_))

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
        X = np.array([self._features(g) for g in self._order])
        y = np.array([floor if s is None else s for s in scores])
        return SurrogatePredictor(self.predictor, random_state=int(self.rng_.integers(2**31 - 1))).fit(X, y)

    def _features(self, genotype):
        """The surrogate's input: the encoding, and in "blocks" mode the blocks' shared features too."""
        if self.mode_ != "blocks":
            return self._encode(genotype)
        blocks = self._stack_read(genotype) if self._depth(genotype) >= 1 else ()
        return np.concatenate([self._encode(genotype), self._shared_features(blocks)])

    def _encode(self, genotype):
        """``space.encode(genotype)``, with the parameters' pieces cached (this runs on every expansion)."""
        cached = self._encoded.get(genotype)
        if cached is not None:
            return cached
        parts = []
        for p in self._params:
            key = (p.name, type(genotype[p.name]).__name__, genotype[p.name]) if p.name in genotype else (p.name, None)
            part = self._encodings.get(key)
            if part is None:
                part = p.encode(genotype[p.name]) if p.name in genotype else p.encode_inactive()
                if isinstance(p, Categorical) or p.name not in genotype:
                    self._encodings[key] = part
            parts.append(part)
        out = np.concatenate(parts) if parts else np.zeros(0)
        if len(self._encoded) < 50_000:
            self._encoded[genotype] = out
        return out

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

    # -- spaces of stacked blocks (mlp) -------------------------------------------------------
    def _stack_stage(self):
        """The next stage's (blocks, context) recipes in "blocks" mode; advances ``stage_``."""
        s = self._stack
        if self.stage_ == 0:
            depth = s["first"]
            context = self._stack_context(self._incumbent_genotype())
            if depth == 1:
                pool = [((block,), context) for block in self._stack_blocks(0)]
            else:
                # a space without networks of one block: the first depth's networks are drawn at random
                pool = [(tuple(self._random_block(i) for i in range(depth)), context) for _ in range(self.max_pool)]
            self.stage_ = depth
            return pool
        if self.stage_ < s["depths"][-1]:
            b = self.stage_
            pool = []
            for parent in self._ranked(self._at_depth(b))[: self.beam_size]:
                blocks = self._stack_read(parent)
                context = self._stack_child_context(parent)
                pool += [(blocks + (block,), context) for block in self._stack_blocks(b)]
            self.stage_ = b + 1
            return pool
        self.refining_ = True
        return self._stack_refinements()

    def _rank_stack(self, pool):
        """The genotypes of ``pool``'s (blocks, context) recipes, best predicted first, new ones only.

        Expansions are encoded piecewise, as ``space.encode`` would encode their
        genotypes (a context's encoding, the depth's, each block's, all cached),
        and only those taken become genotypes: a stage scores thousands.
        """
        if not pool:
            return iter(())
        model = self._surrogate()
        shuffled = self.rng_.permutation(len(pool))
        if model is None:
            order, predicted = shuffled, None
        else:
            predicted = model.predict(self._encode_recipes(pool))
            order = shuffled[np.argsort(-predicted[shuffled], kind="stable")]  # ties in random order

        def taken():
            seen = set()
            for j in order:
                genotype = self._stack_genotype(*pool[j])
                if genotype in self._proposed or genotype in seen:
                    continue
                seen.add(genotype)
                yield genotype, None if predicted is None else float(predicted[j])

        return taken()

    def _encode_recipes(self, pool):
        s, layout = self._stack, self._stack_slices()
        X = np.empty((len(pool), layout["width"] + self._stack["shared_size"]))
        bases = {}
        for j, (blocks, context) in enumerate(pool):
            base = bases.get(id(context))
            if base is None:
                base = bases[id(context)] = self._encode(Genotype(context))  # block decisions inactive
            X[j, : layout["width"]] = base
            X[j, layout["depth"]] = self._piece(s["depth_name"], len(blocks))
            for i, block in enumerate(blocks):
                key = ("block", i, block)
                piece = self._encodings.get(key)
                if piece is None:
                    piece = np.concatenate([self._piece(n, v) for n, v in zip(s["names"][i], block)])
                    self._encodings[key] = piece
                X[j, layout["blocks"][i]] = piece
            X[j, layout["width"]:] = self._shared_features(blocks)
        return X

    def _shared_features(self, blocks):
        """The mean encoding over the blocks of each decision every block has alike (``width``, ``act``...).

        PNAS's surrogate (an LSTM, or an MLP on embeddings shared by all blocks)
        reads every block with the same weights, so what it learned of a choice in
        block 0 carries over to the block added next. A forest on the per-position
        encoding cannot: trained on networks of ``b`` blocks it scores every
        expansion of a parent alike. These features carry the block contents
        independently of their position (mean over the blocks; zeros for none).
        """
        s = self._stack
        if not s["shared"]:
            return np.zeros(0)
        if not blocks:
            return np.zeros(s["shared_size"])
        total = 0.0
        for i, block in enumerate(blocks):
            key = ("shared", i, block)
            piece = self._encodings.get(key)
            if piece is None:
                piece = np.concatenate([self._piece(names[i], block[positions[i]])
                                        for names, positions in s["shared"]])
                self._encodings[key] = piece
            total = total + piece
        return total / len(blocks)

    def _piece(self, name, value):
        key = (name, type(value).__name__, value)
        piece = self._encodings.get(key)
        if piece is None:
            piece = self._encodings[key] = self._stack["params"][name].encode(value)
        return piece

    def _stack_slices(self):
        """Where the depth and each block's decisions sit in ``space.encode``'s vector."""
        if self._slices is None:
            offsets, start = {}, 0
            for p in self._params:
                offsets[p.name] = np.arange(start, start + p.encoded_size)
                start += p.encoded_size
            s = self._stack
            self._slices = {
                "width": start, "depth": offsets[s["depth_name"]],
                "blocks": [np.concatenate([offsets[n] for n in names]) for names in s["names"]],
            }
        return self._slices

    def _at_depth(self, depth):
        """Every genotype of ``depth`` blocks told or proposed so far, in the order first seen."""
        out = [g for g in self._order if self._depth(g) == depth]
        seen = set(out)
        out += [g for g in self._members.get(depth, []) if g not in seen]
        return out

    def _depth(self, genotype):
        s = self._stack
        value = genotype.get(s["depth_name"])
        return s["depths"][0] if value is None else int(value)

    def _stack_blocks(self, i):
        """The choices of block ``i``: every combination of its decisions' values (or a sample of max_pool)."""
        cached = self._block_cache.get(i)
        if cached is not None:
            return cached
        choices = self._stack["choices"][i]
        if math.prod(len(c) for c in choices) <= self.max_pool:
            out = list(itertools.product(*choices))
        else:
            out = list(dict.fromkeys(self._random_block(i) for _ in range(self.max_pool)))
        self._block_cache[i] = out
        return out

    def _random_block(self, i):
        return tuple(c[int(self.rng_.integers(len(c)))] for c in self._stack["choices"][i])

    def _stack_read(self, genotype):
        names = self._stack["names"]
        return tuple(tuple(genotype[n] for n in names[i]) for i in range(self._depth(genotype)))

    def _stack_context(self, genotype):
        s = self._stack
        return {k: v for k, v in genotype.items() if k not in s["block_names"] and k != s["depth_name"]}

    def _stack_genotype(self, blocks, context):
        """The genotype of ``blocks`` in ``context`` (not validated: the caller validates what it proposes)."""
        s = self._stack
        values = dict(context)
        values[s["depth_name"]] = len(blocks)
        for i, block in enumerate(blocks):
            values.update(zip(s["names"][i], block))
        return Genotype(values)

    def _incumbent_genotype(self):
        best = self._best_told(1)
        if best:
            return best[0]
        if self._order:
            return self._order[0]
        if self._default_context is None:
            self._default_context = self.space_.sample(self.rng_)
        return self._default_context

    def _stack_child_context(self, parent):
        if self.context_mutation > 0 and float(self.rng_.random()) < self.context_mutation:
            s = self._stack
            names = [k for k in parent if k not in s["block_names"] and k != s["depth_name"]]
            if names:
                name = names[int(self.rng_.integers(len(names)))]
                changed = dict(parent)
                changed[name] = s["params"][name].mutate(parent[name], self.rng_)
                parent = self.space_.crossover(changed, changed, self.rng_)  # repairs what the change activates
        return self._stack_context(parent)

    def _stack_refinements(self):
        """Single-block changes of the best networks told so far, and the same with one block more or less."""
        s = self._stack
        parents = self._best_told(self.beam_size) or self._ranked(self._at_depth(s["depths"][-1]))[: self.beam_size]
        pool = []
        for parent in parents:
            blocks = self._stack_read(parent)
            context = self._stack_child_context(parent)
            for k, current in enumerate(blocks):
                pool += [(blocks[:k] + (block,) + blocks[k + 1:], context)
                         for block in self._stack_blocks(k) if block != current]
            if len(blocks) < s["depths"][-1] and len(blocks) + 1 in s["depths"]:
                pool += [(blocks + (block,), context) for block in self._stack_blocks(len(blocks))]
            if len(blocks) - 1 in s["depths"] and len(blocks) - 1 >= 1:
                pool.append((blocks[:-1], context))
        return pool

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


_BLOCK_NAME = re.compile(r"^(?P<field>.+)_(?P<index>\d+)$")


def _block_layout(space, n_levels):
    """How to read and write the stacked blocks of ``space``, or ``None`` when it has none.

    A space of stacked blocks has a depth decision ``n_blocks`` (an Int, or a
    Categorical of ints, unconditional, taking every depth from its smallest to
    its largest) and, for each block ``i`` up to the largest depth, decisions
    named ``<field>_<i>`` that are active exactly when ``n_blocks > i`` and
    condition nothing else (the mlp space, the tabulated benchmark's space).
    """
    params = {p.name: p for p in space.params}
    depth = params.get("n_blocks")
    if depth is None or depth.when:
        return None
    if isinstance(depth, Int):
        depths = tuple(range(int(depth.low), int(depth.high) + 1))
    elif isinstance(depth, Categorical) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in depth.choices
    ):
        depths = tuple(sorted(depth.choices))
    else:
        return None
    if depths != tuple(range(depths[0], depths[-1] + 1)) or depths[-1] < 1:
        return None
    names = [[] for _ in range(depths[-1])]
    for name, p in params.items():
        match = _BLOCK_NAME.match(name)
        if match is None or int(match["index"]) >= depths[-1]:
            continue
        i = int(match["index"])
        deeper = tuple(d for d in depths if d > i)
        if p.when == (("n_blocks", deeper),) or (not p.when and depths[0] > i):
            names[i].append(name)
    if not all(names):
        return None
    block_names = frozenset(n for block in names for n in block)
    for p in params.values():
        # a decision conditioned on a block decision (or a block decision on anything but the depth)
        # would not survive moving blocks around
        if any(parent in block_names for parent in p.parents):
            return None
    choices = [
        tuple(tuple(params[n].choices) if isinstance(params[n], Categorical) else params[n].levels(n_levels)
              for n in block)
        for block in names
    ]
    # decisions every block has, alike (same choices, or same range): their position-free features
    shared = []
    for name in names[0]:
        field = _BLOCK_NAME.match(name)["field"]
        alike = [f"{field}_{i}" for i in range(depths[-1])]
        if all(n in names[i] for i, n in enumerate(alike)) and len({_param_key(params[n]) for n in alike}) == 1:
            shared.append((tuple(alike), tuple(names[i].index(n) for i, n in enumerate(alike))))
    # plain data only (names, choices), so that the searcher pickles for checkpoints
    return {
        "shared": tuple(shared), "shared_size": sum(params[n[0]].encoded_size for n, _ in shared),
        "depth_name": "n_blocks", "depths": depths, "first": max(depths[0], 1),
        "names": tuple(tuple(block) for block in names), "choices": tuple(choices),
        "block_names": block_names, "params": params,
    }


def _param_key(p):
    """What makes two parameters encode alike (their kind and values), their name and condition aside."""
    if isinstance(p, Categorical):
        return ("categorical", tuple(p.choices))
    return (type(p).__name__, p.low, p.high, p.log)
