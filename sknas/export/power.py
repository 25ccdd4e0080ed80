"""Yeo-Johnson ``PowerTransformer`` as scipy computes it (log1p/expm1 forms), then its standardization."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import PowerTransformer

from .graph import DOUBLE, Graph, onnx_type_code, same_precision
from .registry import register_operator, register_step, swap_class

__all__ = ["SknasPowerTransformer", "calculate_shape", "convert", "expm1", "log1p"]


class SknasPowerTransformer(PowerTransformer):
    """A fitted Yeo-Johnson ``PowerTransformer`` under sknas's converter."""


def log1p(g, x):
    """log(1 + x) accurate for small x (Goldberg's trick: log(u) * x / (u - 1), u = 1 + x)."""
    one = g.const(np.array(1.0))
    u = g.op("Add", one, x)
    d = g.op("Sub", u, one)
    ratio = g.op("Div", g.op("Mul", g.op("Log", u), x), g.op("Where", g.op("Equal", d, g.const(np.array(0.0))), one, d))
    return g.op("Where", g.op("Equal", d, g.const(np.array(0.0))), x, ratio)


def expm1(g, y):
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


def calculate_shape(operator):
    operator.outputs[0].type = same_precision(operator, len(operator.raw_operator.lambdas_))


def convert(scope, operator, container):
    """Yeo-Johnson ``PowerTransformer`` as scipy computes it (log1p/expm1 forms), then its standardization."""
    pt = operator.raw_operator
    g = Graph(scope, container, "power")
    x = g.op("Cast", operator.inputs[0].full_name, to=DOUBLE)
    lambdas = np.asarray(pt.lambdas_, dtype=np.float64)
    eps = np.spacing(1.0)
    zero = g.const(np.array(0.0))
    positive = g.op("GreaterOrEqual", x, zero)
    x_pos = g.op("Where", positive, x, zero)  # each branch sees only valid inputs
    x_neg = g.op("Where", positive, zero, x)
    lam = g.const(lambdas[None, :])
    safe_lam = g.const(np.where(np.abs(lambdas) < eps, 1.0, lambdas)[None, :])
    log_pos = log1p(g, x_pos)
    pos = g.op("Where", g.const((np.abs(lambdas) < eps)[None, :]), log_pos,
               g.op("Div", expm1(g, g.op("Mul", lam, log_pos)), safe_lam))
    two_minus = 2.0 - lambdas
    safe_two = g.const(np.where(np.abs(two_minus) <= eps, 1.0, two_minus)[None, :])
    log_neg = log1p(g, g.op("Neg", x_neg))
    neg = g.op("Where", g.const((np.abs(lambdas - 2.0) > eps)[None, :]),
               g.op("Neg", g.op("Div", expm1(g, g.op("Mul", g.const(two_minus[None, :]), log_neg)), safe_two)),
               g.op("Neg", log_neg))
    out = g.op("Where", positive, pos, neg)
    out = g.op("Where", g.op("IsNaN", x), x, out)
    if pt.standardize:
        scaler = pt._scaler  # sklearn keeps the standardization there, with no public accessor
        if getattr(scaler, "with_mean", True) and scaler.mean_ is not None:
            out = g.op("Sub", out, g.const(np.asarray(scaler.mean_, dtype=np.float64)[None, :]))
        if getattr(scaler, "with_std", True) and scaler.scale_ is not None:
            out = g.op("Div", out, g.const(np.asarray(scaler.scale_, dtype=np.float64)[None, :]))
    g.op("Cast", out, to=onnx_type_code(operator.outputs[0].type), output=operator.outputs[0].full_name)


@register_step(PowerTransformer)
def _power_rule(step, where, context):
    if step.method != "yeo-johnson":
        raise ValueError(f"export_onnx: the preprocessing step {where} (PowerTransformer) is supported with "
                         f"method='yeo-johnson' only. Got {step.method!r} instead.")
    return swap_class(step, SknasPowerTransformer)


register_operator(SknasPowerTransformer, calculate_shape, convert)
