"""The searched training loss reaches the criterion; the score and the pruner's loss stay the comparable ones."""

import numpy as np
import pytest
import torch
from sklearn.metrics import get_scorer

from sknas.evaluation.trainer import Evaluator, make_net
from sknas.evaluation.trial import TrialData
from sknas.nn.tabm import EnsembleCrossEntropyLoss, EnsembleMSELoss
from sknas.nn.losses import EnsembleHuberLoss, GeneralizedCrossEntropyLoss
from sknas.search.base import Candidate
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace


def _net(task, **changes):
    space = JointSpace(MLPSpace(max_blocks=1, max_width=64), TrainingSpace(task))
    g = space.replace(space.portfolio()[0], **changes)
    n_outputs = 3 if task == "classification" else 1
    net = make_net(space, g, task, 4, n_outputs, classes=np.arange(3) if n_outputs > 1 else None, max_epochs=1)
    return net.initialize()


@pytest.mark.parametrize("task, changes, cls, attrs", [
    ("classification", {}, torch.nn.CrossEntropyLoss, {"label_smoothing": 0.0}),
    ("classification", {"loss": "gce", "label_smoothing": 0.1}, GeneralizedCrossEntropyLoss,
     {"q": 0.7, "label_smoothing": 0.1}),
    ("classification", {"ensemble_k": 4}, EnsembleCrossEntropyLoss, {}),
    ("regression", {}, torch.nn.MSELoss, {}),
    ("regression", {"loss": "huber", "huber_delta": 0.3}, EnsembleHuberLoss, {"delta": 0.3}),
    ("regression", {"ensemble_k": 4}, EnsembleMSELoss, {}),
])
def test_the_genotypes_loss_is_the_nets_criterion(task, changes, cls, attrs):
    net = _net(task, **changes)
    assert type(net.criterion_) is cls
    for name, value in attrs.items():
        assert getattr(net.criterion_, name) == pytest.approx(value)


def test_a_gce_trial_is_scored_by_accuracy_and_pruned_on_plain_cross_entropy():
    """The trial's own valid_loss is L_q (always below cross-entropy); its score and plain curve are not."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    X = rng.normal(size=(300, 4)) + 1.5 * y[:, None]
    data = TrialData(X[:200], y[:200], X[200:], y[200:])
    space = JointSpace(MLPSpace(max_blocks=1, max_width=64), TrainingSpace())
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=8, classes=np.array([0, 1]),
                   preprocessing="none", prune=True, patience=8, keep_predictions=True)
    g = space.replace(space.portfolio()[0], loss="gce", lr=1e-2)
    r = ev.evaluate(Candidate(g), data, seed=0)
    assert r.status == "ok"
    # (1 - p^q) / q < -log p for every p < 1: the pruner's curve is the cross-entropy, not the trial's loss
    assert np.all(np.asarray(r.learning_curve) < np.asarray(r.plain_curve))
    assert r.plain_loss == pytest.approx(min(r.plain_curve), rel=1e-4)
    # the score is the accuracy of the predictions
    accuracy = np.mean(np.asarray(r.predictions).argmax(axis=1) == data.y_valid)
    assert r.score == pytest.approx(accuracy)


@pytest.mark.parametrize("changes", [{}, {"loss": "gce"}, {"loss": "gce", "ensemble_k": 4}, {"snapshots": 3}])
def test_a_classifiers_probabilities_are_probabilities_whatever_its_loss(changes):
    """skorch's 'auto' softmax only follows a CrossEntropyLoss criterion; a GCE-trained net returned its logits."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.arange(90) % 3
    net = _net("classification", **changes)
    net.fit(X, y)
    proba = net.predict_proba(X)
    assert proba.shape == (90, 3)
    assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(net.predict(X), net.classes_[proba.argmax(axis=1)])
