"""String-keyed registries of the elementary operations networks are built from."""

from __future__ import annotations

from torch import nn

__all__ = ["ACTIVATIONS", "NORMS", "make_activation", "make_norm"]

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "selu": nn.SELU,
    "mish": nn.Mish,
}

NORMS = {
    "none": lambda width: nn.Identity(),
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
}


def make_activation(name):
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; known: {sorted(ACTIVATIONS)}.") from None


def make_norm(name, width):
    try:
        return NORMS[name](width)
    except KeyError:
        raise ValueError(f"Unknown normalization {name!r}; known: {sorted(NORMS)}.") from None
