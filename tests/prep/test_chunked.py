"""Bounded-memory preprocessing of large tables (sknas.prep.chunked)."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sknas.prep.chunked import fit_transform_bounded, transform_bounded
from sknas.prep.tabular import TabularPreprocessor


def _subset_rows(n, max_fit_rows, seed):
    return np.sort(np.random.default_rng(seed).choice(n, size=max_fit_rows, replace=False))


def test_small_tables_are_the_plain_fit_transform():
    X = np.random.default_rng(0).normal(size=(300, 4))
    a = fit_transform_bounded(TabularPreprocessor(scaler="standard"), X, max_fit_rows=1000)
    b = TabularPreprocessor(scaler="standard").fit_transform(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("scaler", ["standard", "quantile", "robust"])
def test_large_tables_fit_on_a_subset_and_transform_every_row(scaler):
    rng = np.random.default_rng(1)
    X = rng.lognormal(size=(2000, 5))
    X[rng.random(X.shape) < 0.05] = np.nan
    prep = TabularPreprocessor(scaler=scaler)
    out = fit_transform_bounded(prep, X, max_fit_rows=500, chunk_rows=128, seed=3)
    assert out.dtype == np.float32 and out.shape[0] == 2000
    # the same as fitting on those 500 rows and transforming all rows at once
    reference = clone(prep).fit(X[_subset_rows(2000, 500, 3)])
    np.testing.assert_allclose(out, reference.transform(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(transform_bounded(prep, X, chunk_rows=97), prep.transform(X), rtol=1e-6, atol=1e-6)


def test_fitted_rows_keep_their_cross_fitted_target_encoding():
    rng = np.random.default_rng(2)
    n = 1200
    levels = [f"l{i}" for i in range(40)]
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(levels, size=n)})
    y = (frame["c"].isin(levels[:15]) ^ (rng.random(n) < 0.1)).astype(int).to_numpy()
    prep = TabularPreprocessor(encoder="target")
    out = fit_transform_bounded(prep, frame, y, max_fit_rows=400, chunk_rows=100, seed=5)
    fit_idx = _subset_rows(n, 400, 5)
    reference = clone(prep)
    cross_fitted = reference.fit_transform(frame.iloc[fit_idx], y[fit_idx])
    np.testing.assert_allclose(out[fit_idx], cross_fitted, rtol=1e-5, atol=1e-6)
    rest = np.setdiff1d(np.arange(n), fit_idx)
    np.testing.assert_allclose(out[rest], reference.transform(frame.iloc[rest]), rtol=1e-5, atol=1e-6)
    # cross-fitting differs from a plain transform on the fitted rows: the test can tell them apart
    assert not np.allclose(out[fit_idx], reference.transform(frame.iloc[fit_idx]))


def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_stays_near_the_result_size():
    X = np.random.default_rng(4).normal(size=(300_000, 20))
    result_bytes = X.shape[0] * X.shape[1] * 4
    out, bounded = _peak(lambda: fit_transform_bounded(TabularPreprocessor(scaler="standard"), X,
                                                       max_fit_rows=10_000, chunk_rows=10_000))
    assert out.shape == X.shape
    _, plain = _peak(lambda: TabularPreprocessor(scaler="standard").fit_transform(X))
    # the plain fit_transform keeps several full-size float64 copies alive at once
    assert bounded < 1.8 * result_bytes, bounded / result_bytes
    assert bounded < 0.5 * plain, (bounded / result_bytes, plain / result_bytes)
