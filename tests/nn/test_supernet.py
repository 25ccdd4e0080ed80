"""Supernets of the mlp and cell spaces: modes, the two kinds of parameters, derive, extract."""

import numpy as np
import pytest
import torch
from conftest import SPACES, SUPERNET_SPACES

from sknas.nn.supernet import gumbel_perturbed, recalibrate_batchnorm
from sknas.space.cell import CellSpace
from sknas.space.genotype import Genotype
from sknas.space.mlp import MLPSpace


def make(name, seed=0):
    case = SPACES[name]
    space, n_inputs = case.make(), case.supernet
    torch.manual_seed(seed)
    return space, space.supernet(n_inputs, 3), n_inputs


def warm_up(net, x):
    """A few training-mode passes so that batch-norm statistics are not the defaults."""
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(x)


@pytest.mark.parametrize("name", SUPERNET_SPACES)
def test_every_mode_gives_outputs_and_only_mixing_modes_reach_the_logits(name):
    space, net, n_inputs = make(name)
    x = torch.randn(8, n_inputs)
    arch, weights = net.arch_parameters(), net.weight_parameters()
    assert arch and weights
    assert {id(p) for p in arch}.isdisjoint({id(p) for p in weights})
    assert len(arch) + len(weights) == len(list(net.parameters()))
    for mode in ("softmax", "gumbel"):
        net.zero_grad()
        net.set_mode(mode, tau=1.0)
        out = net(x)
        assert out.shape == (8, 3)
        out.square().mean().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in arch), mode
    net.zero_grad()
    net.use_genotype(space.derive(net.alphas()))
    net(x).square().mean().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in arch)


def test_unknown_mode_and_fixed_without_genotype_are_refused():
    _, net, _ = make("mlp-supernet")
    with pytest.raises(ValueError, match="mode must be one of"):
        net.set_mode("hard")
    with pytest.raises(ValueError, match="use_genotype"):
        net.set_mode("fixed")


@pytest.mark.parametrize("name", SUPERNET_SPACES)
def test_extracted_child_computes_what_the_supernet_computes_for_that_genotype(name):
    space, net, n_inputs = make(name)
    x = torch.randn(16, n_inputs)
    net.set_mode("gumbel")
    warm_up(net, x)
    rng = np.random.default_rng(0)
    for _ in range(6):
        genotype = space.derive(gumbel_perturbed(net.alphas(), rng))
        net.use_genotype(genotype).eval()
        child = net.extract(genotype).eval()
        assert type(child) is type(space.build(genotype, n_inputs, 3))
        with torch.no_grad():
            torch.testing.assert_close(child(x), net(x), atol=1e-5, rtol=1e-5)


def test_genotype_decisions_and_genotype_of_cover_the_space():
    for name in ("mlp-supernet", "cell-supernet"):
        space, net, _ = make(name)
        rng = np.random.default_rng(1)
        for _ in range(10):
            values = {n: c[int(rng.integers(len(c)))] for n, c in net.genotype_decisions()}
            genotype = net.genotype_of(values)
            assert space.validate(genotype) == genotype
            net.use_genotype(genotype)  # expressible by the supernet


# -- derive -------------------------------------------------------------------------------
def test_mlp_derive_takes_the_argmax_of_each_decision_and_fills_the_rest_from_the_base():
    space = MLPSpace(max_blocks=3, max_width=64)
    base = space.portfolio()[1]
    alphas = {"n_blocks": {1: 0.0, 2: 3.0, 3: 1.0}, "act_0": {"relu": 0.0, "gelu": 2.0}, "act_1": {"mish": 1.0},
              "norm_1": {"none": 0.0, "layer": 0.5}, "skip_1": {"none": 0.0, 0: 1.0}, "width_1": {16: 2.0, 64: 1.0},
              "width_2": {32: 5.0}}
    g = space.derive(alphas, base=base)
    assert g["n_blocks"] == 2 and g["act_0"] == "gelu" and g["act_1"] == "mish" and g["norm_1"] == "layer"
    assert g["skip_1"] == 0 and g["width_1"] == 16 and "width_2" not in g
    assert g["width_0"] == base["width_0"] and g["dropout_1"] == base["dropout_1"]
    assert space.derive(alphas, base=base, max_skips=0)["skip_1"] == "none"


def test_a_linear_base_gives_the_supernet_the_first_portfolio_entry_with_blocks():
    space = MLPSpace(max_blocks=3, max_width=64)
    linear, deep = space.portfolio()[:2]
    assert linear["n_blocks"] == 0 and deep["n_blocks"] == 3
    torch.manual_seed(0)
    net = space.supernet(4, 3, base=linear)
    # depth choices start at 1: the linear model is no choice of the supernet
    assert net.depth == 3 and net.choices["n_blocks"] == (1, 2, 3)
    g = space.derive(net.alphas(), base=linear)
    assert g["n_blocks"] >= 1 and space.validate(g) == g
    # the supernet has no wide part: a wide child starts with zero wide weights, computing the supernet's function
    wide = g.replace(wide=True)
    net.use_genotype(wide).eval()
    child = net.extract(wide).eval()
    x = torch.randn(16, 4)
    assert child.wide is not None and not child.wide.weight.any()
    with torch.no_grad():
        torch.testing.assert_close(child(x), net(x), atol=1e-5, rtol=1e-5)


def test_mlp_derive_keeps_the_strongest_skips_under_a_cap():
    space = MLPSpace(max_blocks=3)
    alphas = {"n_blocks": {3: 1.0}, "skip_1": {"none": 0.0, 0: 0.5}, "skip_2": {"none": 0.0, 0: 0.1, 1: 3.0}}
    g = space.derive(alphas, max_skips=1)
    assert g["skip_2"] == 1 and g["skip_1"] == "none"


def test_cell_derive_keeps_the_two_strongest_inputs_and_never_the_zero_op():
    space = CellSpace(n_nodes=2, n_cells=2, width=8, operations=("linear", "skip_connect", "relu"))
    # columns: linear, skip_connect, relu, none
    logits = np.zeros((5, 4))
    # node 0 (rows 0-1): input 1 has the strongest real op (relu), input 0 linear
    logits[0] = [2.0, 0.0, 0.0, 9.0]
    logits[1] = [0.0, 0.0, 4.0, 0.0]
    # node 1 (rows 2-4): node 0 (input 2) strongest with skip, then c[k-2] with linear
    logits[2] = [1.5, 0.0, 0.0, 0.0]
    logits[3] = [0.0, 0.0, 0.0, 8.0]
    logits[4] = [0.0, 3.0, 0.0, 0.0]
    g = space.derive({"normal": logits})
    nodes = space.cell_nodes(g)
    assert nodes[0][:4] == (1, "relu", 0, "linear")
    assert nodes[1][:4] == (2, "skip_connect", 0, "linear")
    assert all(n[4] == "sum" for n in nodes)
    # P-DARTS cap: the skip is replaced by its edge's strongest other operation (a tie: the first)
    capped = space.cell_nodes(space.derive({"normal": logits}, max_skips=0))
    assert capped[1][:2] == (2, "linear") and capped[0] == nodes[0]


def test_cell_derive_checks_the_shape_of_the_weights():
    space = CellSpace(n_nodes=2)
    with pytest.raises(ValueError, match="must have shape"):
        space.derive({"normal": np.zeros((3, 2))})


def test_supernet_base_must_belong_to_the_space():
    space = MLPSpace(max_blocks=2)
    with pytest.raises(ValueError):
        space.supernet(4, 2, base=Genotype({"n_blocks": 9}))
    with pytest.raises(ValueError, match="width_factors"):
        space.supernet(4, 2, width_factors=(2.0,))


def test_recalibrate_batchnorm_estimates_the_statistics_of_the_given_rows():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).eval()
    x = torch.randn(200, 3) * 5 + 2
    recalibrate_batchnorm(net, x, batch_size=50)
    with torch.no_grad():
        hidden = net[0](x)
    torch.testing.assert_close(net[1].running_mean, hidden.mean(0), atol=1e-4, rtol=1e-4)
    assert not net.training and net[1].momentum == 0.1
