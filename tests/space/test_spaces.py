import numpy as np
import pytest
import torch
from conftest import SPACES
from hypothesis import given, settings
from hypothesis import strategies as st

from sknas.space.genotype import Genotype
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace, ResNetSpace
from sknas.space.training import TrainingSpace

BLOCK_KEYS = ("width_", "act_", "norm_", "dropout_", "skip_")


@pytest.mark.parametrize("name", ["mlp", "mlp-small"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_inputs=st.integers(1, 12), n_outputs=st.integers(1, 4))
def test_linear_and_wide_genotypes_round_trip_and_stay_valid(name, seed, n_inputs, n_outputs):
    space = SPACES[name].make()
    rng = np.random.default_rng(seed)
    a = space.sample(rng)
    linear = space._complete(dict(a, n_blocks=0), rng)
    wide = space._complete(dict(a, n_blocks=max(1, a["n_blocks"]), wide=True), rng)
    assert not [k for k in linear if k == "wide" or k.startswith(BLOCK_KEYS)] and wide["wide"] is True
    levels = {d.name: d.choices for d in space.decisions()}
    assert 0 in levels["n_blocks"] and levels["wide"] == (False, True)
    for g in (linear, wide, space.mutate(linear, rng), space.crossover(linear, wide, rng)):
        assert space.validate(g) == g
        assert Genotype.from_json(g.to_json()) == g
        assert space.encode(g).shape == space.encode(a).shape
        assert space.from_hyperopt(space.to_hyperopt_raw(g)) == g
        assert space.from_decisions(dict(g)) == g
        module = space.build(g, n_inputs, n_outputs).eval()
        assert len(module.blocks) == g["n_blocks"] and (module.wide is not None) == g.get("wide", False)
        with torch.no_grad():
            out = module(torch.randn(5, n_inputs))
        assert out.shape == (5, n_outputs)
    # the linear model's encoding differs from every deeper one's: a surrogate can tell them apart
    assert not np.array_equal(space.encode(linear), space.encode(space._complete(dict(linear, n_blocks=1), rng)))


def test_min_blocks_keeps_the_linear_model_out():
    space = MLPSpace(min_blocks=1, max_blocks=3)
    assert space.params[[p.name for p in space.params].index("n_blocks")].low == 1
    assert all(g["n_blocks"] >= 1 for g in space.portfolio())
    assert all(space.sample(seed)["n_blocks"] >= 1 for seed in range(20))
    assert "wide" in space.sample(0)  # always active: every network has blocks
    fixed = MLPSpace(min_blocks=2, max_blocks=2)  # one depth: no decision
    assert "n_blocks" not in fixed.sample(0) and len(fixed.build(fixed.sample(0), 3, 1).blocks) == 2
    with pytest.raises(ValueError, match="min_blocks"):
        MLPSpace(min_blocks=4, max_blocks=3).params


def test_mutation_changes_exactly_one_decision_when_no_condition_is_touched():
    space = JointSpace(ResNetSpace(embeddings=("none",)), TrainingSpace())  # no conditional parameter
    rng = np.random.default_rng(0)
    g = space.sample(rng)
    for _ in range(30):
        child = space.mutate(g, rng)
        assert sum(child[k] != g[k] for k in g) == 1


def test_conditions_drop_and_fill_block_parameters():
    space = MLPSpace(max_blocks=4)
    rng = np.random.default_rng(1)
    g = space.sample(rng)
    shallow = space._complete(dict(g, n_blocks=1), rng)
    assert not any(k.startswith(("width_1", "skip_1")) for k in shallow)
    deep = space._complete(dict(shallow, n_blocks=4), rng)
    assert all(f"width_{i}" in deep for i in range(4))
    with pytest.raises(ValueError, match="inactive or unknown"):
        space.validate(dict(shallow, width_3=32))


def test_skip_connections_make_a_dag():
    space = MLPSpace(max_blocks=3)
    g = Genotype({
        "n_blocks": 3, "width_0": 8, "act_0": "relu", "norm_0": "none", "dropout_0": 0.0,
        "width_1": 4, "act_1": "relu", "norm_1": "none", "dropout_1": 0.0, "skip_1": 0,
        "width_2": 4, "act_2": "relu", "norm_2": "none", "dropout_2": 0.0, "skip_2": "none",
    })
    net = space.build(g, 5, 2)
    # block 1 reads the concatenation of block 0's output (8) and the input (5)
    assert net.blocks[1][0].in_features == 13
    assert net.blocks[2][0].in_features == 4


def test_portfolio_is_valid_and_decisions_cover_every_parameter():
    space = SPACES["mlp"].make()
    portfolio = space.portfolio()
    assert portfolio and all(space.validate(g) == g for g in portfolio)
    names = [d.name for d in space.decisions()]
    assert names == [p.name for p in space.params]
    choices = {d.name: d.choices[0] for d in space.decisions()}
    # the first choice of every decision is the linear model: no block keys, no wide part
    first = space.from_decisions(choices)
    assert first["n_blocks"] == 0
    assert not [k for k in first if k == "wide" or k.startswith(("width_", "act_", "norm_", "dropout_", "skip_"))]


def test_joint_space_rejects_duplicate_names():
    with pytest.raises(ValueError, match="duplicate parameter names"):
        JointSpace(TrainingSpace(), TrainingSpace()).params


def test_bad_space_settings_are_reported():
    with pytest.raises(ValueError, match="activations"):
        MLPSpace(activations=("relu", "tanhh")).params
    with pytest.raises(ValueError, match="task"):
        TrainingSpace(task="ranking").params
