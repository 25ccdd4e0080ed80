"""Genotype: the lingua franca of sknas.

Every trial, checkpoint, result row and saved model carries one. A genotype is
an immutable, hashable mapping from parameter names to JSON scalars; it prints
as one readable line and round-trips through JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

__all__ = ["Genotype"]

_SCALARS = (str, int, float, bool, type(None))


class Genotype(Mapping):
    """An immutable mapping ``name -> value`` describing one candidate.

    Parameters
    ----------
    values : mapping or iterable of (name, value) pairs
        Values must be JSON scalars (str, int, float, bool or None); floats
        must be finite.

    Examples
    --------
    >>> g = Genotype({"n_blocks": 2, "lr": 0.001})
    >>> str(g)
    'n_blocks=2 lr=0.001'
    >>> Genotype.from_json(g.to_json()) == g
    True
    """

    __slots__ = ("_items", "_dict", "_hash")

    def __init__(self, values=()):
        items = tuple(dict(values).items())
        for key, value in items:
            if not isinstance(key, str):
                raise TypeError(f"Genotype keys must be str. Got {key!r} instead.")
            if not isinstance(value, _SCALARS):
                raise TypeError(
                    f"Genotype value of {key!r} must be a JSON scalar "
                    f"(str, int, float, bool or None). Got {value!r} instead."
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"Genotype value of {key!r} must be finite. Got {value!r} instead.")
        object.__setattr__(self, "_items", items)
        object.__setattr__(self, "_dict", dict(items))
        # The type is part of the identity: True and 1 are different choices.
        object.__setattr__(
            self, "_hash", hash(frozenset((k, type(v).__name__, v) for k, v in items))
        )

    def __setattr__(self, name, value):
        raise AttributeError("Genotype is immutable")

    def __getitem__(self, key):
        return self._dict[key]

    def __iter__(self):
        return iter(k for k, _ in self._items)

    def __len__(self):
        return len(self._items)

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        if not isinstance(other, Genotype):
            return NotImplemented
        if self._dict.keys() != other._dict.keys():
            return False
        return all(
            type(v) is type(other._dict[k]) and v == other._dict[k] for k, v in self._items
        )

    def __reduce__(self):
        return (Genotype, (self._items,))

    def replace(self, **changes):
        """A new genotype with some values changed or added."""
        d = dict(self._items)
        d.update(changes)
        return Genotype(d)

    def to_dict(self):
        return dict(self._items)

    def to_json(self):
        return json.dumps(dict(self._items))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"A genotype's JSON must be an object. Got {text!r} instead.")
        return cls(data)

    def __str__(self):
        def fmt(v):
            if isinstance(v, float):
                return f"{v:.4g}"
            return str(v)

        return " ".join(f"{k}={fmt(v)}" for k, v in self._items)

    def __repr__(self):
        return f"Genotype({dict(self._items)!r})"
