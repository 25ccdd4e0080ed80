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
  own steps: :class:`~sknas.prep.cleaning.TableCleaner` (on numeric tables),
  :class:`~sknas.prep.tabular.TabularPreprocessor` (through its
  ``ColumnTransformer``), ``Clipper``, ``FeatureSelector``,
  ``FeatureExtractor`` and the float32 cast. They are registered under private
  subclasses and stand-ins, so skl2onnx's behaviour elsewhere is untouched;
- the network is exported by ``torch.onnx.export`` (the torch.export-based
  exporter) and its graph inlined into the same model through a converter
  registered with skl2onnx for the sknas skorch nets, followed by the softmax
  and class labels (classifier) or the target's de-standardization (regressor).

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
columns (their length and word count), steps without an ONNX converter
(spline or polynomial feature construction, Nystroem features, image
scaling) and ensembles. Requires ``pip install skl2onnx onnx onnxscript``
(and onnxruntime to run the graph).

``export_torchscript(estimator, path)`` writes the network alone (input: the
preprocessed float32 matrix, output: probabilities or predictions on the
target's scale) with its metadata as ``sknas.json`` in the archive's extra
files.
"""

from __future__ import annotations

import copy
import json
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["check_onnx", "export_onnx", "export_torchscript", "input_layout", "onnx_input", "onnx_inputs",
           "preprocessing_to_onnx", "to_onnx"]

DEFAULT_OPSET = 18
_INSTALL = "pip install skl2onnx onnx onnxscript"


# ---------------------------------------------------------------------------------------
# shared checks
# ---------------------------------------------------------------------------------------
def _parts(estimator, caller):
    from sklearn.pipeline import Pipeline

    check_is_fitted(estimator, "best_estimator_")
    if getattr(estimator, "ensemble_", None) is not None:
        raise ValueError(
            f"{caller}: this estimator predicts with an ensemble of {len(estimator.ensemble_.estimators)} models "
            "(ensemble_size > 1); only single-network models can be exported (fit with ensemble_size=1 to "
            "export one)."
        )
    model = estimator.best_estimator_
    if not isinstance(model, Pipeline) or list(model.named_steps) != ["preprocessing", "net"]:
        raise ValueError(
            f"{caller}: best_estimator_ must be a Pipeline of the steps ['preprocessing', 'net']. "
            f"Got {model!r} instead."
        )
    return model.named_steps["preprocessing"], model.named_steps["net"]


def _task(net):
    from .evaluation.trainer import TabularClassifierNet, TabularRegressorNet

    if isinstance(net, TabularClassifierNet):
        return "classification"
    if isinstance(net, TabularRegressorNet):
        return "regression"
    raise TypeError(f"cannot export a network of type {type(net).__name__}.")


def _inference_module(net):
    """A CPU copy of the fitted torch module in eval mode (the estimator is left untouched)."""
    module = copy.deepcopy(net.module_).to("cpu")
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


# ---------------------------------------------------------------------------------------
# ONNX: small graph-building helper over a skl2onnx container
# ---------------------------------------------------------------------------------------
class _Graph:
    """Adds nodes and constants to a skl2onnx container with unique names."""

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


# ---------------------------------------------------------------------------------------
# ONNX: converters for what skl2onnx lacks
# ---------------------------------------------------------------------------------------
# Wichura, "Algorithm AS 241: The percentage points of the normal distribution" (1988), PPND16.
_AS241_A = (3.3871328727963666080e0, 1.3314166789178437745e+2, 1.9715909503065514427e+3,
            1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
            3.3430575583588128105e+4, 2.5090809287301226727e+3)
_AS241_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
            2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4,
            5.2264952788528545610e+3)
_AS241_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
            3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
            2.27238449892691845833e-2, 7.74545014278341407640e-4)
_AS241_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
            1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
            1.05075007164441684324e-9)
_AS241_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
            2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
            2.71155556874348757815e-5, 2.01033439929228813265e-7)
_AS241_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
            7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
            2.04426310338993978564e-15)


def _poly(g, coefs, x):
    """Horner evaluation of ``sum(coefs[k] * x**k)`` in double precision."""
    out = g.const(np.array(coefs[-1], dtype=np.float64))
    for c in coefs[-2::-1]:
        out = g.op("Add", g.op("Mul", out, x), g.const(np.array(c, dtype=np.float64)))
    return out


def _normal_ppf(g, p):
    """The standard normal quantile function of ``p`` (double), AS241; 0 -> -inf, 1 -> inf."""
    f64 = lambda v: g.const(np.array(v, dtype=np.float64))  # noqa: E731
    q = g.op("Sub", p, f64(0.5))
    r = g.op("Sub", f64(0.180625), g.op("Mul", q, q))
    central = g.op("Div", g.op("Mul", q, _poly(g, _AS241_A, r)), _poly(g, _AS241_B, r))
    q_negative = g.op("Less", q, f64(0.0))
    # clip away 0 and 1 so that the (unselected) tail branch stays finite; handled below
    p_safe = g.op("Max", g.op("Min", p, f64(1.0 - 2.0 ** -53)), f64(np.finfo(np.float64).tiny))
    smaller = g.op("Where", q_negative, p_safe, g.op("Sub", f64(1.0), p_safe))
    rr = g.op("Sqrt", g.op("Neg", g.op("Log", smaller)))
    near = g.op("Sub", rr, f64(1.6))
    far = g.op("Sub", rr, f64(5.0))
    tail = g.op("Where", g.op("LessOrEqual", rr, f64(5.0)),
                g.op("Div", _poly(g, _AS241_C, near), _poly(g, _AS241_D, near)),
                g.op("Div", _poly(g, _AS241_E, far), _poly(g, _AS241_F, far)))
    tail = g.op("Where", q_negative, g.op("Neg", tail), tail)
    value = g.op("Where", g.op("LessOrEqual", g.op("Abs", q), f64(0.425)), central, tail)
    value = g.op("Where", g.op("LessOrEqual", p, f64(0.0)), f64(-np.inf), value)
    return g.op("Where", g.op("GreaterOrEqual", p, f64(1.0)), f64(np.inf), value)


def _interp(g, x, xp, fp):
    """``np.interp(x[:, j], xp[:, j], fp)`` for every column j, by binary search.

    ``x``: (n, F) double; ``xp``: (n_quantiles, F) non-decreasing per column;
    ``fp``: (n_quantiles,). numpy's rule: with ``j`` the last index such that
    ``xp[j] <= x``, the result is ``fp[j] + slope * (x - xp[j])``, ``fp[0]``
    below the range and ``fp[-1]`` at or above its end.
    """
    n_q, n_features = xp.shape
    size = 1 << int(n_q).bit_length()  # a power of two > n_q
    # table[f, k] = xp[k, f], padded with +inf so that "xp <= x" stays monotone
    table = np.full((n_features, size), np.inf)
    table[:, :n_q] = xp.T
    flat_table = g.const(table.ravel().astype(np.float64), "quantiles")
    offsets = g.const((np.arange(n_features, dtype=np.int64) * size)[None, :], "offsets")
    zero_i = g.const(np.array(0, dtype=np.int64))
    from onnx import TensorProto, helper

    count = g.op("ConstantOfShape", g.op("Shape", x), value=helper.make_tensor("zero", TensorProto.INT64, [1], [0]))
    step = size // 2
    while step >= 1:
        candidate = g.op("Add", count, g.const(np.array(step, dtype=np.int64)))
        value = g.op("Gather", flat_table, g.op("Add", offsets, g.op("Sub", candidate, g.const(np.array(1, dtype=np.int64)))), axis=0)
        count = g.op("Where", g.op("LessOrEqual", value, x), candidate, count)
        step //= 2
    # count = number of xp <= x, in [0, n_q]; j = count - 1 clipped to [0, n_q - 2]
    j = g.op("Max", g.op("Min", g.op("Sub", count, g.const(np.array(1, dtype=np.int64))),
                         g.const(np.array(max(n_q - 2, 0), dtype=np.int64))), zero_i)
    fp_table = np.tile(np.asarray(fp, dtype=np.float64)[None, :], (n_features, 1))
    fp_padded = np.zeros((n_features, size))
    fp_padded[:, :n_q] = fp_table
    flat_fp = g.const(fp_padded.ravel(), "references")
    idx_lo = g.op("Add", offsets, j)
    idx_hi = g.op("Add", idx_lo, g.const(np.array(1 if n_q > 1 else 0, dtype=np.int64)))
    x_lo = g.op("Gather", flat_table, idx_lo, axis=0)
    x_hi = g.op("Gather", flat_table, idx_hi, axis=0)
    y_lo = g.op("Gather", flat_fp, idx_lo, axis=0)
    y_hi = g.op("Gather", flat_fp, idx_hi, axis=0)
    slope = g.op("Div", g.op("Sub", y_hi, y_lo), g.op("Sub", x_hi, x_lo))
    inside = g.op("Add", g.op("Mul", slope, g.op("Sub", x, x_lo)), y_lo)
    first = g.const(np.array(float(fp[0])))
    last = g.const(np.array(float(fp[-1])))
    out = g.op("Where", g.op("Equal", count, zero_i), first, inside)
    return g.op("Where", g.op("GreaterOrEqual", count, g.const(np.array(n_q, dtype=np.int64))), last, out)


def _quantile_normal_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    n_features = operator.raw_operator.quantiles_.shape[1]
    cls = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    operator.outputs[0].type = cls([n, n_features])


def _quantile_normal_convert(scope, operator, container):
    """sklearn's ``QuantileTransformer._transform_col`` (forward, normal output), column-wise."""
    from scipy import stats
    from sklearn.preprocessing._data import BOUNDS_THRESHOLD

    qt = operator.raw_operator
    g = _Graph(scope, container, "quantile")
    x_in = operator.inputs[0].full_name
    x = g.op("Cast", x_in, to=11)  # the arithmetic is done in double, as sklearn does
    quantiles = np.asarray(qt.quantiles_, dtype=np.float64)
    references = np.asarray(qt.references_, dtype=np.float64)
    forward = _interp(g, x, quantiles, references)
    backward = _interp(g, g.op("Neg", x), -quantiles[::-1], -references[::-1])
    value = g.op("Mul", g.const(np.array(0.5)), g.op("Sub", forward, backward))
    is_nan = g.op("IsNaN", x)
    value = g.op("Where", is_nan, x, value)
    threshold = g.const(np.array(BOUNDS_THRESHOLD, dtype=np.float64))
    upper = g.op("Greater", g.op("Add", x, threshold), g.const(quantiles[-1][None, :]))
    lower = g.op("Less", g.op("Sub", x, threshold), g.const(quantiles[0][None, :]))
    value = g.op("Where", upper, g.const(np.array(1.0)), value)
    value = g.op("Where", lower, g.const(np.array(0.0)), value)
    value = _normal_ppf(g, value)
    clip_min = float(stats.norm.ppf(BOUNDS_THRESHOLD - np.spacing(1)))
    clip_max = float(stats.norm.ppf(1 - (BOUNDS_THRESHOLD - np.spacing(1))))
    value = g.op("Min", g.op("Max", value, g.const(np.array(clip_min))), g.const(np.array(clip_max)))
    value = g.op("Where", is_nan, x, value)  # Max/Min would not keep NaN on every runtime
    target = 11 if operator.outputs[0].type.__class__.__name__ == "DoubleTensorType" else 1
    g.op("Cast", value, to=target, output=operator.outputs[0].full_name)


def _imputer_kept(imputer):
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    if getattr(imputer, "keep_empty_features", False):
        return stats, np.arange(len(stats))
    kept = np.flatnonzero(~np.isnan(stats))
    return stats, kept


def _imputer_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    cls = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    operator.outputs[0].type = cls([n, len(_imputer_kept(operator.raw_operator)[1])])


def _imputer_convert(scope, operator, container):
    """``SimpleImputer`` (NaN as the missing value) in the input's precision (ONNX's Imputer is float-only)."""
    imputer = operator.raw_operator
    g = _Graph(scope, container, "impute")
    stats, kept = _imputer_kept(imputer)
    dtype = np.float64 if operator.outputs[0].type.__class__.__name__ == "DoubleTensorType" else np.float32
    x = operator.inputs[0].full_name
    if len(kept) != len(stats):
        x = g.op("Gather", x, g.const(kept.astype(np.int64), "kept"), axis=1)
    fill = np.where(np.isnan(stats[kept]), 0.0, stats[kept]).astype(dtype)[None, :]
    g.op("Where", g.op("IsNaN", x), g.const(fill, "statistics"), x, output=operator.outputs[0].full_name)


def _log1p(g, x):
    """log(1 + x) accurate for small x (Goldberg's trick: log(u) * x / (u - 1), u = 1 + x)."""
    one = g.const(np.array(1.0))
    u = g.op("Add", one, x)
    d = g.op("Sub", u, one)
    ratio = g.op("Div", g.op("Mul", g.op("Log", u), x), g.op("Where", g.op("Equal", d, g.const(np.array(0.0))), one, d))
    return g.op("Where", g.op("Equal", d, g.const(np.array(0.0))), x, ratio)


def _expm1(g, y):
    """exp(y) - 1 accurate for small y (Kahan's trick: (u - 1) * y / log(u), u = exp(y))."""
    one = g.const(np.array(1.0))
    u = g.op("Exp", y)
    um1 = g.op("Sub", u, one)
    log_u = g.op("Log", u)
    safe = g.op("Where", g.op("Equal", log_u, g.const(np.array(0.0))), one, log_u)
    ratio = g.op("Div", g.op("Mul", um1, y), safe)
    out = g.op("Where", g.op("Equal", um1, g.const(np.array(-1.0))), g.const(np.array(-1.0)), ratio)
    out = g.op("Where", g.op("IsInf", u), u, out)
    return g.op("Where", g.op("Equal", u, one), y, out)


def _power_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    cls = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    operator.outputs[0].type = cls([n, len(operator.raw_operator.lambdas_)])


def _power_convert(scope, operator, container):
    """Yeo-Johnson ``PowerTransformer`` as scipy computes it (log1p/expm1 forms), then its standardization."""
    pt = operator.raw_operator
    g = _Graph(scope, container, "power")
    x = g.op("Cast", operator.inputs[0].full_name, to=11)
    lambdas = np.asarray(pt.lambdas_, dtype=np.float64)
    eps = np.spacing(1.0)
    zero = g.const(np.array(0.0))
    positive = g.op("GreaterOrEqual", x, zero)
    x_pos = g.op("Where", positive, x, zero)  # each branch sees only valid inputs
    x_neg = g.op("Where", positive, zero, x)
    lam = g.const(lambdas[None, :])
    safe_lam = g.const(np.where(np.abs(lambdas) < eps, 1.0, lambdas)[None, :])
    log_pos = _log1p(g, x_pos)
    pos = g.op("Where", g.const((np.abs(lambdas) < eps)[None, :]), log_pos,
               g.op("Div", _expm1(g, g.op("Mul", lam, log_pos)), safe_lam))
    two_minus = 2.0 - lambdas
    safe_two = g.const(np.where(np.abs(two_minus) <= eps, 1.0, two_minus)[None, :])
    log_neg = _log1p(g, g.op("Neg", x_neg))
    neg = g.op("Where", g.const((np.abs(lambdas - 2.0) > eps)[None, :]),
               g.op("Neg", g.op("Div", _expm1(g, g.op("Mul", g.const(two_minus[None, :]), log_neg)), safe_two)),
               g.op("Neg", log_neg))
    out = g.op("Where", positive, pos, neg)
    out = g.op("Where", g.op("IsNaN", x), x, out)
    if pt.standardize:
        scaler = pt._scaler
        if getattr(scaler, "with_mean", True) and scaler.mean_ is not None:
            out = g.op("Sub", out, g.const(np.asarray(scaler.mean_, dtype=np.float64)[None, :]))
        if getattr(scaler, "with_std", True) and scaler.scale_ is not None:
            out = g.op("Div", out, g.const(np.asarray(scaler.scale_, dtype=np.float64)[None, :]))
    g.op("Cast", out, to=_onnx_type_code(operator.outputs[0].type), output=operator.outputs[0].full_name)


def _missing_indicator_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    cls = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    operator.outputs[0].type = cls([n, len(operator.raw_operator.features_)])


def _missing_indicator_convert(scope, operator, container):
    """``MissingIndicator`` (NaN as the missing value): 1.0 where a selected column is NaN."""
    mi = operator.raw_operator
    g = _Graph(scope, container, "missing")
    selected = g.op("Gather", operator.inputs[0].full_name,
                    g.const(np.asarray(mi.features_, dtype=np.int64), "features"), axis=1)
    target = 11 if operator.outputs[0].type.__class__.__name__ == "DoubleTensorType" else 1
    g.op("Cast", g.op("IsNaN", selected), to=target, output=operator.outputs[0].full_name)


# ---------------------------------------------------------------------------------------
# ONNX: the network
# ---------------------------------------------------------------------------------------
def _torch_onnx_model(module, n_inputs, opset):
    """The ONNX ModelProto of ``module`` (float32 ``(batch, n_inputs)`` in, outputs out)."""
    import logging

    import onnx
    import torch

    example = torch.zeros(2, n_inputs)
    batch = torch.export.Dim("batch")
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, (example,), dynamo=True, opset_version=opset,
                                        dynamic_shapes=({0: batch},), verbose=False,
                                        input_names=["x"], output_names=["y"])
    except ImportError as exc:
        raise ImportError(f"exporting the network to ONNX needs onnxscript ({exc}): {_INSTALL}") from None
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    model = program.model_proto
    if len(model.functions):
        model = onnx.inliner.inline_local_functions(model)
    return model


def _inline_model(g, model, input_name):
    """Copy the nodes and initializers of a one-input, one-output ONNX model into the graph."""
    from onnx import helper, numpy_helper

    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError("the exported network must have one input and one output.")
    versions = {op.domain: op.version for op in model.opset_import}
    names = {graph.input[0].name: input_name, "": ""}
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        names[init.name] = g.name("w")
        g.container.add_initializer(names[init.name], init.data_type, list(array.shape), array.ravel().tolist())
    for node in graph.node:
        if any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute):
            raise ValueError(f"the exported network has a control-flow node ({node.op_type}); not supported.")
        inputs = []
        for name in node.input:
            if name not in names:
                raise ValueError(f"the exported network's node {node.name!r} reads an unknown value {name!r}.")
            inputs.append(names[name])
        outputs = []
        for name in node.output:
            names[name] = g.name("t") if name else ""
            outputs.append(names[name])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        g.container.add_node(node.op_type, inputs, outputs, op_domain=node.domain,
                             op_version=versions.get(node.domain),
                             name=g.scope.get_unique_operator_name(f"{g.prefix}_{node.op_type}"), **attrs)
    return names[graph.output[0].name]


def _label_kind(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return "int"
    if classes.dtype.kind == "f" and np.all(np.mod(classes, 1) == 0):
        return "int"
    if classes.dtype.kind in "US" or (classes.dtype == object and all(isinstance(c, str) for c in classes)):
        return "str"
    raise ValueError(
        f"export_onnx: class labels of dtype {classes.dtype} cannot be ONNX labels (ints, bools or strings "
        f"are supported). Got classes_={classes!r} instead."
    )


def _net_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType, StringTensorType

    net = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    if _task(net) == "classification":
        label = Int64TensorType if _label_kind(net.classes_) == "int" else StringTensorType
        operator.outputs[0].type = label([n])
        operator.outputs[1].type = FloatTensorType([n, len(net.classes_)])
    else:
        operator.outputs[0].type = DoubleTensorType([n, int(np.size(net.target_mean_))])


def _net_convert(scope, operator, container):
    net = operator.raw_operator
    g = _Graph(scope, container, "net")
    x = g.op("Cast", operator.inputs[0].full_name, to=1)  # the net sees float32, as in sknas
    module = _inference_module(net)
    try:
        model = _torch_onnx_model(module, int(net.module__n_inputs), container.target_opset)
    except ImportError:
        raise
    except Exception as exc:  # an operation torch.onnx cannot export: say so in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"export_onnx: torch.onnx could not export the network "
                         f"({type(exc).__name__}: {first[:300]}).") from exc
    logits = _inline_model(g, model, x)
    if _task(net) == "classification":
        classes = np.asarray(net.classes_)
        g.op("Softmax", logits, axis=1, output=operator.outputs[1].full_name)
        index = g.op("ArgMax", logits, axis=1, keepdims=0)
        labels = classes.astype(np.int64) if _label_kind(classes) == "int" else classes.astype(str)
        g.op("Gather", g.const(labels, "classes"), index, axis=0, output=operator.outputs[0].full_name)
    else:
        wide = g.op("Cast", logits, to=11)
        scaled = g.op("Mul", wide, g.const(np.asarray(net.target_scale_, dtype=np.float64).reshape(1, -1)))
        g.op("Add", scaled, g.const(np.asarray(net.target_mean_, dtype=np.float64).reshape(1, -1)),
             output=operator.outputs[0].full_name)


# ---------------------------------------------------------------------------------------
# ONNX: registration and the preprocessing walk
# ---------------------------------------------------------------------------------------
def _skl2onnx():
    try:
        import onnx  # noqa: F401
        import skl2onnx
    except ImportError:
        raise ImportError(f"sknas.export.export_onnx needs skl2onnx and onnx: {_INSTALL}") from None
    return skl2onnx


class _StandIn(TransformerMixin, BaseEstimator):
    """Base of the stand-ins that carry a fitted sknas step's state into skl2onnx."""

    @classmethod
    def of(cls, **state):
        obj = cls()
        obj.__dict__.update(state)
        return obj


class _ColumnGather(_StandIn):
    """Keeps some input columns (``indices``): a cleaner of numeric tables or a feature selector."""


class _ToFloat32(_StandIn):
    """The float32 cast that ends ``TabularPreprocessor.transform``."""


class _AsFloat32(_StandIn):
    """:class:`sknas.prep.tabular.AsFloat32`: cast, NaN to 0, infinities to float32's limits."""


class _Clip(_StandIn):
    """:class:`sknas.prep.clipping.Clipper` (``method`` winsorize or smooth, with its fitted arrays)."""


def _same_type(operator, n_columns=None):
    """Output type = input element type, with ``n_columns`` (default: the input's)."""
    in_type = operator.inputs[0].type
    n = operator.inputs[0].get_first_dimension()
    cols = n_columns if n_columns is not None else (in_type.shape[1] if len(in_type.shape) > 1 else None)
    return in_type.__class__([n, cols])


def _onnx_type_code(var_type):
    return {"DoubleTensorType": 11, "FloatTensorType": 1}.get(var_type.__class__.__name__, 1)


def _gather_shape(operator):
    operator.outputs[0].type = _same_type(operator, len(operator.raw_operator.indices))


def _gather_convert(scope, operator, container):
    g = _Graph(scope, container, "columns")
    g.op("Gather", operator.inputs[0].full_name, g.const(operator.raw_operator.indices, "indices"), axis=1,
         output=operator.outputs[0].full_name)


def _float32_shape(operator):
    from skl2onnx.common.data_types import FloatTensorType

    operator.outputs[0].type = FloatTensorType(_same_type(operator).shape)


def _to_float32_convert(scope, operator, container):
    g = _Graph(scope, container, "float32")
    g.op("Cast", operator.inputs[0].full_name, to=1, output=operator.outputs[0].full_name)


def _as_float32_convert(scope, operator, container):
    g = _Graph(scope, container, "asfloat32")
    x = g.op("Cast", operator.inputs[0].full_name, to=1)
    big = np.finfo(np.float32).max
    x = g.op("Where", g.op("IsNaN", x), g.const(np.array(0.0, dtype=np.float32)), x)
    x = g.op("Where", g.op("IsInf", x, detect_negative=0), g.const(np.array(big, dtype=np.float32)), x)
    g.op("Where", g.op("IsInf", x, detect_positive=0), g.const(np.array(-big, dtype=np.float32)), x,
         output=operator.outputs[0].full_name)


def _clip_shape(operator):
    operator.outputs[0].type = _same_type(operator)


def _clip_convert(scope, operator, container):
    clip = operator.raw_operator
    g = _Graph(scope, container, "clip")
    x = g.op("Cast", operator.inputs[0].full_name, to=11)
    if clip.method == "winsorize":
        out = g.op("Min", g.op("Max", x, g.const(clip.lower_[None, :])), g.const(clip.upper_[None, :]))
    else:
        z = g.op("Div", g.op("Sub", x, g.const(clip.center_[None, :])), g.const(clip.scale_[None, :]))
        third = g.op("Div", z, g.const(np.array(3.0)))
        out = g.op("Div", z, g.op("Sqrt", g.op("Add", g.const(np.array(1.0)), g.op("Mul", third, third))))
    g.op("Cast", out, to=_onnx_type_code(operator.outputs[0].type), output=operator.outputs[0].full_name)


# ---------------------------------------------------------------------------------------
# ONNX: tables with string (categorical) and date columns
# ---------------------------------------------------------------------------------------
# A cleaned table with categorical or date columns cannot be one float matrix, so such a
# model's graph has two inputs: ``X`` (float64, every training column as a number: numbers,
# booleans as 0/1, dates as seconds since 1970-01-01, NaN elsewhere) and ``X_str`` (string,
# the categorical columns, a missing value as ``MISSING_LEVEL``). :func:`onnx_inputs` makes
# both from a DataFrame. The cleaner and the encoder's input side become one step
# (``_MixedTable``): the numeric columns and date parts are computed from ``X``, and every
# categorical encoder of the TabularPreprocessor (one-hot, ordinal, target, with their
# infrequent and unseen levels and scalers) becomes exact lookup tables, one per column,
# read by an ``ai.onnx.ml`` LabelEncoder (unseen level -> the table's last row). The
# encoder's ColumnTransformer then passes those columns through.
_UNSEEN = "\x00sknas-unseen-level\x00"


class _MixedTable(_StandIn):
    """Cleaner + encoder input side of a table with string columns (see the comment above)."""


def _mixed_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType

    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(),
                                                 int(operator.raw_operator.width)])


def _floor_div(g, a, b):
    return g.op("Floor", g.op("Div", a, g.const(np.array(float(b)))))


def _date_part_graph(g, seconds, part):
    """A date part of ``seconds`` since 1970 (double, NaN stays NaN), as pandas computes it.

    Calendar from days: H. Hinnant, "chrono-compatible low-level date algorithms"
    (civil_from_days), in double arithmetic, exact on integers below 2**53.
    """
    f64 = lambda v: g.const(np.array(float(v)))  # noqa: E731
    if part == "elapsed":
        return g.op("Div", seconds, f64(86400.0))
    days = _floor_div(g, seconds, 86400)
    if part == "hour":
        return _floor_div(g, g.op("Sub", seconds, g.op("Mul", days, f64(86400))), 3600)
    if part == "dayofweek":  # 1970-01-01 was a Thursday (Monday = 0)
        shifted = g.op("Add", days, f64(3))
        return g.op("Sub", shifted, g.op("Mul", _floor_div(g, shifted, 7), f64(7)))
    z = g.op("Add", days, f64(719468))
    era = _floor_div(g, z, 146097)
    doe = g.op("Sub", z, g.op("Mul", era, f64(146097)))
    yoe = _floor_div(g, g.op("Add", g.op("Sub", doe, _floor_div(g, doe, 1460)),
                             g.op("Sub", _floor_div(g, doe, 36524), _floor_div(g, doe, 146096))), 365)
    doy = g.op("Sub", doe, g.op("Add", g.op("Mul", yoe, f64(365)),
                                g.op("Sub", _floor_div(g, yoe, 4), _floor_div(g, yoe, 100))))
    mp = _floor_div(g, g.op("Add", g.op("Mul", doy, f64(5)), f64(2)), 153)
    if part == "day":
        return g.op("Add", g.op("Sub", doy, _floor_div(g, g.op("Add", g.op("Mul", mp, f64(153)), f64(2)), 5)), f64(1))
    month = g.op("Where", g.op("Less", mp, f64(10)), g.op("Add", mp, f64(3)), g.op("Sub", mp, f64(9)))
    if part == "month":
        return month
    year = g.op("Add", yoe, g.op("Mul", era, f64(400)))
    leap_start = g.op("Cast", g.op("LessOrEqual", month, f64(2)), to=11)
    year = g.op("Add", year, leap_start)
    if part == "year":
        return year
    raise ValueError(f"unknown date part {part!r}")


def _mixed_convert(scope, operator, container):
    table = operator.raw_operator
    g = _Graph(scope, container, "table")
    x = operator.inputs[0].full_name
    x_str = operator.inputs[1].full_name if len(operator.inputs) > 1 else None
    columns = []
    for position, part in table.numeric:
        column = g.op("Gather", x, g.const(np.array([position], dtype=np.int64)), axis=1)
        columns.append(column if part is None else _date_part_graph(g, column, part))
    ml_version = 2
    for base, lookups in table.categorical:
        total = None
        for position, levels, values in lookups:
            text = g.op("Gather", x_str, g.const(np.array(position, dtype=np.int64)), axis=1)  # (n,)
            index = g.name("level")
            container.add_node("LabelEncoder", [text], [index], op_domain="ai.onnx.ml", op_version=ml_version,
                               name=scope.get_unique_operator_name("table_LabelEncoder"),
                               keys_strings=[str(v) for v in levels],
                               values_int64s=list(range(len(levels))), default_int64=len(levels))
            rows = g.op("Gather", g.const(values, "lookup"), index, axis=0)  # (n, width)
            total = rows if total is None else g.op("Add", total, rows)
        columns.append(g.op("Add", total, g.const(base[None, :], "reference")))
    if len(columns) == 1:
        g.op("Identity", columns[0], output=operator.outputs[0].full_name)
    else:
        g.op("Concat", *columns, axis=1, output=operator.outputs[0].full_name)


def _plan_kinds(cleaner):
    """Input position -> kind of every input column the cleaner keeps (what the graph's inputs carry)."""
    order = list(cleaner.column_kinds_)
    kinds = {}
    for _, source, kind, _ in cleaner._plan:
        kinds[order.index(source)] = kind
    return kinds


def _needs_strings(cleaner):
    """Whether a fitted cleaner passes on more than plain numeric columns (the two-input graph)."""
    return any(kind not in ("numeric", "boolean") or op is not None for _, _, kind, op in cleaner._plan)


def input_layout(cleaner):
    """The graph inputs of a cleaned table: ``{"kinds": [...], "string_columns": [...]}`` (positions)."""
    kinds = _plan_kinds(cleaner)
    return {"kinds": [kinds.get(i, "unused") for i in range(len(cleaner.column_kinds_))],
            "string_columns": sorted(i for i, k in kinds.items() if k == "categorical")}


def _encoder_levels(transformer, where):
    encoder = transformer.steps[0][1] if hasattr(transformer, "steps") else transformer
    levels = getattr(encoder, "categories_", None)
    if levels is None:
        raise ValueError(f"export_onnx: the preprocessing step {where} ({type(encoder).__name__}) encodes "
                         "categorical columns without categories_; it has no ONNX conversion.")
    return [list(level) for level in levels]


def _lookup_tables(transformer, n_columns, where):
    """``(base, [(levels, table), ...])``: transformer(row) = base + sum_j table_j[level of column j].

    Exact for encoders that treat each column apart (one-hot, ordinal, target
    encoding, and a per-column scaler after them); checked on every level.
    """
    levels = _encoder_levels(transformer, where)
    if len(levels) != n_columns:
        raise ValueError(f"export_onnx: the preprocessing step {where} has {len(levels)} encoded columns, "
                         f"expected {n_columns}.")
    reference = np.array([[str(level[0]) for level in levels]], dtype=object)
    base = np.asarray(transformer.transform(reference), dtype=np.float64)[0]
    width = base.shape[0]
    tables, owner = [], np.full(width, -1)
    for j, column_levels in enumerate(levels):
        known = [str(v) for v in column_levels]
        if _UNSEEN in known:
            raise ValueError(f"export_onnx: a level of {where} collides with the unseen-level marker.")
        rows = np.repeat(reference, len(known) + 1, axis=0)
        rows[:, j] = known + [_UNSEEN]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "unknown categories ... encoded as all zeros"
            out = np.asarray(transformer.transform(rows), dtype=np.float64)
        moved = np.any(out != base[None, :], axis=0)
        if np.any(owner[moved] >= 0):
            raise ValueError(f"export_onnx: the preprocessing step {where} does not encode its columns "
                             "separately; it has no ONNX conversion.")
        owner[moved] = j
        table = out - base[None, :]
        table[:, ~moved] = 0.0
        tables.append((known, table))
    return base, tables


def _mixed_table(cleaner, encoder, where):
    """The ``_MixedTable`` stand-in and the encoder's ColumnTransformer over its output."""
    order = list(cleaner.column_kinds_)
    plan = {out_name: (order.index(source), source, kind, op) for out_name, source, kind, op in cleaner._plan}
    for out_name, (_, source, kind, op) in plan.items():
        if kind == "text":
            raise ValueError(
                f"export_onnx: the preprocessing step {where} reads column {source!r} as free text "
                f"(its length and word count, {out_name!r}); ONNX export covers numeric, boolean, date and "
                "categorical columns, not free text. Drop the column or encode it before fit, or use sknas.io.save."
            )
    layout = input_layout(cleaner)
    string_position = {p: i for i, p in enumerate(layout["string_columns"])}
    numeric = []
    for name in encoder.numeric_columns_:
        position, _, kind, op = plan[name]
        numeric.append((position, op))
    n_num = len(numeric)
    transformers, categorical, width = [], [], n_num
    for name, transformer, indices in encoder.column_transformer_.transformers_:
        if isinstance(transformer, str) or not len(indices):
            transformers.append((name, transformer, indices))
            continue
        indices = list(indices)
        if all(i < n_num for i in indices):
            transformers.append((name, transformer, indices))
            continue
        if any(i < n_num for i in indices):
            raise ValueError(f"export_onnx: the encoder after {where}, in its part {name!r}, mixes numeric "
                             "and categorical columns; it has no ONNX conversion.")
        base, tables = _lookup_tables(transformer, len(indices), f"{where}'s encoder > {name}")
        lookups = []
        for i, (levels, table) in zip(indices, tables):
            position = plan[encoder.categorical_columns_[i - n_num]][0]
            lookups.append((string_position[position], levels, table))
        categorical.append((base, lookups))
        transformers.append((name, "passthrough", list(range(width, width + len(base)))))
        width += len(base)
    stand_in = _MixedTable.of(numeric=numeric, categorical=categorical, width=width, layout=layout)
    columns = copy.copy(encoder.column_transformer_)
    columns.transformers_ = transformers
    return stand_in, columns


def _typed_parser(shape):
    """A skl2onnx parser declaring the step's output with its shape known at parse time.

    skl2onnx's default parser leaves a custom step's output shape unknown
    until after parsing, but a following ColumnTransformer needs it then.
    """

    def parse(scope, model, inputs, custom_parsers=None):
        from skl2onnx._supported_operators import get_model_alias

        operator = scope.declare_local_operator(get_model_alias(type(model)), model)
        operator.inputs = inputs
        variable = scope.declare_local_variable("variable", inputs[0].type.__class__())
        operator.outputs.append(variable)
        shape(operator)
        return operator.outputs

    return parse


def _registered():
    """Register, once, the converters sknas adds to skl2onnx; returns the class substitutions.

    The steps skl2onnx lacks are converted under private subclasses or
    stand-ins, so skl2onnx's behaviour for everyone else is left untouched.
    """
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.preprocessing import PowerTransformer, QuantileTransformer

    global _REGISTERED
    if _REGISTERED is None:
        from skl2onnx import update_registered_converter

        from .evaluation.trainer import TabularClassifierNet, TabularRegressorNet

        class SknasNormalQuantileTransformer(QuantileTransformer):
            pass

        class SknasMissingIndicator(MissingIndicator):
            pass

        class SknasSimpleImputer(SimpleImputer):
            pass

        class SknasPowerTransformer(PowerTransformer):
            pass

        for cls, shape, convert in (
            (SknasNormalQuantileTransformer, _quantile_normal_shape, _quantile_normal_convert),
            (SknasMissingIndicator, _missing_indicator_shape, _missing_indicator_convert),
            (SknasSimpleImputer, _imputer_shape, _imputer_convert),
            (SknasPowerTransformer, _power_shape, _power_convert),
            (_ColumnGather, _gather_shape, _gather_convert),
            (_ToFloat32, _float32_shape, _to_float32_convert),
            (_AsFloat32, _float32_shape, _as_float32_convert),
            (_Clip, _clip_shape, _clip_convert),
            (_MixedTable, _mixed_shape, _mixed_convert),
        ):
            update_registered_converter(cls, f"Sknas{cls.__name__.lstrip('_')}", shape, convert,
                                        parser=_typed_parser(shape))
        update_registered_converter(TabularClassifierNet, "SknasTabularClassifierNet", _net_shape, _net_convert,
                                    options={"zipmap": [False], "nocl": [False]})
        update_registered_converter(TabularRegressorNet, "SknasTabularRegressorNet", _net_shape, _net_convert)
        _REGISTERED = {QuantileTransformer: SknasNormalQuantileTransformer,
                       MissingIndicator: SknasMissingIndicator, SimpleImputer: SknasSimpleImputer,
                       PowerTransformer: SknasPowerTransformer}
    return _REGISTERED


_REGISTERED = None


def _swap_class(obj, cls):
    new = cls.__new__(cls)
    new.__dict__.update(obj.__dict__)
    return new


def _is_sknas(step, name):
    return type(step).__name__ == name and type(step).__module__.split(".")[0] == "sknas"


def _cleaner_columns(cleaner, where):
    """Input positions of the columns a fitted TableCleaner keeps, when it only passes numbers on."""
    order = list(cleaner.column_kinds_)
    indices = []
    for out_name, source, kind, op in cleaner._plan:
        if kind not in ("numeric", "boolean") or op is not None:
            raise ValueError(
                f"export_onnx: the preprocessing step {where} turns column {source!r} ({kind}) into "
                f"{out_name!r}; ONNX export covers categorical and date columns only when the cleaning step "
                "comes first and sknas's TabularPreprocessor follows it. Encode such columns as numbers "
                "before fit, or use sknas.io.save."
            )
        indices.append(order.index(source))
    return indices


def _onnx_ready(step, where, swaps):
    """A skl2onnx-convertible copy of a fitted transformer tree, or a ValueError naming the step."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PowerTransformer, QuantileTransformer

    if isinstance(step, str):  # "drop" / "passthrough" inside a ColumnTransformer
        return step
    if isinstance(step, Pipeline):
        new = copy.copy(step)
        steps = list(step.steps)
        head = []
        if len(steps) >= 2 and _is_sknas(steps[0][1], "TableCleaner") and _needs_strings(steps[0][1]):
            if not _is_sknas(steps[1][1], "TabularPreprocessor"):
                _cleaner_columns(steps[0][1], f"{where} > {steps[0][0]}")  # raises, naming the column
            table, columns = _mixed_table(steps[0][1], steps[1][1], f"{where} > {steps[0][0]}")
            head = [("table", table), ("columns", _onnx_ready(columns, f"{where} > {steps[1][0]}", swaps)),
                    ("float32", _ToFloat32.of())]
            steps = steps[2:]
        new.steps = head + [(name, _onnx_ready(s, f"{where} > {name}", swaps)) for name, s in steps]
        return new
    if isinstance(step, ColumnTransformer):
        new = copy.copy(step)
        new.transformers_ = [(name, _onnx_ready(t, f"{where} > {name}", swaps), cols)
                             for name, t, cols in step.transformers_]
        return new
    if _is_sknas(step, "TabularPreprocessor"):
        check_is_fitted(step, "column_transformer_")
        if step.categorical_columns_:
            raise ValueError(
                f"export_onnx: the preprocessing step {where} encodes the text/categorical columns "
                f"{list(step.categorical_columns_)!r} without sknas's cleaning step before it; ONNX export "
                "covers string columns in the searched pipeline (TableCleaner, then TabularPreprocessor) only "
                "(encode those columns as numbers before fit, or use sknas.io.save)."
            )
        inner = _onnx_ready(step.column_transformer_, f"{where} > columns", swaps)
        return Pipeline([("columns", inner), ("float32", _ToFloat32.of())])
    if _is_sknas(step, "TableCleaner"):
        return _ColumnGather.of(indices=np.asarray(_cleaner_columns(step, where), dtype=np.int64))
    if _is_sknas(step, "AsFloat32"):
        return _AsFloat32.of()
    if _is_sknas(step, "Clipper"):
        return _Clip.of(method=step.method, **{k: np.asarray(getattr(step, k), dtype=np.float64)
                                                for k in ("lower_", "upper_", "center_", "scale_") if hasattr(step, k)})
    if _is_sknas(step, "FeatureSelector") and hasattr(step, "get_support"):
        return _ColumnGather.of(indices=np.asarray(step.get_support(indices=True), dtype=np.int64))
    if _is_sknas(step, "FeatureExtractor") and hasattr(step, "extractor_"):
        if step.extractor_ is None:
            return "passthrough"
        parts = [("extract", step.extractor_)] + ([("scale", step.scaler_)] if step.scaler_ is not None else [])
        return _onnx_ready(Pipeline(parts), where, swaps)
    if type(step) is QuantileTransformer and step.output_distribution == "normal":
        return _swap_class(step, swaps[QuantileTransformer])
    if type(step) is PowerTransformer:
        if step.method != "yeo-johnson":
            raise ValueError(f"export_onnx: the preprocessing step {where} (PowerTransformer) is supported with "
                             f"method='yeo-johnson' only. Got {step.method!r} instead.")
        return _swap_class(step, swaps[PowerTransformer])
    if type(step) is SimpleImputer:
        if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)) or step.add_indicator:
            raise ValueError(f"export_onnx: the preprocessing step {where} (SimpleImputer) is supported with "
                             "missing_values=np.nan and add_indicator=False only.")
        return _swap_class(step, swaps[SimpleImputer])
    if type(step) is MissingIndicator:
        if not (isinstance(step.missing_values, float) and np.isnan(step.missing_values)):
            raise ValueError(f"export_onnx: the preprocessing step {where} (MissingIndicator) is supported "
                             f"with missing_values=np.nan only. Got {step.missing_values!r} instead.")
        return _swap_class(step, swaps[MissingIndicator])
    if type(step) not in sklearn_operator_name_map:
        raise ValueError(
            f"export_onnx: the preprocessing step {where} ({type(step).__name__}) has no ONNX converter; "
            "this model cannot be exported to ONNX (sknas.io.save still saves it)."
        )
    return step


def _layout(prep):
    """The input layout of a preprocessing that needs the two-input graph, else None."""
    steps = getattr(prep, "steps", None)
    if steps and _is_sknas(steps[0][1], "TableCleaner") and _needs_strings(steps[0][1]):
        return input_layout(steps[0][1])
    return None


def _initial_types(prep, n_features):
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    types = [("X", DoubleTensorType([None, int(n_features)]))]
    layout = _layout(prep)
    if layout is not None and layout["string_columns"]:
        types.append(("X_str", StringTensorType([None, len(layout["string_columns"])])))
    return types


def preprocessing_to_onnx(prep, n_features, target_opset=DEFAULT_OPSET):
    """The ONNX ``ModelProto`` of a fitted preprocessing step alone (input ``X``: float64 ``(n, n_features)``).

    Its output ``variable`` equals ``prep.transform(X)`` (float32 when the
    step ends with sknas's float32 cast). A cleaned table with categorical
    or date columns has a second input, ``X_str`` (see :func:`onnx_inputs`).
    Used by :func:`to_onnx`, and handy to check a preprocessing on its own.
    """
    skl2onnx = _skl2onnx()

    inner = _onnx_ready(prep, "preprocessing", _registered())
    if isinstance(inner, str):
        raise ValueError("preprocessing_to_onnx: the preprocessing is a passthrough; there is nothing to convert.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = skl2onnx.to_onnx(inner, initial_types=_initial_types(prep, n_features),
                                 target_opset={"": target_opset, "ai.onnx.ml": 3})
    layout = _layout(prep)
    if layout is not None:
        model.doc_string = json.dumps({"input_layout": layout})
    return model


def to_onnx(estimator, target_opset=DEFAULT_OPSET):
    """The ONNX ``ModelProto`` of a fitted estimator's whole pipeline (see :func:`export_onnx`)."""
    from sklearn.pipeline import Pipeline

    skl2onnx = _skl2onnx()

    prep, net = _parts(estimator, "export_onnx")
    task = _task(net)
    swaps = _registered()
    inner = _onnx_ready(prep, "preprocessing", swaps)
    n_in = getattr(estimator, "n_features_in_", None) or getattr(prep, "n_features_in_", None)
    if n_in is None:
        raise ValueError("export_onnx: the number of input columns is unknown (no n_features_in_).")
    steps = [("net", net)] if isinstance(inner, str) else [("preprocessing", inner), ("net", net)]
    options = {id(net): {"zipmap": False}} if task == "classification" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = skl2onnx.to_onnx(Pipeline(steps), initial_types=_initial_types(prep, n_in),
                                 target_opset={"": target_opset, "ai.onnx.ml": 3}, options=options)
    model.doc_string = json.dumps(_metadata(estimator, prep, net))
    return model


def _metadata(estimator, prep, net):
    meta = {"sknas_estimator": type(estimator).__name__, "task": _task(net),
            "n_features_in": int(getattr(estimator, "n_features_in_", net.module__n_inputs))}
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        meta["feature_names_in"] = [str(n) for n in names]
    if meta["task"] == "classification":
        meta["classes"] = np.asarray(net.classes_).tolist()
    genotype = getattr(estimator, "best_genotype_", None)
    if genotype is not None:
        meta["genotype"] = dict(genotype)
    layout = _layout(prep)
    if layout is not None:
        meta["input_layout"] = layout
    return meta


def _layout_of(model):
    """The input layout of an estimator, a fitted preprocessing, an ONNX ModelProto or file (None: one input)."""
    if hasattr(model, "best_estimator_"):
        return _layout(_parts(model, "onnx_inputs")[0])
    if hasattr(model, "transform"):  # a fitted preprocessing (see preprocessing_to_onnx)
        return _layout(model)
    if isinstance(model, (str, os.PathLike)):
        import onnx

        model = onnx.load(os.fspath(model))
    try:
        meta = json.loads(model.doc_string or "{}")
    except ValueError:
        meta = {}
    return meta.get("input_layout")


def onnx_inputs(model, X):
    """The feed of an exported graph for the rows of ``X``: ``{"X": ..., "X_str": ...}``.

    ``model`` is the fitted estimator (or preprocessing), the ONNX
    ``ModelProto`` or the path of the ``.onnx`` file. For a table of numbers it is ``{"X":
    onnx_input(X)}``. For a table with categorical or date columns (their
    kinds, as the model's cleaning step read them, are in the ONNX file's
    ``doc_string`` under ``input_layout``): ``X`` holds every column as a
    float64 number (numbers, booleans as 0/1, dates as seconds since
    1970-01-01 UTC, NaN for categorical and unused columns) and ``X_str``
    the categorical columns as strings, a missing value as
    ``"__sknas_missing__"``.
    """
    import pandas as pd

    layout = _layout_of(model)
    if layout is None:
        return {"X": onnx_input(X)}
    from .prep.cleaning import _as_boolean, _as_numeric, _parse_dates
    from .prep.tabular import _MISSING, to_frame

    frame = to_frame(X)
    kinds = layout["kinds"]
    if frame.shape[1] != len(kinds):
        raise ValueError(f"onnx_inputs: X has {frame.shape[1]} columns; the model expects {len(kinds)}.")
    numbers = np.full(frame.shape, np.nan)
    for j, kind in enumerate(kinds):
        col = frame.iloc[:, j]
        if kind == "numeric":
            numbers[:, j] = _as_numeric(col).to_numpy(dtype=np.float64, na_value=np.nan)
        elif kind == "boolean":
            numbers[:, j] = _as_boolean(col).to_numpy(dtype=np.float64, na_value=np.nan)
        elif kind == "datetime":
            seconds = (_parse_dates(col) - pd.Timestamp("1970-01-01")).dt.total_seconds()
            numbers[:, j] = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    feed = {"X": np.ascontiguousarray(numbers)}
    if layout["string_columns"]:
        text = np.empty((len(frame), len(layout["string_columns"])), dtype=object)
        for k, j in enumerate(layout["string_columns"]):
            col = frame.iloc[:, j]
            text[:, k] = np.where(col.isna().to_numpy(), _MISSING, col.astype(str).to_numpy(dtype=object))
        feed["X_str"] = text
    return feed


def onnx_input(X):
    """``X`` (a DataFrame or array of numbers/booleans) as the float64 input of a numeric table's graph.

    For any graph, :func:`onnx_inputs` gives the whole feed.
    """
    if hasattr(X, "to_numpy"):
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.ascontiguousarray(np.asarray(X, dtype=np.float64))


def check_onnx(estimator, path, X, atol=1e-5, rtol=1e-5):
    """Run the ONNX file with onnxruntime on ``X`` and compare with the estimator's own predictions.

    Classifier: ``probabilities`` against ``predict_proba`` (``atol``) and
    ``label`` against ``predict``; regressor: ``variable`` against
    ``predict`` (``rtol`` of the target's scale plus ``atol``). Returns the
    largest absolute difference; raises ``ValueError`` when over tolerance.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("checking an ONNX export needs onnxruntime: pip install onnxruntime") from None
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, onnx_inputs(path, X))
    if hasattr(estimator, "predict_proba"):
        label, proba = outputs
        diff = float(np.max(np.abs(proba - estimator.predict_proba(X)))) if len(proba) else 0.0
        if diff > atol:
            raise ValueError(f"check_onnx: ONNX probabilities differ from predict_proba by {diff:.3g} > {atol}.")
        expected = estimator.predict(X)
        if not np.array_equal(np.asarray(label).astype(str), np.asarray(expected).astype(str)):
            raise ValueError("check_onnx: ONNX labels differ from predict.")
        return diff
    pred = outputs[0].reshape(len(outputs[0]), -1)
    expected = np.asarray(estimator.predict(X)).reshape(len(pred), -1)
    diff = float(np.max(np.abs(pred - expected))) if len(pred) else 0.0
    net = estimator.best_estimator_.named_steps["net"]
    tolerance = atol + rtol * float(np.max(np.abs(np.asarray(net.target_scale_))) + np.max(np.abs(expected)))
    if diff > tolerance:
        raise ValueError(f"check_onnx: ONNX predictions differ from predict by {diff:.3g} > {tolerance:.3g}.")
    return diff


def export_onnx(estimator, path, target_opset=DEFAULT_OPSET, X_check=None):
    """Write a fitted estimator's whole pipeline (preprocessing and network) as one ONNX graph.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        Fitted, with ``ensemble_size=1``.
    path : str or path-like
        The ``.onnx`` file to write.
    target_opset : int, default=18
        ONNX opset of the default domain.
    X_check : array-like or None, default=None
        When given, the written file is run with onnxruntime on these rows
        and compared with the estimator's predictions (:func:`check_onnx`);
        a mismatch raises ``ValueError``.

    Returns
    -------
    path : str

    Notes
    -----
    The graph's input ``X`` is a float64 matrix of the training columns in
    their order; a table with categorical (string) or date columns adds
    ``X_str``, the categorical columns as strings (:func:`onnx_inputs`
    makes the feed from a DataFrame). A classifier's outputs are ``label``
    and ``probabilities`` (equal to ``predict_proba`` within float32
    rounding, about 1e-6); a regressor's is ``variable`` of shape
    ``(n, 1)``. Free-text columns and preprocessing steps without an ONNX
    converter raise a ``ValueError`` naming them.

    Examples
    --------
    >>> import onnxruntime as ort                                # doctest: +SKIP
    >>> export_onnx(clf, "model.onnx", X_check=X_test)           # doctest: +SKIP
    >>> session = ort.InferenceSession("model.onnx")             # doctest: +SKIP
    >>> label, proba = session.run(None, onnx_inputs("model.onnx", X_test))  # doctest: +SKIP
    """
    model = to_onnx(estimator, target_opset=target_opset)
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    if X_check is not None:
        check_onnx(estimator, path, X_check)
    return path


# ---------------------------------------------------------------------------------------
# TorchScript
# ---------------------------------------------------------------------------------------
def _scriptable_head(net):
    import torch

    class SknasScriptedNet(torch.nn.Module):
        """The fitted network followed by softmax (classifier) or de-standardization (regressor)."""

        def __init__(self, module, classification: bool, mean, scale):
            super().__init__()
            self.module = module
            self.classification = classification
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float64))
            self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))

        def forward(self, x):
            out = self.module(x)
            if self.classification:
                return torch.softmax(out, dim=-1)
            return out.to(torch.float64) * self.scale + self.mean

    classification = _task(net) == "classification"
    mean = np.zeros(1) if classification else np.asarray(net.target_mean_, dtype=np.float64).reshape(1, -1)
    scale = np.ones(1) if classification else np.asarray(net.target_scale_, dtype=np.float64).reshape(1, -1)
    return SknasScriptedNet(_inference_module(net), classification, mean, scale).eval()


def export_torchscript(estimator, path):
    """Write the fitted network (without the preprocessing) as a TorchScript archive.

    The scripted module takes the *preprocessed* float32 matrix
    (``estimator.best_estimator_[:-1].transform(X)``) and returns class
    probabilities (classifier) or float64 predictions of shape ``(n, 1)`` on
    the target's scale (regressor). The archive's extra file ``sknas.json``
    holds the classes, feature names and genotype; read it with
    ``torch.jit.load(path, _extra_files={"sknas.json": ""})``.

    Parameters
    ----------
    estimator : AutoNASClassifier or AutoNASRegressor
        Fitted.
    path : str or path-like

    Returns
    -------
    path : str
    """
    import torch

    prep, net = _parts(estimator, "export_torchscript")
    head = _scriptable_head(net)
    example = torch.zeros(2, int(net.module__n_inputs))
    path = os.fspath(path)
    extra = {"sknas.json": json.dumps(_metadata(estimator, prep, net))}
    with warnings.catch_warnings():  # torch.jit is deprecated in recent torch, but works
        warnings.simplefilter("ignore")
        with torch.no_grad():
            traced = torch.jit.trace(head, (example,), check_trace=False)
        torch.jit.save(traced, path, _extra_files=extra)
    return path
