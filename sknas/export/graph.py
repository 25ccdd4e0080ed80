"""A small graph-building helper over a skl2onnx container, and the element types of its variables."""

from __future__ import annotations

import numpy as np

__all__ = ["DOUBLE", "FLOAT", "Graph", "onnx_type_code", "same_type", "same_precision"]

FLOAT, DOUBLE = 1, 11  # onnx.TensorProto.FLOAT / DOUBLE, the ``to=`` of a Cast node


class Graph:
    """Adds nodes and constants to a skl2onnx container with unique names (all prefixed by ``prefix``)."""

    def __init__(self, scope, container, prefix):
        self.scope = scope
        self.container = container
        self.prefix = prefix

    def name(self, hint):
        return self.scope.get_unique_variable_name(f"{self.prefix}_{hint}")

    def const(self, value, hint="c"):
        from onnx import TensorProto

        value = np.asarray(value)
        if value.dtype.kind in "US" or value.dtype == object:
            name = self.name(hint)
            self.container.add_initializer(name, TensorProto.STRING, list(value.shape),
                                           [str(v).encode("utf-8") for v in value.ravel()])
            return name
        types = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT,
                 np.dtype(np.int64): TensorProto.INT64, np.dtype(np.bool_): TensorProto.BOOL}
        if value.dtype not in types:
            raise TypeError(f"unsupported constant dtype {value.dtype}")
        name = self.name(hint)
        self.container.add_initializer(name, types[value.dtype], list(value.shape), value.ravel().tolist())
        return name

    def op(self, op_type, *inputs, output=None, **attrs):
        out = output or self.name(op_type.lower())
        self.container.add_node(op_type, list(inputs), [out], op_domain="",
                                name=self.scope.get_unique_operator_name(f"{self.prefix}_{op_type}"), **attrs)
        return out


def same_type(operator, n_columns=None):
    """Output type = input element type, with ``n_columns`` (default: the input's)."""
    in_type = operator.inputs[0].type
    n = operator.inputs[0].get_first_dimension()
    cols = n_columns if n_columns is not None else (in_type.shape[1] if len(in_type.shape) > 1 else None)
    return in_type.__class__([n, cols])


def same_precision(operator, n_columns):
    """A double matrix type when the input is double, else float, with ``n_columns`` columns."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    cls = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    return cls([n, n_columns])


def onnx_type_code(var_type):
    """The ``to=`` of a Cast to ``var_type`` (double or float)."""
    return {"DoubleTensorType": DOUBLE, "FloatTensorType": FLOAT}.get(var_type.__class__.__name__, FLOAT)
