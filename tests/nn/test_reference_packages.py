"""sknas's PLR, PLE and TabM layers against the authors' packages, with the same weights.

``rtdl_num_embeddings`` (Gorishniy et al. 2022) and ``tabm`` (Gorishniy et
al. 2025) are optional: these tests skip where they are not installed.
Each test builds ours and theirs with the same shapes, copies one's weights
into the other (mapping the names), and compares the outputs.
"""

import warnings

import pytest
import torch

from sknas.nn.builders import DenseDAG
from sknas.nn.embeddings import PeriodicEmbedding, PiecewiseLinearEncoding
from sknas.nn.tabm import BatchEnsembleLinear, EnsembleBatchNorm, EnsembleHead


ATOL = 1e-5


def _close(ours, theirs):
    torch.testing.assert_close(ours, theirs, atol=ATOL, rtol=0)


def _rtdl():
    return pytest.importorskip("rtdl_num_embeddings")


def _tabm():
    return pytest.importorskip("tabm")


def _edges(ple):
    """Our PLE's bin edges, ``(n_bins + 1,)``."""
    return torch.cat([ple.lower, ple.lower[-1:] + ple.width[-1:]])


def _their_ple(rne, bins, d):
    with warnings.catch_warnings():  # a feature with a single bin warns; not the case here
        warnings.simplefilter("ignore")
        return rne.PiecewiseLinearEmbeddings(bins, d, activation=True, version="A")


@pytest.mark.parametrize("n_frequencies", [None, 5])
def test_plr_is_rtdl_periodic_embeddings_not_lite(n_frequencies):
    rne = _rtdl()
    torch.manual_seed(0)
    f, d = 6, 8
    ours = PeriodicEmbedding(f, d, sigma=0.5, n_frequencies=n_frequencies)
    m = ours.frequencies.shape[1]
    theirs = rne.PeriodicEmbeddings(f, d, n_frequencies=m, frequency_init_scale=0.5, lite=False)
    theirs.load_state_dict({"periodic.weight": ours.frequencies, "linear.weight": ours.linear.weight,
                            "linear.bias": ours.linear.bias})
    x = torch.randn(40, f) * 3
    _close(ours(x), theirs(x).flatten(1))
    # the lite variant shares one linear layer among the features: not ours
    assert rne.PeriodicEmbeddings(f, d, n_frequencies=m, lite=True).linear.weight.shape != ours.linear.weight.shape


def test_ple_is_rtdl_piecewise_linear_embeddings_with_our_edges():
    rne = _rtdl()
    torch.manual_seed(0)
    f, n_bins, d = 5, 12, 7
    ours = PiecewiseLinearEncoding(f, n_bins, d)
    theirs = _their_ple(rne, [_edges(ours)] * f, d)
    theirs.linear.load_state_dict(ours.linear.state_dict())
    x = torch.randn(60, f) * 2  # beyond the outer edges too: the first and last bins extrapolate
    x[0] = torch.linspace(-9, 9, f)
    _close(ours(x), theirs(x).flatten(1))


def test_ple_with_compute_bins_edges_per_feature():
    rne = _rtdl()
    torch.manual_seed(0)
    f, n_bins, d = 4, 10, 6
    data = torch.randn(2000, f) * torch.tensor([1.0, 3.0, 0.5, 2.0]) + torch.tensor([0.0, 1.0, -2.0, 5.0])
    bins = rne.compute_bins(data, n_bins=n_bins)  # the paper's quantile bins, min and max as outer edges
    assert all(len(b) == n_bins + 1 for b in bins)
    edges = torch.stack(bins)
    ours = PiecewiseLinearEncoding(f, n_bins, d)
    ours.lower, ours.width = edges[:, :-1].clone(), edges.diff(dim=1)
    theirs = _their_ple(rne, bins, d)
    theirs.linear.load_state_dict(ours.linear.state_dict())
    x = torch.cat([data[:50], data[:5] * 4])
    _close(ours(x), theirs(x).flatten(1))


def test_batch_ensemble_linear_is_tabm_linear_batch_ensemble():
    tabm = _tabm()
    torch.manual_seed(0)
    n, k, d_in, d_out = 30, 4, 9, 5
    ours = BatchEnsembleLinear(d_in, d_out, k, random_signs=True)
    with torch.no_grad():  # adapters and biases away from their initial values, so that each one counts
        ours.r.normal_()
        ours.s.normal_()
        ours.bias.normal_()
    theirs = tabm.LinearBatchEnsemble(d_in, d_out, k=k, scaling_init="ones")
    theirs.load_state_dict(ours.state_dict())  # same names and shapes
    x = torch.randn(n, k, d_in)
    _close(ours(x), theirs(x))


def test_ensemble_head_is_tabm_linear_ensemble():
    tabm = _tabm()
    torch.manual_seed(0)
    ours = EnsembleHead(9, 3, 4)
    theirs = tabm.LinearEnsemble(9, 3, k=4)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(30, 4, 9)
    _close(ours(x), theirs(x))


def test_batch_ensemble_initialization_is_tabm_s():
    """Same distributions as ``tabm``'s TabM initialization (``tabm_init=True``, no embeddings)."""
    tabm = _tabm()
    torch.manual_seed(0)
    d_in, d_out, k = 200, 300, 6
    pairs = [
        (BatchEnsembleLinear(d_in, d_out, k, random_signs=True),
         tabm.LinearBatchEnsemble(d_in, d_out, k=k, scaling_init=("random-signs", "ones"))),
        (BatchEnsembleLinear(d_in, d_out, k),
         tabm.LinearBatchEnsemble(d_in, d_out, k=k, scaling_init="ones")),
    ]
    bound = d_in ** -0.5
    for first, (ours, theirs) in enumerate(pairs[::-1]):
        for layer in (ours, theirs):
            w = layer.weight.detach()
            assert w.abs().max() <= bound
            assert abs(w.std().item() - bound / 3 ** 0.5) < 0.02 * bound  # uniform on [-bound, bound]
            assert torch.equal(layer.bias, layer.bias[:1].expand_as(layer.bias))  # one draw for all members
            assert layer.bias.abs().max() <= bound
            assert torch.equal(layer.s, torch.ones_like(layer.s))
            if first:
                assert set(layer.r.unique().tolist()) == {-1.0, 1.0}
                assert abs(layer.r.mean().item()) < 0.15  # k * d_in = 1200 signs: 5 standard deviations
            else:
                assert torch.equal(layer.r, torch.ones_like(layer.r))


def test_ensemble_batch_norm_shares_statistics_where_tabm_keeps_them_per_member():
    tabm = _tabm()
    torch.manual_seed(0)
    n, k, d = 32, 3, 5
    ours, theirs = EnsembleBatchNorm(d), tabm.BatchNorm1dEnsemble(d, k=k)
    same = torch.randn(n, 1, d).expand(-1, k, -1)  # identical members: shared statistics are theirs
    _close(ours(same), theirs(same))
    different = torch.randn(n, k, d) * torch.arange(1.0, k + 1).view(1, k, 1)
    assert not torch.allclose(ours(different), theirs(different), atol=1e-3)


def _swap_in_theirs(net, embedding, rne, tabm):
    """``net`` (a TabM DenseDAG) with the authors' layers in place of ours, same weights."""
    for block in net.blocks:
        old = block[0]
        block[0] = tabm.LinearBatchEnsemble(old.in_features, old.out_features, k=old.k, scaling_init="ones")
        block[0].load_state_dict(old.state_dict())
    head = tabm.LinearEnsemble(net.head.in_features, net.head.out_features, k=net.head.k)
    head.load_state_dict(net.head.state_dict())
    net.head = head
    ours = net.features.embedding
    f, d = ours.linear.weight.shape[0], ours.d_embedding
    if embedding == "plr":
        theirs = rne.PeriodicEmbeddings(f, d, n_frequencies=ours.frequencies.shape[1], lite=False)
        theirs.load_state_dict({"periodic.weight": ours.frequencies, "linear.weight": ours.linear.weight,
                                "linear.bias": ours.linear.bias})
    else:
        theirs = _their_ple(rne, [_edges(ours)] * f, d)
        theirs.linear.load_state_dict(ours.linear.state_dict())
    net.features.embedding = torch.nn.Sequential(theirs, torch.nn.Flatten(1))
    return net


@pytest.mark.parametrize("embedding", ["plr", "ple"])
def test_tabm_network_with_the_authors_layers_computes_the_same(embedding):
    import copy

    rne, tabm = _rtdl(), _tabm()
    torch.manual_seed(0)
    blocks = [{"width": 16, "activation": "relu", "norm": "batch", "dropout": 0.0, "skip": None},
              {"width": 16, "activation": "silu", "norm": "none", "dropout": 0.0, "skip": 0}]
    ours = DenseDAG(5, 3, blocks, feature_scale=True, embedding=embedding, embedding_dim=6, ensemble_k=4)
    theirs = _swap_in_theirs(copy.deepcopy(ours), embedding, rne, tabm)
    x = torch.randn(25, 5) * 2
    _close(ours.train()(x), theirs.train()(x))  # members (n, k, n_outputs), batch statistics
    _close(ours.eval()(x), theirs.eval()(x))  # their mean, running statistics
