"""String-keyed registries of the elementary operations networks are built from.

``ACTIVATIONS`` and ``NORMS`` are the building blocks of the entire-structure
dense spaces (:mod:`sknas.space.mlp`). ``OPS`` is the registry of cell and
motif operations, in the style of DARTS's ``OPS``: every entry is a factory
``OPS[name](C, stride, affine) -> nn.Module`` whose module maps ``C`` channels
(images) or ``C`` features (dense rows) to ``C``.

Shapes
------
Dense operations (names in :data:`DENSE_OPS`) take ``(n, C)`` and return
``(n, C)``; they only accept ``stride=1``.

Image operations (names in :data:`IMAGE_OPS`) take ``(n, C, H, W)`` and
return ``(n, C, H, W)`` with ``stride=1`` and
``(n, C, ceil(H / 2), ceil(W / 2))`` with ``stride=2`` (odd sizes included).

``"skip_connect"`` (the identity; a :class:`FactorizedReduce` when
``stride=2``) and ``"none"`` (the zero operation, DARTS's name for "no
edge") belong to both lists.

``affine`` is passed to every normalization: discrete networks use
``affine=True``; a DARTS supernet uses ``affine=False`` so that the
architecture weights, not per-op scales, decide how much each op counts.

References
----------
Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search." ICLR 2019.
Zoph, Vasudevan, Shlens, Le. "Learning Transferable Architectures for Scalable
Image Recognition." CVPR 2018 (NASNet).
Liu, Simonyan, Vinyals, Fernando, Kavukcuoglu. "Hierarchical Representations
for Efficient Architecture Search." ICLR 2018.
Dauphin, Fan, Auli, Grangier. "Language Modeling with Gated Convolutional
Networks." ICML 2017 (the gated linear unit).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ACTIVATIONS", "DENSE_OPS", "IMAGE_OPS", "NORMS", "OPS", "DilConv", "FactorizedReduce",
    "ReLUConvBN", "ReLULinearBN", "SepConv", "Zero", "check_operations", "make_activation", "make_norm",
    "make_op",
]

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


# -- the modules behind OPS ---------------------------------------------------------
class Zero(nn.Module):
    """The zero operation ("none"): no edge, with the shape an edge would have."""

    def __init__(self, stride=1):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv2d -> BatchNorm2d (DARTS's basic convolution)."""

    def __init__(self, C_in, C_out, kernel_size, stride, padding, affine=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BatchNorm2d."""

    def __init__(self, C_in, C_out, kernel_size, stride, padding, dilation, affine=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride=stride, padding=padding, dilation=dilation,
                      groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable convolutions, the first carrying the stride (as in DARTS)."""

    def __init__(self, C_in, C_out, kernel_size, stride, padding, affine=True):
        super().__init__(
            DilConv(C_in, C_in, kernel_size, stride, padding, 1, affine=affine),
            DilConv(C_in, C_out, kernel_size, 1, padding, 1, affine=affine),
        )


class DepthwiseConv(nn.Sequential):
    """ReLU -> depthwise conv -> BatchNorm2d (a level-1 primitive of Liu et al. 2018)."""

    def __init__(self, C, kernel_size, stride, padding, affine=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, kernel_size, stride=stride, padding=padding, groups=C, bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convolutions, concatenated.

    Unlike DARTS's version it also accepts odd sizes and an odd ``C_out``:
    the offset branch is padded by one row and column, so both branches give
    ``ceil(H / 2) x ceil(W / 2)``.
    """

    def __init__(self, C_in, C_out, affine=True):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out - C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class ReLULinearBN(nn.Sequential):
    """ReLU -> Linear -> BatchNorm1d: the dense counterpart of :class:`ReLUConvBN`."""

    def __init__(self, C_in, C_out, affine=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Linear(C_in, C_out, bias=False),
            nn.BatchNorm1d(C_out, affine=affine),
        )


class GatedLinear(nn.Sequential):
    """Linear to twice the width -> gated linear unit -> BatchNorm1d."""

    def __init__(self, C, affine=True):
        super().__init__(
            nn.Linear(C, 2 * C),
            nn.GLU(dim=1),
            nn.BatchNorm1d(C, affine=affine),
        )


def _skip(C, stride, affine):
    return nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine)


def _dense(factory):
    """Wrap a dense op factory so that it refuses a stride (dense rows have no resolution)."""

    def make(C, stride, affine):
        if stride != 1:
            raise ValueError(f"Dense operations take stride=1 only. Got stride={stride!r} instead.")
        return factory(C, affine)

    return make


#: ``name -> factory(C, stride, affine)``; every module keeps ``C`` channels/features.
OPS = {
    # shared by both kinds of data
    "none": lambda C, stride, affine: Zero(stride),
    "skip_connect": _skip,
    # dense rows (n, C)
    "linear": _dense(lambda C, affine: ReLULinearBN(C, C, affine=affine)),
    "glu": _dense(lambda C, affine: GatedLinear(C, affine=affine)),
    **{name: _dense(lambda C, affine, cls=cls: cls()) for name, cls in ACTIVATIONS.items()},
    "batch_norm": _dense(lambda C, affine: nn.BatchNorm1d(C, affine=affine)),
    "layer_norm": _dense(lambda C, affine: nn.LayerNorm(C, elementwise_affine=affine)),
    # images (n, C, H, W), as in DARTS / NASNet
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine=affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine=affine),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    # the other level-1 primitives of Liu et al. (2018)
    "conv_1x1": lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine=affine),
    "dw_conv_3x3": lambda C, stride, affine: DepthwiseConv(C, 3, stride, 1, affine=affine),
}

#: Operations on dense rows ``(n, C)``.
DENSE_OPS = ("none", "skip_connect", "linear", "glu", *ACTIVATIONS, "batch_norm", "layer_norm")

#: Operations on images ``(n, C, H, W)``.
IMAGE_OPS = (
    "none", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
    "max_pool_3x3", "avg_pool_3x3", "conv_1x1", "dw_conv_3x3",
)


def make_op(name, C, stride=1, affine=True):
    """The module of operation ``name`` on ``C`` channels (see :data:`OPS`)."""
    try:
        factory = OPS[name]
    except KeyError:
        raise ValueError(f"Unknown operation {name!r}; known: {sorted(OPS)}.") from None
    if stride not in (1, 2):
        raise ValueError(f"Operation {name!r}: stride must be 1 or 2. Got {stride!r} instead.")
    return factory(C, stride, affine)


def check_operations(owner, operations, kind):
    """Validate a tuple of op names for ``kind`` ("dense" or "image"); return it as a tuple."""
    allowed = DENSE_OPS if kind == "dense" else IMAGE_OPS
    if isinstance(operations, str) or not hasattr(operations, "__iter__"):
        raise TypeError(f"{owner}: operations must be a tuple of names. Got {operations!r} instead.")
    operations = tuple(operations)
    bad = [op for op in operations if op not in allowed]
    if bad or not operations or len(set(operations)) != len(operations):
        raise ValueError(
            f"{owner}: operations must be distinct names among the {kind} operations {allowed}. "
            f"Got {operations!r} instead."
        )
    return operations
