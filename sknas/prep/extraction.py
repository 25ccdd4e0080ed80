"""Feature extraction: PCA, truncated SVD or Nystroem kernel features, replacing the inputs."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.kernel_approximation import Nystroem
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["EXTRACTORS", "FeatureExtractor"]

EXTRACTORS = ("pca", "svd", "nystroem")


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Replace the columns by ``n_components`` extracted features, standardized.

    - ``"pca"``: principal components (sklearn's ``PCA``);
    - ``"svd"``: truncated SVD without centring (sklearn's ``TruncatedSVD``),
      the choice for sparse or very wide data;
    - ``"nystroem"``: a Nystroem approximation of the RBF kernel feature map
      (``gamma = 1 / n_features``, for inputs scaled to unit variance).

    ``n_components`` is capped by what the data allows (the number of rows,
    and for PCA/SVD the number of columns); when nothing can be extracted
    (SVD of a single column) the input passes through unchanged.

    Parameters
    ----------
    method : {"pca", "svd", "nystroem"}, default="pca"
    n_components : int, default=32
    random_state : int, default=0

    Attributes
    ----------
    extractor_ : PCA, TruncatedSVD, Nystroem or None
        The fitted sklearn extractor (None: passthrough).
    scaler_ : StandardScaler or None
    n_features_out_ : int

    References
    ----------
    Williams, Seeger. "Using the Nyström Method to Speed Up Kernel
    Machines." NeurIPS 2001.
    """

    def __init__(self, method="pca", n_components=32, random_state=0):
        self.method = method
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        if self.method not in EXTRACTORS:
            raise ValueError(
                f"FeatureExtractor: method must be one of {EXTRACTORS}. Got {self.method!r} instead."
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n, d = X.shape
        if self.method == "nystroem":
            k = min(self.n_components, n)
            self.extractor_ = Nystroem(kernel="rbf", gamma=1.0 / d, n_components=k, random_state=self.random_state)
        else:
            k = min(self.n_components, d, n)
            if self.method == "svd":
                k = min(k, d - 1)
                self.extractor_ = TruncatedSVD(n_components=k, random_state=self.random_state) if k >= 1 else None
            else:
                self.extractor_ = PCA(n_components=k, random_state=self.random_state)
        if self.extractor_ is None:
            self.scaler_ = None
            self.n_features_out_ = d
            return X
        out = self.extractor_.fit_transform(X)
        self.scaler_ = StandardScaler()
        out = self.scaler_.fit_transform(out)
        self.n_features_out_ = out.shape[1]
        return out

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self.extractor_ is None:
            return X
        return self.scaler_.transform(self.extractor_.transform(X))
