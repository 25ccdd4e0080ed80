"""The two registries of sknas's ONNX export, both keyed by class.

- **Step rules** (:func:`register_step`): how a fitted step of a class becomes
  something skl2onnx converts: itself (its converter is registered with
  skl2onnx), a copy under a private subclass (sklearn classes whose skl2onnx
  converter is missing or wrong in double precision: skl2onnx's own
  registration stays untouched), a stand-in carrying its fitted state, or a
  ``Pipeline`` of such steps. A rule may also refuse the step with a
  ``ValueError`` naming it.
- **Operators** (:func:`register_operator`): a shape calculator and a
  converter for one class, registered with skl2onnx (``update_registered_converter``)
  the first time a model is exported, so that importing :mod:`sknas.export`
  needs neither skl2onnx nor onnx.

Each converter module (``sknas/export/quantile.py``, ``cleaning.py``, ...)
registers its own, as skl2onnx's ``operator_converters/`` do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["DEFAULT_OPSET", "INSTALL", "Context", "StandIn", "onnx_ready", "register_operator", "register_step",
           "registered_operators", "skl2onnx_module", "sklearn_step", "step_rule", "swap_class"]

DEFAULT_OPSET = 18
INSTALL = "pip install skl2onnx onnx onnxscript"

_STEP_RULES = {}  # class -> (rule, applies to subclasses too)
_OPERATORS = {}  # class -> (alias, shape calculator, converter, options, typed parser)
_DONE = set()  # the classes of _OPERATORS already registered with skl2onnx


@dataclass
class Context:
    """What every step rule of one export may need.

    ``layout``: the graph's input layout (``{"kinds": [...], "string_columns": [...]}``)
    when it has the string input ``X_str``, else None; it is shared by every
    member of an ensemble, so a member reads its string columns at their
    position in that layout.
    """

    layout: dict | None = None


def register_step(cls, *, subclasses=False):
    """Decorator: ``rule(step, where, context)`` makes a fitted ``cls`` step skl2onnx-convertible.

    ``where`` names the step in error messages (``"preprocessing > clean"``).
    The rule applies to ``type(step) is cls`` only, or to its subclasses as
    well with ``subclasses=True`` (containers such as ``Pipeline``).
    """

    def decorate(rule):
        _STEP_RULES[cls] = (rule, subclasses)
        return rule

    return decorate


def step_rule(step):
    """The rule registered for ``type(step)`` (or a registered base accepting subclasses), else None."""
    entry = _STEP_RULES.get(type(step))
    if entry is not None:
        return entry[0]
    for cls, (rule, subclasses) in _STEP_RULES.items():
        if subclasses and isinstance(step, cls):
            return rule
    return None


def register_operator(cls, shape_calculator, converter, *, alias=None, options=None, typed_parser=True):
    """Register ``cls``'s skl2onnx shape calculator and converter (with skl2onnx on first use).

    ``typed_parser``: declare the output's type while parsing (see :func:`_typed_parser`);
    ``options``: the skl2onnx options the converter accepts.
    """
    _OPERATORS[cls] = (alias or f"Sknas{cls.__name__.lstrip('_')}", shape_calculator, converter, options,
                       typed_parser)
    _DONE.discard(cls)


def registered_operators():
    """Register every operator with skl2onnx (once each); returns the registered classes."""
    skl2onnx_module()
    from skl2onnx import update_registered_converter

    for cls, (alias, shape, convert, options, typed) in _OPERATORS.items():
        if cls in _DONE:
            continue
        update_registered_converter(cls, alias, shape, convert, options=options,
                                    parser=_typed_parser(shape) if typed else None)
        _DONE.add(cls)
    return list(_OPERATORS)


def skl2onnx_module():
    try:
        import onnx  # noqa: F401
        import skl2onnx
    except ImportError:
        raise ImportError(f"sknas.export.export_onnx needs skl2onnx and onnx: {INSTALL}") from None
    return skl2onnx


def onnx_ready(step, where, context):
    """A skl2onnx-convertible copy of a fitted transformer tree, or a ValueError naming the step."""
    if isinstance(step, str):  # "drop" / "passthrough" inside a ColumnTransformer
        return step
    rule = step_rule(step)
    if rule is not None:
        return rule(step, where, context)
    return sklearn_step(step, where)


def sklearn_step(step, where):
    """``step`` itself when skl2onnx converts its class, else a ValueError naming it."""
    from skl2onnx._supported_operators import sklearn_operator_name_map

    if type(step) not in sklearn_operator_name_map:
        raise ValueError(
            f"export_onnx: the preprocessing step {where} ({type(step).__name__}) has no ONNX converter; "
            "this model cannot be exported to ONNX (sknas.io.save still saves it)."
        )
    return step


class StandIn(TransformerMixin, BaseEstimator):
    """Base of the stand-ins that carry a fitted step's state (or a part of one) into skl2onnx."""

    @classmethod
    def of(cls, **state):
        obj = cls()
        obj.__dict__.update(state)
        return obj


def swap_class(obj, cls):
    """A shallow copy of ``obj`` as an instance of ``cls`` (a private subclass with its own converter)."""
    new = cls.__new__(cls)
    new.__dict__.update(obj.__dict__)
    return new


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
