"""``JointSpace``: architecture, training and preprocessing searched as one genotype."""

from __future__ import annotations

import functools
import itertools
import json
from importlib import resources

from .base import SearchSpace
from .genotype import Genotype

__all__ = ["JointSpace"]


class JointSpace(SearchSpace):
    """The product of an architecture space, a training space and an optional pipeline space.

    Parameter names must be unique across the parts; a genotype of the joint
    space holds the decisions of all parts, so every optimizer searches
    architecture, training hyperparameters and preprocessing together.

    Parameters
    ----------
    arch : SearchSpace
        Builds the network.
    training : SearchSpace
        Training hyperparameters (see :class:`~sknas.space.training.TrainingSpace`).
    pipeline : SearchSpace or None, default=None
        Preprocessing choices (see :class:`~sknas.space.pipeline.PipelineSpace`).
    """

    def __init__(self, arch, training, pipeline=None):
        self.arch = arch
        self.training = training
        self.pipeline = pipeline

    def _parts(self):
        return [p for p in (self.arch, self.training, self.pipeline) if p is not None]

    def _params(self):
        return [p for part in self._parts() for p in part.params]

    def _subset(self, part, genotype):
        if part is None:
            return Genotype()
        names = {p.name for p in part.params}
        return Genotype({k: v for k, v in genotype.items() if k in names})

    def arch_genotype(self, genotype):
        return self._subset(self.arch, genotype)

    def training_genotype(self, genotype):
        return self._subset(self.training, genotype)

    def pipeline_genotype(self, genotype):
        return self._subset(self.pipeline, genotype)

    def build(self, genotype, n_inputs, n_outputs):
        return self.arch.build(self.arch_genotype(genotype), n_inputs, n_outputs)

    def shrink(self, genotype):
        """One step towards a smaller network: the training part's step first (a snapshot ensemble
        becomes one network), else the architecture's; the preprocessing is kept. ``None`` when
        neither part knows a smaller one."""
        for part, subset in ((self.training, self.training_genotype), (self.arch, self.arch_genotype)):
            smaller = part.shrink(subset(genotype)) if part is not None else None
            if smaller is not None:
                kept = {k: v for k, v in genotype.items() if k not in {p.name for p in part.params}}
                return self.validate({**kept, **smaller})
        return None

    def portfolio(self):
        """The configurations every search tries first, in order.

        When the architecture part is one the shipped meta-benchmark portfolio
        was built for (``sknas/data/portfolio.json``, made by
        ``benchmarks/build_portfolio_tables.py`` with time-aware greedy
        portfolio construction, Feurer et al. 2022), its entries come first,
        adapted to this space:
        keys this space lacks are dropped, keys it has and an entry lacks take
        the hand-picked default's value, and an entry that is still not a
        valid genotype of this space (e.g. deeper than a customised
        ``max_blocks``) is left out. Without such an entry, the product of the
        parts' own portfolios (the hand-picked defaults) is used.

        The hand-picked first entry leads the meta-benchmark portfolio when
        the architecture part marks it as cheap (``portfolio_settings`` gives
        it settings of its own: the mlp space's linear model, which trains in
        well under a second, so near-linear tables are covered from the first
        trial).
        """
        product = self.hand_portfolio()
        if not product:
            return []
        leading = [g for g in product[:1] if self._settings(self.arch_genotype(g))]
        default = next((g for g in product if g not in leading), product[0])
        meta = self._meta_portfolio(default)
        if not meta:
            return product
        return leading + [g for g in meta if g not in leading]

    def _settings(self, arch_genotype):
        """What the architecture's portfolio entry needs of the other parts (``{}`` when the space says nothing)."""
        settings = getattr(self.arch, "portfolio_settings", None)
        return settings(arch_genotype) if settings is not None else {}

    def hand_portfolio(self):
        """The product of the parts' own (hand-picked) portfolios; empty when a part has none.

        An architecture entry that needs other settings of the training or
        preprocessing parts (the architecture space's ``portfolio_settings``,
        e.g. a larger learning rate for a linear model) gets them, part by
        part, where the part allows them.
        """
        lists = [part.portfolio() for part in self._parts()]
        if any(not entries for entries in lists):
            return []
        product = []
        # The architecture's entries vary fastest; other parts use their first entry first.
        for combo in itertools.product(*lists):
            merged = {}
            for g in combo:
                merged.update(g)
            settings = self._settings(combo[0])
            for part in self._parts()[1:]:
                names = {p.name for p in part.params}
                extra = {k: v for k, v in settings.items() if k in names}
                if extra:
                    try:
                        merged = dict(self.validate({**merged, **extra}))
                    except (TypeError, ValueError):
                        pass  # a customised part does not allow them: its own defaults
            product.append(self.validate(merged))
        return product

    def _meta_portfolio(self, default):
        shipped = _shipped_portfolio()
        if shipped is None or type(self.arch).__name__ != shipped.get("arch"):
            return []
        names = {p.name for p in self.params}
        out = []
        for entry in shipped["entries"]:
            merged = dict(default)
            merged.update({k: v for k, v in entry.items() if k in names})
            try:
                g = self._complete(merged, None)
            except (TypeError, ValueError):
                continue  # not a genotype of this (customised) space
            if g not in out:
                out.append(g)
        return out


@functools.lru_cache(maxsize=1)
def _shipped_portfolio():
    """The meta-benchmark portfolio shipped with the package, or None when it is missing."""
    try:
        text = resources.files("sknas").joinpath("data", "portfolio.json").read_text()
    except FileNotFoundError:
        return None
    return json.loads(text)
