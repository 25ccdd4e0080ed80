"""The torch modules of cell-based networks (NASNet / DARTS): a discrete cell and the stack of cells.

:class:`~sknas.space.cell.CellSpace` builds them from a genotype: it reads the
nodes of each cell type and the network's size from the genotype and passes
them here as plain values (these modules never see a space). The DARTS
supernet (:class:`~sknas.nn.supernet.CellSuperNet`) reuses :class:`CellNetwork`
with mixed cells, and :class:`~sknas.space.hierarchical.HierarchicalSpace`
reuses :func:`stem`, :func:`head` and :func:`as_images`.
"""

from __future__ import annotations

import torch
from torch import nn

from .ops import FactorizedReduce, ReLUConvBN, ReLULinearBN, make_op

__all__ = ["Cell", "CellNetwork", "as_images", "head", "stem"]


def stem(input_shape, n_inputs, channels):
    """First layer: a 3x3 convolution for images, a linear layer for dense rows."""
    if input_shape is None:
        return nn.Sequential(nn.Linear(n_inputs, channels, bias=False), nn.BatchNorm1d(channels))
    return nn.Sequential(
        nn.Conv2d(input_shape[0], channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
    )


def head(input_shape, channels, n_outputs):
    """Last layer: global average pooling then linear for images; linear for dense rows."""
    if input_shape is None:
        return nn.Linear(channels, n_outputs)
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_outputs))


def as_images(x, input_shape):
    """Rows ``(n, C*H*W)`` reshaped to ``(n, C, H, W)``; 4-D input is returned as is."""
    if input_shape is None or x.dim() == 4:
        return x
    return x.reshape(x.shape[0], *input_shape)


class Cell(nn.Module):
    """One discrete cell: two preprocessed inputs, intermediate nodes, concatenated output.

    Parameters
    ----------
    nodes : list of (in0, op0, in1, op1, combine)
        As read by :meth:`sknas.space.cell.CellSpace.cell_nodes`.
    C_pp, C_p : int
        Channels (features) of the outputs of the two previous cells.
    C : int
        Channels of every node of this cell.
    reduction : bool
        Operations on the cell inputs take stride 2 (images only).
    reduction_prev : bool
        The previous cell reduced, so ``c[k-2]`` has twice this cell's
        input resolution and is factorized-reduced on the way in.
    image : bool
        Images (convolutions) or dense rows (linear layers).
    affine : bool, default=True
    """

    def __init__(self, nodes, C_pp, C_p, C, reduction, reduction_prev, image, affine=True):
        super().__init__()
        if image:
            self.preprocess0 = (FactorizedReduce(C_pp, C, affine=affine) if reduction_prev
                                else ReLUConvBN(C_pp, C, 1, 1, 0, affine=affine))
            self.preprocess1 = ReLUConvBN(C_p, C, 1, 1, 0, affine=affine)
        else:
            self.preprocess0 = ReLULinearBN(C_pp, C, affine=affine)
            self.preprocess1 = ReLULinearBN(C_p, C, affine=affine)
        self.inputs = [(in0, in1) for in0, _, in1, _, _ in nodes]
        self.edges = nn.ModuleList()
        self.combiners = nn.ModuleList()
        for in0, op0, in1, op1, comb in nodes:
            for i, op in ((in0, op0), (in1, op1)):
                stride = 2 if reduction and i < 2 else 1
                self.edges.append(make_op(op, C, stride, affine))
            if comb == "concat":
                self.combiners.append(ReLUConvBN(2 * C, C, 1, 1, 0, affine=affine) if image
                                      else ReLULinearBN(2 * C, C, affine=affine))
            else:
                self.combiners.append(None)
        self.out_channels = len(nodes) * C

    def forward(self, s0, s1):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k, (in0, in1) in enumerate(self.inputs):
            a = self.edges[2 * k](states[in0])
            b = self.edges[2 * k + 1](states[in1])
            combiner = self.combiners[k]
            states.append(a + b if combiner is None else combiner(torch.cat([a, b], dim=1)))
        return torch.cat(states[2:], dim=1)


class CellNetwork(nn.Module):
    """Stem, a stack of cells, head (see :class:`sknas.space.cell.CellSpace`).

    Parameters
    ----------
    n_inputs, n_outputs : int
    input_shape : tuple (C, H, W) or None
        Images (rows are reshaped) or dense rows.
    width : int
        Node width of the first stage; reduction cells double it.
    cell_kinds : list of {"normal", "reduce"}
        One entry per cell.
    make_cell : callable
        ``make_cell(kind, C_pp, C_p, C, reduction_prev) -> module`` with a
        ``forward(s0, s1)`` and an ``out_channels`` attribute. A supernet
        passes one that builds mixed cells; the skeleton stays the same.
    stem_multiplier : int or None, default=None
        Stem channels are ``stem_multiplier * width``; ``None``: 3 for
        images (as in DARTS), 1 for rows.
    """

    def __init__(self, n_inputs, n_outputs, *, input_shape, width, cell_kinds, make_cell, stem_multiplier=None):
        super().__init__()
        self.input_shape = input_shape
        if stem_multiplier is None:
            stem_multiplier = 1 if input_shape is None else 3
        C_stem = stem_multiplier * width
        self.stem = stem(input_shape, n_inputs, C_stem)
        C_pp, C_p, C = C_stem, C_stem, width
        reduction_prev = False
        self.cells = nn.ModuleList()
        for kind in cell_kinds:
            if kind == "reduce":
                C *= 2
            cell = make_cell(kind, C_pp, C_p, C, reduction_prev)
            self.cells.append(cell)
            reduction_prev = kind == "reduce"
            C_pp, C_p = C_p, cell.out_channels
        self.head = head(input_shape, C_p, n_outputs)

    def forward(self, x):
        s0 = s1 = self.stem(as_images(x, self.input_shape))
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1)
