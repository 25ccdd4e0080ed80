import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sknas.nn.builders import DenseDAG
from sknas.nn.tabm import (
    BatchEnsembleLinear, EnsembleBatchNorm, EnsembleCrossEntropyLoss, EnsembleHead, EnsembleMSELoss,
)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 7), k=st.integers(1, 8), d_in=st.integers(1, 9), d_out=st.integers(1, 9))
def test_batch_ensemble_shapes(n, k, d_in, d_out):
    x = torch.randn(n, k, d_in)
    assert BatchEnsembleLinear(d_in, d_out, k, random_signs=True)(x).shape == (n, k, d_out)
    assert EnsembleHead(d_in, d_out, k)(x).shape == (n, k, d_out)


def test_batch_ensemble_with_unit_adapters_is_the_shared_linear():
    layer = BatchEnsembleLinear(4, 3, k=5)
    x = torch.randn(2, 4)
    out = layer(x.unsqueeze(1).expand(-1, 5, -1))
    ref = torch.nn.functional.linear(x, layer.weight, layer.bias[0])
    torch.testing.assert_close(out, ref.unsqueeze(1).expand(-1, 5, -1))


def _tabm(k=4, **kw):
    blocks = [{"width": 16, "activation": "prelu", "norm": "batch", "dropout": 0.0, "skip": None},
              {"width": 16, "activation": "silu", "norm": "layer", "dropout": 0.1, "skip": 0}]
    return DenseDAG(5, 3, blocks, ensemble_k=k, **kw)


@pytest.mark.parametrize("embedding", ["none", "plr", "ple"])
def test_tabm_members_differ_and_prediction_is_their_mean(embedding):
    torch.manual_seed(0)
    net = _tabm(k=4, embedding=embedding, embedding_dim=8, feature_scale=True)
    x = torch.randn(10, 5)
    net.train()
    members = net(x)
    assert members.shape == (10, 4, 3)
    assert not torch.allclose(members[:, 0], members[:, 1])
    net.eval()
    pred = net(x)
    assert pred.shape == (10, 3)
    net.train(False)
    for m in net.modules():  # evaluation mode everywhere, then compare with the members' mean
        m.training = True if isinstance(m, type(net.member_mean)) else False
    torch.testing.assert_close(pred, net(x).mean(dim=1))


def test_tabm_trains_with_per_member_losses():
    torch.manual_seed(0)
    net = _tabm(k=3)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    loss = EnsembleCrossEntropyLoss()(net(x), y)
    loss.backward()
    assert net.blocks[0][0].r.grad is not None and net.head.weight.grad is not None
    # the ensemble loss is the mean of the members' losses, with index or probability targets
    logits = torch.randn(6, 3, 4)
    target = torch.randint(0, 4, (6,))
    expected = torch.stack([torch.nn.functional.cross_entropy(logits[:, i], target) for i in range(3)]).mean()
    torch.testing.assert_close(EnsembleCrossEntropyLoss()(logits, target), expected)
    soft = torch.softmax(torch.randn(6, 4), 1)
    assert torch.isfinite(EnsembleCrossEntropyLoss(label_smoothing=0.1)(logits, soft))
    pred, y_reg = torch.randn(6, 3, 1), torch.randn(6, 1)
    expected = torch.stack([torch.nn.functional.mse_loss(pred[:, i], y_reg) for i in range(3)]).mean()
    torch.testing.assert_close(EnsembleMSELoss()(pred, y_reg), expected)
    # two-dimensional predictions: the plain losses
    torch.testing.assert_close(EnsembleMSELoss()(pred[:, 0], y_reg), torch.nn.functional.mse_loss(pred[:, 0], y_reg))


def test_ensemble_batch_norm_keeps_batchnorm_state_dict():
    bn = EnsembleBatchNorm(4)
    assert set(bn.state_dict()) == set(torch.nn.BatchNorm1d(4).state_dict())
    assert bn(torch.randn(5, 3, 4)).shape == (5, 3, 4)


def test_plain_dag_state_dict_unchanged():
    blocks = [{"width": 8, "activation": "relu", "norm": "batch", "dropout": 0.0, "skip": None}]
    assert sorted(DenseDAG(3, 2, blocks).state_dict()) == [
        "blocks.0.0.bias", "blocks.0.0.weight", "blocks.0.1.bias", "blocks.0.1.num_batches_tracked",
        "blocks.0.1.running_mean", "blocks.0.1.running_var", "blocks.0.1.weight", "head.bias", "head.weight",
    ]


def test_the_old_module_name_still_imports_and_unpickles_the_layers():
    """sknas.nn.tabm was sknas.nn.ensemble: imports and pickles (e.g. of a fitted estimator) naming it still work.

    Model files (sknas.io) store no class path of these layers (a net is rebuilt from its genotype, and the
    state-dict keys do not name modules), so they need no sknas.io.MOVED entry.
    """
    import pickle

    import sknas.nn.ensemble as old
    import sknas.nn.tabm as new

    assert all(getattr(old, name) is getattr(new, name) for name in new.__all__)
    layer = new.BatchEnsembleLinear(3, 2, 4)
    text = pickle.dumps(layer, protocol=2)  # protocol 2 names classes as text lines: "module\nname\n"
    assert b"sknas.nn.tabm\n" in text
    loaded = pickle.loads(text.replace(b"sknas.nn.tabm\n", b"sknas.nn.ensemble\n"))
    assert type(loaded) is new.BatchEnsembleLinear
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), layer.state_dict().values()))
