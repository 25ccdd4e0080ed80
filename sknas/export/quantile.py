"""``QuantileTransformer(output_distribution="normal")`` in double precision.

skl2onnx has no converter for the normal output. Forward and backward
interpolation of sklearn's ``_transform_col`` by binary search, then the
normal quantile function by Wichura's AS241 rational approximation (about
1e-15 relative).
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import QuantileTransformer

from .graph import DOUBLE, Graph, onnx_type_code, same_precision
from .registry import register_operator, register_step, sklearn_step, swap_class

__all__ = ["SknasNormalQuantileTransformer", "calculate_shape", "convert", "interp", "normal_ppf"]


class SknasNormalQuantileTransformer(QuantileTransformer):
    """A fitted normal-output ``QuantileTransformer`` under sknas's converter."""


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


def poly(g, coefs, x):
    """Horner evaluation of ``sum(coefs[k] * x**k)`` in double precision."""
    out = g.const(np.array(coefs[-1], dtype=np.float64))
    for c in coefs[-2::-1]:
        out = g.op("Add", g.op("Mul", out, x), g.const(np.array(c, dtype=np.float64)))
    return out


def normal_ppf(g, p):
    """The standard normal quantile function of ``p`` (double), AS241; 0 -> -inf, 1 -> inf."""
    f64 = lambda v: g.const(np.array(v, dtype=np.float64))  # noqa: E731
    q = g.op("Sub", p, f64(0.5))
    r = g.op("Sub", f64(0.180625), g.op("Mul", q, q))
    central = g.op("Div", g.op("Mul", q, poly(g, _AS241_A, r)), poly(g, _AS241_B, r))
    q_negative = g.op("Less", q, f64(0.0))
    # clip away 0 and 1 so that the (unselected) tail branch stays finite; handled below
    p_safe = g.op("Max", g.op("Min", p, f64(1.0 - 2.0 ** -53)), f64(np.finfo(np.float64).tiny))
    smaller = g.op("Where", q_negative, p_safe, g.op("Sub", f64(1.0), p_safe))
    rr = g.op("Sqrt", g.op("Neg", g.op("Log", smaller)))
    near = g.op("Sub", rr, f64(1.6))
    far = g.op("Sub", rr, f64(5.0))
    tail = g.op("Where", g.op("LessOrEqual", rr, f64(5.0)),
                g.op("Div", poly(g, _AS241_C, near), poly(g, _AS241_D, near)),
                g.op("Div", poly(g, _AS241_E, far), poly(g, _AS241_F, far)))
    tail = g.op("Where", q_negative, g.op("Neg", tail), tail)
    value = g.op("Where", g.op("LessOrEqual", g.op("Abs", q), f64(0.425)), central, tail)
    value = g.op("Where", g.op("LessOrEqual", p, f64(0.0)), f64(-np.inf), value)
    return g.op("Where", g.op("GreaterOrEqual", p, f64(1.0)), f64(np.inf), value)


def interp(g, x, xp, fp):
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


def calculate_shape(operator):
    operator.outputs[0].type = same_precision(operator, operator.raw_operator.quantiles_.shape[1])


def convert(scope, operator, container):
    """sklearn's ``QuantileTransformer._transform_col`` (forward, normal output), column-wise."""
    from scipy import stats
    from sklearn.preprocessing._data import BOUNDS_THRESHOLD

    qt = operator.raw_operator
    g = Graph(scope, container, "quantile")
    x_in = operator.inputs[0].full_name
    x = g.op("Cast", x_in, to=DOUBLE)  # the arithmetic is done in double, as sklearn does
    quantiles = np.asarray(qt.quantiles_, dtype=np.float64)
    references = np.asarray(qt.references_, dtype=np.float64)
    forward = interp(g, x, quantiles, references)
    backward = interp(g, g.op("Neg", x), -quantiles[::-1], -references[::-1])
    value = g.op("Mul", g.const(np.array(0.5)), g.op("Sub", forward, backward))
    is_nan = g.op("IsNaN", x)
    value = g.op("Where", is_nan, x, value)
    threshold = g.const(np.array(BOUNDS_THRESHOLD, dtype=np.float64))
    upper = g.op("Greater", g.op("Add", x, threshold), g.const(quantiles[-1][None, :]))
    lower = g.op("Less", g.op("Sub", x, threshold), g.const(quantiles[0][None, :]))
    value = g.op("Where", upper, g.const(np.array(1.0)), value)
    value = g.op("Where", lower, g.const(np.array(0.0)), value)
    value = normal_ppf(g, value)
    clip_min = float(stats.norm.ppf(BOUNDS_THRESHOLD - np.spacing(1)))
    clip_max = float(stats.norm.ppf(1 - (BOUNDS_THRESHOLD - np.spacing(1))))
    value = g.op("Min", g.op("Max", value, g.const(np.array(clip_min))), g.const(np.array(clip_max)))
    value = g.op("Where", is_nan, x, value)  # Max/Min would not keep NaN on every runtime
    g.op("Cast", value, to=onnx_type_code(operator.outputs[0].type), output=operator.outputs[0].full_name)


@register_step(QuantileTransformer)
def _quantile_rule(step, where, context):
    if step.output_distribution == "normal":
        return swap_class(step, SknasNormalQuantileTransformer)
    return sklearn_step(step, where)


register_operator(SknasNormalQuantileTransformer, calculate_shape, convert)
