import numpy as np
import pytest
import torch

from sknas.evaluation.trainer import make_net
from sknas.prep.imbalance import BalancedClassWeight, balanced_class_weights
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


def test_balanced_weights_match_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array(["a"] * 90 + ["b"] * 9 + ["c"])
    np.testing.assert_allclose(balanced_class_weights(y, ["a", "b", "c"]),
                               compute_class_weight("balanced", classes=np.array(["a", "b", "c"]), y=y))
    np.testing.assert_allclose(balanced_class_weights(np.array([0, 0, 2]), [0, 1, 2]), [0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="outside classes"):
        balanced_class_weights(np.array([5]), [0, 1])


def imbalanced(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.where(X[:, 0] + 0.8 * rng.normal(size=n) > 1.6, "rare", "common")
    return X, y


def net_for(class_weight):
    space = JointSpace(MLPSpace(max_blocks=1, max_width=32), TrainingSpace(), PipelineSpace())
    g = space.validate(dict(space.portfolio()[0], class_weight=class_weight))
    return make_net(space, g, "classification", 4, 2, classes=np.array(["common", "rare"]), max_epochs=15,
                    n_train=400)


def test_class_weight_balanced_weights_the_loss_and_predicts_the_rare_class_more():
    X, y = imbalanced()
    torch.manual_seed(0)
    weighted = net_for("balanced").fit(X, y)
    callback = dict(weighted.callbacks_)["class_weight"]
    assert isinstance(callback, BalancedClassWeight)
    expected = balanced_class_weights(y, ["common", "rare"])
    np.testing.assert_allclose(weighted.criterion_.weight.numpy(), expected, rtol=1e-6)
    assert expected[1] > 3 * expected[0]
    torch.manual_seed(0)
    plain = net_for("none").fit(X, y)
    assert "class_weight" not in dict(plain.callbacks_) and plain.criterion_.weight is None
    assert (weighted.predict(X) == "rare").sum() > (plain.predict(X) == "rare").sum()
