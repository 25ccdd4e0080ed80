import numpy as np
import pytest

from sknas.prep.clipping import Clipper


def heavy_tailed(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.standard_cauchy(n), rng.normal(size=n), np.full(n, 3.0)])
    X[::50, 1] = np.nan
    return X


def test_winsorize_clips_to_the_fitted_quantiles():
    X = heavy_tailed()
    clipper = Clipper(method="winsorize", quantile=0.05).fit(X)
    out = clipper.transform(X * 10)  # new, more extreme values are clipped too
    assert np.nanmax(out[:, 0]) == pytest.approx(np.nanquantile(X[:, 0], 0.95))
    assert np.nanmin(out[:, 0]) == pytest.approx(np.nanquantile(X[:, 0], 0.05))
    assert np.isnan(out[::50, 1]).all() and np.isfinite(out[1::50]).all()


def test_smooth_clipping_is_bounded_by_3_and_near_identity_in_the_middle():
    X = heavy_tailed()
    clipper = Clipper(method="smooth").fit(X)
    out = clipper.transform(X)
    assert np.nanmax(np.abs(out)) < 3.0
    z = (X[:, 1] - clipper.center_[1]) / clipper.scale_[1]
    small = np.abs(z) < 0.3
    np.testing.assert_allclose(out[small, 1], z[small], atol=0.01)
    np.testing.assert_array_equal(out[:, 2], 0.0)  # a constant column is centred, not divided by 0


def test_bad_method_is_named():
    with pytest.raises(ValueError, match="method must be one of"):
        Clipper(method="hard").fit(heavy_tailed())
