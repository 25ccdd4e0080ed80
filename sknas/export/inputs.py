"""The graph's inputs: their layout, their types, and the feed made from a DataFrame.

A table of numbers has one input, ``X`` (float64, the training columns in
order). A table whose cleaning step keeps categorical or date columns has
two: ``X`` (every column as a number) and ``X_str`` (the categorical
columns as strings); its *layout* ``{"kinds": [...], "string_columns": [...]}``
says which column is which and is written in the ONNX file's ``doc_string``.
The members of an ensemble share the inputs: their layout is the union of
the members' (a column read as two different kinds is refused).
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..prep.cleaning import TableCleaner
from .cleaning import input_kinds, input_layout, needs_strings

__all__ = ["initial_types", "layout_of", "onnx_input", "onnx_inputs", "prep_layout", "union_layout"]


def _first_cleaner(prep):
    steps = getattr(prep, "steps", None)
    if steps and type(steps[0][1]) is TableCleaner:
        return steps[0][1]
    return None


def prep_layout(prep):
    """The input layout of a preprocessing that needs the two-input graph, else None."""
    cleaner = _first_cleaner(prep)
    if cleaner is not None and needs_strings(cleaner):
        return input_layout(cleaner)
    return None


def union_layout(preps, feature_names=None):
    """The layout shared by several members' preprocessings (None: all take one numeric input).

    A column kept by several members must be read as the same kind by all
    of them; a column no member keeps is ``"unused"``.
    """
    if all(prep_layout(prep) is None for prep in preps):
        return None
    kinds, n_columns = {}, None
    for prep in preps:
        cleaner = _first_cleaner(prep)
        if cleaner is None:
            continue
        n_columns = len(cleaner.column_kinds_) if n_columns is None else n_columns
        if len(cleaner.column_kinds_) != n_columns:
            raise ValueError("export_onnx: the ensemble's members were fit on tables of different widths "
                             f"({n_columns} and {len(cleaner.column_kinds_)} columns).")
        for position, kind in input_kinds(cleaner).items():
            if kinds.setdefault(position, kind) != kind:
                name = feature_names[position] if feature_names is not None else position
                raise ValueError(f"export_onnx: the ensemble's members read column {name!r} as {kinds[position]} "
                                 f"and as {kind}; they cannot share one graph input.")
    return {"kinds": [kinds.get(i, "unused") for i in range(n_columns)],
            "string_columns": sorted(i for i, k in kinds.items() if k == "categorical")}


def initial_types(layout, n_features):
    """skl2onnx's ``initial_types`` of a graph: ``X`` (float64) and, with string columns, ``X_str``."""
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    types = [("X", DoubleTensorType([None, int(n_features)]))]
    if layout is not None and layout["string_columns"]:
        types.append(("X_str", StringTensorType([None, len(layout["string_columns"])])))
    return types


def layout_of(model):
    """The input layout of an estimator, a fitted preprocessing, an ONNX ModelProto or file (None: one input)."""
    if hasattr(model, "best_estimator_"):
        from .model import estimator_layout

        return estimator_layout(model, "onnx_inputs")
    if hasattr(model, "transform"):  # a fitted preprocessing (see preprocessing_to_onnx)
        return prep_layout(model)
    if isinstance(model, (str, os.PathLike)):
        import onnx

        model = onnx.load(os.fspath(model))
    try:
        meta = json.loads(model.doc_string or "{}")
    except ValueError:
        meta = {}
    return meta.get("input_layout")


def onnx_inputs(model, X):
    """The feed of an exported graph for the rows of ``X``: ``{"X": ..., "X_str": ...}``.

    ``model`` is the fitted estimator (or preprocessing), the ONNX
    ``ModelProto`` or the path of the ``.onnx`` file. For a table of numbers it is ``{"X":
    onnx_input(X)}``. For a table with categorical or date columns (their
    kinds, as the model's cleaning step read them, are in the ONNX file's
    ``doc_string`` under ``input_layout``): ``X`` holds every column as a
    float64 number (numbers, booleans as 0/1, dates as seconds since
    1970-01-01 UTC, NaN for categorical and unused columns) and ``X_str``
    the categorical columns as strings, a missing value as
    ``"__sknas_missing__"``.
    """
    from ..prep.tabular import MISSING_LEVEL, to_frame

    layout = layout_of(model)
    if layout is None:
        return {"X": onnx_input(X)}
    frame = to_frame(X)
    kinds = layout["kinds"]
    if frame.shape[1] != len(kinds):
        raise ValueError(f"onnx_inputs: X has {frame.shape[1]} columns; the model expects {len(kinds)}.")
    numbers = np.full(frame.shape, np.nan)
    for j, kind in enumerate(kinds):
        if kind in ("numeric", "boolean", "datetime"):
            numbers[:, j] = TableCleaner.as_number(frame.iloc[:, j], kind)
    feed = {"X": np.ascontiguousarray(numbers)}
    if layout["string_columns"]:
        text = np.empty((len(frame), len(layout["string_columns"])), dtype=object)
        for k, j in enumerate(layout["string_columns"]):
            col = frame.iloc[:, j]
            text[:, k] = np.where(col.isna().to_numpy(), MISSING_LEVEL, col.astype(str).to_numpy(dtype=object))
        feed["X_str"] = text
    return feed


def onnx_input(X):
    """``X`` (a DataFrame or array of numbers/booleans) as the float64 input of a numeric table's graph.

    For any graph, :func:`onnx_inputs` gives the whole feed.
    """
    if hasattr(X, "to_numpy"):
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.ascontiguousarray(np.asarray(X, dtype=np.float64))
