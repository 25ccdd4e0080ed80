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


def high_cardinality_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    level = rng.integers(0, 500, n)
    frame = pd.DataFrame({
        "x": rng.lognormal(sigma=2.0, size=n),  # heavy right tail
        "level": [f"lvl{v}" for v in level],
        "small": rng.choice(["a", "b", "c"], size=n),
    })
    return frame, (level % 2).astype(int)


@pytest.mark.parametrize("scaler", ["standard", "quantile", "robust", "power"])
@pytest.mark.parametrize("clip", ["none", "winsorize", "smooth"])
def test_every_scaler_and_clip_gives_finite_columns(scaler, clip):
    X = messy_frame()
    out = TabularPreprocessor(scaler=scaler, clip=clip).fit(X).transform(X)
    assert out.dtype == np.float32 and np.isfinite(out).all() and out.shape == (60, 11)


@pytest.mark.parametrize("encoder, width", [("onehot", 1 + 32 + 3), ("target", 1 + 1 + 3), ("ordinal", 1 + 1 + 1)])
def test_encoders_of_a_500_level_column_and_unseen_levels(encoder, width):
    X, y = high_cardinality_frame()
    prep = TabularPreprocessor(encoder=encoder)
    out = prep.fit_transform(X, y)
    assert out.shape == (300, width) == (300, prep.n_features_out_)
    assert prep.target_encoded_columns_ == (["level"] if encoder == "target" else [])
    new, _ = high_cardinality_frame(n=5, seed=1)
    new["level"] = ["never", "seen", "levels", None, "lvl1"]
    new_out = prep.transform(new)
    assert new_out.shape == (5, width) and np.isfinite(new_out).all()


def test_target_encoding_is_cross_fitted_and_carries_the_signal():
    X, y = high_cardinality_frame(n=2000)
    prep = TabularPreprocessor(encoder="target", task="classification")
    column = prep.fit_transform(X, y)[:, -1]  # numeric, one-hot (small), then target (level)
    # cross fitting: the training encoding differs from a plain transform of the same rows
    assert not np.allclose(column, prep.transform(X)[:, -1])
    assert np.corrcoef(column, y)[0, 1] > 0.5


def test_target_encoder_without_y_falls_back_to_one_hot():
    X, _ = high_cardinality_frame()
    prep = TabularPreprocessor(encoder="target").fit(X)
    assert prep.target_encoded_columns_ == [] and prep.n_features_out_ == 1 + 32 + 3


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="encoder must be one of"):
        TabularPreprocessor(encoder="hash").fit(messy_frame())
    with pytest.raises(ValueError, match="scaler must be one of"):
        TabularPreprocessor(scaler="minmax").fit(messy_frame())


def test_a_missing_category_is_encoded_as_the_missing_level():
    from sknas.prep.tabular import MISSING_LEVEL

    frame = pd.DataFrame({"colour": ["red", None, "blue", "red"] * 5})
    prep = TabularPreprocessor(encoder="ordinal").fit(frame)
    levels = prep.column_transformer_.transformers_[0][1]
    encoder = levels.steps[0][1] if hasattr(levels, "steps") else levels
    assert MISSING_LEVEL in list(encoder.categories_[0])
