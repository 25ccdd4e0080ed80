import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sknas.nn.embeddings import FeatureScale, InputLayer, PeriodicEmbedding, PiecewiseLinearEncoding


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 9), f=st.integers(1, 6), d=st.sampled_from([2, 8, 16]),
       kind=st.sampled_from(["plr", "ple"]), scale=st.booleans())
def test_input_layer_shapes(n, f, d, kind, scale):
    layer = InputLayer(f, feature_scale=scale, embedding=kind, embedding_dim=d, embedding_sigma=0.3)
    out = layer(torch.randn(n, f))
    assert out.shape == (n, f * d) and layer.n_outputs == f * d
    assert torch.isfinite(out).all()


def test_identity_layer_and_feature_scale_starts_at_one():
    x = torch.randn(5, 3)
    assert torch.equal(InputLayer(3)(x), x)
    assert torch.equal(FeatureScale(3)(x), x)
    with pytest.raises(ValueError, match="embedding"):
        InputLayer(3, embedding="lookup")


def test_plr_frequencies_follow_sigma():
    torch.manual_seed(0)
    small, large = PeriodicEmbedding(50, 32, sigma=0.01), PeriodicEmbedding(50, 32, sigma=10.0)
    assert small.frequencies.std() < 0.02 < 5.0 < large.frequencies.std()


def test_ple_encodes_bins_monotonically():
    ple = PiecewiseLinearEncoding(1, n_bins=4)
    x = torch.tensor([[-5.0], [0.0], [5.0]])
    t = (x.unsqueeze(-1) - ple.lower) / ple.width
    # below every bin: the first bin extrapolates below 0, the others are 0; above: last bin > 1
    enc_low = torch.cat([t[0, :, :1].clamp(max=1), t[0, :, 1:-1].clamp(0, 1), t[0, :, -1:].clamp(min=0)], -1)
    assert enc_low[0, 0] < 0 and (enc_low[0, 1:] == 0).all()
    assert ple(x).shape == (3, 4)
    # the edges are the standard normal's quantiles: symmetric around 0
    edges = torch.cat([ple.lower, ple.lower[-1:] + ple.width[-1:]])
    np.testing.assert_allclose(edges.numpy(), -edges.flip(0).numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", ["plr", "ple"])
def test_embeddings_train(kind):
    torch.manual_seed(0)
    layer = InputLayer(3, feature_scale=True, embedding=kind, embedding_dim=8)
    head = torch.nn.Linear(layer.n_outputs, 1)
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    opt = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=1e-2)
    loss0 = None
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(head(layer(x)), y)
        loss0 = loss0 if loss0 is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < loss0
    assert all(p.grad is not None for p in layer.parameters())
