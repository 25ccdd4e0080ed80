import time

import numpy as np
import pytest
import torch
from sklearn.metrics import get_scorer

from sknas.evaluation.trainer import (
    Evaluator, TabularClassifierNet, TabularRegressorNet, TensorBatchIterator, make_net,
)
from sknas.evaluation.trial import TrialData
from sknas.search.base import Candidate
from sknas.space.base import SearchSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.params import Categorical
from sknas.space.training import TrainingSpace
from skorch.dataset import Dataset


def blobs(n=200, seed=0, labels=("cat", "dog")):
    rng = np.random.default_rng(seed)
    y_idx = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 4)) + 2.0 * y_idx[:, None]
    y = np.array(labels, dtype=object)[y_idx]
    return X, y


def split(X, y):
    n = len(y) * 3 // 4
    return TrialData(X[:n], y[:n], X[n:], y[n:])


def small_space(task="classification"):
    return JointSpace(MLPSpace(max_blocks=2, max_width=64), TrainingSpace(task))


def good_genotype(space, **changes):
    g = dict(space.portfolio()[0] if space.portfolio() else space.sample(0))
    g.update(changes)
    return space.validate(space._complete(g, np.random.default_rng(0)))


def test_batch_iterator_visits_every_row_once_per_epoch():
    ds = Dataset(torch.arange(10.0)[:, None], torch.arange(10))
    batches = list(TensorBatchIterator(ds, batch_size=4, shuffle=True))
    seen = torch.cat([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(b[1]) for b in TensorBatchIterator(ds, batch_size=4)] == [4, 4, 2]
    # a trailing batch of one row is dropped while training (batch norm cannot use it)
    assert sum(len(b[1]) for b in TensorBatchIterator(Dataset(torch.zeros(9, 1), torch.zeros(9)), 4, True)) == 8


def test_classifier_net_returns_labels_of_any_type():
    torch.manual_seed(0)
    X, y = blobs()
    space = small_space()
    net = make_net(space, good_genotype(space), "classification", 4, 2, classes=np.unique(y), max_epochs=80)
    net.fit(X.astype(np.float64), y)
    assert set(net.predict(X)) <= {"cat", "dog"}
    assert (net.predict(X) == y).mean() > 0.9
    assert isinstance(net, TabularClassifierNet)


def test_regressor_net_restores_the_target_scale():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = 1000.0 + 50.0 * X[:, 0]
    space = small_space("regression")
    net = make_net(space, good_genotype(space), "regression", 3, 1, max_epochs=60)
    net.fit(X, y)
    assert isinstance(net, TabularRegressorNet)
    assert abs(net.target_mean_[0] - y.mean()) < 1e-6
    pred = net.predict(X)
    assert pred.shape == (300,)
    assert np.corrcoef(pred, y)[0, 1] > 0.95 and abs(pred.mean() - 1000.0) < 10


def test_evaluator_scores_and_early_stops():
    X, y = blobs(n=300)
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=200, classes=np.unique(y),
                   preprocessing="none", patience=5)
    r = ev.evaluate(Candidate(good_genotype(space)), split(X, y), seed=0)
    assert r.status == "ok", r.error
    assert r.score > 0.9 and r.n_params > 0
    assert r.stop_reason == "early_stopping" and r.n_epochs < 200
    assert r.best_epoch == int(np.argmin(r.learning_curve)) + 1
    assert r.model.predict(X[:3]).shape == (3,)


def test_evaluator_is_reproducible_under_a_seed():
    X, y = blobs()
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=15, classes=np.unique(y))
    g = good_genotype(space)
    a = ev.evaluate(Candidate(g), split(X, y), seed=3)
    b = ev.evaluate(Candidate(g), split(X, y), seed=3)
    assert a.learning_curve == b.learning_curve


def test_deadline_stops_training():
    X, y = blobs(n=2000)
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=10_000, classes=np.unique(y),
                   patience=10_000)
    g = good_genotype(space, batch_size=32)
    start = time.time()
    r = ev.evaluate(Candidate(g), split(X, y), deadline=time.time() + 1.5, seed=0)
    assert time.time() - start < 4.0
    assert r.status == "ok" and r.stop_reason == "time_limit"


def test_nan_loss_is_a_failed_trial_not_an_exception():
    X, y = blobs()
    X = X.copy()
    X[5, 0] = np.inf  # "none" preprocessing standard-scales; inf makes the loss NaN
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=5, classes=np.unique(y),
                   preprocessing=_Identity())
    r = ev.evaluate(Candidate(good_genotype(space)), split(X, y), seed=0)
    assert r.status == "failed" and r.score is None
    assert "NonFiniteLossError" in r.error or "infinity" in r.error


class _Identity:
    """A transformer passing data through untouched (so the inf reaches the network)."""

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32)

    def fit_transform(self, X, y=None):
        return self.transform(X)


class BrokenSpace(SearchSpace):
    """A space whose networks cannot be built."""

    def _params(self):
        return [Categorical("kind", ("broken",))]

    def build(self, genotype, n_inputs, n_outputs):
        raise RuntimeError("this network cannot be built")


def test_exception_in_a_trial_is_recorded():
    X, y = blobs()
    space = JointSpace(BrokenSpace(), TrainingSpace())
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=5, classes=np.unique(y))
    r = ev.evaluate(Candidate(space.sample(0)), split(X, y), seed=0)
    assert r.status == "failed" and "this network cannot be built" in r.error


def test_cross_validation_folds_average_their_scores():
    X, y = blobs(n=200)
    folds = [TrialData(np.delete(X, idx, 0), np.delete(y, idx), X[idx], y[idx])
             for idx in np.array_split(np.arange(200), 4)]
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=10, classes=np.unique(y))
    g = good_genotype(space)
    r = ev.evaluate(Candidate(g), folds, seed=0)
    # fold k trains under torch seed (seed + k): the same as evaluating that fold alone with seed k
    singles = [ev.evaluate(Candidate(g), [fold], seed=k) for k, fold in enumerate(folds)]
    assert r.n_folds == 4
    assert r.score == pytest.approx(np.mean([s.score for s in singles]), rel=1e-12)
    assert r.best_epoch == int(np.median([s.best_epoch for s in singles]))


# -- networks that start from given weights (Evaluator.evaluate_inherited) --------------------
def _prepared(model, data):
    """The fold ``data`` preprocessed with the fitted preprocessing of ``model`` (a trial's pipeline)."""
    from sknas.evaluation.trial import PreparedFold

    prep = model.named_steps["preprocessing"]
    return PreparedFold(prep=prep, Xt=np.asarray(prep.transform(data.X_train), dtype=np.float32),
                        y_train=data.y_train, Xv=np.asarray(prep.transform(data.X_valid), dtype=np.float32),
                        y_valid=data.y_valid)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_inherited_weights_are_scored_as_the_trial_that_trained_them(task):
    X, y = blobs(n=240)
    if task == "regression":
        y = 100.0 + 30.0 * X[:, 0] + np.random.default_rng(1).normal(size=len(X))
    space = small_space(task)
    scorer = get_scorer("accuracy" if task == "classification" else "r2")
    ev = Evaluator(space, task, scorer, max_epochs=8, classes=np.unique(y) if task == "classification" else None,
                   preprocessing="none")
    g = good_genotype(space)
    data = split(X, y)
    trial = ev.evaluate(Candidate(g), data, seed=0)
    assert trial.status == "ok", trial.error
    trained = trial.model.named_steps["net"]
    inherited = ev.evaluate_inherited(g, _prepared(trial.model, data), trained.module_.net, epochs=0)
    assert inherited.status == "ok", inherited.error
    # one scoring path: the same weights on the same fold give the trial's score, size and FLOPs
    assert inherited.score == pytest.approx(trial.score, abs=1e-12)
    assert (inherited.n_params, inherited.flops) == (trial.n_params, trial.flops)
    assert inherited.n_epochs == 0 and inherited.best_epoch is None and inherited.stop_reason is None
    net = inherited.model.named_steps["net"]
    method = "predict_proba" if task == "classification" else "predict"
    np.testing.assert_allclose(getattr(inherited.model, method)(X[:20]), getattr(trial.model, method)(X[:20]),
                               rtol=1e-6, atol=1e-6)
    if task == "regression":  # the target scaling is the net's own, from the training part
        assert net.target_mean_[0] == pytest.approx(np.mean(data.y_train))
        assert net.target_scale_[0] == pytest.approx(np.std(data.y_train))


def test_inherited_weights_train_further_and_a_state_dict_works_too():
    X, y = blobs(n=240)
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=3, classes=np.unique(y),
                   preprocessing="none")
    g = good_genotype(space)
    data = split(X, y)
    trial = ev.evaluate(Candidate(g), data, seed=0)
    start = {k: v.clone() for k, v in trial.model.named_steps["net"].module_.net.state_dict().items()}
    torch.manual_seed(0)
    tuned = ev.evaluate_inherited(g, _prepared(trial.model, data), start, epochs=4)
    assert tuned.status == "ok", tuned.error
    assert tuned.n_epochs == len(tuned.learning_curve) == 4 and tuned.stop_reason == "max_epochs"
    assert tuned.best_epoch == int(np.argmin(tuned.learning_curve)) + 1
    after = tuned.model.named_steps["net"].module_.net.state_dict()
    assert any(not torch.equal(after[k], start[k]) for k in start)  # it trained, from those weights


def test_a_failing_inherited_network_is_recorded_as_a_failing_trial_is():
    X, y = blobs(n=200)
    space = small_space()
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=3, classes=np.unique(y),
                   preprocessing="none")
    g = good_genotype(space)
    data = split(X, y)
    trial = ev.evaluate(Candidate(g), data, seed=0)
    prepared = _prepared(trial.model, data)
    module = trial.model.named_steps["net"].module_.net
    poisoned = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                for k, v in module.state_dict().items()}
    r = ev.evaluate_inherited(g, prepared, poisoned, epochs=2)
    assert r.status == "failed" and r.score is None and r.fit_time > 0
    # an expected failure reads as evaluate() records one: type and message, no traceback
    assert r.error.startswith("NonFiniteLossError: train_loss became nan") and "\n" not in r.error
    wrong = ev.evaluate_inherited(g, prepared, torch.nn.Linear(3, 2), epochs=0)
    assert wrong.status == "failed" and wrong.error.startswith("RuntimeError: Error(s) in loading state_dict")


def test_regressor_target_statistics_are_set_through_the_net():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = 500.0 + 20.0 * X[:, 0]
    space = small_space("regression")
    torch.manual_seed(0)
    fitted = make_net(space, good_genotype(space), "regression", 3, 1, max_epochs=20)
    fitted.fit(X, y)
    copy = make_net(space, good_genotype(space), "regression", 3, 1, max_epochs=20)
    copy.initialize()
    copy.module_.load_state_dict(fitted.module_.state_dict())
    assert copy.set_target_statistics(fitted.target_mean_, fitted.target_scale_) is copy
    np.testing.assert_allclose(copy.predict(X), fitted.predict(X), rtol=1e-6)
    # the statistics are the net's copy, not the other net's arrays
    assert copy.target_mean_ is not fitted.target_mean_
    copy.set_target_statistics([0.0], [1.0])  # the raw output: a different scale, so different predictions
    assert not np.allclose(copy.predict(X), fitted.predict(X))
    with pytest.raises(ValueError, match="same length"):
        copy.set_target_statistics([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="scale finite and > 0"):
        copy.set_target_statistics([0.0], [0.0])
    with pytest.raises(ValueError, match="mean must be finite"):
        copy.set_target_statistics([np.nan], [1.0])
