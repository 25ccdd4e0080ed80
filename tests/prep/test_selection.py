import time

import numpy as np
import pytest

from sknas.prep.selection import FeatureSelector


def informative(n=600, n_noise=40, seed=0, regression=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3 + n_noise))
    signal = X[:, 0] + X[:, 1] - X[:, 2]
    y = signal + 0.3 * rng.normal(size=n) if regression else (signal > 0).astype(int)
    return X, y


@pytest.mark.parametrize("method", ["mutual_info", "f_test", "l1"])
@pytest.mark.parametrize("regression", [False, True])
def test_supervised_selectors_find_the_informative_columns(method, regression):
    X, y = informative(regression=regression)
    selector = FeatureSelector(method=method, k=3, C=0.05).fit(X, y)
    kept = set(np.flatnonzero(selector.get_support()))
    assert {0, 1, 2} <= kept and len(kept) <= (3 if method != "l1" else 12)
    assert selector.transform(X).shape == (600, len(kept))


def test_l1_handles_many_classes_and_univariate_k_is_capped():
    X, _ = informative()
    y = np.digitize(X[:, 0] + X[:, 1], [-1, 0, 1])  # 4 classes
    assert {0, 1} <= set(np.flatnonzero(FeatureSelector(method="l1", C=0.05).fit(X, y).get_support()))
    assert FeatureSelector(method="f_test", k=500).fit(X, y).transform(X).shape == X.shape


def test_variance_threshold_keeps_at_least_one_column():
    X = np.column_stack([np.zeros(100), np.r_[np.ones(1), np.zeros(99)], np.arange(100.0)])
    assert list(FeatureSelector(method="variance").fit(X).get_support()) == [False, False, True]
    assert FeatureSelector(method="variance").fit(np.zeros((10, 3))).transform(np.zeros((10, 3))).shape == (10, 1)


def test_mutual_information_subsamples_large_data():
    X, y = informative(n=100_000, n_noise=20)
    start = time.process_time()
    selector = FeatureSelector(method="mutual_info", k=3).fit(X, y)
    assert set(np.flatnonzero(selector.get_support())) == {0, 1, 2}
    assert time.process_time() - start < 10  # the estimate sees max_samples rows, not 100k


def test_supervised_selection_needs_y():
    with pytest.raises(ValueError, match="needs the target y"):
        FeatureSelector(method="f_test").fit(np.zeros((10, 3)))
