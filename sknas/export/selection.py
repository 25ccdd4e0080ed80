""":class:`sknas.prep.selection.FeatureSelector`: a gather of the selected columns (``get_support``)."""

from __future__ import annotations

from ..prep.selection import FeatureSelector
from .columns import gather
from .graph import same_type
from .registry import register_operator, register_step

__all__ = []


@register_step(FeatureSelector)
def _selector_rule(step, where, context):
    return step


def _selector_shape(operator):
    operator.outputs[0].type = same_type(operator, len(operator.raw_operator.get_support(indices=True)))


def _convert_selector(scope, operator, container):
    gather(scope, operator, container, operator.raw_operator.get_support(indices=True))


register_operator(FeatureSelector, _selector_shape, _convert_selector)
