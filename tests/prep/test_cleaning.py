import warnings

import numpy as np
import pandas as pd
import pytest

from sknas.prep.cleaning import IDColumnWarning, TableCleaner, UnparsedValueWarning


def raw_frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({
        "row_id": np.arange(n) + 1000 * (seed + 1),
        "code": [f"R{seed}-{i:05d}" for i in range(n)],
        "as_text": [f"{v:.3f}" for v in x],
        "copy_of_text": x.round(3),
        "when": pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "when_text": [str(d.date()) for d in pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")],
        "flag_text": rng.choice(["Yes", "no"], size=n),
        "flag": rng.random(n) < 0.3,
        "const": 7.0,
        "const_text": "same",
        "empty": np.nan,
        "level": [f"lvl{v}" for v in rng.integers(0, 500, n)],
        "review": [" ".join(rng.choice(["good", "bad", "fast", "slow", "ok"], size=6)) + f" #{i}" for i in range(n)],
        "with_nan": np.where(rng.random(n) < 0.2, np.nan, x),
    })
    return frame


def fit_cleaner(X, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cleaner = TableCleaner(**kwargs).fit(X)
    return cleaner, [w for w in caught if issubclass(w.category, IDColumnWarning)]


def test_kinds_are_inferred_from_raw_columns():
    cleaner, _ = fit_cleaner(raw_frame())
    assert cleaner.column_kinds_ == {
        "row_id": "id", "code": "id", "as_text": "numeric", "copy_of_text": "numeric", "when": "datetime",
        "when_text": "datetime", "flag_text": "boolean", "flag": "boolean", "const": "constant",
        "const_text": "constant", "empty": "empty", "level": "categorical", "review": "text",
        "with_nan": "numeric",
    }


def test_every_removed_column_is_listed_with_its_reason_and_ids_warn():
    X = raw_frame()
    cleaner, id_warnings = fit_cleaner(X)
    removed = cleaner.removed_columns_
    assert removed["row_id"].startswith("identifier") and removed["code"].startswith("identifier")
    assert removed["const"] == removed["const_text"] == "constant"
    assert removed["empty"] == "all values missing"
    assert removed["copy_of_text"] == "duplicate of 'as_text'"
    assert removed["when__hour"].startswith("constant (derived from 'when')")
    assert len(id_warnings) == 1 and "row_id" in str(id_warnings[0].message)
    assert cleaner.id_columns_ == ["row_id", "code"]
    # every input column is either in the output (as itself or its derived parts) or listed as removed
    out = set(cleaner.get_feature_names_out())
    for column in X.columns:
        assert column in removed or column in out or any(o.startswith(f"{column}__") for o in out)


def test_output_columns_are_float_or_categorical_and_new_rows_transform():
    X = raw_frame()
    cleaner, _ = fit_cleaner(X)
    out = cleaner.transform(X)
    assert list(out.columns) == cleaner.feature_names_out_
    assert {"when__year", "when__month", "when__dayofweek", "when__elapsed", "review__length"} <= set(out.columns)
    assert out["level"].dtype.name == "category"
    assert all(out[c].dtype == np.float64 for c in out.columns if c != "level")
    assert set(out["flag_text"]) == {0.0, 1.0}
    np.testing.assert_allclose(out["as_text"], X["as_text"].astype(float))
    new = raw_frame(n=30, seed=3)
    new.loc[0, "level"] = "never seen"
    new.loc[1, "as_text"] = "not a number"
    with pytest.warns(UnparsedValueWarning, match="'as_text' \\(numeric\\): 1 value"):
        new_out = cleaner.transform(new)
    assert list(new_out.columns) == cleaner.feature_names_out_
    assert new_out.loc[0, "level"] == "never seen" and np.isnan(new_out.loc[1, "as_text"])


def test_keep_ids_when_asked_but_still_warn():
    X = raw_frame()
    cleaner, id_warnings = fit_cleaner(X, drop_ids=False)
    assert id_warnings and "row_id" in cleaner.feature_names_out_ and "row_id" not in cleaner.removed_columns_
    out = cleaner.transform(X)
    assert out["row_id"].dtype == np.float64 and out["code"].dtype.name == "category"


def test_plain_numeric_arrays_pass_through_and_missing_columns_are_reported():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    cleaner, id_warnings = fit_cleaner(X)
    assert not id_warnings and cleaner.removed_columns_ == {}
    np.testing.assert_allclose(cleaner.transform(X).to_numpy(), X)
    frame = raw_frame()
    cleaner, _ = fit_cleaner(frame)
    with pytest.raises(ValueError, match="lacks the column"):
        cleaner.transform(frame.rename(columns={"level": "other"}))


def test_a_table_of_only_useless_columns_is_a_clear_error():
    with pytest.raises(ValueError, match="every column was removed"):
        TableCleaner().fit(pd.DataFrame({"a": [1.0] * 30, "b": [None] * 30}))


def test_free_text_with_missing_values_is_still_text_and_small_tables_have_no_ids():
    frame = raw_frame()
    frame.loc[::10, "review"] = None
    cleaner, _ = fit_cleaner(frame)
    assert cleaner.column_kinds_["review"] == "text"
    small, id_warnings = fit_cleaner(raw_frame(n=12))
    assert small.column_kinds_["row_id"] == "numeric" and not id_warnings


def test_unreadable_values_at_transform_are_reported():
    train = pd.DataFrame({"num": [1.0, 2.0, 3.0, 4.0], "flag": ["yes", "no", "yes", "no"],
                          "when": ["2021-01-01", "2021-02-01", "2021-03-01", "2021-04-01"]})
    cleaner = TableCleaner().fit(train)
    new = pd.DataFrame({"num": ["abc", "2", None, "nan"], "flag": ["yes", "maybe", "no", "no"],
                        "when": ["2021-01-01", "soon", "2021-03-01", None]})
    with pytest.warns(UnparsedValueWarning) as record:
        out = cleaner.transform(new)
    assert len(record) == 1
    message = str(record[0].message)
    assert "'num' (numeric): 1 value(s), e.g. 'abc'" in message  # None and "nan" mark missing values
    assert "'flag' (boolean): 1 value(s), e.g. 'maybe'" in message
    assert "'when' (datetime): 1 value(s), e.g. 'soon'" in message
    assert np.isnan(out["num"].iloc[0]) and out["num"].iloc[1] == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnparsedValueWarning)
        cleaner.transform(train)


def test_the_output_plan_says_where_every_output_column_comes_from():
    X = pd.DataFrame({
        "x": [1.5, 2.0, np.nan, 4.0] * 10,
        "constant": [7.0] * 40,
        "when": pd.date_range("2020-01-01", periods=40, freq="37h"),
        "colour": ["red", "green", "blue", None] * 10,
    })
    cleaner = TableCleaner(datetime_parts=("year", "dayofweek")).fit(X)
    plan = cleaner.get_output_plan()
    assert [c.name for c in plan] == cleaner.feature_names_out_
    assert [tuple(c) for c in plan] == [("x", "x", 0, "numeric", None),
                                        ("when__dayofweek", "when", 2, "datetime", "dayofweek"),
                                        ("colour", "colour", 3, "categorical", None)]  # year is constant: removed
    assert plan[1].part == "dayofweek" and plan[2].position == 3
    with pytest.raises(Exception, match="not fitted"):
        TableCleaner().get_output_plan()


def test_as_number_reads_a_column_as_its_kind_reads_it():
    assert np.array_equal(TableCleaner.as_number(pd.Series(["1.5", None, "x", 2]), "numeric"),
                          [1.5, np.nan, np.nan, 2.0], equal_nan=True)
    assert np.array_equal(TableCleaner.as_number(pd.Series(["yes", "No", None]), "boolean"),
                          [1.0, 0.0, np.nan], equal_nan=True)
    dates = TableCleaner.as_number(pd.Series(["1970-01-02T00:00:01", None]), "datetime")
    assert np.array_equal(dates, [86401.0, np.nan], equal_nan=True)
    with pytest.raises(ValueError, match="kind must be"):
        TableCleaner.as_number(pd.Series(["a"]), "categorical")
