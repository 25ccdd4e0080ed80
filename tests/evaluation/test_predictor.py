"""The surrogate predictor on its own, and SemiNAS's pseudo-labelling."""

import numpy as np
import pytest
from scipy.stats import kendalltau

from sknas.evaluation.predictor import SurrogatePredictor


def test_surrogate_learns_a_simple_function():
    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    y = X[:, 0] * 3 + X[:, 1]
    model = SurrogatePredictor().fit(X[:150], y[:150])
    assert model.kind_ == "forest"
    assert np.corrcoef(model.predict(X[150:]), y[150:])[0, 1] > 0.9
    with pytest.raises(ValueError, match="kind must be"):
        SurrogatePredictor(kind="gp").fit(X, y)
    with pytest.raises(ValueError, match="semi_supervised"):
        SurrogatePredictor(kind="forest", semi_supervised=True).fit(X, y)
    with pytest.raises(ValueError, match="n_unlabelled"):
        SurrogatePredictor(semi_supervised=True, n_unlabelled=-1).fit(X, y)


def _one_hot_task(n, rng):
    """Encodings of 4 one-hot choices of 3 options; the score is a known additive function of the choices."""
    choices = rng.integers(0, 3, size=(n, 4))
    X = np.concatenate([np.eye(3)[choices[:, j]] for j in range(4)], axis=1)
    y = (choices * np.array([1.0, 0.5, -0.7, 0.2])).sum(axis=1)
    return X, y


@pytest.mark.parametrize("semi", [False, True])
def test_encoder_predictor_learns_a_known_ranking(semi):
    rng = np.random.default_rng(1)
    X, y = _one_hot_task(300, rng)
    model = SurrogatePredictor("mlp", semi_supervised=semi, n_unlabelled=100, n_steps=100).fit(X[:40], y[:40], X[40:])
    assert kendalltau(model.predict(X[40:]), y[40:]).statistic > 0.85


def test_seminas_trains_on_n_unlabelled_pseudo_labelled_genotypes():
    rng = np.random.default_rng(2)
    X, y = _one_hot_task(400, rng)
    labelled, pool = slice(0, 30), X[30:]
    kwargs = dict(kind="mlp", n_steps=80, trade_off=0.5, random_state=0)
    plain = SurrogatePredictor(**kwargs).fit(X[labelled], y[labelled], pool)
    assert plain.n_pseudo_labels_ == 0  # without semi_supervised the pool is not used
    small = SurrogatePredictor(semi_supervised=True, n_unlabelled=50, **kwargs).fit(X[labelled], y[labelled], pool)
    assert small.n_pseudo_labels_ == 50  # n_unlabelled is honoured: a subset of the 370 given
    semi = SurrogatePredictor(semi_supervised=True, n_unlabelled=1000, **kwargs).fit(X[labelled], y[labelled], pool)
    assert semi.n_pseudo_labels_ == len(pool)
    # the pseudo-labelled genotypes really entered training: the autoencoder now reconstructs them
    # better than the network that saw only the labelled ones, and predictions changed
    assert semi.reconstruction_error(pool) < 0.5 * plain.reconstruction_error(pool)
    assert not np.allclose(semi.predict(pool), plain.predict(pool))
    with pytest.raises(ValueError, match="only the 'mlp' kind"):
        SurrogatePredictor("knn").fit(X, y).reconstruction_error(X)


def test_encoder_predictor_is_reproducible_and_leaves_the_global_torch_seed_alone():
    import torch

    rng = np.random.default_rng(3)
    X, y = _one_hot_task(60, rng)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    kwargs = dict(semi_supervised=True, n_unlabelled=20, n_steps=20, random_state=5)
    a = SurrogatePredictor("mlp", **kwargs).fit(X[:30], y[:30], X[30:])
    after = torch.rand(1)
    b = SurrogatePredictor("mlp", **kwargs).fit(X[:30], y[:30], X[30:])
    assert torch.equal(before, after)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
