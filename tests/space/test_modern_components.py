import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression

from sknas.evaluation.trainer import make_net
from sknas.space.genotype import Genotype
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace, ResNetSpace
from sknas.space.training import TrainingSpace


def test_new_keys_are_conditional():
    space = MLPSpace(max_blocks=2)
    params = {p.name: p for p in space.params}
    assert params["embedding_sigma"].when == (("embedding", ("plr",)),)
    assert params["embedding_dim"].when == (("embedding", ("plr", "ple")),)
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = space.sample(rng)
        assert ("embedding_sigma" in g) == (g["embedding"] == "plr")
        assert ("embedding_dim" in g) == (g["embedding"] != "none")


def test_genotypes_without_the_new_keys_stay_valid():
    old = {"n_blocks": 1, "width_0": 32, "act_0": "relu", "norm_0": "none", "dropout_0": 0.0}
    g = MLPSpace(max_blocks=2).validate(old)
    assert g["embedding"] == "none" and g["ensemble_k"] == 1 and g["feature_scale"] is False
    old_resnet = {"n_blocks": 2, "width": 64, "hidden_factor": 2.0, "norm": "batch", "act": "relu",
                  "hidden_dropout": 0.1, "residual_dropout": 0.0}
    assert ResNetSpace().validate(old_resnet)["drop_path"] == 0.0


def test_portfolio_keeps_the_linear_model_then_the_plain_mlp_first_and_adds_tabm_plr():
    portfolio = MLPSpace().portfolio()
    assert portfolio[0]["n_blocks"] == 0 and portfolio[0]["embedding"] == "none"
    assert portfolio[1]["embedding"] == "none" and portfolio[1]["ensemble_k"] == 1 and portfolio[1]["n_blocks"] == 3
    modern = portfolio[2]
    assert modern["embedding"] == "plr" and modern["ensemble_k"] == 8 and modern["width_0"] == 256
    # a customised space keeps valid entries
    small = MLPSpace(max_blocks=1, embeddings=("none",), ensemble_ks=(1,), feature_scales=(False,))
    assert all(g["embedding"] == "none" for g in small.portfolio())


@pytest.mark.parametrize("bad", [dict(embeddings=("lookup",)), dict(ensemble_ks=(0,)), dict(feature_scales=(1,))])
def test_bad_choices_are_rejected(bad):
    with pytest.raises(ValueError, match="MLPSpace"):
        MLPSpace(**bad).params


GENOTYPES = [
    dict(feature_scale=True, embedding="plr", embedding_dim=8, embedding_sigma=0.5, ensemble_k=4, act="prelu",
         norm="batch"),
    dict(feature_scale=False, embedding="ple", embedding_dim=8, ensemble_k=1, act="prelu", norm="layer"),
    dict(feature_scale=True, embedding="none", ensemble_k=8, act="silu", norm="none"),
]


def _mlp_genotype(space, front, act, norm):
    g = dict(front, n_blocks=2)
    for i in range(2):
        g.update({f"width_{i}": 16, f"act_{i}": act, f"norm_{i}": norm, f"dropout_{i}": 0.1})
    g["skip_1"] = 0
    return space.validate(g)


@pytest.mark.parametrize("spec", GENOTYPES)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_new_mlp_genotypes_train_through_make_net(spec, task):
    spec = dict(spec)
    act, norm = spec.pop("act"), spec.pop("norm")
    arch = MLPSpace(max_blocks=2, max_width=32, activations=("relu", "silu", "prelu"))
    space = JointSpace(arch, TrainingSpace(task))
    g = space.validate({**_mlp_genotype(arch, spec, act, norm), **TrainingSpace(task).portfolio()[0]})
    if task == "classification":
        X, y = make_classification(120, 5, random_state=0)
    else:
        X, y = make_regression(120, 5, random_state=0)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = make_net(space, g, task, 5, 2 if task == "classification" else 1, classes=np.unique(y) if
                   task == "classification" else None, max_epochs=3, n_train=90, valid_data=(X[90:], y[90:]))
    net.fit(X[:90], y[:90])
    assert np.isfinite(net.history[:, "train_loss"]).all()
    pred = net.predict(X[90:])
    assert pred.shape == (30,)
    if task == "classification":
        proba = net.predict_proba(X[90:])
        assert proba.shape == (30, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("embedding", ["none", "plr", "ple"])
def test_resnet_new_keys_forward_backward(embedding):
    space = ResNetSpace(max_blocks=3, max_width=64)
    g = {"feature_scale": True, "embedding": embedding, "n_blocks": 3, "width": 32, "hidden_factor": 2.0,
         "norm": "batch", "act": "prelu", "hidden_dropout": 0.0, "residual_dropout": 0.0, "drop_path": 0.2}
    if embedding != "none":
        g["embedding_dim"] = 8
    if embedding == "plr":
        g["embedding_sigma"] = 1.0
    net = space.build(space.validate(g), 4, 2)
    out = net(torch.randn(16, 4))
    out.sum().backward()
    assert out.shape == (16, 2)
    assert [b.drop_path.p for b in net.blocks] == pytest.approx([0.2 / 3, 0.4 / 3, 0.2])
    net.eval()
    x = torch.randn(5, 4)
    torch.testing.assert_close(net(x), net(x))  # stochastic depth is off at prediction


def test_drop_path_drops_whole_rows():
    from sknas.nn.builders import DropPath

    torch.manual_seed(0)
    out = DropPath(0.5).train()(torch.ones(1000, 3))
    rows = out[:, 0]
    assert set(rows.unique().tolist()) == {0.0, 2.0}
    assert (out == rows[:, None]).all()


def test_supernet_and_derive_with_prelu_and_new_keys():
    space = MLPSpace(max_blocks=2, max_width=32, activations=("relu", "prelu"))
    supernet = space.supernet(4, 2)
    alphas = {k: {c: float(v) for c, v in logits.items()} for k, logits in supernet.alphas().items()}
    g = space.derive(alphas)
    assert g["embedding"] == "none" and g["ensemble_k"] == 1
    assert space.validate(g) == g


def test_estimator_fits_the_modern_portfolio_entry():
    from sknas import AutoNASClassifier

    class ModernFirst(MLPSpace):
        def portfolio(self):
            return super().portfolio()[2:3]

    X, y = make_classification(150, 6, random_state=0)
    clf = AutoNASClassifier(space=ModernFirst(max_blocks=3, max_width=256), search="random", max_trials=1,
                            max_epochs=3, time_budget=None, random_state=0).fit(X, y)
    assert clf.best_genotype_["ensemble_k"] == 8
    assert clf.predict_proba(X).shape == (150, 2)
