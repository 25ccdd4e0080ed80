"""``SimpleImputer`` (NaN as the missing value) in the input's precision.

skl2onnx's converter uses ONNX-ML's ``Imputer``, which onnxruntime runs in
float only; this one keeps double inputs double.
"""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer

from .graph import Graph, same_precision
from .registry import register_operator, register_step, swap_class

__all__ = ["SknasSimpleImputer", "calculate_shape", "convert", "kept_columns"]


class SknasSimpleImputer(SimpleImputer):
    """A fitted ``SimpleImputer`` under sknas's converter."""


def kept_columns(imputer):
    """``(statistics, kept)``: the fitted fill values and the columns the imputer keeps (not all-NaN ones)."""
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    if getattr(imputer, "keep_empty_features", False):
        return stats, np.arange(len(stats))
    kept = np.flatnonzero(~np.isnan(stats))
    return stats, kept


def calculate_shape(operator):
    operator.outputs[0].type = same_precision(operator, len(kept_columns(operator.raw_operator)[1]))


def convert(scope, operator, container):
    imputer = operator.raw_operator
    g = Graph(scope, container, "impute")
    stats, kept = kept_columns(imputer)
    dtype = np.float64 if operator.outputs[0].type.__class__.__name__ == "DoubleTensorType" else np.float32
    x = operator.inputs[0].full_name
    if len(kept) != len(stats):
        x = g.op("Gather", x, g.const(kept.astype(np.int64), "kept"), axis=1)
    fill = np.where(np.isnan(stats[kept]), 0.0, stats[kept]).astype(dtype)[None, :]
    g.op("Where", g.op("IsNaN", x), g.const(fill, "statistics"), x, output=operator.outputs[0].full_name)


@register_step(SimpleImputer)
def _imputer_rule(step, where, context):
    if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)) or step.add_indicator:
        raise ValueError(f"export_onnx: the preprocessing step {where} (SimpleImputer) is supported with "
                         "missing_values=np.nan and add_indicator=False only.")
    return swap_class(step, SknasSimpleImputer)


register_operator(SknasSimpleImputer, calculate_shape, convert)
