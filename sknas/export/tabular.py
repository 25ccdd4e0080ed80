""":class:`sknas.prep.tabular.TabularPreprocessor` (its ColumnTransformer, then the float32 cast) and
:class:`sknas.prep.tabular.AsFloat32`."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..prep.tabular import AsFloat32, TabularPreprocessor
from .columns import ToFloat32, float32_shape
from .graph import FLOAT, Graph
from .registry import onnx_ready, register_operator, register_step

__all__ = []


@register_step(TabularPreprocessor)
def _tabular_rule(step, where, context):
    check_is_fitted(step, "column_transformer_")
    if step.categorical_columns_:
        raise ValueError(
            f"export_onnx: the preprocessing step {where} encodes the text/categorical columns "
            f"{list(step.categorical_columns_)!r} without sknas's cleaning step before it; ONNX export "
            "covers string columns in the searched pipeline (TableCleaner, then TabularPreprocessor) only "
            "(encode those columns as numbers before fit, or use sknas.io.save)."
        )
    inner = onnx_ready(step.column_transformer_, f"{where} > columns", context)
    return Pipeline([("columns", inner), ("float32", ToFloat32.of())])


@register_step(AsFloat32)
def _as_float32_rule(step, where, context):
    return step


def _convert_as_float32(scope, operator, container):
    """Cast to float32, NaN to 0, infinities to float32's limits (as ``AsFloat32.transform``)."""
    g = Graph(scope, container, "asfloat32")
    x = g.op("Cast", operator.inputs[0].full_name, to=FLOAT)
    big = np.finfo(np.float32).max
    x = g.op("Where", g.op("IsNaN", x), g.const(np.array(0.0, dtype=np.float32)), x)
    x = g.op("Where", g.op("IsInf", x, detect_negative=0), g.const(np.array(big, dtype=np.float32)), x)
    g.op("Where", g.op("IsInf", x, detect_positive=0), g.const(np.array(-big, dtype=np.float32)), x,
         output=operator.outputs[0].full_name)


register_operator(AsFloat32, float32_shape, _convert_as_float32)
