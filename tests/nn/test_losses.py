"""Noise-robust losses (sknas.nn.losses): generalized cross-entropy and the Huber loss."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from sknas.nn.tabm import EnsembleCrossEntropyLoss
from sknas.nn.losses import EnsembleHuberLoss, GeneralizedCrossEntropyLoss


def test_gce_tends_to_cross_entropy_as_q_goes_to_zero():
    """(1 - p^q) / q -> -log p: with class weights, label smoothing, soft targets and TabM members alike."""
    torch.manual_seed(0)
    logits, y = torch.randn(16, 3), torch.randint(0, 3, (16,))
    w = torch.tensor([1.0, 2.0, 0.5])
    soft = torch.softmax(torch.randn(16, 3), dim=1)
    members = torch.randn(16, 4, 3)
    gce = GeneralizedCrossEntropyLoss(q=1e-6)
    assert gce(logits, y).item() == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-4)
    weighted = GeneralizedCrossEntropyLoss(q=1e-6, weight=w, label_smoothing=0.1)
    assert weighted(logits, y).item() == pytest.approx(
        F.cross_entropy(logits, y, weight=w, label_smoothing=0.1).item(), rel=1e-3)
    assert GeneralizedCrossEntropyLoss(q=1e-6, weight=w)(logits, soft).item() == pytest.approx(
        F.cross_entropy(logits, soft, weight=w).item(), rel=1e-4)
    assert gce(members, y).item() == pytest.approx(EnsembleCrossEntropyLoss()(members, y).item(), rel=1e-4)


def test_gce_is_bounded_and_pulls_less_on_a_confidently_wrong_label():
    """A flipped label the network contradicts: cross-entropy grows without bound, L_q stays below 1/q."""
    y = torch.tensor([0])
    gce, ce = GeneralizedCrossEntropyLoss(q=0.7), torch.nn.CrossEntropyLoss()
    grads = {}
    for margin in (2.0, 8.0, 20.0):
        for name, loss in (("gce", gce), ("ce", ce)):
            logits = torch.tensor([[0.0, margin]], requires_grad=True)  # p_y = sigmoid(-margin)
            value = loss(logits, y)
            value.backward()
            grads[name, margin] = logits.grad.norm().item()
            if name == "gce":
                assert value.item() < 1 / 0.7
        # the gradient is cross-entropy's times p_y^q
        p_y = torch.sigmoid(torch.tensor(-margin)).item()
        assert grads["gce", margin] == pytest.approx(grads["ce", margin] * p_y ** 0.7, rel=1e-2)
    assert ce(torch.tensor([[0.0, 20.0]]), y).item() > 19
    # the more confidently wrong, the less GCE pulls; cross-entropy pulls ever harder (towards sqrt(2))
    assert grads["gce", 20.0] < 1e-5 < grads["gce", 8.0] < grads["gce", 2.0]
    assert grads["ce", 20.0] > grads["ce", 2.0]


def _flipped_blobs_accuracy(loss, seed, n=200, flip=0.3, epochs=150, width=64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + 1000, 2)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    y_train = y[:n].copy()
    bad = rng.choice(n, int(flip * n), replace=False)
    y_train[bad] = 1 - y_train[bad]
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
                              torch.nn.ReLU(), torch.nn.Linear(width, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    X_train, y_train = torch.as_tensor(X[:n]), torch.as_tensor(y_train)
    for _ in range(epochs):
        opt.zero_grad()
        loss(net(X_train), y_train).backward()
        opt.step()
    with torch.no_grad():
        return float((net(torch.as_tensor(X[n:])).argmax(1).numpy() == y[n:]).mean())


@pytest.mark.slow
def test_gce_resists_memorizing_flipped_labels():
    """30 % flipped labels, an over-parameterized MLP trained long: GCE keeps a higher clean test accuracy."""
    torch.set_num_threads(1)
    ce = [_flipped_blobs_accuracy(torch.nn.CrossEntropyLoss(), s) for s in range(3)]
    gce = [_flipped_blobs_accuracy(GeneralizedCrossEntropyLoss(), s) for s in range(3)]
    assert np.mean(gce) > np.mean(ce) + 0.05, (ce, gce)
    assert sum(g > c for g, c in zip(gce, ce)) >= 2, (ce, gce)


def test_huber_fit_is_closer_to_the_true_slope_with_outliers():
    """y = 2x + noise with 15 % of the targets replaced by -10 std * sign(x): Huber's slope stays near 2."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = 2 * x + 0.2 * rng.normal(size=200)
    bad = rng.choice(200, 30, replace=False)
    y[bad] = -10 * y.std() * np.sign(x[bad])
    X = torch.as_tensor(x[:, None], dtype=torch.float32)
    Y = torch.as_tensor(y[:, None], dtype=torch.float32)

    def slope(loss):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        for _ in range(150):
            opt.zero_grad()
            loss(model(X), Y).backward()
            opt.step()
        return model.weight.item()

    mse, huber = slope(torch.nn.MSELoss()), slope(EnsembleHuberLoss(delta=1.0))
    assert abs(huber - 2) < 0.5, huber
    assert abs(mse - 2) > 2.0, mse  # the outliers turn the least-squares slope around


def test_huber_takes_tabm_members():
    torch.manual_seed(0)
    members, y = torch.randn(8, 4, 1), torch.randn(8, 1)
    expected = torch.stack([F.huber_loss(members[:, j], y, delta=0.3) for j in range(4)]).mean()
    assert EnsembleHuberLoss(delta=0.3)(members, y).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("kwargs", [{"q": 0.0}, {"q": 1.5}, {"label_smoothing": 1.0}])
def test_gce_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError, match="GeneralizedCrossEntropyLoss"):
        GeneralizedCrossEntropyLoss(**kwargs)
