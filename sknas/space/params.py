"""The one space language: ``Categorical``, ``Int`` and ``Float`` parameters.

A parameter is a small immutable value that validates itself at construction
(in the spirit of Optuna's distributions). A parameter may carry a condition,
``when={"parent": (allowed, values)}``: it is active only when every named
parent is active and holds one of the allowed values. Parents must come before
their children in a space's parameter list.

Every parameter knows how to sample a value, perturb one (for mutation),
encode one as numbers (for surrogate models), discretize itself into a few
levels (for grid search and RL controllers), and describe itself to hyperopt.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Categorical", "Float", "Int", "Param"]

_JSON_SCALARS = (str, int, float, bool, type(None))


def _normalize_when(name, when):
    if when is None:
        return ()
    if not isinstance(when, dict):
        raise TypeError(
            f"Parameter {name!r}: `when` must be a dict mapping a parent name to "
            f"its allowed values. Got {when!r} instead."
        )
    items = []
    for parent, allowed in when.items():
        if not isinstance(parent, str):
            raise TypeError(
                f"Parameter {name!r}: condition parents must be names (str). "
                f"Got {parent!r} instead."
            )
        if isinstance(allowed, (str, bool, numbers.Number)) or allowed is None:
            allowed = (allowed,)
        allowed = tuple(allowed)
        if not allowed:
            raise ValueError(
                f"Parameter {name!r}: condition on {parent!r} allows no value."
            )
        items.append((parent, allowed))
    return tuple(items)


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise TypeError(f"A parameter name must be a non-empty str. Got {name!r} instead.")


@dataclass(frozen=True, init=False)
class Param:
    """Base of the three parameter kinds. Not used directly."""

    name: str
    when: tuple = field(default=(), kw_only=True)

    def is_active(self, assigned):
        """Whether this parameter is active given the values already assigned."""
        return all(
            parent in assigned and assigned[parent] in allowed
            for parent, allowed in self.when
        )

    @property
    def parents(self):
        return tuple(parent for parent, _ in self.when)


@dataclass(frozen=True, init=False)
class Categorical(Param):
    """A choice among a fixed tuple of JSON scalars (str, int, float, bool, None).

    Parameters
    ----------
    name : str
        Key of the parameter in a genotype.
    choices : tuple
        The allowed values, at least one, all distinct.
    when : dict, default=None
        Condition ``{parent_name: allowed_values}``.
    """

    choices: tuple = ()

    def __init__(self, name, choices, *, when=None):
        _check_name(name)
        choices = tuple(choices)
        if not choices:
            raise ValueError(f"Categorical {name!r} needs at least one choice. Got {choices!r} instead.")
        for c in choices:
            if not isinstance(c, _JSON_SCALARS):
                raise TypeError(
                    f"Categorical {name!r}: choices must be str, int, float, bool or None "
                    f"so that genotypes stay JSON. Got {c!r} instead."
                )
        keys = [(type(c), c) for c in choices]
        if len(set(keys)) != len(keys):
            raise ValueError(f"Categorical {name!r}: choices must be distinct. Got {choices!r} instead.")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "when", _normalize_when(name, when))

    def index(self, value):
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                return i
        raise ValueError(
            f"Categorical {self.name!r}: {value!r} is not one of {self.choices!r}."
        )

    def validate(self, value):
        self.index(value)
        return value

    def sample(self, rng):
        return self.choices[int(rng.integers(len(self.choices)))]

    def mutate(self, value, rng):
        if len(self.choices) == 1:
            return value
        i = self.index(value)
        j = int(rng.integers(len(self.choices) - 1))
        return self.choices[j if j < i else j + 1]

    def levels(self, n_levels=None):
        return self.choices

    def encode(self, value):
        out = np.zeros(len(self.choices))
        out[self.index(value)] = 1.0
        return out

    def encode_inactive(self):
        return np.zeros(len(self.choices))

    @property
    def encoded_size(self):
        return len(self.choices)

    def to_hyperopt(self):
        from hyperopt import hp

        return hp.choice(self.name, list(range(len(self.choices))))

    def from_hyperopt(self, raw):
        return self.choices[int(raw)]

    def to_hyperopt_raw(self, value):
        return self.index(value)


@dataclass(frozen=True, init=False)
class _Numeric(Param):
    low: float = 0.0
    high: float = 1.0
    log: bool = False

    _kind = "Float"

    def __init__(self, name, low, high, *, log=False, when=None):
        _check_name(name)
        for bound_name, bound in (("low", low), ("high", high)):
            if isinstance(bound, bool) or not isinstance(bound, numbers.Real) or not math.isfinite(bound):
                raise TypeError(
                    f"{self._kind} {name!r}: `{bound_name}` must be a finite real number. "
                    f"Got {bound!r} instead."
                )
        if not low < high:
            raise ValueError(
                f"{self._kind} {name!r}: `low` must be smaller than `high`. "
                f"Got low={low!r}, high={high!r} instead."
            )
        if log and low <= 0:
            raise ValueError(
                f"{self._kind} {name!r}: with log=True `low` must be > 0. Got low={low!r} instead."
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "low", self._cast(low))
        object.__setattr__(self, "high", self._cast(high))
        object.__setattr__(self, "log", bool(log))
        object.__setattr__(self, "when", _normalize_when(name, when))

    @staticmethod
    def _cast(v):
        return float(v)

    def _to_unit(self, value):
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def _from_unit(self, u):
        u = min(max(u, 0.0), 1.0)
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return self._cast(min(max(v, self.low), self.high))

    def validate(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self._kind} {self.name!r}: {value!r} is not a number.")
        if not self.low <= value <= self.high:
            raise ValueError(
                f"{self._kind} {self.name!r}: {value!r} is outside [{self.low}, {self.high}]."
            )
        return self._cast(value)

    def sample(self, rng):
        return self._from_unit(float(rng.random()))

    def mutate(self, value, rng):
        # A gaussian step of a fifth of the (log-)range keeps mutations local,
        # as in regularized evolution's "small change" mutations.
        for _ in range(10):
            new = self._from_unit(self._to_unit(value) + float(rng.normal(0.0, 0.2)))
            if new != value:
                return new
        return new

    def levels(self, n_levels=5):
        if n_levels < 2:
            raise ValueError(f"n_levels must be >= 2. Got {n_levels!r} instead.")
        out = []
        for u in np.linspace(0.0, 1.0, n_levels):
            v = self._from_unit(float(u))
            if v not in out:
                out.append(v)
        return tuple(out)

    def encode(self, value):
        return np.array([self._to_unit(value)])

    def encode_inactive(self):
        return np.array([-1.0])

    @property
    def encoded_size(self):
        return 1


@dataclass(frozen=True, init=False)
class Float(_Numeric):
    """A real number in ``[low, high]``, uniform or log-uniform (``log=True``)."""

    _kind = "Float"

    def to_hyperopt(self):
        from hyperopt import hp

        if self.log:
            return hp.loguniform(self.name, math.log(self.low), math.log(self.high))
        return hp.uniform(self.name, self.low, self.high)

    def from_hyperopt(self, raw):
        return self._cast(min(max(float(raw), self.low), self.high))

    def to_hyperopt_raw(self, value):
        return float(value)


@dataclass(frozen=True, init=False)
class Int(_Numeric):
    """An integer in ``[low, high]`` (both included), uniform or log-uniform."""

    _kind = "Int"

    def __init__(self, name, low, high, *, log=False, when=None):
        for bound_name, bound in (("low", low), ("high", high)):
            if isinstance(bound, bool) or not isinstance(bound, numbers.Integral):
                raise TypeError(
                    f"Int {name!r}: `{bound_name}` must be an int. Got {bound!r} instead."
                )
        super().__init__(name, low, high, log=log, when=when)

    @staticmethod
    def _cast(v):
        return int(round(v))

    def validate(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"Int {self.name!r}: {value!r} is not an int.")
        return super().validate(value)

    def sample(self, rng):
        # Sample in the continuous (log-)range widened by half a step on each
        # side so that both bounds are as likely as the inner values.
        if self.log:
            lo, hi = math.log(self.low - 0.5 if self.low > 0.5 else self.low), math.log(self.high + 0.5)
            v = math.exp(lo + float(rng.random()) * (hi - lo))
        else:
            v = self.low - 0.5 + float(rng.random()) * (self.high - self.low + 1)
        return int(min(max(round(v), self.low), self.high))

    def to_hyperopt(self):
        from hyperopt import hp

        if self.log:
            return hp.qloguniform(self.name, math.log(max(self.low - 0.5, 1e-3)), math.log(self.high + 0.5), 1)
        return hp.quniform(self.name, self.low - 0.5, self.high + 0.5, 1)

    def from_hyperopt(self, raw):
        return int(min(max(round(float(raw)), self.low), self.high))

    def to_hyperopt_raw(self, value):
        return float(value)
