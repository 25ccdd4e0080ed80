"""P-DARTS's stages (deeper supernets, fewer operations, skip dropout, the skip cap) and DARTS+'s early stop."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import get_scorer

from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.search.base import make_searcher
from sknas.search.oneshot.darts import DARTSSearch, count_skips
from sknas.search.oneshot.pdarts import PDARTSSearch
from sknas.space.cell import CellSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace


def problem(n=240, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, random_state=seed)
    k = int(0.8 * n)
    return TrialData(X[:k], y[:k], X[k:], y[k:])


def run_search(searcher, arch):
    """What the runner does before evaluating: setup, set_data, one ask; returns (space, candidate, records)."""
    space = JointSpace(arch, TrainingSpace())
    evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=2, classes=np.array([0, 1]),
                          preprocessing="none")
    searcher.setup(space, 0)
    searcher.set_data([problem()], evaluator)
    (candidate,) = searcher.ask(1)
    return space, candidate, searcher.pop_records()


def cell_arch(operations=None, n_cells=3):
    return CellSpace(n_nodes=2, n_cells=n_cells, width=8, operations=operations)


class SkipLoving:
    """Pushes every skip logit up after each architecture step: a supernet that has collapsed onto skips."""

    def _arch_step(self, supernet, *args):
        loss = super()._arch_step(supernet, *args)
        skip = supernet.op_names.index("skip_connect")
        with torch.no_grad():
            for logits in supernet.arch_parameters():
                logits[:, skip] += 1.0
        return loss


class SkipLovingDARTS(SkipLoving, DARTSSearch):
    pass


class SkipLovingPDARTS(SkipLoving, PDARTSSearch):
    pass


def test_registered_and_every_stage_a_deeper_supernet_with_the_strongest_operations_of_the_last():
    assert isinstance(make_searcher("pdarts"), PDARTSSearch)
    arch = cell_arch()  # 7 operations + "none" = 8 per edge
    searcher = PDARTSSearch(epochs=3)
    space, candidate, records = run_search(searcher, arch)
    assert records[0][1].status == "ok"
    stages = searcher.stages_
    assert [s["n_cells"] for s in stages] == [1, 2, 3]  # up to the genotype's depth
    assert [sorted({len(c) for c in s["candidates"].values()}) for s in stages] == [[8], [5], [3]]
    assert [s["skip_dropout"] for s in stages] == pytest.approx([0.0, 0.35, 0.7])
    for before, after in zip(stages, stages[1:]):
        for (kind, row), kept in after["candidates"].items():
            logits = before["alphas"][kind][row]
            ops = list(before["candidates"][(kind, row)])
            ranked = sorted(ops, key=lambda op: -logits[searcher_op_index(arch, op)])
            assert set(kept) == set(ranked[:len(kept)]), (kind, row)
    # the pruned operations left the supernet: its last stage is smaller than DARTS's supernet at that depth
    full = arch.supernet(6, 2, base=space.arch_genotype(searcher.base_))
    assert stages[-1]["n_params"] < sum(p.numel() for p in full.weight_parameters())
    # the derived genotype only uses operations the last stage kept
    last = stages[-1]["candidates"]
    for k, (in0, op0, in1, op1, _) in enumerate(arch.cell_nodes(space.arch_genotype(candidate.genotype))):
        for source, op in ((in0, op0), (in1, op1)):
            assert op in last[("normal", k * (k + 3) // 2 + source)]


def searcher_op_index(arch, op):
    ops = arch._settings()["ops"]
    return (ops + ("none",)).index(op)


def test_the_derived_cell_keeps_at_most_max_skips_when_the_supernet_collapses_onto_skips():
    arch = cell_arch(("skip_connect", "linear", "relu"), n_cells=2)
    searcher = SkipLovingPDARTS(epochs=2, keep=(0.5,), max_skips=1)
    space, candidate, _ = run_search(searcher, arch)
    uncapped = arch.derive(searcher.alphas_, base=space.arch_genotype(searcher.base_))
    assert count_skips(arch, uncapped) == 4  # every edge of the two nodes
    genotype = space.arch_genotype(candidate.genotype)
    assert count_skips(arch, genotype) == 1
    ops = [op for _, op0, _, op1, _ in arch.cell_nodes(genotype) for op in (op0, op1)]
    assert set(ops) - {"skip_connect"} <= {"linear", "relu"}


@pytest.mark.parametrize("cls", [SkipLovingDARTS, SkipLovingPDARTS], ids=["darts", "pdarts"])
def test_darts_plus_ends_the_search_once_the_cell_holds_two_skips(cls):
    arch = cell_arch(("skip_connect", "linear"), n_cells=1)
    kwargs = {"keep": ()} if cls is SkipLovingPDARTS else {}
    searcher = cls(epochs=4, early_stop_skips=2, max_skips=0, **kwargs)
    _, candidate, records = run_search(searcher, arch)
    (_, row, _), = records
    assert searcher.stopped_early_ and row.stop_reason == "early_stopping" and row.n_epochs == 1
    # the criterion counts the skips before the cap: the derived cell itself has none
    assert count_skips(arch, JointSpace(arch, TrainingSpace()).arch_genotype(candidate.genotype)) == 0
    plain = cls(epochs=4, max_skips=0, **kwargs)
    _, _, records = run_search(plain, arch)
    assert not plain.stopped_early_ and records[0][1].n_epochs == 4


def test_darts_plus_in_pdarts_ends_each_stage_and_the_next_begins():
    searcher = SkipLovingPDARTS(epochs=6, keep=(0.5,), early_stop_skips=2)
    run_search(searcher, cell_arch(("skip_connect", "linear", "relu"), n_cells=2))
    assert [(s["n_epochs"], s["stop_reason"]) for s in searcher.stages_] == [(1, "early_stopping")] * 2


def test_on_the_mlp_space_the_stages_prune_every_decision_at_the_same_depth():
    arch = MLPSpace(max_blocks=3, activations=("relu", "gelu", "silu", "selu"))
    searcher = PDARTSSearch(epochs=3, max_skips=0, supernet_options={"mix_depth": False})
    space, candidate, records = run_search(searcher, arch)
    assert records[0][1].status == "ok"
    stages = searcher.stages_
    assert [s["n_cells"] for s in stages] == [None] * 3
    assert [len(s["candidates"]["act_0"]) for s in stages] == [4, 3, 2]
    assert len({s["n_params"] for s in stages}) == 1
    genotype = space.arch_genotype(candidate.genotype)
    assert genotype["act_0"] in stages[-1]["candidates"]["act_0"]
    assert count_skips(arch, genotype) == 0


@pytest.mark.parametrize("keep", [(0.5, 0.8), (0.0,), (1.5,)])
def test_keep_must_be_non_increasing_shares(keep):
    with pytest.raises(ValueError, match="'keep' parameter of PDARTSSearch"):
        PDARTSSearch(keep=keep).setup(JointSpace(cell_arch(), TrainingSpace()), 0)
