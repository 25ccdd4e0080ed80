"""ProxylessNAS and Once-for-All: what each learns, and how they meet the runner."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import get_scorer

from sknas import AutoNASClassifier
from sknas.evaluation.objectives import measure_latency
from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.nn.builders import count_parameters
from sknas.search.oneshot.ofa import OFASearch, sort_units
from sknas.search.oneshot.proxyless import ProxylessSearch
from sknas.space.cell import CellSpace
from sknas.space.joint import JointSpace
from sknas.space.genotype import Genotype
from sknas.space.mlp import MLPSpace, chain_blocks
from sknas.space.training import TrainingSpace


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


# -- Once-for-All: progressive shrinking with distillation ------------------------------------------
def training_forwards(searcher):
    """Wraps ``searcher._train``: the (depth, widths) of every training forward pass of the supernet, in order."""
    seen = []
    train = searcher._train

    def recording_train(supernet, data, epochs, deadline):
        def record(module, args):
            if module.training:  # the teacher and the learning curve run in evaluation mode
                fixed = module._fixed
                depth = module.choices["n_blocks"][fixed["n_blocks"][0]]
                seen.append((depth, tuple(module.choices[f"width_{i}"][fixed[f"width_{i}"][0]]
                                          for i in range(depth))))

        supernet.register_forward_pre_hook(record)
        return train(supernet, data, epochs, deadline)

    searcher._train = recording_train
    return seen


def test_ofa_progressive_shrinking_unlocks_depth_then_width_largest_first():
    searcher = OFASearch(schedule="progressive", epochs=4, batch_size=32, n_random=0, population=1, n_generations=0)
    seen = training_forwards(searcher)
    _, records = run_search(searcher, seed=0)
    assert records[0][1].status == "ok"
    supernet = searcher.supernet_
    depths, widths = supernet.choices["n_blocks"], [supernet.choices[f"width_{i}"] for i in range(3)]
    assert depths == (1, 2, 3) and all(len(w) == 3 for w in widths)
    phases = searcher.phases_
    assert [p["phase"] for p in phases] == ["largest", "depth", "depth", "width", "width"]
    assert [p["depths"] for p in phases] == [(3,), (2, 3), (1, 2, 3), (1, 2, 3), (1, 2, 3)]
    assert [len(p["widths"][0]) for p in phases] == [1, 1, 1, 2, 3]
    assert all(p["steps"] > 0 for p in phases) and sum(p["steps"] for p in phases) == 4 * 10
    # what actually ran, stage by stage: the largest network alone, then only unlocked sizes
    largest = (3, tuple(w[-1] for w in widths))
    position = 0
    for k, phase in enumerate(phases):
        runs = seen[position:position + phase["steps"] * (1 if k == 0 else 2)]
        position += len(runs)
        if k == 0:
            assert set(runs) == {largest}
        assert all(d in phase["depths"] and all(w in phase["widths"][i] for i, w in enumerate(ws))
                   for d, ws in runs)
        if phase["phase"] == "depth":
            assert {d for d, _ in runs} == set(phase["depths"])  # the newly unlocked depth is sampled
        if k == len(phases) - 1:
            assert any(min(ws) == widths[0][0] for _, ws in runs)  # the smallest width trains at last
    assert position == len(seen)
    assert seen.index(next(r for r in seen if r[0] < 3)) < seen.index(next(r for r in seen if min(r[1]) < 256))
    # distillation from the largest network in every shrinking stage, none while the largest trains alone
    assert phases[0]["kd_loss"] is None
    assert all(p["kd_loss"] is not None and 0 < p["kd_loss"] < 10 for p in phases[1:])


def test_ofa_sandwich_schedule_trains_every_size_from_the_start():
    searcher = OFASearch(epochs=2, batch_size=32, population=1, n_generations=0)
    seen = training_forwards(searcher)
    _, records = run_search(searcher, seed=0)
    assert records[0][1].status == "ok"
    (phase,) = searcher.phases_
    assert phase["phase"] == "sandwich" and phase["kd_loss"] is None and phase["depths"] == (1, 2, 3)
    # every step: the largest, then the smallest network, then n_random=2 random ones
    assert seen[0] == (3, (256, 256, 256)) and seen[1] == (1, (64,))
    assert len(seen) == 4 * phase["steps"]


def test_ofa_distillation_pulls_the_subnetworks_to_the_teacher():
    fold = problem(seed=3)
    trained = {}
    for kd in (0.0, 5.0):
        trained[kd] = OFASearch(schedule="progressive", epochs=6, batch_size=32, kd_weight=kd, population=1,
                                n_generations=0)
        run_search(trained[kd], fold=fold, seed=0)
    assert trained[0.0]._teacher is None and all(p["kd_loss"] is None for p in trained[0.0].phases_)
    # the teacher: the largest network after the first phase, the same with or without distillation (same seed)
    teacher, X = trained[5.0]._teacher, torch.as_tensor(trained[5.0]._prepared.Xv)
    rng = np.random.default_rng(0)
    configs = [trained[5.0]._random_config(rng) for _ in range(20)]
    gaps = {}
    with torch.no_grad():
        target = torch.log_softmax(teacher(X), dim=1)
        for kd, searcher in trained.items():
            supernet = searcher.supernet_.eval()
            gaps[kd] = np.mean([float(torch.nn.functional.kl_div(
                torch.log_softmax(supernet.use_genotype(searcher._genotype(c))(X), dim=1), target,
                reduction="batchmean", log_target=True)) for c in configs])
    print(f"\nmean KL(teacher || sub-network) over 20 sub-networks on the validation part: "
          f"no distillation {gaps[0.0]:.4f}, kd_weight=5 {gaps[5.0]:.4f}")
    assert gaps[5.0] < 0.8 * gaps[0.0]  # 0.047 vs 0.083 here


def test_ofa_progressive_regression_distils_the_teachers_prediction():
    X, y = make_regression_fold()
    space = JointSpace(MLPSpace(max_blocks=2, max_width=64), TrainingSpace("regression"))
    searcher = OFASearch(schedule="progressive", epochs=3, batch_size=32, population=1, n_generations=0)
    searcher.setup(space, 0)
    searcher.set_data([TrialData(X[:300], y[:300], X[300:], y[300:])],
                      Evaluator(space, "regression", get_scorer("r2"), max_epochs=3, preprocessing="none"))
    searcher.ask(1)
    (_, row, _), = searcher.pop_records()
    assert row.status == "ok", row.error
    assert searcher.phases_[0]["phase"] == "largest"
    assert all(p["kd_loss"] is not None and p["kd_loss"] > 0 for p in searcher.phases_[1:])


def make_regression_fold():
    from sklearn.datasets import make_regression

    return make_regression(n_samples=400, n_features=6, noise=5.0, random_state=0)


def test_ofa_phase_fractions_are_checked():
    with pytest.raises(ValueError, match="'phase_fractions' parameter of OFASearch must be 3 non-negative"):
        OFASearch(phase_fractions=(0.0, 0.5, 0.5)).setup(SPACE, 0)
    with pytest.raises(ValueError, match="'phase_fractions' parameter of OFASearch must be 3 non-negative"):
        OFASearch(phase_fractions=(0.5, 0.5)).setup(SPACE, 0)
    with pytest.raises(ValueError, match="The 'schedule' parameter of OFASearch must be a str among"):
        OFASearch(schedule="shrink").setup(SPACE, 0)


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_ofa_sorting_units_keeps_the_largest_network_and_puts_important_units_first(norm):
    space = MLPSpace(max_blocks=3, min_width=4, max_width=32, norms=(norm,))
    base = space.validate(Genotype({"n_blocks": 3, **chain_blocks(3, 32, act="relu", norm=norm, dropout=0.0),
                                    "skip_2": 1}))
    torch.manual_seed(0)
    supernet = space.supernet(5, 3, base=base)
    X = torch.randn(64, 5)
    supernet.use_genotype(base).train()
    with torch.no_grad():
        supernet(X)  # batch-norm statistics
    supernet.eval()
    with torch.no_grad():
        before = supernet(X)
        narrow = supernet.use_genotype({**base, "width_0": 8})(X)
    permutations = sort_units(supernet)
    with torch.no_grad():
        assert torch.allclose(supernet.use_genotype(base)(X), before, atol=1e-5)  # with the skip from block 0
        assert not torch.allclose(supernet.use_genotype({**base, "width_0": 8})(X), narrow, atol=1e-3)
    assert any(not torch.equal(p, torch.arange(len(p))) for p in permutations)
    for i, reader in enumerate([supernet.linears[1].weight, supernet.linears[2].weight, supernet.head.weight]):
        importance = reader[:, :32].abs().sum(dim=0)
        assert bool((importance[:-1] >= importance[1:]).all())


def test_ofa_progressive_shrinking_reaches_every_phase_within_its_time_share(fake_clock):
    # the clock moves one second per call (a few per weight step): the supernet's share ends about 100 calls in
    searcher = OFASearch(schedule="progressive", epochs=10_000, time_share=0.5, population=1, n_generations=0)
    searcher.setup(SPACE, 0)
    searcher.set_data([problem()], evaluator(), deadline=200.0)
    searcher.ask(1)
    (_, row, _), = searcher.pop_records()
    assert row.status == "ok" and row.stop_reason == "time_limit"
    assert [p["phase"] for p in searcher.phases_] == ["largest", "depth", "depth", "width", "width"]
    assert all(p["steps"] > 0 for p in searcher.phases_) and fake_clock.now < 200


@pytest.mark.slow
def test_ofa_progressive_shrinking_reaches_every_phase_within_its_time_share_on_the_wall_clock():
    """The same on the real clock, with a time bar: a busy machine may break it, so slow-only."""
    import time

    searcher = OFASearch(schedule="progressive", epochs=10_000, time_share=0.5, population=1, n_generations=0)
    searcher.setup(SPACE, 0)
    start = time.time()
    searcher.set_data([problem()], evaluator(), deadline=start + 2.0)
    searcher.ask(1)
    (_, row, _), = searcher.pop_records()
    assert row.status == "ok" and row.stop_reason == "time_limit"
    assert [p["phase"] for p in searcher.phases_] == ["largest", "depth", "depth", "width", "width"]
    assert searcher.phases_[0]["steps"] > 0 and time.time() - start < 10.0
