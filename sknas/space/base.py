"""``SearchSpace``: the seam between what is searched and how.

A space is a list of parameters (see :mod:`sknas.space.params`) whose order
puts parents before their conditional children. Everything an optimizer needs
(sampling, mutation, crossover, numeric encoding, the ordered decisions of an
RL controller, a hyperopt description) is derived here from that list, so that
optimizers never know which space they search. Subclasses only declare their
parameters (``_params``) and how a genotype becomes a torch module (``build``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .genotype import Genotype

__all__ = ["Decision", "SearchSpace"]


class Decision(tuple):
    """``(name, choices)``: one discrete decision of an RL controller."""

    __slots__ = ()

    def __new__(cls, name, choices):
        return super().__new__(cls, (name, tuple(choices)))

    def __getnewargs__(self):
        return (self[0], self[1])

    @property
    def name(self):
        return self[0]

    @property
    def choices(self):
        return self[1]


class SearchSpace(BaseEstimator):
    """Base class of every search space.

    Subclasses implement ``_params()`` (the ordered parameters) and, when the
    space describes a network, ``build(genotype, n_inputs, n_outputs)``.
    Spaces are sklearn-style objects: their constructor only stores its
    arguments, so ``clone`` and ``get_params`` work on them.
    """

    # -- what subclasses provide -------------------------------------------------
    def _params(self):
        raise NotImplementedError

    def build(self, genotype, n_inputs, n_outputs):
        """Build the torch module a genotype describes."""
        raise TypeError(f"{type(self).__name__} describes no network; it cannot build one.")

    def portfolio(self):
        """Genotypes known to be strong, tried first by every optimizer."""
        return []

    def shrink(self, genotype):
        """One step towards a smaller network than ``genotype``'s, or ``None`` when none is known.

        Used to repair a proposal that breaks a size limit (parameters,
        FLOPs) before it costs a trial: the evaluator applies steps until the
        network fits (:meth:`sknas.evaluation.trainer.Evaluator.fit_limits`).
        Each step must make the network no larger and must end, after finitely
        many steps, in ``None``. A space without a notion of size (the default)
        returns ``None``: its proposals are checked, never repaired.
        """
        return None

    # -- derived machinery -------------------------------------------------------
    @property
    def params(self):
        """The ordered parameters, checked (unique names, parents first) and cached.

        The cache is keyed on the space's own parameters, so ``set_params``
        invalidates it.
        """
        key = repr(self.get_params(deep=True))
        cached = self.__dict__.get("_params_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        params = self._checked_params()
        self.__dict__["_params_cache"] = (key, params)
        return params

    def _checked_params(self):
        params = tuple(self._params())
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{type(self).__name__}: duplicate parameter names {dup}.")
        seen = set()
        for p in params:
            for parent in p.parents:
                if parent not in seen:
                    raise ValueError(
                        f"{type(self).__name__}: parameter {p.name!r} is conditioned on "
                        f"{parent!r}, which does not come before it."
                    )
            seen.add(p.name)
        return params

    def _complete(self, partial, rng, params=None):
        """Fill a partial assignment into a valid genotype.

        Values of active parameters are kept when valid, missing ones are
        sampled, and values of inactive parameters are dropped.
        """
        params = self.params if params is None else params
        out = {}
        for p in params:
            if not p.is_active(out):
                continue
            if p.name in partial:
                try:
                    out[p.name] = p.validate(partial[p.name])
                    continue
                except (TypeError, ValueError):
                    if rng is None:
                        raise
            if rng is None:
                # a parameter added to a space after genotypes were saved reads its "off" value when absent
                absent = getattr(p, "absent_default", None)
                if absent is not None:
                    out[p.name] = p.validate(absent)
                    continue
                raise ValueError(f"{type(self).__name__}: genotype lacks active parameter {p.name!r}.")
            out[p.name] = p.sample(rng)
        return Genotype(out)

    def sample(self, rng):
        """A random genotype, each active parameter drawn from its prior."""
        return self._complete({}, _as_rng(rng))

    def validate(self, genotype):
        """Return ``genotype`` as a Genotype of this space, or raise ValueError."""
        genotype = genotype if isinstance(genotype, Genotype) else Genotype(genotype)
        checked = self._complete(genotype, None)
        extra = set(genotype) - set(checked)
        if extra:
            raise ValueError(
                f"{type(self).__name__}: genotype has inactive or unknown parameters {sorted(extra)}."
            )
        return checked

    def replace(self, genotype, **changes):
        """``genotype`` with some decisions changed, as a valid genotype of this space.

        Unlike :meth:`Genotype.replace <sknas.space.genotype.Genotype.replace>`,
        values that the changes make inactive are dropped (e.g. ``lr_schedule``
        when ``snapshots`` becomes 3), and a decision they activate must be
        among the changes; the result is validated (``ValueError`` otherwise).
        """
        merged = {**dict(genotype), **changes}
        completed = self._complete(merged, None)
        unknown = set(changes) - {p.name for p in self.params}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown parameters {sorted(unknown)}.")
        return completed

    def mutate(self, genotype, rng):
        """Change one active decision (and repair what it activates)."""
        rng = _as_rng(rng)
        params = self.params
        active = [p for p in params if p.name in genotype]
        if not active:
            raise ValueError(f"{type(self).__name__}: the genotype has no active parameter to mutate.")
        for _ in range(20):
            p = active[int(rng.integers(len(active)))]
            changed = dict(genotype)
            changed[p.name] = p.mutate(genotype[p.name], rng)
            child = self._complete(changed, rng, params)
            if child != genotype:
                return child
        return child

    def crossover(self, a, b, rng):
        """Uniform crossover: each parameter from either parent, then repair."""
        rng = _as_rng(rng)
        params = self.params
        mixed = {}
        for p in params:
            options = [g[p.name] for g in (a, b) if p.name in g]
            if options:
                mixed[p.name] = options[int(rng.integers(len(options)))]
        return self._complete(mixed, rng, params)

    def encode(self, genotype):
        """A fixed-length float vector: one-hot categoricals, unit-scaled numbers.

        Inactive categoricals encode as zeros and inactive numbers as -1.
        """
        parts = []
        for p in self.params:
            if p.name in genotype:
                parts.append(p.encode(genotype[p.name]))
            else:
                parts.append(p.encode_inactive())
        return np.concatenate(parts) if parts else np.zeros(0)

    def decisions(self, n_levels=5):
        """The ordered discrete decisions an RL controller emits.

        Numeric parameters are discretized into ``n_levels`` levels.
        """
        return [Decision(p.name, p.levels(n_levels)) for p in self.params]

    def from_decisions(self, values):
        """Genotype from a mapping ``decision name -> chosen value``."""
        return self._complete(values, None)

    def to_hyperopt(self):
        """A hyperopt space: a dict ``name -> hp expression`` of every parameter.

        Conditions are not expressed in the hyperopt graph; instead
        :meth:`from_hyperopt` drops inactive values, and
        :class:`sknas.search.tpe.TPESearch` records inactive parameters as
        unobserved, so TPE models each parameter only on the trials where it
        was active.
        """
        return {p.name: p.to_hyperopt() for p in self.params}

    def from_hyperopt(self, point):
        """Genotype from a hyperopt point (``name -> raw value``)."""
        values = {}
        for p in self.params:
            if p.is_active(values):
                if p.name not in point:
                    raise ValueError(f"hyperopt point lacks {p.name!r}.")
                values[p.name] = p.from_hyperopt(point[p.name])
        return Genotype(values)

    def to_hyperopt_raw(self, genotype):
        """Inverse of :meth:`from_hyperopt` for the active parameters."""
        by_name = {p.name: p for p in self.params}
        return {k: by_name[k].to_hyperopt_raw(v) for k, v in genotype.items()}


def _as_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
