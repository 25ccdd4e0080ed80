""":class:`sknas.prep.extraction.FeatureExtractor`: its fitted extractor and scaler, converted by skl2onnx.

PCA and truncated SVD convert; Nystroem features are refused (no converter).
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from ..prep.extraction import FeatureExtractor
from .registry import onnx_ready, register_step, sklearn_step

__all__ = []


@register_step(FeatureExtractor)
def _extractor_rule(step, where, context):
    if not hasattr(step, "extractor_"):  # not fitted
        return sklearn_step(step, where)
    if step.extractor_ is None:
        return "passthrough"
    parts = [("extract", step.extractor_)] + ([("scale", step.scaler_)] if step.scaler_ is not None else [])
    return onnx_ready(Pipeline(parts), where, context)
