""":class:`sknas.prep.clipping.Clipper`: winsorizing, or smooth clipping ``z / sqrt(1 + (z / 3)^2)``."""

from __future__ import annotations

import numpy as np

from ..prep.clipping import Clipper
from .graph import DOUBLE, Graph, onnx_type_code, same_type
from .registry import register_operator, register_step

__all__ = []


@register_step(Clipper)
def _clipper_rule(step, where, context):
    return step


def _clipper_shape(operator):
    operator.outputs[0].type = same_type(operator)


def _convert_clipper(scope, operator, container):
    clip = operator.raw_operator
    g = Graph(scope, container, "clip")
    row = lambda name: g.const(np.asarray(getattr(clip, name), dtype=np.float64)[None, :])  # noqa: E731
    x = g.op("Cast", operator.inputs[0].full_name, to=DOUBLE)
    if clip.method == "winsorize":
        out = g.op("Min", g.op("Max", x, row("lower_")), row("upper_"))
    else:
        z = g.op("Div", g.op("Sub", x, row("center_")), row("scale_"))
        third = g.op("Div", z, g.const(np.array(3.0)))
        out = g.op("Div", z, g.op("Sqrt", g.op("Add", g.const(np.array(1.0)), g.op("Mul", third, third))))
    g.op("Cast", out, to=onnx_type_code(operator.outputs[0].type), output=operator.outputs[0].full_name)


register_operator(Clipper, _clipper_shape, _convert_clipper)
