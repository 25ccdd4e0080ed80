"""Free-text columns as dense features: TF-IDF or hashing of word and character n-grams, then truncated SVD.

The searched text step of :class:`~sknas.prep.cleaning.TableCleaner`
(``text_encoder=``): each column the cleaner reads as free text becomes
``n_components`` dense columns, next to its length and word count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["TEXT_ENCODERS", "TextEncoder"]

TEXT_ENCODERS = ("tfidf", "hashing")

# Word unigrams and bigrams carry the vocabulary; character 2-4-grams inside
# word boundaries carry spelling variants, inflections and typos.
_WORD = {"analyzer": "word", "ngram_range": (1, 2), "token_pattern": r"(?u)\b\w+\b"}
_CHAR = {"analyzer": "char_wb", "ngram_range": (2, 4)}


def _as_text(X):
    """A 1-D object array of str from a Series, a 1-column frame or array; missing -> ""."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(f"TextEncoder encodes one column of text; got {X.shape[1]} columns.")
        X = X.iloc[:, 0]
    values = pd.Series(np.asarray(X, dtype=object).reshape(-1) if not isinstance(X, pd.Series) else X)
    return values.where(values.notna(), "").astype(str).to_numpy(dtype=object)


class TextEncoder(TransformerMixin, BaseEstimator):
    """One free-text column -> ``n_components`` dense features.

    The text is vectorized twice, by word 1-2-grams and by character
    2-4-grams (``analyzer="char_wb"``), with sklearn's vectorizers:

    - ``"tfidf"``: ``TfidfVectorizer`` (sublinear term frequency, each
      vocabulary capped at ``max_features`` most frequent n-grams);
    - ``"hashing"``: ``HashingVectorizer`` into ``2**15`` buckets, then
      ``TfidfTransformer``: no vocabulary is kept, so the fitted step stays
      small whatever the text.

    The two sparse blocks are joined and reduced by sklearn's
    ``TruncatedSVD`` to ``n_components`` columns (latent semantic analysis;
    Deerwester et al. 1990). ``n_components`` is capped by the rows and
    n-grams at hand. Missing values are the empty text.

    Parameters
    ----------
    method : {"tfidf", "hashing"}, default="tfidf"
    n_components : int, default=32
    max_features : int, default=20000
        Per vocabulary (word and character), for ``"tfidf"``.
    random_state : int, default=0
        Seed of the randomized SVD.

    Attributes
    ----------
    vectorizer_ : FeatureUnion
        The fitted word and character vectorizers.
    columns_ : ndarray of int
        The n-gram columns present in the training text (the SVD's input).
    svd_ : TruncatedSVD
    n_features_out_ : int

    References
    ----------
    Deerwester, Dumais, Furnas, Landauer, Harshman. "Indexing by latent
    semantic analysis." JASIS 41(6), 1990.

    Examples
    --------
    >>> enc = TextEncoder(n_components=2).fit(["a red apple", "a green apple", "one blue car", "old car"])
    >>> enc.transform(["red car"]).shape
    (1, 2)
    """

    def __init__(self, method="tfidf", n_components=32, max_features=20000, random_state=0):
        self.method = method
        self.n_components = n_components
        self.max_features = max_features
        self.random_state = random_state

    def _vectorizer(self):
        if self.method == "tfidf":
            parts = [TfidfVectorizer(sublinear_tf=True, max_features=self.max_features, **kw) for kw in (_WORD, _CHAR)]
        else:
            parts = [make_pipeline(HashingVectorizer(n_features=2**15, alternate_sign=False, norm=None, **kw),
                                   TfidfTransformer(sublinear_tf=True)) for kw in (_WORD, _CHAR)]
        return FeatureUnion([("word", parts[0]), ("char", parts[1])])

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        if self.method not in TEXT_ENCODERS:
            raise ValueError(f"TextEncoder: method must be one of {TEXT_ENCODERS}. Got {self.method!r} instead.")
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ValueError(f"TextEncoder: n_components must be an int >= 1. Got {self.n_components!r} instead.")
        text = _as_text(X)
        self.vectorizer_ = self._vectorizer()
        try:
            counts = self.vectorizer_.fit_transform(text)
        except ValueError as error:  # empty vocabulary: no word or character at all
            raise ValueError(f"TextEncoder: the text holds no word or character to encode ({error}).") from error
        # n-grams absent from the training text get no weight in the SVD either:
        # leaving their columns out is exact and spares the hashing step's empty buckets
        self.columns_ = np.flatnonzero(counts.getnnz(axis=0))
        k = int(max(1, min(self.n_components, len(text) - 1, len(self.columns_) - 1)))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state)
        out = self.svd_.fit_transform(counts[:, self.columns_])
        self.n_features_out_ = k
        return out

    def transform(self, X):
        check_is_fitted(self, "svd_")
        return self.svd_.transform(self.vectorizer_.transform(_as_text(X))[:, self.columns_])

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "svd_")
        return np.asarray([f"text{i}" for i in range(self.n_features_out_)], dtype=object)
