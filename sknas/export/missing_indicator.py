"""``MissingIndicator`` (NaN as the missing value): 1.0 where a selected column is NaN, in the input's precision."""

from __future__ import annotations

import numpy as np
from sklearn.impute import MissingIndicator

from .graph import Graph, onnx_type_code, same_precision
from .registry import register_operator, register_step, swap_class

__all__ = ["SknasMissingIndicator", "calculate_shape", "convert"]


class SknasMissingIndicator(MissingIndicator):
    """A fitted ``MissingIndicator`` under sknas's converter."""


def calculate_shape(operator):
    operator.outputs[0].type = same_precision(operator, len(operator.raw_operator.features_))


def convert(scope, operator, container):
    mi = operator.raw_operator
    g = Graph(scope, container, "missing")
    selected = g.op("Gather", operator.inputs[0].full_name,
                    g.const(np.asarray(mi.features_, dtype=np.int64), "features"), axis=1)
    g.op("Cast", g.op("IsNaN", selected), to=onnx_type_code(operator.outputs[0].type),
         output=operator.outputs[0].full_name)


@register_step(MissingIndicator)
def _missing_indicator_rule(step, where, context):
    if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
        raise ValueError(f"export_onnx: the preprocessing step {where} (MissingIndicator) is supported "
                         f"with missing_values=np.nan only. Got {step.missing_values!r} instead.")
    return swap_class(step, SknasMissingIndicator)


register_operator(SknasMissingIndicator, calculate_shape, convert)
