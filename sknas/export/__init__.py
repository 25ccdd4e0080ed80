"""Export a fitted sknas estimator to ONNX (the whole pipeline) or TorchScript (the network).

``export_onnx(estimator, path)`` writes one ONNX graph computing what
``estimator.predict`` / ``predict_proba`` compute, preprocessing included:

- the sklearn preprocessing is converted by skl2onnx (its ``ColumnTransformer``,
  ``Pipeline``, scalers, PCA, truncated SVD...), with converters added here for
  what skl2onnx lacks or gets wrong in double precision: ``SimpleImputer``
  (onnxruntime's ``Imputer`` is float-only), ``MissingIndicator``,
  ``QuantileTransformer(output_distribution="normal")`` (the normal quantile
  function is Wichura's AS241 rational approximation, about 1e-15 relative),
  Yeo-Johnson ``PowerTransformer`` (scipy's log1p/expm1 forms), and sknas's
  own steps: :class:`~sknas.prep.cleaning.TableCleaner` (numeric tables, and
  string and date columns followed by the encoder),
  :class:`~sknas.prep.tabular.TabularPreprocessor` (through its
  ``ColumnTransformer``), ``Clipper``, ``FeatureSelector``,
  ``FeatureExtractor`` and the float32 cast. The sklearn classes are
  converted under private subclasses, so skl2onnx's behaviour elsewhere is
  untouched;
- the network is exported by ``torch.onnx.export`` (the torch.export-based
  exporter) and its graph inlined into the same model through a converter
  registered with skl2onnx for the sknas skorch nets, followed by the softmax
  and class labels (classifier) or the target's de-standardization (regressor);
- an estimator that predicts with an ensemble (``ensemble_``), whose members
  may be bags of fold models, becomes one graph too: every member on the same
  inputs, then their weighted average (Mul by weight, Sum, Div, in float64).

The graph's input is ``X``: a ``float64`` matrix of the training columns in
their training order (:func:`onnx_input`). A table with categorical (string)
or date columns adds a second input, ``X_str``, and reads dates as numbers;
:func:`onnx_inputs` makes the feed of either kind of graph from a DataFrame.
Outputs: ``label`` (int64 or string) and ``probabilities`` (float32, columns
ordered as ``classes_``) for a classifier; ``variable`` (float64, shape
``(n, 1)``) for a regressor.

String columns: categorical columns are encoded in the graph as sknas encodes
them (one-hot, ordinal or target encoding, rare and unseen levels, missing
values), through exact per-column lookup tables read by ONNX-ML
``LabelEncoder`` nodes; date columns become their parts (year, month, day,
day of week, hour, elapsed days) computed in the graph from seconds since
1970. Limitations (each a ``ValueError`` naming the column or step): free-text
columns (their length and word count) and steps without an ONNX converter
(spline or polynomial feature construction, Nystroem features, image
scaling). Requires ``pip install skl2onnx onnx onnxscript`` (and onnxruntime
to run the graph).

``export_torchscript(estimator, path)`` writes the network alone (input: the
preprocessed float32 matrix, output: probabilities or predictions on the
target's scale) with its metadata as ``sknas.json`` in the archive's extra
files; it refuses ensembles.

Layout (for contributors), as skl2onnx's ``operator_converters/``: one module
per converted class, each registering, by class, in :mod:`sknas.export.registry`
a *step rule* (how a fitted step becomes skl2onnx-convertible) and, where
needed, an *operator* (its skl2onnx shape calculator and converter):
``quantile``, ``power``, ``imputer``, ``missing_indicator`` (sklearn classes),
``cleaning``, ``tabular``, ``clipping``, ``selection``, ``extraction`` (sknas's
``prep`` steps), ``pipeline`` (``Pipeline``, ``ColumnTransformer``), ``net``
(the networks) and ``ensemble`` (the average); ``graph`` holds the node-building
helper, ``inputs`` the input layout and feed, ``model`` and ``torchscript``
the public functions.
"""

from __future__ import annotations

# each converter module registers its classes on import
from . import (  # noqa: F401
    cleaning,
    clipping,
    extraction,
    imputer,
    missing_indicator,
    net,
    pipeline,
    power,
    quantile,
    selection,
    tabular,
)
from .cleaning import input_layout
from .inputs import onnx_input, onnx_inputs
from .model import check_onnx, export_onnx, preprocessing_to_onnx, to_onnx
from .net import torch_onnx_model as _torch_onnx_model  # noqa: F401  (kept for tests and older callers)
from .registry import DEFAULT_OPSET  # noqa: F401
from .torchscript import export_torchscript

__all__ = ["check_onnx", "export_onnx", "export_torchscript", "input_layout", "onnx_input", "onnx_inputs",
           "preprocessing_to_onnx", "to_onnx"]
