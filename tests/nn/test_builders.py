"""The dense DAG's linear model (no block) and its wide part (Wide & Deep)."""

import pytest
import torch

from sknas.nn.builders import DenseDAG, count_parameters
from sknas.space.mlp import MLPSpace


def block(width, activation="relu", norm="none", dropout=0.0, skip=None):
    return {"width": width, "activation": activation, "norm": norm, "dropout": dropout, "skip": skip}


def assert_affine(f, n_inputs, seed=0):
    """``f(a + b) - f(a) - f(b) + f(0) == 0``: true of an affine map only."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(64, n_inputs, generator=g) * 3, torch.randn(64, n_inputs, generator=g) * 3
    with torch.no_grad():
        gap = f(a + b) - f(a) - f(b) + f(torch.zeros_like(a))
    assert gap.abs().max().item() < 1e-5


@pytest.mark.parametrize("ensemble_k", [1, 4])
def test_a_genotype_without_blocks_is_an_affine_map(ensemble_k):
    space = MLPSpace()
    g = space.validate({"feature_scale": False, "embedding": "none", "ensemble_k": ensemble_k, "n_blocks": 0})
    torch.manual_seed(0)
    net = space.build(g, 7, 3).eval()
    assert len(net.blocks) == 0 and net.wide is None
    assert_affine(net, 7)
    # the parameters of k linear heads, nothing else
    assert count_parameters(net) == ensemble_k * (7 * 3 + 3)
    if ensemble_k > 1:  # while training, the k members' outputs (each an affine map)
        net.train()
        assert net(torch.randn(5, 7)).shape == (5, ensemble_k, 3)


def test_a_network_with_a_block_is_not_affine():
    # the check above can fail: one ReLU block breaks it
    torch.manual_seed(0)
    net = DenseDAG(7, 3, [block(16)]).eval()
    with pytest.raises(AssertionError):
        assert_affine(net, 7)


@pytest.mark.parametrize("ensemble_k", [1, 4])
def test_the_wide_part_adds_a_linear_map_of_the_raw_input(ensemble_k):
    blocks = [block(8, "silu"), block(6, "gelu", skip=0)]
    torch.manual_seed(0)
    deep = DenseDAG(5, 2, blocks, ensemble_k=ensemble_k, feature_scale=True).eval()
    wide = DenseDAG(5, 2, blocks, ensemble_k=ensemble_k, feature_scale=True, wide=True).eval()
    # the same weights otherwise: only the wide part's (bias-free) 5 x 2 weights are new
    missing, unexpected = wide.load_state_dict(deep.state_dict(), strict=False)
    assert missing == ["wide.weight"] and not unexpected
    assert count_parameters(wide) == count_parameters(deep) + 5 * 2
    x = torch.randn(32, 5)
    with torch.no_grad():
        assert not torch.allclose(wide(x), deep(x))
        # the difference is exactly the wide part's linear map of the input (before feature scaling)
        torch.testing.assert_close(wide(x) - deep(x), x @ wide.wide.weight.T, atol=1e-5, rtol=0)


def test_the_space_builds_the_wide_part_only_when_asked():
    space = MLPSpace(max_blocks=2)
    g = space.sample(3)
    g = space._complete(dict(g, n_blocks=2, wide=False), None)
    assert space.build(g, 4, 1).wide is None
    assert space.build(g.replace(wide=True), 4, 1).wide.weight.shape == (1, 4)
    # a genotype saved before the wide part existed reads wide=False
    old = {k: v for k, v in g.items() if k != "wide"}
    assert space.validate(old)["wide"] is False


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_wide_network_exports_to_onnx(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = DenseDAG(5, 2, [block(8, "silu")], wide=True).eval()
    x = torch.randn(16, 5)
    path = tmp_path / "wide.onnx"
    # the TorchScript exporter: seconds faster here than sknas.export's torch.export-based one, which
    # tests/test_export.py runs on fitted models
    torch.onnx.export(net, (x,), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, dynamo=False)
    got = onnxruntime.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), net(x), atol=1e-5, rtol=0)
