import numpy as np
import pytest

from sknas.prep.construction import FeatureConstructor


def interacting(n=500, d=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 3] * X[:, 7] + 0.5 * X[:, 3] + 0.5 * X[:, 7] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("method, n_new", [("poly", 4 * 5 // 2), ("spline", 4 * (5 + 2))])
def test_width_is_bounded_by_the_top_columns(method, n_new):
    X, y = interacting()
    constructor = FeatureConstructor(method=method, n_top=4, n_knots=5)
    out = constructor.fit_transform(X, y)
    assert out.shape == (500, 30 + n_new) == (500, constructor.n_features_out_)
    assert {3, 7} <= set(constructor.top_features_)
    np.testing.assert_array_equal(out[:, :30], X)  # the inputs are kept
    new = constructor.transform(X[:7] * 5)  # beyond the fitted range
    assert new.shape == (7, 30 + n_new) and np.isfinite(new).all()


def test_poly_builds_the_product_of_the_top_pair():
    X, y = interacting()
    constructor = FeatureConstructor(method="poly", n_top=2).fit(X, y)
    assert list(constructor.top_features_) == [3, 7]
    out = constructor.transform(X)
    product = X[:, 3] * X[:, 7]
    assert max(abs(np.corrcoef(out[:, j], product)[0, 1]) for j in range(30, out.shape[1])) > 0.999


def test_without_y_the_top_columns_are_the_most_variable():
    X, _ = interacting()
    X[:, 12] *= 10
    assert 12 in FeatureConstructor(n_top=1).fit(X).top_features_
