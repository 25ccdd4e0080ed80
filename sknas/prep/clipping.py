"""Clipping of extreme numeric values: winsorizing at quantiles, or RealMLP's smooth clipping."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["CLIP_METHODS", "Clipper"]

CLIP_METHODS = ("winsorize", "smooth")


class Clipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Tame extreme values of numeric columns, column by column.

    ``method="winsorize"`` clips every column to its ``[quantile, 1 - quantile]``
    range seen at fit. ``method="smooth"`` is the robust scaling and smooth
    clipping of RealMLP (Holzmüller et al. 2024): each column is centred on
    its median and divided by its interquartile range (by half its range
    when the quartiles coincide, left unscaled when the column is
    constant), then mapped through ``x / sqrt(1 + (x / 3) ** 2)``, which is
    close to the identity near 0 and bounded by 3.

    Parameters
    ----------
    method : {"winsorize", "smooth"}, default="winsorize"
    quantile : float, default=0.01
        Share of each tail clipped by ``"winsorize"``.

    Attributes
    ----------
    lower_, upper_ : ndarray
        Clipping bounds of each column (``"winsorize"``).
    center_, scale_ : ndarray
        Median and robust scale of each column (``"smooth"``).

    References
    ----------
    Holzmüller, Grinsztajn, Steinwart. "Better by Default: Strong Pre-Tuned
    MLPs and Boosted Trees on Tabular Data." NeurIPS 2024.
    """

    def __init__(self, method="winsorize", quantile=0.01):
        self.method = method
        self.quantile = quantile

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values pass through untouched
        return tags

    def fit(self, X, y=None):
        if self.method not in CLIP_METHODS:
            raise ValueError(f"Clipper: method must be one of {CLIP_METHODS}. Got {self.method!r} instead.")
        if not 0.0 <= self.quantile < 0.5:
            raise ValueError(f"Clipper: quantile must be in [0, 0.5). Got {self.quantile!r} instead.")
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        with np.errstate(all="ignore"):
            if self.method == "winsorize":
                self.lower_ = _nan_to(np.nanquantile(X, self.quantile, axis=0), -np.inf)
                self.upper_ = _nan_to(np.nanquantile(X, 1.0 - self.quantile, axis=0), np.inf)
            else:
                q25, q50, q75 = np.nanquantile(X, [0.25, 0.5, 0.75], axis=0)
                spread = q75 - q25
                half_range = (np.nanmax(X, axis=0) - np.nanmin(X, axis=0)) / 2.0
                scale = np.where(spread > 0, spread, half_range)
                self.center_ = _nan_to(q50, 0.0)
                self.scale_ = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        if self.method == "winsorize":
            return np.clip(X, self.lower_, self.upper_)
        Z = (X - self.center_) / self.scale_
        return Z / np.sqrt(1.0 + (Z / 3.0) ** 2)


def _nan_to(values, fill):
    return np.where(np.isnan(values), fill, values)
