import numpy as np
import pytest

from sknas.prep.extraction import FeatureExtractor


@pytest.mark.parametrize("method", ["pca", "svd", "nystroem"])
def test_extracted_features_are_standardized_and_capped(method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 20))
    extractor = FeatureExtractor(method=method, n_components=8)
    out = extractor.fit_transform(X)
    assert out.shape == (80, 8) == (80, extractor.n_features_out_)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-6)
    assert extractor.transform(X[:3]).shape == (3, 8)
    big = FeatureExtractor(method=method, n_components=500).fit(X)
    cap = {"pca": 20, "svd": 19, "nystroem": 80}[method]
    assert big.n_features_out_ == cap


def test_svd_of_one_column_passes_through():
    X = np.arange(10.0).reshape(-1, 1)
    extractor = FeatureExtractor(method="svd").fit(X)
    assert extractor.extractor_ is None and extractor.transform(X).shape == (10, 1)
