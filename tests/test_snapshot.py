"""Snapshot ensembles (Huang et al. 2017) as the ``snapshots`` training choice of TrainingSpace."""

import pickle
import time

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import get_scorer, log_loss

from sknas.estimators import AutoNASClassifier
from sknas.evaluation.trainer import Evaluator, make_net
from sknas.evaluation.trial import TrialData
from sknas.nn.snapshot import SnapshotEnsemble
from sknas.search.base import Candidate
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace


def space_for(task="classification", **training):
    # min_blocks=1: the first portfolio entry is a network, not the linear model
    return JointSpace(MLPSpace(max_blocks=2, min_blocks=1, max_width=64), TrainingSpace(task, **training))


def genotype(space, **changes):
    return space.replace(space.portfolio()[0], **changes)


def standardized(X):
    X = np.asarray(X, dtype=np.float64)
    return (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)


def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return standardized(X), y


def member_outputs(net, X):
    """Each snapshot's raw outputs on ``X`` (evaluation mode), shape (M, n, d)."""
    ensemble = net.module_.net
    ensemble.eval()
    with torch.no_grad():
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        return np.stack([member(X).numpy() for member in ensemble.members])


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# -- the search space ------------------------------------------------------------------
def test_snapshots_is_a_training_choice_off_by_default():
    space = TrainingSpace()
    names = [p.name for p in space.params]
    assert "snapshots" in names and names.index("snapshots") < names.index("lr_schedule")
    assert space.portfolio()[0]["snapshots"] == 1
    assert {space.sample(seed)["snapshots"] for seed in range(40)} == {1, 3, 5}
    assert TrainingSpace("regression").portfolio()[0]["snapshots"] == 1
    forced = TrainingSpace(snapshots=(3,))
    assert forced.portfolio()[0]["snapshots"] == 3 and forced.sample(0)["snapshots"] == 3
    with pytest.raises(ValueError):
        _ = TrainingSpace(snapshots=(0, 3)).params


def test_lr_schedule_is_a_decision_only_without_snapshots():
    """A snapshot ensemble has its own schedule: ``lr_schedule`` is inactive (absent) for snapshots > 1."""
    space = TrainingSpace()
    draws = [space.sample(seed) for seed in range(60)]
    assert all(("lr_schedule" in g) == (g["snapshots"] == 1) for g in draws)
    assert {g["lr_schedule"] for g in draws if "lr_schedule" in g} == {"constant", "cosine", "onecycle"}
    with_schedule = space.portfolio()[0]
    with pytest.raises(ValueError, match="inactive"):
        space.validate({**with_schedule, "snapshots": 3})
    assert "lr_schedule" not in space.validate({k: v for k, v in with_schedule.items() if k != "lr_schedule"}
                                               | {"snapshots": 3})
    forced = TrainingSpace(snapshots=(3,))
    assert "lr_schedule" not in forced.portfolio()[0] and "lr_schedule" not in forced.sample(0)
    assert "lr_schedule" in TrainingSpace(snapshots=(1,)).sample(0)


def test_genotype_saved_before_snapshots_still_validates():
    space = space_for()
    old = dict(space.portfolio()[0])
    del old["snapshots"]
    assert space.validate(old)["snapshots"] == 1
    assert TrainingSpace().validate({k: v for k, v in old.items() if k in
                                     {p.name for p in TrainingSpace().params}})["snapshots"] == 1
    # without 1 among the choices there is no "off" value to read: the key is required
    with pytest.raises(ValueError):
        space_for(snapshots=(3, 5)).validate(old)


# -- training ---------------------------------------------------------------------------
@pytest.mark.parametrize("M", [3, 5])
@pytest.mark.parametrize("per_batch", [True, False])
def test_learning_rate_restarts_m_minus_one_times(M, per_batch):
    torch.manual_seed(0)
    X, y = cancer()
    X, y = X[:256], y[:256]
    space = space_for()
    g = genotype(space, snapshots=M, lr=1e-2, batch_size=64)
    epochs = 3 * M
    net = make_net(space, g, "classification", X.shape[1], 2, classes=np.unique(y), max_epochs=epochs,
                   n_train=len(X) if per_batch else None)
    net.fit(X, y)
    if per_batch:  # the learning rate of every training batch, recorded by skorch's LRScheduler
        lrs = np.array([b["event_lr"] for row in net.history for b in row["batches"] if "event_lr" in b])
        assert len(lrs) == epochs * 4
    else:
        lrs = np.array(net.history[:, "event_lr"])
        assert len(lrs) == epochs
    jumps = np.flatnonzero(np.diff(lrs) > 0) + 1
    assert len(jumps) == M - 1
    cycle = len(lrs) // M
    assert list(jumps) == [cycle * i for i in range(1, M)]  # M equal cycles
    assert np.allclose(lrs[jumps], 1e-2) and lrs[0] == pytest.approx(1e-2)  # a restart is at the initial lr
    ends = lrs[jumps - 1]
    assert np.all(ends < 0.6e-2)  # annealed before each restart
    # one snapshot at the end of every cycle, i.e. every 3 epochs here
    taken = [row["epoch"] for row in net.history if "snapshots" in row]
    assert taken == [3 * i for i in range(1, M + 1)]


def test_the_module_averages_the_snapshots_probabilities():
    torch.manual_seed(0)
    X, y = cancer()
    space = space_for()
    g = genotype(space, snapshots=3, lr=1e-2, batch_size=64)
    net = make_net(space, g, "classification", X.shape[1], 2, classes=np.unique(y), max_epochs=9,
                   n_train=400, valid_data=(X[400:], y[400:]), patience=1)
    net.fit(X[:400], y[:400])
    assert len(net.history) == 9  # no early stopping in snapshot mode, even with patience=1
    ensemble = net.module_.net
    assert isinstance(ensemble, SnapshotEnsemble) and len(ensemble.members) == 3
    weights = [torch.cat([p.detach().ravel() for p in m.parameters()]) for m in ensemble.members]
    assert not torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])
    rows = X[400:]
    expected = softmax(member_outputs(net, rows)).mean(axis=0)
    assert np.allclose(net.predict_proba(rows), expected, atol=1e-5)
    # the average of probabilities, not of logits (which differs wherever the members disagree)
    from_logits = softmax(member_outputs(net, rows).mean(axis=0))
    assert not np.allclose(expected, from_logits, atol=1e-5)
    assert (net.predict(rows) == np.unique(y)[expected.argmax(axis=1)]).all()


def test_regression_averages_the_snapshots_outputs():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = 100.0 + 10.0 * X[:, 0] - 5.0 * X[:, 1] ** 2 + rng.normal(size=300)
    space = space_for("regression")
    g = genotype(space, snapshots=3, lr=1e-2, batch_size=64)
    net = make_net(space, g, "regression", 4, 1, max_epochs=9, n_train=300)
    net.fit(X, y)
    assert len(net.module_.net.members) == 3
    expected = member_outputs(net, X[:20]).mean(axis=0).ravel() * net.target_scale_[0] + net.target_mean_[0]
    assert np.allclose(net.predict(X[:20]), expected, rtol=1e-5, atol=1e-4)


def test_snapshot_ensemble_log_loss_on_digits():
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = standardized(X)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, valid = order[:1200], order[1200:]
    space = space_for()
    # three cycles of ten epochs at a high learning rate: the snapshots differ and the later ones overfit
    g = genotype(space, snapshots=3, lr=1e-2, batch_size=64)
    classes = np.unique(y)
    net = make_net(space, g, "classification", X.shape[1], len(classes), classes=classes, max_epochs=30,
                   n_train=len(train))
    net.fit(X[train], y[train])
    members = softmax(member_outputs(net, X[valid]))
    member_losses = [log_loss(y[valid], p, labels=classes) for p in members]
    ensemble_loss = log_loss(y[valid], net.predict_proba(X[valid]), labels=classes)
    # Jensen's inequality (-log is convex): never worse than the members' mean log-loss
    assert ensemble_loss <= np.mean(member_losses) + 1e-9
    # and, on this problem, no worse than the last snapshot alone (the network a single run would return);
    # with seeds 0-3 the margin was 0.02-0.08 nats
    assert ensemble_loss <= member_losses[-1]
    assert (net.predict(X[valid]) == y[valid]).mean() > 0.9


def test_deadline_before_any_cycle_ends_keeps_the_current_weights():
    X, y = cancer()
    space = space_for()
    g = genotype(space, snapshots=3, batch_size=32)
    ev = Evaluator(space, "classification", get_scorer("neg_log_loss"), max_epochs=100_000,
                   classes=np.unique(y), preprocessing="none")
    r = ev.evaluate(Candidate(g), TrialData(X[:400], y[:400], X[400:], y[400:]),
                    deadline=time.time() + 1.0, seed=0)
    assert r.status == "ok", r.error
    assert r.stop_reason == "time_limit"
    net = r.model.named_steps["net"]
    assert len(net.module_.net.members) == 1  # no cycle of 100 000 / 3 epochs ended: the current weights
    assert np.allclose(net.predict_proba(X[:5]).sum(axis=1), 1.0, atol=1e-5)


def test_evaluator_and_refit_train_the_full_schedule():
    X, y = cancer()
    space = space_for()
    g = genotype(space, snapshots=3, lr=1e-2, batch_size=64)
    ev = Evaluator(space, "classification", get_scorer("neg_log_loss"), max_epochs=12, classes=np.unique(y),
                   preprocessing="none", patience=1, max_params=10**7)
    r = ev.evaluate(Candidate(g), TrialData(X[:400], y[:400], X[400:], y[400:]), seed=0)
    assert r.status == "ok", r.error
    assert r.stop_reason == "max_epochs" and r.n_epochs == 12 and r.best_epoch == 12
    single = make_net(space, genotype(space), "classification", X.shape[1], 2, classes=np.unique(y))
    single.initialize()
    n_single = sum(p.numel() for p in single.module_.parameters())
    assert r.n_params == 3 * n_single  # the ensemble predicts with its three snapshots
    # max_params counts the three copies too
    tight = Evaluator(space, "classification", get_scorer("neg_log_loss"), max_epochs=12, classes=np.unique(y),
                      max_params=2 * n_single)
    assert tight.evaluate(Candidate(g), TrialData(X[:400], y[:400], X[400:], y[400:])).status == "failed"

    model, completed = ev.refit(g, X, y, epochs=r.best_epoch, schedule_epochs=100, seed=0)
    assert completed
    net = model.named_steps["net"]
    assert len(net.history) == 12 and len(net.module_.net.members) == 3
    assert [row["epoch"] for row in net.history if "snapshots" in row] == [4, 8, 12]
    assert (model.predict(X) == y).mean() > 0.9


def test_autonas_classifier_with_snapshots_fits_pickles_and_saves(tmp_path):
    from sknas import io

    X, y = cancer()
    space = JointSpace(MLPSpace(max_blocks=1, max_width=32), TrainingSpace(snapshots=(3,)))
    auto = AutoNASClassifier(space=space, search="random", time_budget=None, max_trials=2, max_epochs=6,
                             random_state=0).fit(X[:400], y[:400])
    assert auto.best_genotype_["snapshots"] == 3
    net = auto.best_estimator_.named_steps["net"]
    assert isinstance(net.module_.net, SnapshotEnsemble) and len(net.module_.net.members) == 3
    proba = auto.predict_proba(X[400:])
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert auto.score(X[400:], y[400:]) > 0.85
    again = pickle.loads(pickle.dumps(auto))
    assert np.allclose(again.predict_proba(X[400:]), proba)
    path = io.save(auto, tmp_path / "snapshots.sknas")
    loaded = io.load(path)
    assert np.allclose(loaded.predict_proba(X[400:]), proba, atol=1e-6)


def test_autonas_classifier_with_snapshots_exports_to_onnx(tmp_path):
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from sknas.export import export_onnx

    X, y = cancer()
    space = JointSpace(MLPSpace(max_blocks=1, max_width=32), TrainingSpace(snapshots=(3,)))
    auto = AutoNASClassifier(space=space, search="random", time_budget=None, max_trials=1, max_epochs=6,
                             random_state=0, ensemble_size=1).fit(X[:400], y[:400])  # one network, not a bag
    assert len(auto.best_estimator_.named_steps["net"].module_.net.members) == 3
    # X_check runs the written graph with onnxruntime and raises when it disagrees with predict_proba
    export_onnx(auto, tmp_path / "snapshots.onnx", X_check=X[400:])


def test_snapshot_ensemble_exports_as_a_plain_module():
    members = [torch.nn.Linear(3, 4) for _ in range(3)]
    ensemble = SnapshotEnsemble(members).eval()
    x = torch.randn(5, 3)
    exported = torch.export.export(ensemble, (x,)).module()
    expected = torch.stack([torch.softmax(m(x), dim=1) for m in members]).mean(dim=0)
    assert torch.allclose(torch.softmax(exported(x), dim=1), expected, atol=1e-6)
    assert torch.allclose(torch.exp(ensemble(x)).sum(dim=1), torch.ones(5), atol=1e-6)
    regression = SnapshotEnsemble([torch.nn.Linear(3, 1) for _ in range(2)], average="mean")
    assert torch.allclose(regression(x), (regression.members[0](x) + regression.members[1](x)) / 2)
    # a state dict says how to rebuild the ensemble (sknas.io.load relies on it)
    rebuilt = SnapshotEnsemble.from_state_dict(torch.nn.Linear(3, 1), regression.state_dict())
    rebuilt.load_state_dict(regression.state_dict())
    assert rebuilt.average == "mean" and torch.allclose(rebuilt(x), regression(x))
