"""Progressive NAS: cells grown block by block, expansions ranked by a surrogate.

The common optimizer suite (tests/search/test_optimizers.py) runs it too;
here, what PNAS is for.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from sknas import AutoNASClassifier
from sknas.search.base import make_searcher
from sknas.search.pnas import PNASSearch
from sknas.search.random import RandomSearch
from sknas.space.cell import CellSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace, ResNetSpace
from sknas.space.training import TrainingSpace


@dataclass
class Result:
    status: str = "ok"
    score: float | None = None


def blocks(space, g, cell="normal"):
    return [tuple(g[space.node_param(cell, k, f)] for f in ("in0", "op0", "in1", "op1"))
            for k in range(space.n_nodes)]


def is_padding(space, g, k, cell="normal"):
    return blocks(space, g, cell)[k] == (k + 1, "skip_connect", k + 1, "skip_connect") and \
        g.get(space.node_param(cell, k, "combine"), "sum") == "sum"


def cell_score(space, g):
    """Linear operations are good, more so in later nodes; concatenation helps a little."""
    score = 0.0
    for k, (_, op0, _, op1) in enumerate(blocks(space, g)):
        score += (1 + 0.5 * k) * ((op0 == "linear") + (op1 == "linear"))
        score += 0.3 * (g.get(space.node_param("normal", k, "combine")) == "concat")
    return score


def test_cells_grow_one_block_per_stage_with_the_padding_convention():
    space = CellSpace(n_nodes=3)
    searcher = PNASSearch(beam_size=4).setup(space, 0)
    assert searcher.cell_mode_
    by_stage = {}
    for _ in range(16):
        c = searcher.ask(1)[0]
        assert space.validate(c.genotype) == c.genotype
        meta = dict(c.meta)
        stage = "refine" if meta.get("pnas_refine") else meta["pnas_stage"]
        by_stage.setdefault(stage, []).append(c.genotype)
        searcher.tell(c, Result(score=cell_score(space, c.genotype)))
    assert list(by_stage) == [1, 2, 3, "refine"] and searcher.refining_
    assert [len(by_stage[b]) for b in (1, 2, 3)] == [4, 4, 4]
    for b in (1, 2):
        for g in by_stage[b]:
            assert not is_padding(space, g, b - 1) or b == 1
            assert all(is_padding(space, g, k) for k in range(b, 3))
        # every cell of the next stage extends a cell of this stage by one block
        parents = {tuple(blocks(space, g)[:b]) for g in by_stage[b]}
        assert all(tuple(blocks(space, g)[:b]) in parents for g in by_stage[b + 1])
    # a block's two inputs are an unordered pair: written in canonical order
    for g in by_stage[1]:
        in0, op0, in1, op1 = blocks(space, g)[0]
        assert (in0, op0) <= (in1, op1)


def test_normal_and_reduction_cells_share_the_structure_on_images():
    space = CellSpace(input_shape=(1, 8, 8), n_nodes=2)
    searcher = PNASSearch(beam_size=3).setup(space, 1)
    for _ in range(7):
        c = searcher.ask(1)[0]
        assert blocks(space, c.genotype, "normal") == blocks(space, c.genotype, "reduce")
        searcher.tell(c, Result(score=float(np.random.default_rng(0).random())))


def test_padding_without_skip_connect_or_searched_combine():
    space = CellSpace(n_nodes=2, operations=("linear", "relu"), combine=("concat",))
    searcher = PNASSearch(beam_size=2).setup(space, 0)
    g = searcher.ask(1)[0].genotype
    assert space.validate(g) == g
    assert blocks(space, g)[1] == (2, "linear", 2, "linear")  # the first operation stands in for a skip


def test_context_comes_from_the_best_told_genotype_in_a_joint_space():
    space = JointSpace(CellSpace(n_nodes=2), TrainingSpace())
    searcher = PNASSearch(beam_size=3, context_mutation=0.0).setup(space, 0)
    portfolio = space.portfolio()
    searcher.tell(make_candidate(portfolio[0]), Result(score=1.0))
    searcher.tell(make_candidate(portfolio[1]), Result(score=2.0))
    for c in searcher.ask(3):
        assert c.genotype["lr"] == portfolio[1]["lr"] and c.genotype["width"] == portfolio[1]["width"]


def make_candidate(g):
    from sknas.search.base import Candidate

    return Candidate(g)


def test_the_surrogate_makes_pnas_beat_random_search_on_cells():
    space = CellSpace(n_nodes=3, n_cells=2, width=32)
    gains = []
    for seed in range(3):
        best = {}
        for searcher in (PNASSearch(beam_size=4), RandomSearch()):
            searcher.setup(space, seed)
            scores = []
            for _ in range(30):
                c = searcher.ask(1)[0]
                scores.append(cell_score(space, c.genotype))
                searcher.tell(c, Result(score=scores[-1]))
            best[type(searcher).__name__] = max(scores)
        gains.append(best["PNASSearch"] - best["RandomSearch"])
    assert np.mean(gains) > 0.5


def test_says_it_falls_back_to_a_mutation_beam_where_nothing_grows(caplog):
    # the resnet space has a depth, but its blocks share one set of decisions: no block to add
    space = ResNetSpace(max_blocks=3)
    with caplog.at_level(logging.INFO, logger="sknas.search.pnas"):
        searcher = PNASSearch(beam_size=3, n_mutations=4).setup(space, 0)
    assert searcher.mode_ == "mutation_beam" and not searcher.cell_mode_
    assert "mutation beam" in caplog.text and "not progressive NAS" in caplog.text
    for _ in range(10):
        c = searcher.ask(1)[0]
        assert space.validate(c.genotype) == c.genotype and dict(c.meta)["pnas_mode"] == "mutation_beam"
        searcher.tell(c, Result(score=float(c.genotype["width"])))
    assert searcher.stage_ >= 3


def test_mlp_spaces_grow_blocks():
    for space in (MLPSpace(max_blocks=2), JointSpace(MLPSpace(), TrainingSpace()), MLPSpace(min_blocks=2)):
        searcher = PNASSearch(beam_size=2, max_pool=200).setup(space, 0)
        assert searcher.mode_ == "blocks"
        first = searcher.ask(2)
        assert all(c.genotype["n_blocks"] == max(space.arch.min_blocks if hasattr(space, "arch") else
                                                  space.min_blocks, 1) for c in first)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="The 'beam_size' parameter of PNASSearch"):
        PNASSearch(beam_size=0).setup(CellSpace(), 0)
    with pytest.raises(ValueError, match="The 'predictor' parameter of PNASSearch must be a str among"):
        PNASSearch(predictor="gp").setup(CellSpace(), 0)
    with pytest.raises(ValueError, match="The 'context_mutation' parameter of PNASSearch"):
        PNASSearch(context_mutation=2.0).setup(CellSpace(), 0)


@pytest.mark.parametrize("space, max_trials", [("cell", 3), ("mlp", 6)])  # mlp: 5 portfolio entries first
def test_end_to_end_through_the_estimator(space, max_trials):
    assert isinstance(make_searcher("pnas"), PNASSearch)
    X, y = load_breast_cancer(return_X_y=True)
    # two folds (validation_fraction=0.5) keep the trials cheap; the searcher proposes after the portfolio
    clf = AutoNASClassifier(space=space, search="pnas", time_budget=None, max_trials=max_trials, max_epochs=3,
                            preprocessing="none", validation_fraction=0.5, random_state=0).fit(X[:200], y[:200])
    assert clf.n_trials_ == max_trials and "searcher" in clf.search_results_["source"]
    assert clf.predict(X[:4]).shape == (4,)
