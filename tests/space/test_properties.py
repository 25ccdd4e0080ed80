"""The properties every search space has, checked on each searchable space of the registry (tests/conftest.py SPACES).

Sampled, mutated and crossed genotypes are valid, round-trip through JSON,
hyperopt and the encoding, and build a network that gives one output row per
input row (in evaluation mode; cell and hierarchical networks in training mode
too); a cell or hierarchical network
built ``final=True`` has ``final_cells`` (or the searched number of) cells.
"""

import math

import numpy as np
import pytest
import torch
from conftest import PROPERTY_SPACES, SPACES
from hypothesis import given, settings
from hypothesis import strategies as st

from sknas.space.cell import Cell, CellSpace
from sknas.space.genotype import Genotype
from sknas.space.hierarchical import EdgeDAG, HierarchicalSpace
from sknas.space.joint import JointSpace

#: the module each cell of a final network is, per space family (its other layers are stems and reductions)
CELL_MODULES = {CellSpace: Cell, HierarchicalSpace: EdgeDAG}


@pytest.mark.parametrize("name", PROPERTY_SPACES)
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_dense=st.integers(1, 12), n_outputs=st.integers(1, 4))
def test_sampled_mutated_crossed_genotypes_build_and_round_trip(name, seed, n_dense, n_outputs):
    case = SPACES[name]
    space = case.make()
    n_inputs = n_dense if case.input_shape is None else math.prod(case.input_shape)
    rng = np.random.default_rng(seed)
    arch = space.arch if isinstance(space, JointSpace) else space
    cells = type(arch) in CELL_MODULES
    a, b = space.sample(rng), space.sample(rng)
    for g in (a, space.mutate(a, rng), space.crossover(a, b, rng)):
        assert space.validate(g) == g
        assert Genotype.from_json(g.to_json()) == g
        assert space.encode(g).shape == space.encode(a).shape
        assert space.from_hyperopt(space.to_hyperopt_raw(g)) == g
        module = space.build(g, n_inputs, n_outputs)
        if cells:  # training mode too (batch norm sees a batch); an mlp's TabM members give one output each there
            assert module(torch.randn(3, n_inputs)).shape == (3, n_outputs)
        with torch.no_grad():
            assert module.eval()(torch.randn(2, n_inputs)).shape == (2, n_outputs)
    if cells:
        arch_g = space.arch_genotype(a) if isinstance(space, JointSpace) else a
        final = arch.build(arch_g, n_inputs, n_outputs, final=True)
        n_cells = arch.final_cells or arch.network_size(arch_g)[0]
        assert sum(isinstance(m, CELL_MODULES[type(arch)]) for m in final.cells) == n_cells
        if type(arch) is CellSpace:
            assert len(final.cells) == n_cells  # nothing but cells
        assert final(torch.randn(3, n_inputs)).shape == (3, n_outputs)
