"""The containers: ``Pipeline`` and ``ColumnTransformer``, their steps made convertible one by one."""

from __future__ import annotations

import copy

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from .cleaning import mixed_head
from .registry import onnx_ready, register_step

__all__ = []


@register_step(Pipeline, subclasses=True)
def _pipeline_rule(step, where, context):
    new = copy.copy(step)
    steps = list(step.steps)
    head = []
    mixed = mixed_head(steps, where, context)  # a cleaner of strings and dates with its encoder
    if mixed is not None:
        head, steps = mixed
    new.steps = head + [(name, onnx_ready(s, f"{where} > {name}", context)) for name, s in steps]
    return new


@register_step(ColumnTransformer, subclasses=True)
def _column_transformer_rule(step, where, context):
    new = copy.copy(step)
    new.transformers_ = [(name, onnx_ready(t, f"{where} > {name}", context), cols)
                         for name, t, cols in step.transformers_]
    return new
