"""Unlabeled rows: the ``unlabeled`` convention and the UnNAS pretext pre-training (sknas.evaluation.pretext)."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import sknas.evaluation.pretext as pretext_module
import sknas.io
from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.estimators import _unlabeled_mask
from sknas.evaluation.pretext import MaskedFeaturePretext, pretext_loss, pretrain
from sknas.evaluation.trainer import make_net
from sknas.nn.builders import DenseDAG
from sknas.prep.tabular import TabularPreprocessor
from sknas.space.mlp import MLPSpace

FAST = dict(time_budget=None, max_trials=1, max_epochs=3, ensemble_size=1, random_state=0)


def _blobs(n=80, seed=0, labels=(0, 1)):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4)) + 2.5 * y[:, None]
    return X, np.asarray(labels)[y]


def _low_rank(n=512, d=8, rank=2, seed=0):
    """Rows on a ``rank``-dimensional subspace: a corrupted value can be recovered from the others."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, rank))
    return (Z @ rng.normal(size=(rank, d)) + 0.05 * rng.normal(size=(n, d))).astype(np.float32)


def _dag(n_inputs, n_outputs=2, seed=0):
    torch.manual_seed(seed)
    blocks = [dict(width=32, activation="relu", norm="none", dropout=0.0, skip=None)] * 2
    return DenseDAG(n_inputs, n_outputs, blocks)


# -- the convention ------------------------------------------------------------------------
def test_minus_one_is_a_class_by_default():
    X, y = _blobs(labels=(-1, 1))
    clf = AutoNASClassifier(**FAST).fit(X, y)
    assert list(clf.classes_) == [-1, 1]
    assert clf.n_unlabeled_ == 0
    assert set(np.unique(clf.predict(X))) <= {-1, 1}


def test_unlabeled_rows_are_not_a_class_and_never_predicted(tmp_path):
    X, y = _blobs(n=120, labels=(3, 7))
    y = y.copy()
    y[::3] = -1
    clf = AutoNASClassifier(unlabeled=-1, **FAST).fit(X, y)
    assert list(clf.classes_) == [3, 7]
    assert clf.n_unlabeled_ == 40 and clf.n_samples_fit_ == 80
    assert -1 not in set(np.unique(clf.predict(X)))
    assert clf.predict_proba(X).shape == (120, 2)
    loaded = sknas.io.load(sknas.io.save(clf, tmp_path / "model.sknas"))
    assert loaded.unlabeled == -1 and loaded.n_unlabeled_ == 40
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


@pytest.mark.parametrize("y, marker, expected", [
    (np.array([0, -1, 1, -1]), -1, [False, True, False, True]),
    (np.array([0.0, np.nan, 1.0]), np.nan, [False, True, False]),
    (np.array(["a", "?", "b"], dtype=object), "?", [False, True, False]),
    (np.array(["a", "?", "b"]), "?", [False, True, False]),
    (np.array(["a", "b"]), -1, [False, False]),        # a numeric marker among strings marks no row
    (np.array([0, 1, 2]), "?", [False, False, False]),  # and the reverse
    (np.array(["a", -1, "b"], dtype=object), -1, [False, True, False]),
])
def test_unlabeled_mask(y, marker, expected):
    assert _unlabeled_mask(y, marker).tolist() == expected


def test_errors_name_the_problem():
    X, y = _blobs(n=40)
    with pytest.raises(ValueError, match="every row of y is unlabeled"):
        AutoNASClassifier(unlabeled=-1, **FAST).fit(X, np.full(40, -1))
    few = np.full(40, -1)
    few[:2] = [0, 1]
    with pytest.raises(ValueError, match="labeled rows.*got 2 labeled and 38 unlabeled"):
        AutoNASClassifier(unlabeled=-1, **FAST).fit(X, few)
    one_class = np.where(np.arange(40) < 10, 0, -1)
    with pytest.raises(ValueError, match="at least 2 classes"):
        AutoNASClassifier(unlabeled=-1, **FAST).fit(X, one_class)
    with pytest.raises(ValueError, match="unlabeled"):
        AutoNASClassifier(unlabeled=[-1], **FAST).fit(X, y)  # _parameter_constraints


def test_regressor_takes_nan_as_unlabeled_only_when_asked():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5]
    y[::4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        AutoNASRegressor(**FAST).fit(X, y)
    reg = AutoNASRegressor(unlabeled=np.nan, **FAST).fit(X, y)
    assert reg.n_unlabeled_ == 15 and reg.n_samples_fit_ == 45
    assert np.isfinite(reg.predict(X)).all()


# -- the pretext task ------------------------------------------------------------------------
def test_pretraining_lowers_the_reconstruction_loss():
    X = _low_rank()
    module = _dag(X.shape[1])
    before = pretext_loss(module, X, seed=1)
    losses = pretrain(module, X, epochs=15, seed=0)
    after = pretext_loss(module, X, seed=1)
    assert losses[-1] < 0.7 * losses[0]
    assert after < 0.95 * before  # a least-squares probe of the representation: random features already do well


def test_pretraining_trains_the_body_and_leaves_the_head():
    X = _low_rank(n=128)
    module = _dag(X.shape[1])
    start = {k: v.clone() for k, v in module.state_dict().items()}
    pretrain(module, X, epochs=2, seed=0)
    changed = {k for k, v in module.state_dict().items() if not torch.equal(v, start[k])}
    assert {"blocks.0.0.weight", "blocks.1.0.weight"} <= changed
    assert not any(k.startswith("head.") for k in changed)
    assert not module._forward_pre_hooks and not module.head._forward_pre_hooks  # the hook is removed


class _FirstEpochWeights(Callback):
    """Keeps the weights supervised training starts from (at the first epoch's beginning)."""

    def on_epoch_begin(self, net, **kwargs):
        if not hasattr(self, "weights_"):
            self.weights_ = {k: v.clone() for k, v in net.module_.state_dict().items()}


def _train_net(X, y, pretext):
    space = MLPSpace()
    genotype = next(dict(g) for g in space.portfolio() if g.get("n_blocks", 0) >= 1)  # a network with a body
    prep = TabularPreprocessor(scaler="standard").fit(X)
    Xt = prep.transform(X)
    net = make_net(space, genotype, "classification", Xt.shape[1], 2, classes=np.array([0, 1]), max_epochs=1)
    if pretext is not None:
        pretext.attach(net, prep, seed=0)
    recorder = _FirstEpochWeights()
    net.set_params(callbacks=list(net.callbacks) + [("recorder", recorder)])
    torch.manual_seed(0)
    net.fit(Xt, y)
    return net, recorder.weights_


def test_supervised_training_starts_from_the_pretrained_weights():
    X = _low_rank(n=200).astype(np.float64)
    y = (X[:, 0] > 0).astype(int)
    X_unlabeled = _low_rank(n=300, seed=1).astype(np.float64)
    plain, w_plain = _train_net(X, y, None)
    net, w_pre = _train_net(X, y, MaskedFeaturePretext(X_unlabeled, epochs=3))
    body = [k for k in w_plain if ".blocks." in k]
    assert body and any(not torch.equal(w_plain[k], w_pre[k]) for k in body)
    assert all(torch.equal(w_plain[k], w_pre[k]) for k in w_plain if k.startswith("net.head."))
    # the callback ran once, then left the net: the kept model carries neither it nor the rows
    assert "pretext" not in dict(net.callbacks_) and "pretext" not in dict(net.callbacks)


def test_a_fit_with_95_percent_unlabeled_rows_pretrains_on_all_rows_but_the_validation_rows(monkeypatch):
    rng = np.random.default_rng(0)
    X, y = _blobs(n=400, seed=1)
    y = y.copy()
    labeled = np.sort(rng.choice(400, size=20, replace=False))
    y_semi = np.full(400, -1)
    y_semi[labeled] = y[labeled]
    seen = []
    real = pretext_module.pretrain

    def spy(module, rows, **kwargs):  # records the rows, runs the real pre-training
        seen.append(len(rows))
        return real(module, rows, **kwargs)

    monkeypatch.setattr(pretext_module, "pretrain", spy)
    clf = AutoNASClassifier(unlabeled=-1, time_budget=None, max_trials=2, max_epochs=5, ensemble_size=1,
                            random_state=0).fit(X, y_semi)
    assert clf.n_unlabeled_ == 380 and list(clf.classes_) == [0, 1]
    assert all(s == "ok" for s in clf.search_results_["status"])
    n_valid = int(round(0.2 * 20))
    # every trial saw the 380 unlabeled rows and its 16 labeled training rows; the refit all 20 labeled rows
    assert seen.count(380 + 20 - n_valid) == 2 and seen[-1] == 400
    # well above the majority class (0.51); the model is chosen on 4 validation rows, so the bar is loose
    # (the shipped portfolio's second entry, chosen here, predicts 0.795 of all rows, the linear model 0.89)
    assert (clf.predict(X) == y).mean() > 0.75


def test_a_network_without_a_body_is_left_alone():
    torch.manual_seed(0)
    linear = DenseDAG(8, 2, [])  # logistic regression: the head reads the input itself
    start = {k: v.clone() for k, v in linear.state_dict().items()}
    assert pretrain(linear, _low_rank(n=64), epochs=3) == []
    assert all(torch.equal(v, start[k]) for k, v in linear.state_dict().items())
