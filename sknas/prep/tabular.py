"""Preprocessing of raw tabular data with sklearn transformers: impute, clip, scale, encode."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from .clipping import CLIP_METHODS, Clipper

__all__ = [
    "ENCODERS",
    "MISSING_LEVEL",
    "SCALERS",
    "AsFloat32",
    "TabularPreprocessor",
    "check_frame",
    "infer_column_kinds",
    "make_scaler",
    "numeric_block",
    "resolve_task",
    "to_frame",
]

_MISSING = "__sknas_missing__"
MISSING_LEVEL = _MISSING
"""The level a missing value of a categorical column is encoded as (also in the ONNX export's string input)."""
SCALERS = ("standard", "quantile", "robust", "power")
ENCODERS = ("onehot", "target", "ordinal")


def to_frame(X):
    """A DataFrame view of 2-D tabular input (numpy array or DataFrame)."""
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2-D tabular data. Got an array of shape {X.shape} instead. Reshape your data "
            "with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample."
        )
    return pd.DataFrame(X)


def check_frame(X, name):
    """``to_frame(X)`` after the checks every raw-table transformer makes (sparse, empty, complex)."""
    if sp.issparse(X):
        raise TypeError(f"{name} does not support sparse input; pass a dense array or a DataFrame.")
    frame = to_frame(X)
    if frame.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required.")
    if frame.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum of 1 is required.")
    complex_columns = [c for c in frame.columns if pd.api.types.is_complex_dtype(frame[c].dtype)]
    if complex_columns:
        raise ValueError(f"{name}: Complex data not supported (column(s) {complex_columns}).")
    return frame


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
    """The sklearn scaler called ``name`` (one of :data:`SCALERS`)."""
    if name == "standard":
        return StandardScaler()
    if name == "robust":
        return RobustScaler()
    if name == "quantile":
        return QuantileTransformer(
            output_distribution="normal", n_quantiles=max(2, min(1000, n_samples)), random_state=random_state
        )
    if name == "power":
        return PowerTransformer(method="yeo-johnson", standardize=True)
    raise ValueError(f"Unknown scaler {name!r}; known: {SCALERS}.")


def resolve_task(task, y):
    """``"classification"`` or ``"regression"``: ``task`` itself, or guessed from ``y`` when "auto"."""
    if task in ("classification", "regression"):
        return task
    if task != "auto":
        raise ValueError(f"task must be 'auto', 'classification' or 'regression'. Got {task!r} instead.")
    if y is None:
        return None
    kind = type_of_target(np.asarray(y))
    return "regression" if kind.startswith("continuous") else "classification"


def _target_encoder(target_type, random_state=0):
    """sklearn's TargetEncoder with seeded, shuffled cross fitting (on every sklearn version)."""
    if inspect.signature(TargetEncoder).parameters.get("shuffle").default == "deprecated":
        splitter = KFold if target_type == "continuous" else StratifiedKFold
        return TargetEncoder(target_type=target_type, cv=splitter(5, shuffle=True, random_state=random_state))
    return TargetEncoder(target_type=target_type, shuffle=True, random_state=random_state)


class AsFloat32(TransformerMixin, BaseEstimator):
    """The last step of a searched pipeline: a contiguous float32 matrix for the network.

    Non-finite values (from an overflowing power transform, for instance)
    are replaced: NaN by 0, infinities by the largest finite float32, so a
    trial's network never sees them.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X, y=None):
        validate_data(self, X, dtype=np.float32, ensure_all_finite=False)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, dtype=np.float32, ensure_all_finite=False, reset=False, order="C")
        if not np.isfinite(X).all():
            X = np.nan_to_num(X, nan=0.0)
        return X


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Raw table to a float32 matrix: impute, flag missing values, clip, scale, encode.

    Column kinds are inferred at ``fit`` (see :func:`infer_column_kinds`).
    Numeric columns are median-imputed, optionally clipped and scaled; a
    missing-value indicator is added for every numeric column that had
    missing values during fit. Categorical columns are encoded by
    ``encoder``; unseen levels at predict time never fail.

    Parameters
    ----------
    scaler : {"standard", "quantile", "robust", "power"}, default="quantile"
        ``StandardScaler``, ``QuantileTransformer`` to a normal
        distribution, ``RobustScaler`` or Yeo-Johnson ``PowerTransformer``.
    max_categories : int, default=32
        Most one-hot (or ordinal) columns per categorical column; rarer and
        unseen levels share an "infrequent" column.
    clip : {"none", "winsorize", "smooth"}, default="none"
        Clipping of numeric columns before scaling (see :class:`Clipper`).
    encoder : {"onehot", "target", "ordinal"}, default="onehot"
        "onehot": every categorical column one-hot encoded. "target":
        columns with more than ``max_categories`` levels are target encoded
        (sklearn's ``TargetEncoder``, cross-fitted in ``fit_transform``, then
        standardized), the others one-hot encoded; without ``y`` it falls
        back to one-hot. "ordinal": integer codes (unseen levels -1),
        standardized.
    task : {"auto", "classification", "regression"}, default="auto"
        Kind of target for the target encoder; "auto" guesses it from ``y``.

    Attributes
    ----------
    numeric_columns_, categorical_columns_ : list
        Column labels (or positions for arrays) of each kind.
    target_encoded_columns_ : list
        Categorical columns target encoded (``encoder="target"``).
    column_transformer_ : sklearn.compose.ColumnTransformer
    n_features_out_ : int
    """

    def __init__(self, scaler="quantile", max_categories=32, clip="none", encoder="onehot", task="auto"):
        self.scaler = scaler
        self.max_categories = max_categories
        self.clip = clip
        self.encoder = encoder
        self.task = task

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = ["float32"]  # the network's dtype, whatever comes in
        return tags

    def _check_params(self):
        name = type(self).__name__
        if self.scaler not in SCALERS:
            raise ValueError(f"{name}: scaler must be one of {SCALERS}. Got {self.scaler!r} instead.")
        if self.clip not in ("none",) + CLIP_METHODS:
            raise ValueError(f"{name}: clip must be one of {('none',) + CLIP_METHODS}. Got {self.clip!r} instead.")
        if self.encoder not in ENCODERS:
            raise ValueError(f"{name}: encoder must be one of {ENCODERS}. Got {self.encoder!r} instead.")

    def _categorical_transformers(self, blocks, n_num, y):
        cat_idx = list(range(n_num, n_num + len(self.categorical_columns_)))
        self.target_encoded_columns_ = []
        if self.encoder == "ordinal":
            ordinal = Pipeline([
                ("ordinal", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                           max_categories=self.max_categories, dtype=np.float64)),
                ("scale", StandardScaler()),
            ])
            return [("categorical", ordinal, cat_idx)]
        onehot_idx, target_idx = cat_idx, []
        if self.encoder == "target" and y is not None:
            n_levels = [len(pd.unique(blocks[:, j])) for j in cat_idx]
            target_idx = [j for j, k in zip(cat_idx, n_levels) if k > self.max_categories]
            onehot_idx = [j for j in cat_idx if j not in target_idx]
        out = []
        if onehot_idx:
            out.append((
                "categorical",
                OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=self.max_categories,
                              sparse_output=False, dtype=np.float32),
                onehot_idx,
            ))
        if target_idx:
            self.target_encoded_columns_ = [self.categorical_columns_[j - n_num] for j in target_idx]
            target_type = "continuous" if resolve_task(self.task, y) == "regression" else "auto"
            out.append((
                "target",
                Pipeline([("encode", _target_encoder(target_type)), ("scale", StandardScaler())]),
                target_idx,
            ))
        return out

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        # fit_transform is not fit().transform(): a target encoder cross-fits its training output.
        self._check_params()
        frame = check_frame(X, type(self).__name__)
        kinds = infer_column_kinds(frame)
        self.numeric_columns_ = kinds["numeric"]
        self.categorical_columns_ = kinds["categorical"]
        self.n_features_in_ = frame.shape[1]
        n_num = len(self.numeric_columns_)
        blocks = self._blocks(frame)
        transformers = []
        self.target_encoded_columns_ = []
        if n_num:
            num_idx = list(range(n_num))
            steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
            if self.clip != "none":
                steps.append(("clip", Clipper(method=self.clip)))
            steps.append(("scale", make_scaler(self.scaler, len(frame))))
            transformers.append(("numeric", Pipeline(steps), num_idx))
            num_values = blocks[:, :n_num].astype(np.float64)
            if np.isnan(num_values).any():
                transformers.append(
                    ("missing", MissingIndicator(features="missing-only", error_on_new=False), num_idx)
                )
        if self.categorical_columns_:
            transformers += self._categorical_transformers(blocks, n_num, y)
        self.column_transformer_ = ColumnTransformer(transformers, sparse_threshold=0.0)
        if n_num and not self.categorical_columns_:
            blocks = blocks.astype(np.float64)
        if y is not None and not isinstance(y, pd.Series):
            y = np.asarray(y)
        out = self.column_transformer_.fit_transform(blocks, y)
        self.n_features_out_ = int(out.shape[1])
        return np.ascontiguousarray(out, dtype=np.float32)

    def transform(self, X):
        check_is_fitted(self, "column_transformer_")
        frame = check_frame(X, type(self).__name__)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input."
            )
        blocks = self._blocks(frame)
        if self.numeric_columns_ and not self.categorical_columns_:
            blocks = blocks.astype(np.float64)
        return np.ascontiguousarray(self.column_transformer_.transform(blocks), dtype=np.float32)
