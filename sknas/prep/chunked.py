"""Preprocessing of large tables in bounded memory.

A searched pipeline's transformers (imputation, clipping, scaling,
encoding, selection, construction, extraction) are fitted on statistics of
the rows and then map each row on its own. On a table much larger than
what those statistics need, fitting on all rows and transforming them in
one call keeps several full-size temporaries alive at once (a column
subset, the imputed copy, the scaled copy, the stacked result, the float32
cast). :func:`fit_transform_bounded` instead fits on a random subset of
at most ``max_fit_rows`` rows (as ``QuantileTransformer`` already does with
its ``subsample``) and transforms the table in row chunks into one
preallocated float32 matrix, so that the only full-size allocation is the
result.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import _safe_indexing

__all__ = ["fit_transform_bounded", "transform_bounded", "MAX_FIT_ROWS", "CHUNK_ROWS"]

MAX_FIT_ROWS = 50_000
CHUNK_ROWS = 25_000


def _n_rows(X):
    return X.shape[0]


def transform_bounded(prep, X, chunk_rows=CHUNK_ROWS, out=None, skip=None):
    """``prep.transform(X)``, computed ``chunk_rows`` rows at a time into one float32 matrix.

    Up to ``chunk_rows`` rows (and no ``out``/``skip``) it is ``prep.transform(X)`` itself.

    ``skip`` (sorted row indices) leaves those rows of ``out`` untouched.
    """
    n = _n_rows(X)
    if n <= chunk_rows and out is None and skip is None:
        return prep.transform(X)  # small: the transformer's own output, unchanged
    keep = np.ones(n, dtype=bool)
    if skip is not None:
        keep[skip] = False
    rows = np.flatnonzero(keep)
    for start in range(0, len(rows), chunk_rows):
        idx = rows[start:start + chunk_rows]
        contiguous = idx[-1] - idx[0] + 1 == len(idx)
        part = X[idx[0]:idx[-1] + 1] if contiguous and not hasattr(X, "iloc") else _safe_indexing(X, idx)
        values = np.asarray(prep.transform(part), dtype=np.float32)
        if out is None:
            out = np.empty((n, values.shape[1]), dtype=np.float32)
        out[idx] = values
        del values, part
    if out is None:  # every row skipped: nothing to allocate beyond an empty result
        raise ValueError("transform_bounded: no rows to transform")
    return out


def fit_transform_bounded(prep, X, y=None, max_fit_rows=MAX_FIT_ROWS, chunk_rows=CHUNK_ROWS, seed=0):
    """Fit ``prep`` on at most ``max_fit_rows`` random rows, transform every row into one float32 matrix.

    The fitted rows get ``prep.fit_transform``'s output (so a target encoder
    keeps its cross-fitted encodings for them); every other row gets
    ``prep.transform``'s, chunk by chunk. With at most ``max_fit_rows`` rows
    this is ``prep.fit_transform(X, y)`` itself (whatever its dtype).
    """
    n = _n_rows(X)
    if n <= max_fit_rows:
        return prep.fit_transform(X, y)  # small: the transformer's own output, unchanged
    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, size=max_fit_rows, replace=False))
    y_fit = None if y is None else np.asarray(y)[fit_idx]
    fitted = np.asarray(prep.fit_transform(_safe_indexing(X, fit_idx), y_fit), dtype=np.float32)
    out = np.empty((n, fitted.shape[1]), dtype=np.float32)
    out[fit_idx] = fitted
    del fitted
    return transform_bounded(prep, X, chunk_rows=chunk_rows, out=out, skip=fit_idx)
