import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from sknas.benchmark.text import FILL, text_frame
from sknas.prep.cleaning import TableCleaner, find_text_columns
from sknas.prep.tabular import TabularPreprocessor
from sknas.prep.text import TextEncoder
from sknas.space.genotype import Genotype
from sknas.space.pipeline import PipelineSpace


@pytest.mark.parametrize("method", ["tfidf", "hashing"])
def test_text_encoder_gives_dense_columns_and_reads_missing_as_empty(method):
    X, _ = text_frame(100)
    enc = TextEncoder(method=method, n_components=8).fit(X["review"])
    out = enc.transform(X["review"])
    assert out.shape == (100, 8) and np.isfinite(out).all()
    np.testing.assert_allclose(enc.fit_transform(X["review"]), out, atol=1e-10)
    with_missing = enc.transform(pd.Series([None, "great product", np.nan]))
    np.testing.assert_allclose(with_missing[0], 0.0) and np.testing.assert_allclose(with_missing[2], 0.0)
    assert not np.allclose(with_missing[1], 0.0)
    assert list(enc.get_feature_names_out()) == [f"text{i}" for i in range(8)]


def test_text_encoder_caps_its_width_and_rejects_bad_settings():
    assert TextEncoder(n_components=50).fit(["red apple", "green pear", "blue sky"]).n_features_out_ == 2
    with pytest.raises(ValueError, match="method must be one of"):
        TextEncoder(method="bert").fit(["a b", "c d"])
    with pytest.raises(ValueError, match="n_components must be an int"):
        TextEncoder(n_components=0).fit(["a b", "c d"])


def test_cleaner_lists_text_columns_and_encodes_them_when_asked():
    X, _ = text_frame(200)
    plain = TableCleaner().fit(X)
    assert plain.text_columns_ == ["review"] and plain.text_encoders_ == {}
    assert [c for c in plain.feature_names_out_ if c.startswith("review")] == ["review__length", "review__words"]

    cleaner = TableCleaner(text_encoder="tfidf", text_components=6)
    out = cleaner.fit_transform(X)
    assert cleaner.text_columns_ == ["review"] and set(cleaner.text_encoders_) == {"review"}
    text_cols = [f"review__text{i}" for i in range(6)]
    assert all(c in out.columns for c in text_cols)
    assert all(out[c].dtype == np.float64 for c in text_cols)
    parts = {c.name: c.part for c in cleaner.get_output_plan()}
    assert parts["review__text0"] == "text0" and parts["review__length"] == "length"
    pd.testing.assert_frame_equal(cleaner.transform(X), out)
    with pytest.raises(ValueError, match="text_encoder must be one of"):
        TableCleaner(text_encoder="bag").fit(X)


def test_text_detection_many_multiword_levels_is_text_few_is_categorical():
    rng = np.random.default_rng(0)
    n = 3000
    # 1200 distinct three-to-six-word values over 3000 rows: below half the rows, far above any category count
    phrases = [" ".join(rng.choice(FILL, rng.integers(3, 7))) + f" {i}" for i in range(1200)]
    cities = ["new york city", "san jose del cabo", "rio de janeiro"]
    X = pd.DataFrame({"desc": rng.choice(phrases, n), "city": rng.choice(cities, n), "x": rng.normal(size=n)})
    assert find_text_columns(X) == ["desc"]
    assert TableCleaner().fit(X).column_kinds_ == {"desc": "text", "city": "categorical", "x": "numeric"}
    assert find_text_columns(X[["city", "x"]]) == []


def test_words_that_decide_the_label_are_learned_only_with_the_text_step():
    # The mechanism: today's encoding (length, word count) cannot see which words a review holds.
    X, y = text_frame(400)

    def accuracy(text_encoder):
        model = make_pipeline(TableCleaner(text_encoder=text_encoder, text_components=16), TabularPreprocessor(),
                              LogisticRegression(max_iter=1000))
        return cross_val_score(model, X, y, cv=3).mean()

    with_text, without = accuracy("tfidf"), accuracy("none")
    assert with_text >= 0.9 and without <= 0.65, (with_text, without)


def test_pipeline_space_searches_the_text_step_only_on_data_with_text():
    X, _ = text_frame(100)
    space = PipelineSpace(task="classification")
    names = [p.name for p in space.params]
    assert "text" in names and "text_dim" in names
    assert space.for_data(X) is space
    numeric_only = space.for_data(X[["x1", "x2"]])
    assert "text" not in [p.name for p in numeric_only.params] and space.texts == ("none", "tfidf", "hashing")
    assert numeric_only.choices(numeric_only.portfolio()[0])["text"] == "none"
    g = space.portfolio()[0]
    assert g["text"] == "tfidf" and g["text_dim"] == 32
    clean = space.build(Genotype({**g, "text": "hashing", "text_dim": 5})).steps[0][1]
    assert (clean.text_encoder, clean.text_components) == ("hashing", 5)
    allowed = PipelineSpace.from_allowed(["quantile", "tfidf"])
    assert dict((p.name, getattr(p, "choices", None)) for p in allowed.params)["text"] == ("none", "tfidf")


def test_onnx_export_says_it_does_not_cover_the_text_step():
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from sklearn.pipeline import Pipeline

    from sknas.export import preprocessing_to_onnx

    X, _ = text_frame(100)
    prep = Pipeline([("clean", TableCleaner(text_encoder="tfidf", text_components=4)),
                     ("encode", TabularPreprocessor())]).fit(X)
    with pytest.raises(ValueError, match=r"column 'review' as free text.*does not cover the text step"):
        preprocessing_to_onnx(prep, X.shape[1])


@pytest.mark.slow
def test_autonas_learns_a_text_column_whose_words_decide_the_label():
    import torch

    from sknas import AutoNASClassifier

    torch.set_num_threads(1)
    X, y = text_frame(800, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = AutoNASClassifier(time_budget=20, random_state=0).fit(X.iloc[:600], y[:600])
    assert clf.score(X.iloc[600:], y[600:]) >= 0.9
    assert clf.best_estimator_.named_steps["preprocessing"].named_steps["clean"].text_columns_ == ["review"]


@pytest.mark.parametrize("method", ["tfidf", "hashing"])
def test_a_fitted_text_step_is_stored_and_read_back_by_sknas_io(method):
    pytest.importorskip("skops")
    from sknas.io import _skops_dumps, _skops_loads

    X, _ = text_frame(100)
    cleaner = TableCleaner(text_encoder=method, text_components=4).fit(X)
    back = _skops_loads(_skops_dumps(cleaner, "the cleaner"), "preprocessing", None)  # no extra trusted type
    pd.testing.assert_frame_equal(back.transform(X), cleaner.transform(X))
