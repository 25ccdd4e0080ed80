"""Preprocessing of image rows (``input_shape=(C, H, W)``): a shape-keeping pixel scaler."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ImageScaler"]


class ImageScaler(TransformerMixin, BaseEstimator):
    """Standardize pixels with one mean and standard deviation per channel.

    Rows are flattened images of ``input_shape=(C, H, W)``. Per-pixel scalers
    (and selection or construction steps) would change what a convolution
    sees or the number of columns, so images get this shape-keeping scaling
    instead; missing pixels become 0 (the channel mean) after scaling.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)``.

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (C,)
    """

    def __init__(self, input_shape):
        self.input_shape = input_shape

    def _images(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan")
        c, h, w = self.input_shape
        if X.shape[1] != c * h * w:
            raise ValueError(
                f"ImageScaler: rows have {X.shape[1]} values but input_shape={tuple(self.input_shape)} "
                f"needs {c * h * w}."
            )
        return X.reshape(len(X), c, h * w)

    def fit(self, X, y=None):
        images = self._images(X, reset=True)
        self.mean_ = np.nanmean(images, axis=(0, 2))
        scale = np.nanstd(images, axis=(0, 2))
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X):
        check_is_fitted(self, "mean_")
        images = self._images(X, reset=False)
        out = (images - self.mean_[None, :, None]) / self.scale_[None, :, None]
        return np.nan_to_num(out, nan=0.0).reshape(len(out), -1).astype(np.float32)
