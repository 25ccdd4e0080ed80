"""Hierarchical search space (Liu et al. 2018): primitives -> motifs -> network cell.

Like :mod:`sknas.space.cell`, the same space serves dense rows and images
(``input_shape``), and the torch modules it builds live here with it.
"""

from __future__ import annotations

import math

from torch import nn

from ..nn.ops import SepConv, check_operations, make_op
from .base import SearchSpace
from .cell import (
    as_images, check_final_cells, check_int, check_n_inputs, head, network_size, parse_input_shape,
    plural_cells, size_entry, size_params, size_settings, stem, valid_only,
)
from .params import Categorical

__all__ = ["HierarchicalSpace", "EdgeDAG", "HierarchicalNetwork", "reduction_points"]

DENSE_PRIMITIVES = ("linear", "glu", "skip_connect", "relu", "layer_norm")
#: The six level-1 primitives of Liu et al. (2018).
IMAGE_PRIMITIVES = ("conv_1x1", "dw_conv_3x3", "sep_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "skip_connect")


def reduction_points(n_cells):
    """Cells preceded by a reduction: ``ceil(n / 3)`` and ``ceil(2n / 3)``, when inside the stack.

    They split the cells into (up to) three stages, as in Liu et al. (2018).
    """
    return sorted({math.ceil(n_cells / 3), math.ceil(2 * n_cells / 3)} & set(range(1, n_cells)))


class HierarchicalSpace(SearchSpace):
    """Hierarchical representations of Liu et al. (2018), for dense rows or images.

    Three levels of DAGs. Level 1 is a set of primitive operations (see
    :data:`sknas.nn.ops.OPS`). Level 2 is ``n_motifs`` motifs: each a DAG of
    ``motif_nodes`` nodes whose edge ``i -> j`` (``i < j``) is a primitive
    or ``"none"`` (no edge). Level 3 is the cell: a DAG of ``cell_nodes``
    nodes whose edges are motifs or ``"none"``. In every DAG node 0 is the
    input, node ``j`` is the sum of its incoming edges, and the last node is
    the output. Every operation keeps the width, so any primitive fits any
    edge and any motif any level-3 edge.

    The network is a stem (3x3 convolution for images, linear layer for
    rows) to ``width`` channels, ``n_cells`` copies of the level-3 cell
    (each with its own weights) and a head (global average pooling and a
    linear layer for images; a linear layer for rows). For images a
    reduction (ReLU, stride-2 separable 3x3 convolution to twice the
    channels, batch norm) precedes cells ``ceil(n_cells / 3)`` and
    ``ceil(2 * n_cells / 3)`` (those inside the stack), splitting it into up
    to three stages as in the paper.

    Parameters
    ----------
    input_shape : tuple (C, H, W) or None, default=None
        ``None``: dense rows; ``(C, H, W)``: each row is a flattened image
        (4-D input is accepted too).
    n_motifs : int, default=3
        Level-2 motifs (the paper uses 6).
    motif_nodes : int, default=3
        Nodes of a motif, input and output included (the paper uses 4).
    cell_nodes : int, default=4
        Nodes of the level-3 cell, input and output included (the paper uses 5).
    n_cells : int or (int, int), default=None
        Stacked cells, fixed (int) or searched (``(low, high)``). ``None``:
        ``(1, 2)`` for rows, ``(1, 3)`` for images.
    width : int or (int, int), default=None
        Channels (features) of the first stage, fixed or searched (log
        scale). ``None``: ``(32, 256)`` for rows, ``(8, 32)`` for images.
    primitives : tuple of str, default=None
        Level-1 operations. ``None``: the paper's six for images
        (``conv_1x1``, ``dw_conv_3x3``, ``sep_conv_3x3``, ``max_pool_3x3``,
        ``avg_pool_3x3``, ``skip_connect`` (the identity)); for rows
        ``("linear", "glu", "skip_connect", "relu", "layer_norm")``.
    final_cells : int or None, default=None
        Cells of the final network built by ``build(..., final=True)``
        (the search/evaluation depth gap); ``None``: the genotype's.

    Notes
    -----
    Parameter names: ``n_cells`` and ``width`` when searched, then
    ``motif{m}_{i}to{j}`` for each motif ``m`` and edge ``i -> j``, then
    ``cell_{i}to{j}`` for each level-3 edge (values ``"motif{m}"`` or
    ``"none"``).

    Simplifications: nodes merge by sum instead of the paper's depthwise
    concatenation (so widths never change inside a cell); the chain edges
    ``j - 1 -> j`` cannot be ``"none"``, so every node is reachable and
    every motif and cell depends on its input (the paper guarantees this
    by starting evolution from identity chains); every level-1 primitive
    carries its own ReLU/batch norm (as in :data:`~sknas.nn.ops.OPS`).

    One-shot search (design, not implemented here): a supernet replaces
    every level-2 edge ``motif{m}_{i}to{j}`` by a mixed edge over its
    choices and every level-3 edge ``cell_{i}to{j}`` by a mixed edge over
    the (mixed) motifs and ``"none"``; one weight vector per parameter,
    named like the parameter. ``derive(alphas)`` sets each parameter to the
    argmax of its weight vector (its choices are ``Categorical.choices`` of
    that parameter, ``"none"`` included except on chain edges), then
    :meth:`validate`.

    References
    ----------
    Liu, Simonyan, Vinyals, Fernando, Kavukcuoglu. "Hierarchical
    Representations for Efficient Architecture Search." ICLR 2018.

    Examples
    --------
    >>> import numpy as np, torch
    >>> space = HierarchicalSpace()
    >>> g = space.sample(np.random.default_rng(0))
    >>> space.build(g, 5, 2)(torch.randn(3, 5)).shape
    torch.Size([3, 2])
    """

    def __init__(self, input_shape=None, n_motifs=3, motif_nodes=3, cell_nodes=4, n_cells=None, width=None,
                 primitives=None, final_cells=None):
        self.input_shape = input_shape
        self.n_motifs = n_motifs
        self.motif_nodes = motif_nodes
        self.cell_nodes = cell_nodes
        self.n_cells = n_cells
        self.width = width
        self.primitives = primitives
        self.final_cells = final_cells

    # -- settings ------------------------------------------------------------------
    def _settings(self):
        owner = type(self).__name__
        shape = parse_input_shape(owner, self.input_shape)
        image = shape is not None
        for name, value, low in (("n_motifs", self.n_motifs, 1), ("motif_nodes", self.motif_nodes, 2),
                                 ("cell_nodes", self.cell_nodes, 2)):
            check_int(owner, name, value, low)
        check_final_cells(owner, self.final_cells)
        prims = self.primitives if self.primitives is not None else (IMAGE_PRIMITIVES if image else DENSE_PRIMITIVES)
        prims = check_operations(owner, prims, "image" if image else "dense")
        if prims == ("none",):
            raise ValueError(f"{owner}: primitives need an operation other than 'none'. Got {prims!r} instead.")
        n_cells, width = size_settings(owner, self.n_cells, self.width,
                                       ((1, 3), (8, 32)) if image else ((1, 2), (32, 256)))
        return {"shape": shape, "n_cells": n_cells, "width": width, "primitives": prims}

    @staticmethod
    def motif_param(motif, i, j):
        """Name of the level-2 edge ``i -> j`` of motif ``motif``."""
        return f"motif{motif}_{i}to{j}"

    @staticmethod
    def cell_param(i, j):
        """Name of the level-3 edge ``i -> j``."""
        return f"cell_{i}to{j}"

    @staticmethod
    def _edges(n_nodes):
        return [(i, j) for j in range(1, n_nodes) for i in range(j)]

    def _params(self):
        s = self._settings()
        params = size_params(s)
        chain = tuple(p for p in s["primitives"] if p != "none")
        for m in range(self.n_motifs):
            for i, j in self._edges(self.motif_nodes):
                params.append(Categorical(self.motif_param(m, i, j), chain if i == j - 1 else ("none",) + chain))
        motifs = tuple(f"motif{m}" for m in range(self.n_motifs))
        for i, j in self._edges(self.cell_nodes):
            params.append(Categorical(self.cell_param(i, j), motifs if i == j - 1 else ("none",) + motifs))
        return params

    # -- reading a genotype ----------------------------------------------------------
    network_size = network_size

    def motif_edges(self, genotype, motif):
        """The present edges ``(i, j, primitive)`` of one motif."""
        return [(i, j, genotype[self.motif_param(motif, i, j)]) for i, j in self._edges(self.motif_nodes)
                if genotype[self.motif_param(motif, i, j)] != "none"]

    def cell_edges(self, genotype):
        """The present level-3 edges ``(i, j, motif_index)``."""
        return [(i, j, int(genotype[self.cell_param(i, j)][len("motif"):])) for i, j in self._edges(self.cell_nodes)
                if genotype[self.cell_param(i, j)] != "none"]

    # -- building -------------------------------------------------------------------
    def build(self, genotype, n_inputs, n_outputs, final=False):
        """The network of ``genotype``; ``final=True`` stacks ``final_cells`` cells."""
        genotype = self.validate(genotype)
        shape = self._settings()["shape"]
        check_n_inputs(type(self).__name__, shape, n_inputs)
        n_cells, width = self.network_size(genotype, final=final)
        motifs = {m: self.motif_edges(genotype, m) for m in range(self.n_motifs)}
        level3 = self.cell_edges(genotype)

        def make_motif(m, C):
            return EdgeDAG(self.motif_nodes, [(i, j, make_op(op, C)) for i, j, op in motifs[m]])

        def make_cell(C):
            return EdgeDAG(self.cell_nodes, [(i, j, make_motif(m, C)) for i, j, m in level3])

        return HierarchicalNetwork(n_inputs, n_outputs, input_shape=shape, width=width, n_cells=n_cells,
                                   make_cell=make_cell)

    # -- reading it as a person -----------------------------------------------------
    @staticmethod
    def _node_lines(n_nodes, edges, label):
        lines = []
        for j in range(1, n_nodes):
            terms = [f"{label(op)}(n{i})" for i, jj, op in edges if jj == j]
            lines.append(f"n{j} = " + " + ".join(terms))
        return lines

    def describe(self, genotype):
        """A multi-line text form of ``genotype``: the network, each motif, then the level-3 cell."""
        genotype = self.validate(genotype)
        shape = self._settings()["shape"]
        n_cells, width = self.network_size(genotype)
        mode = "dense rows" if shape is None else f"images {shape}"
        head_line = f"HierarchicalSpace on {mode}: {plural_cells(n_cells)} of width {width}"
        if shape is not None:
            points = reduction_points(n_cells)
            head_line += f" (reductions before cells {points})" if points else " (no reduction)"
        lines = [head_line]
        if self.final_cells is not None:
            lines.append(f"final network: {plural_cells(self.final_cells)}")
        used = {m for _, _, m in self.cell_edges(genotype)}
        lines.append(
            f"level-2 motifs (node 0 is the input, n{self.motif_nodes - 1} the output; a node sums its inputs):"
        )
        for m in range(self.n_motifs):
            lines.append(f"  motif{m}:" + ("" if m in used else " (unused)"))
            motif_lines = self._node_lines(self.motif_nodes, self.motif_edges(genotype, m), str)
            lines += ["    " + line for line in motif_lines]
        lines.append(f"level-3 cell (node 0 is the input, n{self.cell_nodes - 1} the output):")
        cell_lines = self._node_lines(self.cell_nodes, self.cell_edges(genotype), lambda m: f"motif{m}")
        lines += ["  " + line for line in cell_lines]
        return "\n".join(lines)

    def graphs(self, genotype):
        """The used motifs and the level-3 cell as graphs: dicts with ``title``, ``nodes``, ``edges``."""
        genotype = self.validate(genotype)
        cell = self.cell_edges(genotype)
        out = []
        for m in sorted({m for _, _, m in cell}):
            out.append({"title": f"motif{m}", "nodes": [f"n{k}" for k in range(self.motif_nodes)],
                        "edges": [(f"n{i}", f"n{j}", op) for i, j, op in self.motif_edges(genotype, m)]})
        out.append({"title": "level-3 cell", "nodes": [f"n{k}" for k in range(self.cell_nodes)],
                    "edges": [(f"n{i}", f"n{j}", f"motif{m}") for i, j, m in cell]})
        return out

    # -- defaults -------------------------------------------------------------------
    def portfolio(self):
        """A residual motif of the strongest primitive chained with two simpler motifs."""
        s = self._settings()
        if s["shape"] is not None:
            motif_chains = [["sep_conv_3x3"], ["conv_1x1", "dw_conv_3x3"], ["max_pool_3x3", "conv_1x1"]]
            n_cells, width = 2, 16
        else:
            motif_chains = [["linear"], ["glu"], ["linear", "relu"]]
            n_cells, width = 1, 64
        last_m, last_c = self.motif_nodes - 1, self.cell_nodes - 1
        g = size_entry(s, n_cells, width)
        for m in range(self.n_motifs):
            chain = motif_chains[m % len(motif_chains)]
            for i, j in self._edges(self.motif_nodes):
                if i == j - 1:
                    g[self.motif_param(m, i, j)] = chain[i % len(chain)]
                else:
                    residual = m == 0 and (i, j) == (0, last_m)
                    g[self.motif_param(m, i, j)] = "skip_connect" if residual else "none"
        for i, j in self._edges(self.cell_nodes):
            g[self.cell_param(i, j)] = f"motif{i % min(2, self.n_motifs)}" if i == j - 1 else "none"
        if last_c >= 2:
            g[self.cell_param(0, last_c)] = f"motif{min(2, self.n_motifs - 1)}"
        return valid_only(self, [g])


# -- the modules -------------------------------------------------------------------------
class EdgeDAG(nn.Module):
    """A DAG whose edges are modules: node 0 is the input, node ``j`` sums its incoming edges,
    the last node is the output. Used for both motifs (edges are primitives) and level-3 cells
    (edges are motifs).

    Parameters
    ----------
    n_nodes : int
    edges : list of (i, j, module)
        With ``i < j``; every node ``j >= 1`` needs at least one incoming edge.
    """

    def __init__(self, n_nodes, edges):
        super().__init__()
        edges = sorted(edges, key=lambda e: (e[1], e[0]))  # forward visits nodes in order
        targets = {j for _, j, _ in edges}
        missing = [j for j in range(1, n_nodes) if j not in targets]
        if missing:
            raise ValueError(f"EdgeDAG: nodes {missing} have no incoming edge.")
        self.n_nodes = n_nodes
        self.links = [(i, j) for i, j, _ in edges]
        self.ops = nn.ModuleList(op for _, _, op in edges)

    def forward(self, x):
        states = [x] + [None] * (self.n_nodes - 1)
        for (i, j), op in zip(self.links, self.ops):
            out = op(states[i])
            states[j] = out if states[j] is None else states[j] + out
        return states[-1]


class HierarchicalNetwork(nn.Module):
    """Stem, ``n_cells`` cells with reductions between stages (images), head.

    ``make_cell(C) -> module`` builds one width-preserving cell of ``C`` channels.
    """

    def __init__(self, n_inputs, n_outputs, *, input_shape, width, n_cells, make_cell):
        super().__init__()
        self.input_shape = input_shape
        self.stem = stem(input_shape, n_inputs, width)
        points = reduction_points(n_cells) if input_shape is not None else []
        layers, C = [], width
        for k in range(n_cells):
            if k in points:
                layers.append(SepConv(C, 2 * C, 3, 2, 1))
                C *= 2
            layers.append(make_cell(C))
        self.cells = nn.Sequential(*layers)
        self.head = head(input_shape, C, n_outputs)

    def forward(self, x):
        return self.head(self.cells(self.stem(as_images(x, self.input_shape))))
