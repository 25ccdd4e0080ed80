"""Torch modules built from genotypes of the entire-structure spaces."""

from __future__ import annotations

import torch
from torch import nn

from .ops import make_activation, make_norm

__all__ = ["DenseDAG", "ResidualMLP", "count_parameters"]


def count_parameters(module):
    return int(sum(p.numel() for p in module.parameters()))


class DenseBlock(nn.Sequential):
    """Linear -> normalization -> activation -> dropout."""

    def __init__(self, n_in, width, activation, norm, dropout):
        super().__init__(
            nn.Linear(n_in, width),
            make_norm(norm, width),
            make_activation(activation),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
        )


class DenseDAG(nn.Module):
    """A DAG of dense blocks.

    Node 0 is the input; node ``i + 1`` is the output of block ``i``. Block
    ``i`` reads node ``i`` and, when ``skips[i]`` names an earlier node ``j``,
    the concatenation of nodes ``i`` and ``j`` (a DenseNet-style skip that
    needs no width matching). A linear head maps the last node to the outputs.

    Parameters
    ----------
    n_inputs, n_outputs : int
    blocks : list of dict
        Each with ``width``, ``activation``, ``norm``, ``dropout`` and
        ``skip`` (``None`` or an earlier node index).
    """

    def __init__(self, n_inputs, n_outputs, blocks):
        super().__init__()
        widths = [n_inputs]
        self.skips = []
        layers = []
        for i, spec in enumerate(blocks):
            skip = spec.get("skip")
            if skip is not None and not 0 <= skip < i:
                raise ValueError(f"Block {i}: skip must name a node in [0, {i - 1}]. Got {skip!r} instead.")
            n_in = widths[i] + (widths[skip] if skip is not None else 0)
            layers.append(DenseBlock(n_in, spec["width"], spec["activation"], spec["norm"], spec["dropout"]))
            widths.append(spec["width"])
            self.skips.append(skip)
        self.blocks = nn.ModuleList(layers)
        self.head = nn.Linear(widths[-1], n_outputs)

    def forward(self, x):
        nodes = [x]
        for block, skip in zip(self.blocks, self.skips):
            h = nodes[-1] if skip is None else torch.cat([nodes[-1], nodes[skip]], dim=1)
            nodes.append(block(h))
        return self.head(nodes[-1])


class ResidualBlock(nn.Module):
    """``x + Dropout(Linear(Dropout(Act(Linear(Norm(x))))))`` (Gorishniy et al., 2021)."""

    def __init__(self, width, hidden, activation, norm, hidden_dropout, residual_dropout):
        super().__init__()
        self.norm = make_norm(norm, width)
        self.linear1 = nn.Linear(width, hidden)
        self.activation = make_activation(activation)
        self.hidden_dropout = nn.Dropout(hidden_dropout)
        self.linear2 = nn.Linear(hidden, width)
        self.residual_dropout = nn.Dropout(residual_dropout)

    def forward(self, x):
        z = self.hidden_dropout(self.activation(self.linear1(self.norm(x))))
        return x + self.residual_dropout(self.linear2(z))


class ResidualMLP(nn.Module):
    """The ResNet baseline for tabular data of Gorishniy et al. (2021).

    Linear stem, ``n_blocks`` residual blocks, then normalization,
    activation and a linear head.

    References
    ----------
    Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models
    for Tabular Data." NeurIPS 2021.
    """

    def __init__(self, n_inputs, n_outputs, n_blocks, width, hidden, activation, norm,
                 hidden_dropout, residual_dropout):
        super().__init__()
        self.stem = nn.Linear(n_inputs, width)
        self.blocks = nn.Sequential(*[
            ResidualBlock(width, hidden, activation, norm, hidden_dropout, residual_dropout)
            for _ in range(n_blocks)
        ])
        self.head = nn.Sequential(make_norm(norm, width), make_activation(activation), nn.Linear(width, n_outputs))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))
