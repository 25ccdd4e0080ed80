"""Preprocessing of raw tabular data with sklearn transformers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["TabularPreprocessor", "infer_column_kinds", "numeric_block", "to_frame"]

_MISSING = "__sknas_missing__"


def to_frame(X):
    """A DataFrame view of 2-D tabular input (numpy array or DataFrame)."""
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2-D tabular data. Got an array of shape {X.shape} instead.")
    return pd.DataFrame(X)


def _is_numeric_text(col):
    values = col.dropna()
    if len(values) == 0:
        return True
    converted = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    return bool(converted.notna().all())


def infer_column_kinds(X):
    """Split the columns of a frame into ``"numeric"`` and ``"categorical"``.

    Numbers, booleans and datetimes are numeric; text columns whose every
    present value parses as a number are numeric too; any other text,
    object or category column is categorical. Returns a dict
    ``{"numeric": [...], "categorical": [...]}`` of column labels.
    """
    kinds = {"numeric": [], "categorical": []}
    for name in X.columns:
        col = X[name]
        dtype = col.dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            kinds["numeric"].append(name)
        elif pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
            kinds["numeric"].append(name)
        elif _is_numeric_text(col) and not isinstance(dtype, pd.CategoricalDtype):
            kinds["numeric"].append(name)
        else:
            kinds["categorical"].append(name)
    return kinds


def numeric_block(X, columns):
    """The given columns of a frame as a float64 matrix (NaN for missing values)."""
    out = np.empty((len(X), len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        col = X[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            # seconds since the epoch; NaT stays missing
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_convert("UTC").dt.tz_localize(None)
            values = (col - pd.Timestamp("1970-01-01")).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
        elif pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = pd.to_numeric(col.astype(str).str.strip().where(col.notna()), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        out[:, j] = values
    return out


def _categorical_block(X, columns):
    out = np.empty((len(X), len(columns)), dtype=object)
    for j, name in enumerate(columns):
        col = X[name]
        out[:, j] = np.where(col.isna().to_numpy(), _MISSING, col.astype(str).to_numpy(dtype=object))
    return out


def make_scaler(name, n_samples, random_state=0):
    if name == "standard":
        return StandardScaler()
    if name == "robust":
        return RobustScaler()
    if name == "quantile":
        return QuantileTransformer(
            output_distribution="normal", n_quantiles=max(2, min(1000, n_samples)), random_state=random_state
        )
    raise ValueError(f"Unknown scaler {name!r}; known: 'standard', 'quantile', 'robust'.")


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Raw table to a float32 matrix: impute, flag missing values, scale, one-hot encode.

    Column kinds are inferred at ``fit`` (see :func:`infer_column_kinds`).
    Numeric columns are median-imputed and scaled; a missing-value indicator
    is added for every numeric column that had missing values during fit.
    Categorical columns are one-hot encoded with at most ``max_categories``
    columns each; rarer and unseen levels map to an "infrequent" column, so
    new levels at predict time never fail.

    Parameters
    ----------
    scaler : {"standard", "quantile", "robust"}, default="quantile"
    max_categories : int, default=32

    Attributes
    ----------
    numeric_columns_, categorical_columns_ : list
        Column labels (or positions for arrays) of each kind.
    column_transformer_ : sklearn.compose.ColumnTransformer
    n_features_out_ : int
    """

    def __init__(self, scaler="quantile", max_categories=32):
        self.scaler = scaler
        self.max_categories = max_categories

    def _blocks(self, X):
        X = to_frame(X)
        parts = []
        if self.numeric_columns_:
            parts.append(numeric_block(X, self.numeric_columns_))
        if self.categorical_columns_:
            parts.append(_categorical_block(X, self.categorical_columns_))
        if len(parts) == 2:
            return np.concatenate([parts[0].astype(object), parts[1]], axis=1)
        return parts[0]

    def fit(self, X, y=None):
        frame = to_frame(X)
        kinds = infer_column_kinds(frame)
        self.numeric_columns_ = kinds["numeric"]
        self.categorical_columns_ = kinds["categorical"]
        self.n_features_in_ = frame.shape[1]
        n_num = len(self.numeric_columns_)
        blocks = self._blocks(frame)
        transformers = []
        if n_num:
            num_idx = list(range(n_num))
            numeric = Pipeline([
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", make_scaler(self.scaler, len(frame))),
            ])
            transformers.append(("numeric", numeric, num_idx))
            num_values = blocks[:, :n_num].astype(np.float64)
            if np.isnan(num_values).any():
                transformers.append(
                    ("missing", MissingIndicator(features="missing-only", error_on_new=False), num_idx)
                )
        if self.categorical_columns_:
            cat_idx = list(range(n_num, n_num + len(self.categorical_columns_)))
            transformers.append((
                "categorical",
                OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=self.max_categories,
                              sparse_output=False, dtype=np.float32),
                cat_idx,
            ))
        self.column_transformer_ = ColumnTransformer(transformers, sparse_threshold=0.0)
        if n_num and not self.categorical_columns_:
            blocks = blocks.astype(np.float64)
        self.column_transformer_.fit(blocks)
        self.n_features_out_ = int(self.column_transformer_.transform(blocks[:1]).shape[1])
        return self

    def transform(self, X):
        check_is_fitted(self, "column_transformer_")
        blocks = self._blocks(X)
        if self.numeric_columns_ and not self.categorical_columns_:
            blocks = blocks.astype(np.float64)
        return np.ascontiguousarray(self.column_transformer_.transform(blocks), dtype=np.float32)
