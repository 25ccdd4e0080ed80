import numpy as np
import pandas as pd
import pytest

from sknas.prep.tabular import TabularPreprocessor, infer_column_kinds


def messy_frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "num": rng.normal(size=n),
        "num_nan": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "as_text": [str(v) for v in rng.integers(0, 100, size=n)],
        "flag": rng.random(n) < 0.5,
        "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        "city": rng.choice(["paris", "oslo", None], size=n),
        "cat": pd.Categorical(rng.choice(["a", "b"], size=n)),
    })


def test_column_kinds_are_inferred():
    kinds = infer_column_kinds(messy_frame())
    assert kinds["numeric"] == ["num", "num_nan", "as_text", "flag", "when"]
    assert kinds["categorical"] == ["city", "cat"]


@pytest.mark.parametrize("scaler", ["standard", "quantile", "robust"])
def test_messy_frame_becomes_a_finite_float32_matrix(scaler):
    X = messy_frame()
    prep = TabularPreprocessor(scaler=scaler).fit(X)
    out = prep.transform(X)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    # 5 numeric + 1 missing indicator (num_nan) + city (paris, oslo, missing) + cat (a, b)
    assert out.shape == (60, 5 + 1 + 3 + 2) == (60, prep.n_features_out_)


def test_unseen_categories_and_new_missing_values_do_not_fail():
    X = messy_frame()
    prep = TabularPreprocessor().fit(X)
    new = messy_frame(n=5, seed=1)
    new["city"] = ["tokyo", "lima", None, "paris", "oslo"]
    new.loc[0, "num"] = np.nan  # missing where the training data had none
    out = prep.transform(new)
    assert out.shape == (5, prep.n_features_out_) and np.isfinite(out).all()


def test_numpy_object_array_with_text():
    X = np.array([[1.0, "a"], [2.0, "b"], [np.nan, "a"], [4.0, None]], dtype=object)
    out = TabularPreprocessor(scaler="standard").fit_transform(X)
    assert out.shape == (4, 1 + 1 + 3)
