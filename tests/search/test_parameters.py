"""Every searcher declares its parameters once and validates them the same way at ``setup``."""

from __future__ import annotations

import importlib

import pytest
from sklearn.utils._param_validation import (
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)

from sknas.search.base import SEARCHERS, Searcher
from sknas.search.predictor_filter import PredictorFilter
from sknas.space.base import SearchSpace
from sknas.space.params import Categorical, Int


class Tiny(SearchSpace):
    def _params(self):
        return [Categorical("op", ("a", "b")), Int("depth", 1, 3)]


def _registered():
    """Every searcher of the registry, and the predictor filter (a searcher wrapping another)."""
    classes = {"predictor_filter": PredictorFilter}
    for name, path in SEARCHERS.items():
        module, cls = path.split(":")
        classes[name] = getattr(importlib.import_module(module), cls)
    return classes


SEARCHER_CLASSES = _registered()


def _bad_values(constraints):
    """Values that satisfy none of ``constraints``: an object of an unknown type, and out-of-range values."""
    constraints = [make_constraint(c) for c in constraints]
    values = [type("BadType", (), {})()]
    for constraint in constraints:
        try:
            value = generate_invalid_param_val(constraint)
        except NotImplementedError:
            continue
        if not any(c.is_satisfied_by(value) for c in constraints):
            values.append(value)
    return values


CASES = [
    pytest.param(cls, param, value, id=f"{name}-{param}-{i}")
    for name, cls in sorted(SEARCHER_CLASSES.items())
    for param, constraints in cls._parameter_constraints.items()
    for i, value in enumerate(_bad_values(constraints))
]


@pytest.mark.parametrize("name", sorted(SEARCHER_CLASSES))
def test_every_parameter_is_constrained(name):
    cls = SEARCHER_CLASSES[name]
    assert issubclass(cls, Searcher)
    assert set(cls._parameter_constraints) == set(cls().get_params(deep=False))


@pytest.mark.parametrize("cls, param, value", CASES)
def test_a_bad_value_is_refused_at_setup_naming_the_parameter(cls, param, value):
    searcher = cls(**{param: value})  # __init__ stores it untouched
    assert getattr(searcher, param) is value
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of {cls.__name__} must be"):
        searcher.setup(Tiny(), 0)
    assert not hasattr(searcher, "space_")
