"""The folds of a cross-validated trial trained together (sknas.evaluation.batched)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import get_scorer
from torch import nn

from sknas.evaluation.batched import fit_members
from sknas.evaluation.trainer import Evaluator, make_net
from sknas.evaluation.trial import TrialData
from sknas.search.base import Candidate
from sknas.space.base import SearchSpace
from sknas.space.genotype import Genotype
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace, chain_blocks
from sknas.space.params import Categorical
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace

CLASSES = np.array([0, 1, 2])


def noisy_folds(sizes=(150, 151, 153), n_valid=60, d=6, seed=0, task="classification"):
    """Folds of different sizes (so their last batches differ in shape) of a noisy 3-class or regression problem."""
    rng = np.random.default_rng(seed)
    folds = []
    for n in sizes:
        X = rng.normal(size=(n + n_valid, d)).astype(np.float32)
        if task == "classification":
            y = np.digitize(X[:, 0] + X[:, 1] + rng.normal(scale=1.5, size=n + n_valid), [-0.7, 0.7])
        else:
            y = X[:, 0] - 2 * X[:, 1] + rng.normal(scale=1.0, size=n + n_valid)
        folds.append(TrialData(X[:n], y[:n], X[n:], y[n:]))
    return folds


def plain_genotype(**changes):
    """Two blocks (the first layer-normalized), no dropout: training has no randomness besides the batch order.

    No batch normalization here: the bias of the linear layer before it has no gradient, so Adam moves it on
    rounding noise alone, and the running mean (which tracks it) makes the two evaluations drift apart; the
    batched form of batch normalization is checked by the covering test below.
    """
    g = {**chain_blocks(2, 32, act="silu", dropout=0.0), "norm_0": "layer",
         "feature_scale": False, "embedding": "none", "ensemble_k": 1,
         "lr": 1e-2, "weight_decay": 1e-4, "batch_size": 32, "optimizer": "adamw", "lr_schedule": "cosine",
         "label_smoothing": 0.0, "snapshots": 1}
    g.update(changes)
    return Genotype(g)


def fold_net(space, g, fold, task="classification", patience=3, max_epochs=40):
    n_outputs = len(CLASSES) if task == "classification" else 1
    return make_net(space, g, task, fold.X_train.shape[1], n_outputs, classes=CLASSES if n_outputs > 1 else None,
                    max_epochs=max_epochs, n_train=len(fold.X_train), valid_data=(fold.X_valid, fold.y_valid),
                    patience=patience)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_members_follow_their_sequential_fits_and_stop_independently(task):
    space = MLPSpace()
    g = plain_genotype()
    folds = noisy_folds(task=task)
    sequential = []
    for k, fold in enumerate(folds):
        torch.manual_seed(k)
        net = fold_net(space, g, fold, task)
        sequential.append(net.fit(fold.X_train, fold.y_train))
    batched = []
    for k, fold in enumerate(folds):
        torch.manual_seed(k)
        generator = torch.Generator()
        net = fold_net(space, g, fold, task)
        net.set_params(iterator_train__generator=generator)
        net.initialize()
        generator.set_state(torch.get_rng_state())  # the batch order continues the seed's stream
        batched.append(net)
    fit_members(batched, [(f.X_train, net.prepare_target(f.y_train)) for f, net in zip(folds, batched)])

    epochs = [len(net.history) for net in sequential]
    assert [len(net.history) for net in batched] == epochs
    assert len(set(epochs)) > 1, "the members should stop at different epochs on this data"
    for seq, bat in zip(sequential, batched):
        # the first step is the same computation (same weights, same rows); after it the batched matrix
        # products round differently (float32), and Adam carries that along
        first = seq.history[0]["batches"][0]["train_loss"]
        assert bat.history[0]["batches"][0]["train_loss"] == pytest.approx(first, rel=1e-6)
        for key in ("valid_loss", "train_loss"):
            np.testing.assert_allclose(bat.history[:3, key], seq.history[:3, key], rtol=1e-4)  # the first epochs
            np.testing.assert_allclose(bat.history[:, key], seq.history[:, key], rtol=1e-3)
        # each member restored its own best epoch
        X_valid = np.asarray(bat.valid_data[0])
        proba = bat.predict_proba(X_valid) if task == "classification" else bat.predict(X_valid)
        expected = seq.predict_proba(X_valid) if task == "classification" else seq.predict(X_valid)
        np.testing.assert_allclose(proba, expected, rtol=1e-3, atol=1e-3)


def test_a_batched_trial_scores_as_the_sequential_one():
    space = JointSpace(MLPSpace(), TrainingSpace("classification"))
    g = plain_genotype()
    folds = noisy_folds()
    results = {}
    for batched in (False, True):
        ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=30, classes=CLASSES,
                       patience=3, batched_folds=batched, keep_predictions=True)
        results[batched] = ev.evaluate(Candidate(g), folds, seed=5)
    seq, bat = results[False], results[True]
    assert seq.train_mode == "sequential" and bat.train_mode == "batched x3"
    assert bat.status == seq.status == "ok"
    assert bat.score == pytest.approx(seq.score, abs=1e-9)
    assert bat.n_epochs == seq.n_epochs and bat.best_epoch == seq.best_epoch
    np.testing.assert_allclose(bat.learning_curve, seq.learning_curve, rtol=1e-3)
    np.testing.assert_allclose(bat.predictions, seq.predictions, rtol=1e-3, atol=1e-3)
    assert bat.model is not None and bat.model.predict(folds[0].X_valid).shape == (len(folds[0].y_valid),)


class _DataDependent(nn.Module):
    """A network with an op that has no vmap batching rule (a data-dependent Python branch)."""

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_outputs)

    def forward(self, x):
        if x.abs().max().item() > 1e6:  # .item() cannot be batched
            x = x.clamp(-1e6, 1e6)
        return self.linear(x)


class DataDependentSpace(SearchSpace):
    def _params(self):
        return [Categorical("kind", ("data_dependent",))]

    def build(self, genotype, n_inputs, n_outputs):
        return _DataDependent(n_inputs, n_outputs)


def test_a_network_that_cannot_be_batched_trains_its_folds_one_by_one():
    space = JointSpace(DataDependentSpace(), TrainingSpace("classification"))
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=5, classes=CLASSES,
                   batched_folds=True)
    r = ev.evaluate(Candidate(space.sample(0)), noisy_folds(), seed=0)
    assert r.status == "ok" and r.n_folds == 3
    assert r.train_mode.startswith("sequential (") and "item" in r.train_mode


def covering_genotypes(space, wanted, n_samples=400):
    """One sampled genotype for every (key, value) in ``wanted`` (the first sample that has it)."""
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(n_samples)]
    chosen = []
    for key, value in wanted:
        g = next((s for s in samples if s.get(key) == value), None)
        assert g is not None, f"no sample with {key}={value!r}"
        chosen.append(g)
    return chosen


def test_every_searched_choice_of_the_default_space_trains_batched():
    """Norms, activations, embeddings, TabM copies, snapshots, augmentations and class weights all run under vmap."""
    space = JointSpace(MLPSpace(activations=("relu", "gelu", "silu", "selu", "mish", "prelu")),
                       TrainingSpace("classification"), PipelineSpace(task="classification"))
    wanted = [("norm_0", "batch"), ("norm_0", "layer"), ("act_0", "prelu"), ("embedding", "plr"),
              ("embedding", "ple"), ("feature_scale", True), ("ensemble_k", 4), ("snapshots", 3),
              ("augment", "mixup"), ("augment", "noise"), ("augment", "corrupt"), ("class_weight", "balanced"),
              ("lr_schedule", "onecycle"), ("optimizer", "radam"), ("optimizer", "nadam"), ("skip_1", 0),
              ("loss", "gce")]
    folds = noisy_folds(sizes=(60, 61, 62), n_valid=20)
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=3, classes=CLASSES,
                   batched_folds=True)
    genotypes = covering_genotypes(space, wanted)
    # the robust loss with what else reaches the criterion: class weights, TabM's k heads, mixup's soft targets
    genotypes.append(space.replace(genotypes[-1], loss="gce", class_weight="balanced", ensemble_k=4,
                                   augment="mixup", augment_strength=0.2, label_smoothing=0.1))
    for g in genotypes:
        r = ev.evaluate(Candidate(g), folds, seed=0)
        assert r.status == "ok", (dict(g), r.error)
        assert r.train_mode == "batched x3", (dict(g), r.train_mode)


def test_every_searched_regression_loss_trains_batched():
    """Squared error and Huber (each delta), with TabM's k heads too, run under vmap."""
    space = JointSpace(MLPSpace(), TrainingSpace("regression"), PipelineSpace(task="regression"))
    wanted = [("loss", "mse"), ("huber_delta", 0.1)]
    folds = noisy_folds(sizes=(60, 61, 62), n_valid=20, task="regression")
    ev = Evaluator(space, "regression", get_scorer("r2"), max_epochs=3, batched_folds=True)
    genotypes = covering_genotypes(space, wanted)
    genotypes.append(space.replace(genotypes[1], ensemble_k=4))
    for g in genotypes:
        r = ev.evaluate(Candidate(g), folds, seed=0)
        assert r.status == "ok", (dict(g), r.error)
        assert r.train_mode == "batched x3", (dict(g), r.train_mode)


@pytest.mark.parametrize("task, changes", [("classification", {"loss": "gce", "label_smoothing": 0.1}),
                                           ("regression", {"loss": "huber", "huber_delta": 0.3})])
def test_a_batched_robust_loss_trial_scores_as_the_sequential_one(task, changes):
    """Each member's criterion is its own fold's robust loss: batched and sequential training agree."""
    space = JointSpace(MLPSpace(), TrainingSpace(task))
    g = plain_genotype(**changes)
    if task == "regression":
        g = Genotype({k: v for k, v in g.items() if k != "label_smoothing"})
    folds = noisy_folds(task=task)
    scorer = get_scorer("accuracy" if task == "classification" else "r2")
    results = {}
    for batched in (False, True):
        ev = Evaluator(space, task, scorer, max_epochs=8, classes=CLASSES if task == "classification" else None,
                       patience=3, batched_folds=batched)
        results[batched] = ev.evaluate(Candidate(g), folds, seed=5)
    seq, bat = results[False], results[True]
    assert seq.train_mode == "sequential" and bat.train_mode == "batched x3"
    assert bat.score == pytest.approx(seq.score, abs=1e-6)
    np.testing.assert_allclose(bat.learning_curve, seq.learning_curve, rtol=1e-3)
