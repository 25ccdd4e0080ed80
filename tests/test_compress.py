"""Pruning a fitted estimator's network: structured (neurons) and magnitude."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.compress import _structured, count_nonzero_parameters, prune, prune_to
from sknas.evaluation.trainer import GenotypeModule
from sknas.nn.builders import count_parameters
from sknas.space.cell import CellSpace
from sknas.space.mlp import MLPSpace, ResNetSpace
from sknas.space.joint import JointSpace
from sknas.space.training import TrainingSpace


def net_of(estimator):
    return estimator.best_estimator_.named_steps["net"]


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    # min_blocks=1: a network to prune, not the linear model that leads the portfolio
    space = MLPSpace(max_blocks=2, min_blocks=1, min_width=32, max_width=64, norms=("batch",))
    return AutoNASClassifier(space=space, search="random", time_budget=None, max_trials=1, max_epochs=4,
                             random_state=0, ensemble_size=1).fit(X, y)


@pytest.fixture(scope="module")
def bagged(data):
    X, y = data
    space = MLPSpace(max_blocks=2, min_blocks=1, min_width=32, max_width=64, norms=("batch",))  # networks to prune
    return AutoNASClassifier(space=space, search="random", time_budget=None, max_trials=1, max_epochs=4,
                             random_state=0).fit(X, y)


# -- surgery -------------------------------------------------------------------------------
def _complete_defaults(space, values):
    """``values`` plus the space's other decisions at their portfolio (plain network) values."""
    first = dict(space.portfolio()[0]) if space.portfolio() else {}
    return {**{k: v for k, v in first.items() if not k[-1].isdigit() and k != "n_blocks"}, **values}


def dag_genotype(norm):
    blocks = {"n_blocks": 4}
    for i, width in enumerate((24, 20, 16, 12)):
        blocks.update({f"width_{i}": width, f"act_{i}": "relu", f"norm_{i}": norm, f"dropout_{i}": 0.0})
    # skips from the input and from earlier blocks: concatenated columns to cut
    blocks.update({"skip_1": 0, "skip_2": "none", "skip_3": 1})
    return blocks


def dense_activations():
    try:
        from sknas.nn.builders import DENSE_ACTIVATIONS
    except ImportError:
        return ["relu"]
    return ["relu"] + (["prelu"] if "prelu" in DENSE_ACTIVATIONS else [])


@pytest.mark.parametrize("norm, act", [("none", "relu")] + [("batch", a) for a in dense_activations()])
def test_structured_surgery_equals_masking_the_pruned_neurons(norm, act):
    space = MLPSpace(max_blocks=4, min_width=8, max_width=64, norms=("none", "batch", "layer"),
                     activations=("relu", act) if act != "relu" else ("relu",))
    values = dag_genotype(norm)
    values.update({f"act_{i}": act for i in range(4)})
    genotype = space.validate(_complete_defaults(space, values))
    torch.manual_seed(0)
    module = GenotypeModule(space, genotype, 7, 3)
    with torch.no_grad():  # non-trivial batch-norm statistics and PReLU slopes
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.uniform_(0.5, 2)
            elif type(m).__name__ == "FeaturePReLU":
                m.weight.uniform_(0.0, 0.5)
    module.eval()
    before = count_parameters(module)
    new_genotype, state, share = _structured(space, genotype, module, 7, 3, before // 2)
    pruned = GenotypeModule(space, new_genotype, 7, 3)
    pruned.load_state_dict(state)
    pruned.eval()
    assert count_parameters(pruned) <= before // 2 < count_parameters(pruned) * 1.25
    assert [new_genotype[f"width_{i}"] for i in range(4)] == [round(share * w) for w in (24, 20, 16, 12)]

    # the reference: the original network with the pruned neurons' outputs zeroed
    kept = []
    for i, block in enumerate(module.net.blocks):
        k = new_genotype[f"width_{i}"]
        kept.append(torch.topk(block[0].weight.abs().sum(dim=1), k).indices)
    hooks = []
    for block, index in zip(module.net.blocks, kept):
        mask = torch.zeros(block[0].out_features)
        mask[index] = 1.0
        hooks.append(block.register_forward_hook(lambda m, i, out, mask=mask: out * mask))
    x = torch.randn(16, 7)
    with torch.no_grad():
        expected = module(x)
        got = pruned(x)
    for h in hooks:
        h.remove()
    torch.testing.assert_close(got, expected)


def test_structured_surgery_of_a_residual_mlp_prunes_the_hidden_width_only():
    space = ResNetSpace(max_blocks=3)
    genotype = space.validate({"n_blocks": 3, "width": 32, "hidden_factor": 2.0, "norm": "batch", "act": "relu",
                               "hidden_dropout": 0.0, "residual_dropout": 0.0})
    torch.manual_seed(0)
    module = GenotypeModule(space, genotype, 5, 2).eval()
    before = count_parameters(module)
    new_genotype, state, _ = _structured(space, genotype, module, 5, 2, int(0.6 * before))
    pruned = GenotypeModule(space, new_genotype, 5, 2).eval()
    pruned.load_state_dict(state)
    assert new_genotype["width"] == 32 and pruned.net.stem.out_features == 32  # the residual stream
    hidden = pruned.net.blocks[0].linear1.out_features
    assert hidden < 64 and all(b.linear1.out_features == hidden for b in pruned.net.blocks)
    assert count_parameters(pruned) <= 0.6 * before
    hooks = []
    for block in module.net.blocks:  # each block keeps its own strongest hidden neurons
        mask = torch.zeros(64)
        mask[torch.topk(block.linear1.weight.abs().sum(dim=1), hidden).indices] = 1.0
        hooks.append(block.activation.register_forward_hook(lambda m, i, out, mask=mask: out * mask))
    x = torch.randn(8, 5)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), module(x))
    for h in hooks:
        h.remove()


# -- the estimator-level API ----------------------------------------------------------------
@pytest.mark.parametrize("retrain", [None, "finetune", "scratch"])
def test_structured_pruning_removes_the_requested_share_and_still_predicts(fitted, data, retrain):
    X, y = data
    before = count_parameters(net_of(fitted).module_)
    predictions = fitted.predict(X)
    small = prune(fitted, 0.5, X=X, y=y, retrain=retrain, epochs=2, random_state=0)
    after = count_parameters(net_of(small).module_)
    assert after <= 0.5 * before and after >= 0.4 * before
    assert small.pruning_["n_params"] == after and small.pruning_["n_params_before"] == before
    assert small.predict(X).shape == (len(X),) and small.score(X, y) > 0.6
    assert small.best_genotype_["width_0"] < fitted.best_genotype_["width_0"]
    # the original is untouched
    assert count_parameters(net_of(fitted).module_) == before
    np.testing.assert_array_equal(fitted.predict(X), predictions)
    if retrain is None:
        assert small.pruning_["epochs"] == 0
    else:
        assert len(net_of(small).history) == 2


def test_every_network_of_a_bag_is_pruned_and_the_bag_predicts_with_them(bagged, data):
    from sknas.evaluation.ensembles import EnsembleClassifier

    X, y = data
    fitted = bagged
    bag = fitted.ensemble_  # 300 rows: cross-validated, the best trial's 5 fold models predict
    assert isinstance(bag, EnsembleClassifier) and len(bag.estimators) == 5
    small = prune(fitted, 0.5, retrain=None)
    assert small.pruning_["n_networks"] == 5 and small.best_estimator_ is small.ensemble_.estimators[0]
    for before, after in zip(bag.estimators, small.ensemble_.estimators):
        n_before, n_after = (count_parameters(m.named_steps["net"].module_) for m in (before, after))
        assert 0.4 * n_before <= n_after <= 0.5 * n_before
    mean = np.mean([m.predict_proba(X) for m in small.ensemble_.estimators], axis=0)
    np.testing.assert_allclose(small.predict_proba(X), mean, rtol=1e-6)
    assert len(fitted.ensemble_.estimators) == 5 and fitted.ensemble_.estimators[0] is fitted.best_estimator_


@pytest.mark.parametrize("retrain", ["finetune", "scratch"])
def test_magnitude_pruning_zeroes_weights_permanently(fitted, data, retrain):
    X, y = data
    module = net_of(fitted).module_
    before = count_parameters(module)
    small = prune(fitted, 0.6, method="magnitude", retrain=retrain, X=X, y=y, epochs=2, random_state=0)
    pruned = net_of(small).module_
    assert count_parameters(pruned) == before  # shapes kept
    assert small.pruning_["n_params"] == count_nonzero_parameters(pruned) <= 0.4 * before + 1
    assert not any(name.endswith("_orig") for name in pruned.state_dict())  # the mask was made permanent
    assert not any(m._forward_pre_hooks for m in pruned.modules())
    assert small.predict_proba(X).shape == (len(X), 2)
    assert count_nonzero_parameters(module) == before


def test_prune_to_meets_a_parameter_limit(fitted, data):
    X, y = data
    before = count_parameters(net_of(fitted).module_)
    limit = before // 3
    small = prune_to(fitted, limit, X, y, epochs=1, random_state=0)
    assert small.pruning_["n_params"] <= limit
    assert small.pruning_["amount"] == pytest.approx(1 - limit / before)
    same = prune_to(fitted, before + 10, X, y)
    assert same.pruning_["amount"] == 0 and count_parameters(net_of(same).module_) == before
    np.testing.assert_array_equal(same.predict(X), fitted.predict(X))


def test_pruned_regressor_and_residual_network():
    X, y = load_diabetes(return_X_y=True)
    # snapshot ensembles off: structured pruning takes plain networks (it refuses a SnapshotEnsemble with a ValueError)
    space = JointSpace(ResNetSpace(max_blocks=2, max_width=64), TrainingSpace("regression", snapshots=(1,)))
    reg = AutoNASRegressor(space=space, search="random", time_budget=None,
                           max_trials=1, max_epochs=3, random_state=0).fit(X, y)
    before = count_parameters(net_of(reg).module_)
    # the residual stream is kept, so this network can lose at most about a quarter of its parameters
    small = prune(reg, 0.25, X=X, y=y, epochs=2, random_state=0)
    assert count_parameters(net_of(small).module_) <= 0.8 * before
    assert np.isfinite(small.predict(X)).all() and small.score(X, y) > -1.0
    sparse = prune(reg, 0.4, method="magnitude", retrain=None)
    assert sparse.pruning_["n_params"] <= 0.6 * before + 1


def test_a_pruned_estimator_saves_and_loads(fitted, data, tmp_path):
    import sknas

    X, y = data
    small = prune(fitted, 0.5, X=X, y=y, epochs=1, random_state=0)
    path = tmp_path / "small.sknas"
    small.save(path)
    again = sknas.load(path)
    np.testing.assert_allclose(again.predict_proba(X), small.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_clear_errors(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match="needs the training data"):
        prune(fitted, 0.5)
    with pytest.raises(ValueError, match="amount must be"):
        prune(fitted, 1.0, retrain=None)
    with pytest.raises(ValueError, match="method must be"):
        prune(fitted, 0.5, method="random", retrain=None)
    with pytest.raises(ValueError, match="at least .* parameters"):
        prune(fitted, 0.9999, retrain=None)
    cell = AutoNASClassifier(space=CellSpace(n_cells=1, width=8, n_nodes=1), search="random", time_budget=None,
                             max_trials=1, max_epochs=2, preprocessing="none", random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="method='magnitude'"):
        prune(cell, 0.5, retrain=None)
    assert prune(cell, 0.3, method="magnitude", retrain=None).pruning_["n_params"] <= \
        0.7 * count_parameters(net_of(cell).module_) + 1


def test_structured_pruning_refuses_a_batch_ensemble_clearly():
    space = MLPSpace(max_blocks=1, min_width=8, max_width=32)
    if "ensemble_k" not in {p.name for p in space.params}:
        pytest.skip("this MLPSpace has no BatchEnsemble option")
    values = {"width_0": 16, "act_0": "relu", "norm_0": "none", "dropout_0": 0.0}
    (k,) = [max(p.choices) for p in space.params if p.name == "ensemble_k"]
    genotype = space.validate(_complete_defaults(space, dict(values, ensemble_k=k)))
    module = GenotypeModule(space, genotype, 4, 2)
    with pytest.raises(ValueError, match="ensemble_k=.*method='magnitude'"):
        _structured(space, genotype, module, 4, 2, count_parameters(module) // 2)
