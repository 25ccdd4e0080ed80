"""Function-preserving transformations (network morphisms) of :class:`~sknas.nn.builders.DenseDAG`.

Each transformation takes a network and its block specifications (the
dicts :meth:`sknas.space.mlp.MLPSpace.blocks` returns: ``width``,
``activation``, ``norm``, ``dropout``, ``skip``) and returns new
specifications and a new network whose outputs (in evaluation mode) equal
the old one's: a child inherits its parent's function and keeps training
from there instead of from scratch.

- :func:`net2wider` (Net2WiderNet): a block gets more units, copies of
  random existing ones; the consumers' weights of each copied unit are split
  among its copies (randomly, which breaks the copies' symmetry and still
  sums to the original weight).
- :func:`net2deeper` (Net2DeeperNet): a block initialized to the identity is
  inserted. Its activation is ReLU and the identity holds because ReLU is
  the identity on the non-negative outputs of a previous ReLU; after the
  other activations of the space, which are all bounded below, the new
  block adds a constant that makes its input non-negative and the next
  layer's bias subtracts it again (``relu(x + c) - c = x`` for ``x >= -c``).
  On the raw input (``position=0``, which also deepens a linear model with
  no block), which is unbounded, the new block has twice the input's width,
  ``[x, -x]`` through ReLU, and its consumer reads ``relu(x) - relu(-x) = x``.
- :func:`add_skip`: a block gets a skip (concatenated input) from an earlier
  node, with zero weights.

Limits: a block with layer normalization cannot be widened (its statistics
depend on the width, so copying units changes its output); an inserted
block has no normalization and no dropout, and on the raw input twice the
input's width; preservation is exact in evaluation mode (dropout and batch
statistics act only in training). The networks are plain DAGs (no feature
scaling, embeddings or BatchEnsemble); a wide part (``wide=True``) is kept.

References
----------
Chen, Goodfellow, Shlens. "Net2Net: Accelerating Learning via Knowledge
Transfer." ICLR 2016.
Wei, Wang, Rui, Chen. "Network Morphism." ICML 2016.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .builders import DenseDAG

__all__ = ["ACTIVATION_LOWER_BOUNDS", "add_skip", "net2deeper", "net2wider"]

#: Infimum of each activation of :data:`sknas.nn.ops.ACTIVATIONS` (rounded down).
ACTIVATION_LOWER_BOUNDS = {"relu": 0.0, "gelu": -0.1701, "silu": -0.2785, "mish": -0.3089, "selu": -1.7581}


def _n_io(net):
    n_inputs = net.node_widths[0] if hasattr(net, "node_widths") else net.blocks[0][0].in_features
    return n_inputs, net.head.out_features


def _widths(net, blocks):
    return [_n_io(net)[0]] + [spec["width"] for spec in blocks]


def _consumers(blocks, node):
    """Where node ``node`` is read: ``(block index or "head", "main" or "skip")``."""
    out = []
    n = len(blocks)
    if node < n:
        out.append((node, "main"))
    for k, spec in enumerate(blocks):
        if spec.get("skip") == node:
            out.append((k, "skip"))
    if node == n:
        out.append(("head", "main"))
    return out


def _column(widths, blocks, consumer, part):
    if consumer == "head" or part == "main":
        return 0
    return widths[consumer]


def _weight_key(consumer):
    return "head.weight" if consumer == "head" else f"blocks.{consumer}.0.weight"


def _bias_key(consumer):
    return "head.bias" if consumer == "head" else f"blocks.{consumer}.0.bias"


def _rebuild(net, blocks, state):
    n_inputs, n_outputs = _n_io(net)
    child = DenseDAG(n_inputs, n_outputs, blocks, wide=getattr(net, "wide", None) is not None)
    child.load_state_dict(state)
    child.train(net.training)
    return child


def net2wider(net, blocks, block, new_width, rng=None, split="random"):
    """Widen block ``block`` to ``new_width`` units, preserving the network's function.

    Parameters
    ----------
    net : DenseDAG
    blocks : list of dict
        The specifications ``net`` was built from.
    block : int
        Index of the block to widen; its norm must not be ``"layer"``.
    new_width : int
        More than the block's current width.
    rng : numpy Generator or int or None
        Picks the units to copy and the random split of their weights.
    split : {"random", "equal"}, default="random"
        How the outgoing weights of a copied unit are shared among its
        copies: random shares summing to one, or equal shares (Net2Net).

    Returns
    -------
    (list of dict, DenseDAG)
    """
    rng = np.random.default_rng(rng)
    spec = blocks[block]
    old = spec["width"]
    if new_width <= old:
        raise ValueError(f"net2wider: new_width must exceed the current width {old}. Got {new_width!r} instead.")
    if spec["norm"] == "layer":
        raise ValueError("net2wider: a block with layer normalization cannot be widened function-preservingly.")
    if split not in ("random", "equal"):
        raise ValueError(f"net2wider: split must be 'random' or 'equal'. Got {split!r} instead.")
    mapping = np.concatenate([np.arange(old), rng.integers(old, size=new_width - old)])
    shares = np.empty(new_width)
    for unit in range(old):
        copies = np.flatnonzero(mapping == unit)
        shares[copies] = rng.dirichlet(np.ones(len(copies))) if split == "random" else 1.0 / len(copies)
    index = torch.as_tensor(mapping, dtype=torch.long)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    prefix = f"blocks.{block}"
    state[f"{prefix}.0.weight"] = state[f"{prefix}.0.weight"][index]
    state[f"{prefix}.0.bias"] = state[f"{prefix}.0.bias"][index]
    if spec["norm"] == "batch":
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.1.{name}"] = state[f"{prefix}.1.{name}"][index]
    widths = _widths(net, blocks)
    node = block + 1
    share = torch.as_tensor(shares, dtype=state[f"{prefix}.0.weight"].dtype)
    for consumer, part in _consumers(blocks, node):
        key = _weight_key(consumer)
        weight = state[key]
        start = _column(widths, blocks, consumer, part)
        columns = weight[:, start:start + old][:, index] * share
        state[key] = torch.cat([weight[:, :start], columns, weight[:, start + old:]], dim=1)
    new_blocks = copy.deepcopy(blocks)
    new_blocks[block]["width"] = int(new_width)
    return new_blocks, _rebuild(net, new_blocks, state)


def net2deeper(net, blocks, position, min_width=1):
    """Insert an identity block as block ``position`` (reading node ``position``).

    The new block has ReLU, no normalization, no dropout and no skip; skips
    that pointed past the insertion point are renumbered. ``position`` is in
    ``0 .. len(blocks)``: after an existing block, the new block has that
    block's width; at 0 (on the raw input, and the only position in a
    linear model with no block) it has twice the input's width, or
    ``min_width`` when that is more (the extra units have zero weights).

    Returns
    -------
    (list of dict, DenseDAG)
    """
    n = len(blocks)
    if not 0 <= position <= n:
        raise ValueError(f"net2deeper: position must be in [0, {n}]. Got {position!r} instead.")
    if position == 0:
        return _deeper_on_input(net, blocks, max(2 * _n_io(net)[0], int(min_width)))
    previous = blocks[position - 1]
    if previous["activation"] not in ACTIVATION_LOWER_BOUNDS:
        raise ValueError(f"net2deeper: no known lower bound for the activation {previous['activation']!r}.")
    shift = 0.0 if previous["activation"] == "relu" else -ACTIVATION_LOWER_BOUNDS[previous["activation"]] + 0.01
    width = previous["width"]
    state, after = _shift_blocks(net.state_dict(), blocks, position)
    dtype = state["head.weight"].dtype
    state[f"blocks.{position}.0.weight"] = torch.eye(width, dtype=dtype)
    state[f"blocks.{position}.0.bias"] = torch.full((width,), shift, dtype=dtype)
    new_blocks = copy.deepcopy(blocks[:position])
    new_blocks.append({"width": width, "activation": "relu", "norm": "none", "dropout": 0.0, "skip": None})
    new_blocks += after
    if shift:
        # the consumer of the new node reads (old node + shift) on its main columns
        key_w, key_b = ("head.weight", "head.bias") if position == n else (
            f"blocks.{position + 1}.0.weight", f"blocks.{position + 1}.0.bias")
        state[key_b] = state[key_b] - shift * state[key_w][:, :width].sum(dim=1)
    return new_blocks, _rebuild(net, new_blocks, state)


def _shift_blocks(state, blocks, position):
    """``state`` with blocks ``>= position`` renumbered one up; the specs after ``position`` with their skips too."""
    out = {}
    for key, value in state.items():
        if key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            index = int(index)
            out[f"blocks.{index + 1 if index >= position else index}.{rest}"] = value.clone()
        else:
            out[key] = value.clone()
    after = []
    for spec in copy.deepcopy(blocks[position:]):
        if spec.get("skip") is not None and spec["skip"] > position:
            spec["skip"] += 1
        after.append(spec)
    return out, after


def _deeper_on_input(net, blocks, width):
    """A first block ``relu([x, -x])`` (zero-padded to ``width``) whose consumer reads ``relu(x) - relu(-x) = x``."""
    d = _n_io(net)[0]
    state, after = _shift_blocks(net.state_dict(), blocks, 0)
    dtype = state["head.weight"].dtype
    weight = torch.zeros(width, d, dtype=dtype)
    weight[:d] = torch.eye(d, dtype=dtype)
    weight[d:2 * d] = -torch.eye(d, dtype=dtype)
    state["blocks.0.0.weight"] = weight
    state["blocks.0.0.bias"] = torch.zeros(width, dtype=dtype)
    # the consumer of the new node: the old first block's main columns, or the head of a linear model
    key = "head.weight" if not blocks else "blocks.1.0.weight"
    consumer = state[key]
    main = consumer[:, :d]
    padding = consumer.new_zeros(consumer.shape[0], width - 2 * d)
    state[key] = torch.cat([main, -main, padding, consumer[:, d:]], dim=1)
    new_blocks = [{"width": int(width), "activation": "relu", "norm": "none", "dropout": 0.0, "skip": None}] + after
    return new_blocks, _rebuild(net, new_blocks, state)


def add_skip(net, blocks, block, source):
    """Give block ``block`` (without a skip) a skip from node ``source < block``, with zero weights.

    Returns
    -------
    (list of dict, DenseDAG)
    """
    if not 1 <= block < len(blocks):
        raise ValueError(f"add_skip: block must be in [1, {len(blocks) - 1}]. Got {block!r} instead.")
    if blocks[block].get("skip") is not None:
        raise ValueError(f"add_skip: block {block} already has a skip (from node {blocks[block]['skip']}).")
    if not 0 <= source < block:
        raise ValueError(f"add_skip: source must be a node in [0, {block - 1}]. Got {source!r} instead.")
    widths = _widths(net, blocks)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    key = f"blocks.{block}.0.weight"
    weight = state[key]
    state[key] = torch.cat([weight, weight.new_zeros(weight.shape[0], widths[source])], dim=1)
    new_blocks = copy.deepcopy(blocks)
    new_blocks[block]["skip"] = int(source)
    return new_blocks, _rebuild(net, new_blocks, state)
