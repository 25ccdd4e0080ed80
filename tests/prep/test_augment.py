import numpy as np
import pytest
import torch

from sknas.evaluation.trainer import make_net
from sknas.prep.augment import (
    AugmentedIterator,
    Compose,
    Cutout,
    FeatureCorruption,
    GaussianNoise,
    Mixup,
    RandomFlip,
    RandomShift,
    make_augmentation,
)
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


@pytest.fixture(autouse=True)
def seeded():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


def test_mixup_mixes_rows_and_one_hot_targets_with_the_same_weights():
    y = torch.arange(64) % 3
    X = torch.nn.functional.one_hot(y, 3).float()  # a row that is its own target reveals the mixing
    Xa, ya = Mixup(alpha=0.4, n_classes=3)(X, y)
    assert ya.shape == (64, 3) and ya.dtype == torch.float32
    torch.testing.assert_close(Xa, ya)
    torch.testing.assert_close(ya.sum(dim=1), torch.ones(64))
    assert ((ya > 0) & (ya < 1)).any()  # some targets are soft
    y_reg = torch.randn(64, 1)
    Xr, yr = Mixup(alpha=0.4)(y_reg.clone(), y_reg)  # float targets are mixed as they are
    torch.testing.assert_close(Xr, yr)
    with pytest.raises(ValueError, match="n_classes"):
        Mixup()(X, y)


def test_gaussian_noise_has_the_requested_scale_and_keeps_targets():
    X, y = torch.zeros(2000, 10), torch.arange(2000)
    Xa, ya = GaussianNoise(std=0.3)(X, y)
    assert Xa.std().item() == pytest.approx(0.3, rel=0.05) and ya is y


def test_feature_corruption_replaces_a_share_of_values_by_values_of_the_same_column():
    X = torch.arange(400 * 8, dtype=torch.float32).reshape(400, 8)  # every value unique, column = value % 8
    Xa, _ = FeatureCorruption(rate=0.25)(X, torch.zeros(400))
    changed = Xa != X
    assert changed.float().mean().item() == pytest.approx(0.25 * (1 - 1 / 400), abs=0.03)
    torch.testing.assert_close(Xa % 8, X % 8)  # a replacement comes from its own column


def image_batch(n=6):
    images = torch.zeros(n, 1, 8, 8)
    images[:, :, 2:6, 2:6] = torch.arange(16.0).reshape(4, 4) + 1  # content away from the borders
    return images


def test_random_shift_moves_content_by_at_most_max_shift():
    images = image_batch(32)
    flat = images.reshape(32, -1)
    shifted, _ = RandomShift(max_shift=2, input_shape=(1, 8, 8))(flat, None)
    shifted = shifted.reshape(32, 1, 8, 8)
    torch.testing.assert_close(shifted.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)))  # nothing falls off
    offsets = set()
    for img in shifted:
        rows, cols = torch.nonzero(img[0], as_tuple=True)
        offsets.add((int(rows.min()) - 2, int(cols.min()) - 2))
        assert abs(int(rows.min()) - 2) <= 2 and abs(int(cols.min()) - 2) <= 2
    assert len(offsets) > 3


def test_random_flip_returns_the_image_or_its_mirror():
    images = image_batch(32)
    flipped, _ = RandomFlip(p=0.5)(images, None)
    same = (flipped == images).flatten(1).all(dim=1)
    mirrored = (flipped == images.flip(3)).flatten(1).all(dim=1)
    assert (same | mirrored).all() and same.any() and mirrored.any()


def test_cutout_zeroes_at_most_a_square_and_leaves_the_rest():
    images = torch.ones(16, 3, 8, 8)
    out, _ = Cutout(size=3)(images, None)
    zeros = (out == 0).all(dim=1).flatten(1).sum(dim=1)  # all channels of a pixel together
    assert (zeros <= 9).all() and (zeros >= 1).all()
    assert ((out == 0) | (out == 1)).all()


def test_make_augmentation_and_compose():
    assert make_augmentation("none") is None
    assert isinstance(make_augmentation("corrupt", 0.2), FeatureCorruption)
    assert make_augmentation("shift", 0.5, input_shape=(1, 8, 8)).max_shift == 2
    assert make_augmentation("cutout", 0.5, input_shape=(1, 8, 8)).size == 4
    with pytest.raises(ValueError, match="needs input_shape"):
        make_augmentation("flip", 0.2)
    with pytest.raises(ValueError, match="Unknown augmentation"):
        make_augmentation("rotate", 0.2)
    both = Compose([GaussianNoise(0.1), FeatureCorruption(0.1)])
    assert both(torch.zeros(4, 3), None)[0].shape == (4, 3)


def test_augmented_iterator_wraps_any_iterator():
    from skorch.dataset import Dataset

    ds = Dataset(torch.zeros(10, 2), torch.zeros(10))
    batches = list(AugmentedIterator(ds, batch_size=4, augment=GaussianNoise(1.0)))
    assert len(batches) == 3 and all(b[0].abs().sum() > 0 for b in batches)


def joint_genotype(space, **pipeline):
    g = space.portfolio()[0]
    return space.validate(dict(g, **pipeline))


class Recorder(torch.nn.Module):
    """Wraps a network and keeps the inputs it saw in training and in evaluation mode."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.seen = {True: [], False: []}

    def forward(self, X):
        self.seen[self.training].append(X.detach().clone())
        return self.module(X)


@pytest.mark.parametrize("augment", ["mixup", "noise", "corrupt"])
def test_augmentation_changes_training_batches_and_is_off_at_predict_time(augment):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    space = JointSpace(MLPSpace(max_blocks=1, max_width=32), TrainingSpace(), PipelineSpace())
    g = joint_genotype(space, augment=augment, augment_strength=0.3)
    net = make_net(space, g, "classification", 5, 2, classes=np.array([0, 1]), max_epochs=2, n_train=96)
    assert net.iterator_train is AugmentedIterator
    net.initialize()
    net.module_ = Recorder(net.module_)
    net.partial_fit(X, y)
    rows = {tuple(r) for r in X.round(5).tolist()}
    trained_on = torch.cat(net.module_.seen[True]).numpy().round(5)
    assert sum(tuple(r) not in rows for r in trained_on.tolist()) > len(trained_on) // 2
    first = net.predict_proba(X)
    np.testing.assert_array_equal(first, net.predict_proba(X))  # no randomness at predict time
    predicted_on = torch.cat(net.module_.seen[False]).numpy()
    np.testing.assert_array_equal(predicted_on[-len(X):], X)


def test_no_augmentation_keeps_the_plain_iterator():
    space = JointSpace(MLPSpace(max_blocks=1, max_width=32), TrainingSpace(), PipelineSpace())
    net = make_net(space, space.portfolio()[0], "classification", 5, 2, classes=np.array([0, 1]))
    assert net.iterator_train is not AugmentedIterator
