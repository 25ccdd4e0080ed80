"""``JointSpace``: architecture, training and preprocessing searched as one genotype."""

from __future__ import annotations

import itertools

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

    def portfolio(self):
        lists = [part.portfolio() for part in self._parts()]
        if any(not entries for entries in lists):
            return []
        out = []
        # The architecture's entries vary fastest; other parts use their first entry first.
        for combo in itertools.product(*lists):
            merged = {}
            for g in combo:
                merged.update(g)
            out.append(self.validate(merged))
        return out
