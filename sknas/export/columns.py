"""Column gathers and casts shared by several converters."""

from __future__ import annotations

import numpy as np

from .graph import FLOAT, Graph, same_type
from .registry import StandIn, register_operator

__all__ = ["ToFloat32", "float32_shape", "gather"]


def gather(scope, operator, container, indices, prefix="columns"):
    """Write ``output = input[:, indices]``."""
    g = Graph(scope, container, prefix)
    g.op("Gather", operator.inputs[0].full_name, g.const(np.asarray(indices, dtype=np.int64), "indices"), axis=1,
         output=operator.outputs[0].full_name)


def float32_shape(operator):
    """A float matrix of the input's shape."""
    from skl2onnx.common.data_types import FloatTensorType

    operator.outputs[0].type = FloatTensorType(same_type(operator).shape)


class ToFloat32(StandIn):
    """The float32 cast that ends ``TabularPreprocessor.transform``."""


def _convert_to_float32(scope, operator, container):
    g = Graph(scope, container, "float32")
    g.op("Cast", operator.inputs[0].full_name, to=FLOAT, output=operator.outputs[0].full_name)


register_operator(ToFloat32, float32_shape, _convert_to_float32)
