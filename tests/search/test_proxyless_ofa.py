"""ProxylessNAS and Once-for-All: what each learns, and how they meet the runner."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import get_scorer

from sknas import AutoNASClassifier
from sknas.evaluation.objectives import measure_latency
from sknas.evaluation.trainer import Evaluator, torch_threads
from sknas.evaluation.trial import TrialData
from sknas.nn.builders import count_parameters
from sknas.search.base import make_searcher
from sknas.search.oneshot.ofa import OFASearch
from sknas.search.oneshot.proxyless import ProxylessSearch
from sknas.space.cell import CellSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    with torch_threads(1):
        yield


def problem(n=600, seed=0):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, random_state=seed)
    k = int(0.75 * n)
    return TrialData(X[:k], y[:k], X[k:], y[k:])


SPACE = JointSpace(MLPSpace(max_blocks=3, max_width=256), TrainingSpace())


def evaluator(space=SPACE, max_epochs=3):
    return Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=max_epochs,
                     classes=np.array([0, 1]), preprocessing="none")


def run_search(searcher, space=SPACE, fold=None, seed=0):
    """What the runner does before evaluating: setup, set_data, one ask; returns (candidates, records)."""
    searcher.setup(space, seed)
    searcher.set_data([fold if fold is not None else problem()], evaluator(space), deadline=None)
    candidates = searcher.ask(1)
    return candidates, searcher.pop_records()


def arch_net(space, genotype, n_inputs=8, n_outputs=2):
    return space.arch.build(space.arch_genotype(genotype), n_inputs, n_outputs)


# -- the contract, end to end through the estimator ------------------------------------------------
@pytest.fixture(scope="module")
def table():
    return make_classification(n_samples=400, n_features=8, n_informative=5, random_state=0)


# the default space's shipped portfolio has 4 entries: two more trials for the supernet and the derived network
TINY = {"time_budget": None, "max_trials": 6, "max_epochs": 3, "validation_fraction": 0.5, "random_state": 0}


@pytest.mark.parametrize("search", ["proxyless", "ofa"])
def test_estimator_end_to_end_valid_and_reproducible(table, search):
    X, y = table
    fits = [AutoNASClassifier(search=search, **TINY).fit(X, y) for _ in range(2)]
    clf = fits[0]
    res = pd.DataFrame(clf.search_results_)
    mine = res[res["source"].isin(["supernet", "searcher"])]
    assert list(mine["source"]) == ["supernet", "searcher"]
    assert (mine["status"] == "ok").all(), list(mine["error"])
    assert mine["genotype"].iloc[0] == mine["genotype"].iloc[1] == clf.searcher_.derived_
    space = clf.searcher_.space_
    later = clf.searcher_.ask(3)
    assert all(space.validate(c.genotype) == c.genotype for c in later)
    assert clf.score(X, y) > 0.7 and clf.searcher_._data is None
    # same seed, same rows
    twin = fits[1].search_results_
    assert list(twin["genotype"]) == list(clf.search_results_["genotype"])
    assert np.allclose(np.asarray(twin["score"], dtype=float), np.asarray(clf.search_results_["score"], dtype=float),
                       equal_nan=True)


def test_registered_names_resolve_with_plain_parameters():
    for name, cls in (("proxyless", ProxylessSearch), ("ofa", OFASearch)):
        searcher = make_searcher(name)
        assert type(searcher) is cls and searcher.needs_data
        assert all(v is None or isinstance(v, (str, int, float, bool, tuple))
                   for v in searcher.get_params().values())


def test_bad_parameters_and_spaces_are_named():
    cell = JointSpace(CellSpace(n_nodes=2, n_cells=1, width=8), TrainingSpace())
    for searcher in (ProxylessSearch(), OFASearch()):
        with pytest.raises(ValueError, match="mlp space"):
            searcher.setup(cell, 0)
    with pytest.raises(ValueError, match=r"'latency_weight' parameter of ProxylessSearch must be a float in"):
        ProxylessSearch(latency_weight=-1.0).setup(SPACE, 0)
    with pytest.raises(ValueError, match="The 'max_params' parameter of OFASearch must be"):
        OFASearch(max_params=0).setup(SPACE, 0)
    with pytest.raises(RuntimeError, match="subnet_for"):
        OFASearch().setup(SPACE, 0).subnet_for(10_000)


# -- ProxylessNAS: the latency term -----------------------------------------------------------------
def test_proxyless_latency_weight_lowers_the_measured_latency_of_the_derived_network():
    fold = problem()
    derived = {}
    for weight in (0.0, 5.0):
        searcher = ProxylessSearch(latency_weight=weight, epochs=4, batch_size=32)
        (candidate,), records = run_search(searcher, fold=fold, seed=0)
        assert records[0][1].status == "ok" and candidate.genotype == searcher.derived_
        derived[weight] = searcher
    table = derived[5.0].latency_table_
    assert table["n_blocks"][1] < table["n_blocks"][3]  # the lookup table saw depth
    assert derived[5.0].expected_latency_ms_ < derived[0.0].expected_latency_ms_
    latency = {w: measure_latency(arch_net(SPACE, s.derived_), 8, batch_sizes=(256,), repeats=31)[256]
               for w, s in derived.items()}
    print(f"\nproxyless measured latency (ms, batch 256): weight 0 -> {latency[0.0]:.3f}, "
          f"weight 5 -> {latency[5.0]:.3f}; genotypes {SPACE.arch_genotype(derived[0.0].derived_)} | "
          f"{SPACE.arch_genotype(derived[5.0].derived_)}")
    assert latency[5.0] < latency[0.0]


# -- Once-for-All: sub-networks for three limits, no retraining -------------------------------------
def test_ofa_picks_subnetworks_under_three_limits_without_retraining():
    fold = problem()
    searcher = OFASearch(epochs=6, batch_size=32)
    _, records = run_search(searcher, fold=fold, seed=0)
    assert records[0][1].status == "ok"
    supernet = searcher.supernet_
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    scores = {}
    for limit in (2_000, 10_000, 40_000):
        pipeline = searcher.subnet_for(limit)
        net = pipeline.named_steps["net"]
        n_params = count_parameters(net.module_)
        assert n_params <= limit and n_params == searcher.subnets_[limit]["n_params"]
        assert len(net.history) == 0  # never trained: the weights are the supernet's
        first = net.module_.net.blocks[0][0]
        w = first.out_features
        assert torch.equal(first.weight, supernet.linears[0].weight[:w, :first.in_features])
        accuracy = float((pipeline.predict(fold.X_valid) == fold.y_valid).mean())
        assert accuracy == pytest.approx(searcher.subnets_[limit]["score"])
        scores[limit] = (n_params, accuracy)
    assert all(torch.equal(v, supernet.state_dict()[k]) for k, v in before.items())
    print("\nOFA held-out accuracy by params limit (no retraining): "
          + ", ".join(f"<= {limit}: {n} params, {acc:.3f}" for limit, (n, acc) in scores.items()))
    assert max(acc for _, acc in scores.values()) > 0.75
    with pytest.raises(ValueError, match="smallest"):
        searcher.subnet_for(10)


def test_ofa_asks_meet_max_params_and_reads_the_estimator_constraint(table):
    searcher = OFASearch(max_params=5_000, epochs=2)
    (candidate,), _ = run_search(searcher, seed=1)
    proposals = [candidate] + searcher.ask(4)
    assert len({c.genotype for c in proposals}) == 5
    assert all(count_parameters(arch_net(SPACE, c.genotype)) <= 5_000 for c in proposals)
    X, y = table
    clf = AutoNASClassifier(search="ofa", constraints={"params": 8_000}, **TINY).fit(X, y)
    res = pd.DataFrame(clf.search_results_)
    mine = res[res["source"].isin(["supernet", "searcher"])]
    assert clf.searcher_.max_params_ == 8_000 and (mine["status"] == "ok").all()
    assert (mine["n_params"].iloc[1:] <= 8_000).all()
