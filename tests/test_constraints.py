"""Size constraints steer the search: proposals over a ``params``/``flops`` limit are shrunk before training."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import check_scoring

from sknas.estimators import AutoNASClassifier
from sknas.evaluation.objectives import count_flops
from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.nn.builders import count_parameters
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace, ResNetSpace
from sknas.space.training import TrainingSpace


def sizes(space, genotype, n_inputs=30, n_outputs=2):
    module = space.build(genotype, n_inputs, n_outputs)
    copies = genotype.get("snapshots", 1)
    return count_parameters(module) * copies, count_flops(module, n_inputs) * copies


@pytest.mark.parametrize("space", [
    JointSpace(MLPSpace(max_width=256), TrainingSpace()),  # narrower than the default: fast to build
    JointSpace(MLPSpace(min_blocks=1, max_width=128, ensemble_ks=(4, 8)), TrainingSpace(snapshots=(1, 5))),
    JointSpace(ResNetSpace(), TrainingSpace("regression")),
], ids=["mlp", "mlp-customised", "resnet"])
def test_shrink_never_grows_and_ends(space):
    """Every step is a valid genotype with no more parameters than the one before; the chain ends (None) with
    fewer FLOPs, at the smallest network."""
    rng = np.random.default_rng(0)
    for _ in range(2):
        genotype = space.sample(rng)
        before, start_flops = sizes(space, genotype)
        for step in range(200):
            smaller = space.shrink(genotype)
            if smaller is None:
                break
            assert smaller != genotype and space.validate(smaller) == smaller
            after = count_parameters(space.build(smaller, 30, 2)) * smaller.get("snapshots", 1)
            assert after <= before
            genotype, before = smaller, after
        else:
            pytest.fail("shrink did not end")
        assert sizes(space, genotype)[1] <= start_flops
        assert genotype.get("snapshots", 1) == 1 and genotype.get("ensemble_k", 1) == min(
            getattr(space.arch, "ensemble_ks", (1,)))


def test_mlp_shrinks_copies_then_embedding_then_width_then_depth():
    space = JointSpace(MLPSpace(), TrainingSpace())
    tabm = space.validate({**MLPSpace().portfolio()[2], **TrainingSpace().portfolio()[0]})  # TabM k=8, PLR, 3x256
    assert tabm["ensemble_k"] == 8 and tabm["embedding"] == "plr"
    first = space.shrink(tabm)
    assert first["ensemble_k"] == 1 and first["embedding"] == "plr"
    second = space.shrink(first)
    assert second["embedding"] == "none" and "embedding_sigma" not in second
    third = space.shrink(second)
    assert [third[f"width_{i}"] for i in range(3)] == [128, 256, 256]
    chain = [third]
    while (g := space.shrink(chain[-1])) is not None:
        chain.append(g)
    assert chain[-1]["n_blocks"] == 0 and "wide" not in chain[-1]  # the linear model ends it
    assert space.shrink(space.portfolio()[0]) is None


def test_snapshot_ensemble_shrinks_to_one_network_with_a_schedule():
    space = JointSpace(MLPSpace(), TrainingSpace())
    snap = space.replace(space.portfolio()[1], snapshots=5)
    assert "lr_schedule" not in snap
    one = space.shrink(snap)
    assert one["snapshots"] == 1 and one["lr_schedule"] == "cosine"


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:200], y[:200]


def test_evaluator_repairs_a_proposal_to_fit_the_limits(cancer):
    X, y = cancer
    space = JointSpace(MLPSpace(), TrainingSpace())
    scorer = check_scoring(AutoNASClassifier(), "accuracy")
    data = TrialData(X[:150], y[:150], X[150:], y[150:])
    big = space.validate({**MLPSpace().portfolio()[2], **TrainingSpace().portfolio()[0]})
    for limits in ({"max_params": 2000}, {"max_params": 500}, {"max_flops": 5000}):
        evaluator = Evaluator(space, "classification", scorer, classes=np.unique(y), **limits)
        assert not evaluator.within_limits(*evaluator.size(big, data))
        fitted = evaluator.fit_limits(big, data)
        n_params, flops = evaluator.size(fitted, data)
        assert evaluator.within_limits(n_params, flops)
        # the repair is the first network of the shrink chain that fits
        chain = [big]
        while not evaluator.within_limits(*evaluator.size(chain[-1], data)):
            chain.append(space.shrink(chain[-1]))
        assert fitted == chain[-1] and len(chain) > 2
    assert Evaluator(space, "classification", scorer, classes=np.unique(y),
                     max_params=2000).fit_limits(big, data)["n_blocks"] >= 1  # a network, not the linear model
    tiny = Evaluator(space, "classification", scorer, classes=np.unique(y), max_params=10)
    assert tiny.fit_limits(big, data) is None  # smaller than the linear model: nothing fits


def test_search_under_a_params_limit_runs_only_feasible_networks(cancer):
    """The portfolio's large networks and the searcher's proposals are shrunk, not failed; the searcher is
    told under its own (larger) proposal."""
    X, y = cancer
    clf = AutoNASClassifier(search="random", constraints={"params": 2000}, time_budget=None, max_trials=5,
                            max_epochs=8, random_state=0, validation_fraction=0.5).fit(X, y)
    res = clf.search_results_
    assert res["status"] == ["ok"] * 5
    assert all(n <= 2000 for n in res["n_params"])
    repaired = [i for i in range(5) if res["repaired"][i]]
    assert repaired and res["repaired"][0] is False  # the linear model fits as it is
    told = [c.genotype for c, _ in clf.searcher_.history_]
    ran = set(res["genotype"])
    # the searcher's own proposals (not the portfolio's) that were repaired are told as proposed
    assert any(g not in ran for g in told)
    # one network predicts under a constraint (no bag, no ensemble)
    assert clf.ensemble_ is None and count_parameters(clf.best_estimator_[-1].module_) <= 2000


def test_flops_limit_is_checked_before_training(cancer):
    X, y = cancer
    clf = AutoNASClassifier(search="random", constraints={"flops": 20_000}, time_budget=None, max_trials=4,
                            max_epochs=5, random_state=1, validation_fraction=0.5).fit(X, y)
    res = clf.search_results_
    assert all(s == "ok" for s in res["status"]) and all(f <= 20_000 for f in res["flops"])


def test_an_ensemble_under_constraints_is_refused(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="ensemble_size=3"):
        AutoNASClassifier(constraints={"params": 5000}, ensemble_size=3, max_trials=1).fit(X, y)
