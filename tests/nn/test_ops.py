import math

import pytest
import torch

from sknas.nn.ops import (
    ACTIVATIONS, DENSE_OPS, IMAGE_OPS, NORMS, OPS, FactorizedReduce, check_operations, make_activation, make_norm,
    make_op,
)


def test_every_op_is_listed_for_dense_rows_or_images():
    assert set(DENSE_OPS) | set(IMAGE_OPS) == set(OPS)
    assert set(DENSE_OPS) & set(IMAGE_OPS) == {"none", "skip_connect"}
    # the survey's dense and DARTS/NASNet image operations are all there
    assert {"linear", "glu", "skip_connect", "none", *ACTIVATIONS, "batch_norm", "layer_norm"} <= set(DENSE_OPS)
    assert {"sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5", "max_pool_3x3", "avg_pool_3x3",
            "skip_connect", "none"} <= set(IMAGE_OPS)


@pytest.mark.parametrize("name", DENSE_OPS)
@pytest.mark.parametrize("affine", [True, False])
def test_dense_ops_keep_the_shape(name, affine):
    op = make_op(name, 6, 1, affine)
    x = torch.randn(5, 6)
    for mode in (op.train(), op.eval()):
        out = mode(x)
        assert out.shape == (5, 6)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", IMAGE_OPS)
@pytest.mark.parametrize("hw", [(8, 8), (7, 5), (1, 1)])
def test_image_ops_keep_the_shape_and_stride_two_halves_it(name, hw):
    h, w = hw
    x = torch.randn(2, 4, h, w)
    assert make_op(name, 4, 1)(x).shape == (2, 4, h, w)
    assert make_op(name, 4, 2)(x).shape == (2, 4, math.ceil(h / 2), math.ceil(w / 2))


def test_zero_op_is_zero_and_identity_is_identity():
    x = torch.randn(3, 4, 6, 6)
    assert torch.equal(make_op("none", 4, 1)(x), torch.zeros_like(x))
    assert torch.equal(make_op("skip_connect", 4, 1)(x), x)
    assert isinstance(make_op("skip_connect", 4, 2), FactorizedReduce)


def test_affine_false_removes_the_norm_scales():
    def n_affine(module):
        return sum(p.numel() for m in module.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))
                   for p in m.parameters())

    assert n_affine(make_op("sep_conv_3x3", 4, 1, affine=True)) > 0
    assert n_affine(make_op("sep_conv_3x3", 4, 1, affine=False)) == 0
    assert sum(p.numel() for p in make_op("layer_norm", 4, 1, affine=False).parameters()) == 0


def test_bad_op_requests_are_reported():
    with pytest.raises(ValueError, match="Unknown operation 'sep_conv_7x7'"):
        make_op("sep_conv_7x7", 4)
    with pytest.raises(ValueError, match="stride=1 only"):
        make_op("linear", 4, 2)
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        make_op("max_pool_3x3", 4, 3)
    with pytest.raises(ValueError, match="image operations"):
        check_operations("CellSpace", ("sep_conv_3x3", "linear"), "image")
    with pytest.raises(TypeError, match="tuple of names"):
        check_operations("CellSpace", "linear", "dense")


def test_activation_and_norm_registries_still_work():
    assert isinstance(make_activation("gelu"), torch.nn.GELU)
    assert isinstance(make_norm("batch", 3), torch.nn.BatchNorm1d)
    assert isinstance(NORMS["none"](3), torch.nn.Identity)
    with pytest.raises(ValueError, match="Unknown activation"):
        make_activation("tanhh")
