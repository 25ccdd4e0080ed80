"""DARTS, GDAS, ENAS and network morphism: what each learns, and how they meet the runner."""

import pickle
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import get_scorer

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.evaluation.trainer import Evaluator, torch_threads
from sknas.evaluation.trial import TrialData
from sknas.search.base import make_searcher
from sknas.search.morphism import MorphismSearch
from sknas.search.oneshot.darts import DARTSSearch, count_skips
from sknas.search.oneshot.enas import ENASSearch
from sknas.search.oneshot.gdas import GDASSearch
from sknas.nn.supernet import MixedCell
from sknas.space.cell import CellSpace
from sknas.space.genotype import Genotype
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace, chain_blocks
from sknas.space.training import TrainingSpace


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    with torch_threads(1):
        yield


def softmax(logits):
    values = np.array(list(logits.values()), dtype=float)
    p = np.exp(values - values.max())
    return dict(zip(logits, p / p.sum()))


def run_search(searcher, space, fold, evaluator, seed=0, deadline=None):
    """What the runner does before evaluating: setup, set_data, one ask; returns (candidate, records)."""
    searcher.setup(space, seed)
    searcher.set_data([fold], evaluator, deadline=deadline)
    candidates = searcher.ask(1)
    return candidates, searcher.pop_records()


# -- a problem where one choice is clearly right -------------------------------------------
class Bottleneck(MLPSpace):
    """Two blocks, the first one a single unit: only the skip from the input carries two directions."""

    def portfolio(self):
        return [Genotype({"n_blocks": 2, "width_0": 1, "act_0": "relu", "norm_0": "none", "dropout_0": 0.0,
                          "width_1": 32, "act_1": "relu", "norm_1": "none", "dropout_1": 0.0, "skip_1": "none"})]


def skip_problem(seed=0, n=1500):
    """y = relu(x0) + relu(x1): one unit cannot carry both, so block 1 needs the skip from the input."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.maximum(X[:, 0], 0) + np.maximum(X[:, 1], 0)
    k = int(0.8 * n)
    return TrialData(X[:k], y[:k], X[k:], y[k:])


SKIP_SPACE = JointSpace(Bottleneck(max_blocks=2, min_width=1, max_width=32, activations=("relu",), norms=("none",)),
                        TrainingSpace("regression"))
FIXED_WIDTHS = {"width_factors": (1.0,), "mix_depth": False}


def regression_evaluator(space, max_epochs=5):
    return Evaluator(space, "regression", get_scorer("r2"), max_epochs=max_epochs, preprocessing="none")


@pytest.mark.parametrize("searcher", [
    DARTSSearch(epochs=10, batch_size=32, supernet_options=FIXED_WIDTHS),
    DARTSSearch(order="second", epochs=6, batch_size=32, supernet_options=FIXED_WIDTHS),
    GDASSearch(epochs=10, batch_size=32, supernet_options=FIXED_WIDTHS),
], ids=["darts", "darts-second-order", "gdas"])
def test_architecture_weights_move_to_the_skip_only_it_can_fit(searcher):
    (candidate,), _ = run_search(searcher, SKIP_SPACE, skip_problem(), regression_evaluator(SKIP_SPACE))
    weights = softmax(searcher.alphas_["skip_1"])
    assert weights[0] > 0.6, weights  # from 0.5 at the start
    assert candidate.genotype["skip_1"] == 0 == searcher.derived_["skip_1"]


class CountingOps:
    """Wraps a searcher's ``_train``: counts, per forward pass of the supernet, the calls of each edge's operations."""

    def __init__(self, searcher):
        self.passes = []  # one Counter per forward pass: (cell, edge row) -> operations called
        self.n_ops = None
        train = searcher._train

        def counting_train(supernet, data, epochs, deadline):
            cells = [m for m in supernet.modules() if isinstance(m, MixedCell)]
            self.n_ops = len(cells[0].op_names)
            supernet.register_forward_pre_hook(lambda module, args: self.passes.append(Counter()))
            for c, cell in enumerate(cells):
                for row, ops in enumerate(cell.edges):
                    for op in ops:
                        op.register_forward_hook(lambda module, args, out, key=(c, row): self.passes[-1].update([key]))
            return train(supernet, data, epochs, deadline)

        searcher._train = counting_train


@pytest.mark.parametrize("cls", [GDASSearch, DARTSSearch])
def test_gdas_runs_only_the_sampled_operation_of_each_edge(cls):
    space = cell_space(("linear", "skip_connect", "relu", "glu"))
    searcher = cls(epochs=2)
    counting = CountingOps(searcher)
    run_search(searcher, space, cell_problem(), classification_evaluator(space))
    assert len(counting.passes) == 12  # 2 epochs of 3 weight steps and 3 architecture steps
    calls = [n for counts in counting.passes for n in counts.values()]
    if cls is GDASSearch:
        assert max(calls) == 1  # one operation per edge and forward pass, of the 4 (5 with "none")
    else:  # the contrast: DARTS runs every operation but the zero one
        assert min(calls) == counting.n_ops - 1


def test_enas_controller_learns_to_sample_the_skip():
    searcher = ENASSearch(epochs=10, batch_size=32, supernet_options=FIXED_WIDTHS)
    (candidate,), _ = run_search(searcher, SKIP_SPACE, skip_problem(), regression_evaluator(SKIP_SPACE))
    generator = torch.Generator().manual_seed(0)
    drawn = Counter(searcher._sample(generator)[1]["skip_1"] for _ in range(100))
    assert drawn[0] >= 80, drawn  # from half at the start
    assert candidate.genotype["skip_1"] == 0


def test_enas_rewards_children_in_evaluation_mode():
    # a dropout of 0.5 in the base: in training mode two calls on the same child and rows would differ
    space = MLPSpace(max_blocks=2, max_width=32, activations=("relu",), norms=("batch",))
    base = space.validate(Genotype({"n_blocks": 2, **chain_blocks(2, 32, act="relu", norm="batch", dropout=0.5)}))
    torch.manual_seed(0)
    supernet = space.supernet(6, 2, base=base)
    X = torch.randn(256, 6)
    child = supernet.genotype_of({"n_blocks": 2, "width_0": 16})
    supernet.train()
    supernet.use_genotype(child)
    with torch.no_grad():  # the old behaviour, for contrast: dropout on
        assert not torch.equal(supernet(X), supernet(X))
    norms = [m for m in supernet.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    running = [m.running_mean.clone() for m in norms]
    first, second = ENASSearch._child_outputs(supernet, child, X), ENASSearch._child_outputs(supernet, child, X)
    assert torch.equal(first, second)
    assert supernet.training and all(m.training for m in supernet.modules())  # restored for the weight steps
    assert all(torch.equal(m.running_mean, r) for m, r in zip(norms, running))  # the shared statistics stay
    # the batch norm (after the first linear layer) normalizes with the batch's own statistics: a shift is removed
    assert torch.allclose(ENASSearch._child_outputs(supernet, child, X + 3.0), first, atol=1e-4)


def test_darts_prefers_layer_norm_for_a_scale_free_target():
    # rows x = s * u with scales s over four orders of magnitude; y depends on the direction u only
    rng = np.random.default_rng(0)
    u = rng.normal(size=(1200, 4))
    X = np.exp(rng.uniform(np.log(0.05), np.log(20), size=(1200, 1))) * u
    y = u[:, 0] / np.linalg.norm(u, axis=1)
    fold = TrialData(X[:960], y[:960], X[960:], y[960:])
    space = JointSpace(MLPSpace(max_blocks=1, max_width=64, activations=("relu",)), TrainingSpace("regression"))
    searcher = DARTSSearch(epochs=10, batch_size=32)
    (candidate,), _ = run_search(searcher, space, fold, regression_evaluator(space))
    weights = softmax(searcher.alphas_["norm_0"])
    assert max(weights, key=weights.get) == "layer" == candidate.genotype["norm_0"], weights


# -- the survey's fixes of DARTS ----------------------------------------------------------------
def cell_problem(n=400, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, random_state=seed)
    k = int(0.8 * n)
    return TrialData(X[:k], y[:k], X[k:], y[k:])


def classification_evaluator(space, max_epochs=3):
    return Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=max_epochs,
                     classes=np.array([0, 1]), preprocessing="none")


def cell_space(operations):
    return JointSpace(CellSpace(n_nodes=2, n_cells=1, width=8, operations=operations), TrainingSpace())


def test_darts_plus_stops_when_the_normal_cell_has_two_skips():
    space = cell_space(("skip_connect",))
    searcher = DARTSSearch(epochs=5, early_stop_skips=2)
    (candidate,), records = run_search(searcher, space, cell_problem(), classification_evaluator(space))
    (_, row, source), = records
    assert searcher.stopped_early_ and source == "supernet"
    assert row.stop_reason == "early_stopping" and row.n_epochs == 1
    assert count_skips(space.arch, space.arch_genotype(candidate.genotype)) >= 2


def test_pdarts_cap_and_skip_dropout_leave_no_skip_beyond_the_cap():
    space = cell_space(("skip_connect", "linear"))
    searcher = DARTSSearch(epochs=2, max_skips=0, skip_dropout=0.5)
    (candidate,), records = run_search(searcher, space, cell_problem(), classification_evaluator(space))
    assert count_skips(space.arch, space.arch_genotype(candidate.genotype)) == 0
    assert records[0][1].status == "ok"


# -- the protocol with the runner -----------------------------------------------------------------
def test_supernet_row_then_derived_candidate_then_samples_of_the_learned_distribution():
    space = cell_space(("linear", "skip_connect", "relu"))
    searcher = DARTSSearch(epochs=2)
    (candidate,), records = run_search(searcher, space, cell_problem(), classification_evaluator(space))
    (row_candidate, row, source), = records
    assert source == "supernet" and row.status == "ok" and 0 <= row.score <= 1
    assert row_candidate.genotype == candidate.genotype == searcher.derived_
    assert row_candidate.data_fraction == 0.5 and row_candidate.epochs == 2 == row.n_epochs
    assert row.n_params > 0 and len(row.learning_curve) == 2 and row.model is not None
    assert row.model.predict(cell_problem().X_valid).shape == (80,)
    # everything but the architecture is the base genotype's
    assert space.training_genotype(candidate.genotype) == space.training_genotype(space.portfolio()[0])
    later = searcher.ask(5)
    genotypes = [c.genotype for c in later]
    assert len(set(genotypes)) == 5 and candidate.genotype not in genotypes
    assert all(space.validate(g) == g for g in genotypes)
    assert searcher.pop_records() == []


def test_one_stage_fine_tunes_the_inherited_network_as_its_own_row():
    space = cell_space(("linear", "skip_connect"))
    searcher = DARTSSearch(epochs=2, one_stage=True)
    candidates, records = run_search(searcher, space, cell_problem(), classification_evaluator(space))
    assert [source for _, _, source in records] == ["supernet", "one_stage"]
    tuned_candidate, tuned, _ = records[1]
    assert tuned_candidate.genotype == searcher.derived_ and tuned_candidate.epochs is None
    assert tuned.status == "ok" and tuned.n_epochs >= 1 and tuned.model is not None
    assert candidates and candidates[0].genotype != searcher.derived_  # the next proposal


def test_the_supernet_respects_its_share_of_the_deadline():
    space = cell_space(("linear", "glu", "skip_connect"))
    searcher = DARTSSearch(epochs=10_000, time_share=0.5)
    start = time.time()
    _, records = run_search(searcher, space, cell_problem(n=1000), classification_evaluator(space),
                            deadline=start + 2.0)
    assert records[0][1].stop_reason == "time_limit"
    assert time.time() - start < 10.0  # one step past the 1 s share, then the child is scored


def test_a_failing_supernet_is_a_failed_row_and_the_search_goes_on():
    space = cell_space(("linear",))
    searcher = DARTSSearch(epochs=1, supernet_options={"no_such_option": 1})
    candidates, records = run_search(searcher, space, cell_problem(), classification_evaluator(space))
    (_, row, source), = records
    assert source == "supernet" and row.status == "failed" and "no_such_option" in row.error
    assert len(candidates) == 1 and space.validate(candidates[0].genotype) == candidates[0].genotype


def test_a_failing_derived_network_is_recorded_as_a_failing_trial_is():
    space = cell_space(("linear", "skip_connect"))
    evaluator = Evaluator(space, "classification", lambda est, X, y: float("nan"), max_epochs=3,
                          classes=np.array([0, 1]), preprocessing="none")
    searcher = DARTSSearch(epochs=1)
    candidates, records = run_search(searcher, space, cell_problem(), evaluator)
    (candidate, row, source), = records
    # the evaluator scored the derived network: its failure reads as a failing trial's (no traceback)
    assert source == "supernet" and row.status == "failed" and row.score is None
    assert row.error == "NonFiniteLossError: validation score is nan" and row.fit_time > 0
    assert candidate.genotype == searcher.base_ and searcher.derived_ is None
    assert len(candidates) == 1  # the search goes on


def test_the_base_classes_keep_their_old_import_and_checkpoint_paths():
    from sknas.checkpoint import _resolve_class
    from sknas.io import _resolve_sknas_class
    from sknas.search import oneshot
    from sknas.search.oneshot import base

    for name in oneshot.__all__:
        assert getattr(oneshot, name) is getattr(base, name)
    assert base.OneShotSearcher.__module__ == "sknas.search.oneshot.base"
    assert issubclass(DARTSSearch, oneshot.OneShotSearcher) and issubclass(MorphismSearch, oneshot.DataSearcher)
    # a checkpoint or model file naming a class at its old place still rebuilds it
    for old in ("sknas.search.oneshot:OneShotSearcher", "sknas.search.oneshot:DataSearcher"):
        new = old.replace("oneshot:", "oneshot.base:")
        assert _resolve_class(old) is _resolve_class(new) is _resolve_sknas_class(old)


def test_without_data_or_with_a_space_without_supernet_the_error_says_why():
    space = cell_space(("linear",))
    with pytest.raises(RuntimeError, match="set_data"):
        DARTSSearch().setup(space, 0).ask(1)
    with pytest.raises(ValueError, match="supernet"):
        GDASSearch().setup(JointSpace(__import__("sknas.space.mlp", fromlist=["x"]).ResNetSpace(),
                                      TrainingSpace()), 0)
    with pytest.raises(ValueError, match="mlp space"):
        MorphismSearch().setup(space, 0)
    with pytest.raises(ValueError, match="The 'order' parameter of DARTSSearch must be a str among"):
        DARTSSearch(order="third").setup(space, 0)
    with pytest.raises(ValueError, match="The 'tau_min' parameter of GDASSearch must be at most tau_max=10.0"):
        GDASSearch(tau_min=20.0).setup(space, 0)


def test_the_searcher_pickles_without_its_data_and_continues_identically():
    space = cell_space(("linear", "skip_connect", "relu"))
    searcher = ENASSearch(epochs=1, controller_steps=2)
    run_search(searcher, space, cell_problem(), classification_evaluator(space))
    text = pickle.dumps(searcher)
    twin = pickle.loads(text)
    assert twin._data is None and twin._evaluator is None and len(text) < 200_000
    assert [c.genotype for c in searcher.ask(3)] == [c.genotype for c in twin.ask(3)]


def test_registered_names_resolve():
    for name, cls in (("darts", DARTSSearch), ("gdas", GDASSearch), ("enas", ENASSearch),
                      ("morphism", MorphismSearch)):
        searcher = make_searcher(name)
        assert type(searcher) is cls and searcher.needs_data
        assert all(v is None or isinstance(v, (str, int, float, bool, tuple))
                   for v in searcher.get_params().values())


# -- network morphism ------------------------------------------------------------------------------
def test_morphism_children_inherit_their_parents_weights():
    space = JointSpace(MLPSpace(max_blocks=3, max_width=64), TrainingSpace())
    searcher = MorphismSearch(n_steps=2, n_neighbours=2, child_epochs=2, initial_epochs=4)
    fold = cell_problem(n=600)
    (candidate,), records = run_search(searcher, space, fold, classification_evaluator(space, max_epochs=10))
    assert len(records) == 1 + 2 * 2 and all(source == "morphism" for _, _, source in records)
    (start, first, _), children = records[0], records[1:]
    assert start.genotype.get("n_blocks", 1) == 1 and start.epochs == 4
    assert all(r.status == "ok" and r.model is not None for _, r, _ in records)
    # a child starts where its parent ended, far below a network trained from scratch for one epoch
    assert all(r.learning_curve[0] < first.learning_curve[0] for _, r, _ in children)
    assert all(c.epochs >= 6 for c, _, _ in children)
    assert candidate.genotype == searcher.best_genotype_
    assert searcher.best_score_ == max(r.score for _, r, _ in records)
    assert searcher.ask(1)[0].genotype != candidate.genotype


# -- end to end through the estimators -----------------------------------------------------------
@pytest.fixture(scope="module")
def table():
    # more than 1000 rows: a single holdout split, no cross-validation
    return make_classification(n_samples=1100, n_features=8, n_informative=5, random_state=0)


N_PORTFOLIO = 5  # the linear model, then the 4 entries of the shipped portfolio (sknas/data/portfolio.json)
TINY = {"time_budget": None, "max_trials": N_PORTFOLIO + 2, "max_epochs": 3, "random_state": 0}


@pytest.mark.parametrize("search, space", [("darts", "mlp"), ("darts", "cell"), ("gdas", "mlp"), ("enas", "cell")])
def test_estimator_records_the_supernet_and_retrains_the_derived_genotype(table, search, space):
    X, y = table
    clf = AutoNASClassifier(search=search, space=space, **TINY).fit(X, y)
    res = pd.DataFrame(clf.search_results_)
    n = len(clf.space_.portfolio())
    # the space's portfolio (4 shipped entries for "mlp", the cell space's own 2), then the supernet and its derivation
    assert list(res["source"][:n + 2]) == ["portfolio"] * n + ["supernet", "searcher"]
    assert (res["status"] == "ok").all()
    assert res["genotype"][n] == res["genotype"][n + 1] == clf.searcher_.derived_
    assert res["data_fraction"][n] == 0.5 and res["fit_time"][n] > 0
    assert clf.score(X, y) > 0.7
    assert clf.searcher_._data is None


def test_estimator_with_morphism_and_one_stage(table):
    X, y = table
    clf = AutoNASClassifier(search=MorphismSearch(n_steps=1, n_neighbours=2, child_epochs=1), **TINY).fit(X, y)
    # the climb stops one row short of max_trials (the runner passes the rows left through set_budget)
    assert list(clf.search_results_["source"]) == ["portfolio"] * N_PORTFOLIO + ["morphism"] + ["searcher"]
    assert clf.n_trials_ == TINY["max_trials"]
    clf = AutoNASClassifier(search=DARTSSearch(one_stage=True), **TINY).fit(X, y)
    assert list(clf.search_results_["source"]) == ["portfolio"] * N_PORTFOLIO + ["supernet", "one_stage", "searcher"]
    assert clf.score(X, y) > 0.7


def test_regressor_with_a_time_budget():
    X, y = make_regression(n_samples=1100, n_features=6, noise=5.0, random_state=0)
    reg = AutoNASRegressor(search="enas", time_budget=6, max_epochs=5, random_state=0).fit(X, y)
    sources = reg.search_results_["source"]
    assert "supernet" in sources and reg.score(X, y) > 0.5
