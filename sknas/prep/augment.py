"""Training-time data augmentation: batch transforms applied by the training iterator.

An augmentation is a callable ``augment(X, y) -> (X, y)`` on one mini-batch
of tensors. :class:`AugmentedIterator` wraps the net's training iterator and
applies it to every batch it yields. skorch uses ``iterator_train`` only to
train, and ``iterator_valid`` for validation and prediction, so an
augmentation is active during training and off at predict time by
construction; no change to the training loop is needed.

Why an iterator and not a callback: skorch's ``on_batch_begin`` receives the
batch but cannot replace it, and mixup must replace the targets (integer
labels become mixed one-hot targets, which ``CrossEntropyLoss`` accepts as
class probabilities). Wrapping the iterator lets every augmentation return
a new batch. Randomness comes from torch's global generator, which every
trial seeds (``torch.manual_seed``), so trials stay reproducible.

Tabular rows: :class:`Mixup`, :class:`GaussianNoise`,
:class:`FeatureCorruption` (SCARF). Images (rows of X flattened from
``input_shape``, or 4-D batches): :class:`RandomShift`, :class:`RandomFlip`,
:class:`Cutout`; :class:`Compose` chains augmentations.
"""

from __future__ import annotations

import torch
from sklearn.base import BaseEstimator

__all__ = [
    "AUGMENTATIONS", "IMAGE_AUGMENTATIONS", "AugmentedIterator", "Compose", "Cutout", "FeatureCorruption",
    "GaussianNoise", "Mixup", "RandomFlip", "RandomShift", "make_augmentation",
]

AUGMENTATIONS = ("mixup", "noise", "corrupt")
IMAGE_AUGMENTATIONS = ("shift", "flip", "cutout")


class Mixup(BaseEstimator):
    """Mixup: convex combinations of pairs of rows and of their targets.

    Each batch is mixed with a shuffled copy of itself,
    ``x = lam * x_i + (1 - lam) * x_j`` with ``lam ~ Beta(alpha, alpha)``
    drawn once per batch, and so are the targets: integer class labels are
    turned into one-hot rows first (so ``n_classes`` is needed), float
    targets (regression) are mixed as they are.

    Parameters
    ----------
    alpha : float, default=0.2
    n_classes : int or None, default=None
        Number of classes when targets are integer labels.

    References
    ----------
    Zhang, Cisse, Dauphin, Lopez-Paz. "mixup: Beyond Empirical Risk
    Minimization." ICLR 2018.
    """

    def __init__(self, alpha=0.2, n_classes=None):
        self.alpha = alpha
        self.n_classes = n_classes

    def __call__(self, X, y):
        n = X.shape[0]
        lam = float(torch.distributions.Beta(float(self.alpha), float(self.alpha)).sample())
        perm = torch.randperm(n, device=X.device)
        X = lam * X + (1.0 - lam) * X[perm]
        if not torch.is_floating_point(y):
            if self.n_classes is None:
                raise ValueError("Mixup: n_classes is needed to mix integer class labels.")
            y = torch.nn.functional.one_hot(y.long(), int(self.n_classes)).to(X.dtype)
        y = lam * y + (1.0 - lam) * y[perm]
        return X, y


class GaussianNoise(BaseEstimator):
    """Add ``N(0, std^2)`` noise to every input value (inputs are scaled, so ``std`` is relative).

    Parameters
    ----------
    std : float, default=0.1
    """

    def __init__(self, std=0.1):
        self.std = std

    def __call__(self, X, y):
        return X + self.std * torch.randn_like(X), y


class FeatureCorruption(BaseEstimator):
    """SCARF-style corruption: replace a random share of the values by draws from their column's marginal.

    Each value is replaced, with probability ``rate``, by the value of the
    same column in a random row of the batch (the batch's empirical
    marginal), which keeps the corrupted value plausible for its column.

    Parameters
    ----------
    rate : float, default=0.3

    References
    ----------
    Bahri, Jiang, Tay, Metzler. "SCARF: Self-Supervised Contrastive
    Learning using Random Feature Corruption." ICLR 2022.

    Notes
    -----
    SCARF uses the corruption to build views for contrastive
    pretraining; here it is used directly as a supervised augmentation.
    """

    def __init__(self, rate=0.3):
        self.rate = rate

    def __call__(self, X, y):
        n = X.shape[0]
        mask = torch.rand(X.shape, device=X.device) < self.rate
        donors = torch.randint(0, n, X.shape, device=X.device)
        return torch.where(mask, X.gather(0, donors), X), y


def _as_images(X, input_shape):
    """``(n, C, H, W)`` view of a batch and a function restoring the batch's shape."""
    if X.dim() == 4:
        return X, lambda images: images
    if input_shape is None:
        raise ValueError("Image augmentations of flat rows need input_shape=(C, H, W) (or (H, W)).")
    shape = tuple(input_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    original = X.shape
    return X.reshape((X.shape[0],) + shape), lambda images: images.reshape(original)


class RandomShift(BaseEstimator):
    """Shift each image by up to ``max_shift`` pixels in each direction, filling with zeros.

    Parameters
    ----------
    max_shift : int, default=2
    input_shape : tuple or None, default=None
        ``(C, H, W)`` of the flattened rows (not needed for 4-D batches).
    """

    def __init__(self, max_shift=2, input_shape=None):
        self.max_shift = max_shift
        self.input_shape = input_shape

    def __call__(self, X, y):
        images, restore = _as_images(X, self.input_shape)
        n, c, h, w = images.shape
        s = int(self.max_shift)
        padded = torch.nn.functional.pad(images, (s, s, s, s))
        dy = torch.randint(0, 2 * s + 1, (n,), device=X.device)
        dx = torch.randint(0, 2 * s + 1, (n,), device=X.device)
        rows = (dy[:, None] + torch.arange(h, device=X.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=X.device))[:, None, None, :]
        batch = torch.arange(n, device=X.device)[:, None, None, None]
        channels = torch.arange(c, device=X.device)[None, :, None, None]
        return restore(padded[batch, channels, rows, cols]), y


class RandomFlip(BaseEstimator):
    """Mirror each image with probability ``p``, horizontally and/or vertically.

    Flips are meaningful for natural images, not for digits or text, so
    each direction is a choice.

    Parameters
    ----------
    horizontal : bool, default=True
    vertical : bool, default=False
    p : float, default=0.5
    input_shape : tuple or None, default=None
    """

    def __init__(self, horizontal=True, vertical=False, p=0.5, input_shape=None):
        self.horizontal = horizontal
        self.vertical = vertical
        self.p = p
        self.input_shape = input_shape

    def __call__(self, X, y):
        images, restore = _as_images(X, self.input_shape)
        n = images.shape[0]
        for enabled, dim in ((self.horizontal, 3), (self.vertical, 2)):
            if enabled:
                flip = (torch.rand(n, device=X.device) < self.p)[:, None, None, None]
                images = torch.where(flip, images.flip(dim), images)
        return restore(images), y


class Cutout(BaseEstimator):
    """Zero a ``size`` x ``size`` square at a random centre of each image (clipped at the borders).

    Parameters
    ----------
    size : int, default=4
    input_shape : tuple or None, default=None

    References
    ----------
    DeVries, Taylor. "Improved Regularization of Convolutional Neural
    Networks with Cutout." arXiv:1708.04552 (2017).
    """

    def __init__(self, size=4, input_shape=None):
        self.size = size
        self.input_shape = input_shape

    def __call__(self, X, y):
        images, restore = _as_images(X, self.input_shape)
        n, _, h, w = images.shape
        cy = torch.randint(0, h, (n,), device=X.device)[:, None]
        cx = torch.randint(0, w, (n,), device=X.device)[:, None]
        half = int(self.size) // 2
        rows = torch.arange(h, device=X.device)[None, :]
        cols = torch.arange(w, device=X.device)[None, :]
        in_rows = (rows >= cy - half) & (rows < cy - half + int(self.size))
        in_cols = (cols >= cx - half) & (cols < cx - half + int(self.size))
        hole = (in_rows[:, :, None] & in_cols[:, None, :])[:, None, :, :]
        return restore(images.masked_fill(hole, 0.0)), y


class Compose(BaseEstimator):
    """Apply several augmentations in turn.

    Parameters
    ----------
    augmentations : list of callables
    """

    def __init__(self, augmentations):
        self.augmentations = augmentations

    def __call__(self, X, y):
        for augment in self.augmentations:
            X, y = augment(X, y)
        return X, y


def make_augmentation(name, strength=0.1, *, n_classes=None, input_shape=None):
    """The augmentation called ``name`` at a strength in (0, 1], or None for ``"none"``.

    Strength is mixup's ``alpha``, the noise's ``std``, the corruption rate;
    for images, the largest shift is ``strength * min(H, W) / 2`` pixels and
    the cutout square ``strength * min(H, W)`` pixels (at least 1).
    """
    if name in (None, "none"):
        return None
    if name == "mixup":
        return Mixup(alpha=strength, n_classes=n_classes)
    if name == "noise":
        return GaussianNoise(std=strength)
    if name == "corrupt":
        return FeatureCorruption(rate=strength)
    if name in IMAGE_AUGMENTATIONS:
        if input_shape is None:
            raise ValueError(f"The image augmentation {name!r} needs input_shape.")
        side = min(tuple(input_shape)[-2:])
        if name == "shift":
            return RandomShift(max_shift=max(1, round(strength * side / 2)), input_shape=input_shape)
        if name == "flip":
            return RandomFlip(input_shape=input_shape)
        return Cutout(size=max(1, round(strength * side)), input_shape=input_shape)
    raise ValueError(
        f"Unknown augmentation {name!r}; known: {('none',) + AUGMENTATIONS + IMAGE_AUGMENTATIONS}."
    )


class AugmentedIterator:
    """A training iterator that applies ``augment`` to every batch of a wrapped iterator.

    Parameters
    ----------
    dataset : skorch Dataset
    batch_size : int, default=128
    shuffle : bool, default=False
    augment : callable or None, default=None
        ``augment(X, y) -> (X, y)``; None yields the batches unchanged.
    iterator : class or None, default=None
        The wrapped iterator class, built as ``iterator(dataset,
        batch_size=..., shuffle=..., **kwargs)``; None: torch's ``DataLoader``.
    **kwargs
        Passed to ``iterator``.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, augment=None, iterator=None, **kwargs):
        if iterator is None:
            from torch.utils.data import DataLoader as iterator
        self.augment = augment
        self.base = iterator(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)

    def __len__(self):
        return len(self.base)

    def __iter__(self):
        for X, y in self.base:
            yield self.augment(X, y) if self.augment is not None else (X, y)
