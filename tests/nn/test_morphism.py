"""Function preservation of the network morphisms: wider, deeper, skip, and chains of them."""

import numpy as np
import pytest
import torch

from sknas.nn.morphism import add_skip, net2deeper, net2wider
from sknas.space.mlp import MLPSpace

TOLERANCE = 1e-5


def network(blocks, n_inputs=5, n_outputs=3, seed=0):
    """A DenseDAG with trained-looking batch-norm statistics, in evaluation mode."""
    from sknas.nn.builders import DenseDAG

    torch.manual_seed(seed)
    net = DenseDAG(n_inputs, n_outputs, blocks)
    net.train()
    with torch.no_grad():
        net(torch.randn(64, n_inputs) * 2 + 1)
    return net.eval()


def block(width, activation="relu", norm="none", dropout=0.0, skip=None):
    return {"width": width, "activation": activation, "norm": norm, "dropout": dropout, "skip": skip}


def assert_same_function(parent, child, n_inputs=5):
    x = torch.randn(256, n_inputs) * 3
    child.eval()
    with torch.no_grad():
        torch.testing.assert_close(child(x), parent(x), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("norm", ["none", "batch"])
@pytest.mark.parametrize("split", ["random", "equal"])
def test_wider_preserves_the_function(norm, split):
    blocks = [block(6, "gelu", norm), block(4, "selu", norm, dropout=0.3, skip=0), block(5, "silu", norm, skip=1)]
    parent = network(blocks)
    for index in range(3):
        new_blocks, child = net2wider(parent, blocks, index, 11, rng=index, split=split)
        assert new_blocks[index]["width"] == 11 and blocks[index]["width"] != 11
        assert child.blocks[index][0].out_features == 11
        assert_same_function(parent, child)


@pytest.mark.parametrize("activation", ["relu", "gelu", "silu", "selu", "mish"])
@pytest.mark.parametrize("position", [1, 2])
def test_deeper_preserves_the_function_after_every_activation(activation, position):
    blocks = [block(6, activation, "batch"), block(4, activation, skip=0)]
    parent = network(blocks)
    new_blocks, child = net2deeper(parent, blocks, position)
    assert len(new_blocks) == 3 and new_blocks[position] == block(blocks[position - 1]["width"])
    assert_same_function(parent, child)


def test_deeper_renumbers_the_skips_past_the_new_block():
    blocks = [block(6), block(4), block(5, skip=1), block(3, skip=2)]
    new_blocks, child = net2deeper(network(blocks), blocks, 1)
    # node 1 keeps its number (the new block reads it); nodes after it move up by one
    assert [b["skip"] for b in new_blocks] == [None, None, None, 1, 3]
    assert_same_function(network(blocks), child)


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("blocks", [[], [block(6, "selu"), block(4, "gelu", "batch", skip=0)]], ids=["linear", "deep"])
def test_deeper_on_the_input_preserves_the_function_even_of_a_linear_model(blocks, wide):
    from sknas.nn.builders import DenseDAG

    torch.manual_seed(0)
    parent = DenseDAG(5, 3, blocks, wide=wide).eval()
    new_blocks, child = net2deeper(parent, blocks, 0, min_width=16)
    # relu([x, -x]) padded to 16 units; the skip from the input still reads node 0
    assert new_blocks[0] == block(16) and [b["skip"] for b in new_blocks[1:]] == [b["skip"] for b in blocks]
    assert (child.wide is not None) == wide and len(child.blocks) == len(blocks) + 1
    assert_same_function(parent, child)
    assert net2deeper(parent, blocks, 0)[0][0]["width"] == 10  # twice the input's width by default


def test_skip_preserves_the_function():
    blocks = [block(6, "mish", "layer"), block(4, "selu"), block(5, "gelu", "batch")]
    parent = network(blocks)
    for k, source in ((1, 0), (2, 1), (2, 0)):
        new_blocks, child = add_skip(parent, blocks, k, source)
        assert new_blocks[k]["skip"] == source
        assert_same_function(parent, child)


def test_random_chains_of_morphs_preserve_the_function():
    space = MLPSpace(max_blocks=4, min_width=4, max_width=32)
    rng = np.random.default_rng(0)
    for trial in range(8):
        blocks = space.blocks(space.sample(rng))
        parent = network(blocks, seed=trial)
        current, net = blocks, parent
        kinds = []
        for _ in range(6):
            kind = ("wider", "deeper", "skip")[int(rng.integers(3))]
            if kind == "wider":
                options = [i for i, b in enumerate(current) if b["norm"] != "layer"]
                if not options:
                    continue
                i = int(rng.choice(options))
                current, net = net2wider(net, current, i, current[i]["width"] + int(rng.integers(1, 9)), rng=rng)
            elif kind == "deeper":  # position 0: on the raw input (the only one in a linear model)
                current, net = net2deeper(net, current, int(rng.integers(0, len(current) + 1)))
            else:
                options = [k for k in range(1, len(current)) if current[k]["skip"] is None]
                if not options:
                    continue
                k = int(rng.choice(options))
                current, net = add_skip(net, current, k, int(rng.integers(k)))
            kinds.append(kind)
        assert len(current) >= len(blocks)
        assert_same_function(parent, net)
        # the morphed network is the one its specifications describe
        assert [b.out_features for b in (m[0] for m in net.blocks)] == [b["width"] for b in current]


def test_random_split_breaks_the_symmetry_of_copied_units():
    blocks = [block(2), block(3)]
    parent = network(blocks)
    _, child = net2wider(parent, blocks, 0, 4, rng=0, split="random")
    rows = child.blocks[0][0].weight
    columns = child.blocks[1][0].weight
    copies = [(i, j) for i in range(4) for j in range(i + 1, 4) if torch.equal(rows[i], rows[j])]
    assert copies and all(not torch.allclose(columns[:, i], columns[:, j]) for i, j in copies)


def test_what_cannot_be_morphed_is_refused():
    blocks = [block(6, norm="layer"), block(4, skip=0)]
    net = network(blocks)
    with pytest.raises(ValueError, match="layer normalization"):
        net2wider(net, blocks, 0, 8)
    with pytest.raises(ValueError, match="must exceed"):
        net2wider(net, blocks, 1, 4)
    with pytest.raises(ValueError, match="position"):
        net2deeper(net, blocks, 3)
    with pytest.raises(ValueError, match="already has a skip"):
        add_skip(net, blocks, 1, 0)
