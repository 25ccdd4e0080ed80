"""Synthetic oversampling (SMOTE family) of the training rows, searched as an imbalance remedy."""

import numpy as np
import pytest
from sklearn.metrics import get_scorer

from sknas import AutoNASClassifier
from sknas.evaluation import trainer
from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.prep.imbalance import OVERSAMPLERS, oversample, resample_training
from sknas.search.base import Candidate
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


def imbalanced(n_common=180, n_rare=20, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0.0, 1.0, size=(n_common, 4)), rng.normal(1.5, 0.5, size=(n_rare, 4))])
    y = np.array(["common"] * n_common + ["rare"] * n_rare, dtype=object)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


@pytest.mark.parametrize("method", OVERSAMPLERS)
def test_oversampling_balances_the_classes_with_rows_between_minority_rows(method):
    X, y = imbalanced()
    X_new, y_new = oversample(X, y, method=method, random_state=0)
    assert X_new.dtype == np.float32 and y_new.dtype == y.dtype
    np.testing.assert_array_equal(X_new[: len(X)], X)  # the real rows first, untouched
    np.testing.assert_array_equal(y_new[: len(y)], y)
    labels, counts = np.unique(y_new, return_counts=True)
    assert list(labels) == ["common", "rare"] and counts[0] == counts[1] == 180
    synthetic = X_new[len(X):]
    rare = X[y == "rare"]
    assert (synthetic >= rare.min(axis=0) - 1e-6).all() and (synthetic <= rare.max(axis=0) + 1e-6).all()


def test_oversampling_edge_cases():
    X, y = imbalanced()
    balanced_X, _ = oversample(X[:20], np.array(["a", "b"] * 10))
    assert len(balanced_X) == 20  # nothing to grow
    single = np.array([0] * 30 + [1])  # one row: no neighbour to interpolate with
    _, ys = oversample(np.random.default_rng(0).normal(size=(31, 2)), single)
    assert len(ys) == 31
    few = np.array([0] * 30 + [1] * 3)  # k_neighbors lowered to 2
    _, yf = oversample(np.random.default_rng(0).normal(size=(33, 2)), few, random_state=0)
    assert np.bincount(yf).tolist() == [30, 30]
    # ADASYN refuses well separated classes; SMOTE is used instead
    separated = np.vstack([np.zeros((30, 2)), np.full((5, 2), 50.0)]) + np.random.default_rng(0).normal(size=(35, 2))
    _, ya = oversample(separated, np.array([0] * 30 + [1] * 5), method="adasyn", random_state=0)
    assert np.bincount(ya).tolist() == [30, 30]
    with pytest.raises(ValueError, match="method must be one of"):
        oversample(X, y, method="tomek")


def test_oversampling_is_a_searchable_choice_off_by_default():
    assert "oversample" not in {p.name for p in PipelineSpace(task="classification").params}
    space = PipelineSpace.from_allowed(["quantile", "smote"], task="classification")
    params = {p.name: p for p in space.params}
    assert params["oversample"].choices == ("none", "smote")
    assert "oversample" not in {p.name for p in PipelineSpace.from_allowed(["smote"], task="regression").params}
    first = space.portfolio()[0]
    assert first["oversample"] == "none" and space.oversampling(first) == "none"
    assert space.oversampling(space.validate(dict(first, oversample="smote"))) == "smote"
    # switching it on leaves the portfolio's first entry as it was, plus oversample="none"
    searched_first = PipelineSpace(oversamplers=("none", "smote")).portfolio()[0]
    assert dict(searched_first) == dict(PipelineSpace().portfolio()[0], oversample="none")


def joint(oversample_choice):
    pipeline = PipelineSpace(task="classification", oversamplers=("none", "smote"))
    space = JointSpace(MLPSpace(max_blocks=1, min_blocks=1, max_width=32), TrainingSpace(), pipeline)  # one block
    genotype = space.validate(dict(space.portfolio()[0], oversample=oversample_choice, width_0=16))
    return space, genotype


@pytest.mark.parametrize("choice", ["none", "smote"])
def test_only_training_rows_are_oversampled_in_a_trial_and_a_refit(monkeypatch, choice):
    X, y = imbalanced()
    data = TrialData(X[:150], y[:150], X[150:], y[150:])
    space, genotype = joint(choice)
    seen = []
    real_make_net = trainer.make_net

    def spy(*args, **kwargs):
        net = real_make_net(*args, **kwargs)
        real_fit = net.fit

        def fit(X_fit, y_fit, **params):
            seen.append({"X": np.array(X_fit), "y": np.array(y_fit), "valid": net.valid_data})
            return real_fit(X_fit, y_fit, **params)

        net.fit = fit
        return net

    monkeypatch.setattr(trainer, "make_net", spy)
    evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=2,
                          classes=np.array(["common", "rare"], dtype=object))
    result = evaluator.evaluate(Candidate(genotype), data, seed=0)
    assert result.status == "ok", result.error
    trial = seen[0]
    prep = result.model.named_steps["preprocessing"]
    n_rare = int((data.y_train == "rare").sum())
    counts = {label: int((trial["y"] == label).sum()) for label in ("common", "rare")}
    if choice == "smote":
        assert counts["rare"] == counts["common"] == 150 - n_rare  # the training balance changed
    else:
        assert counts["rare"] == n_rare and len(trial["y"]) == 150
    # validation rows: exactly the real validation rows, never synthetic, never resampled
    X_valid, y_valid = trial["valid"]
    assert len(y_valid) == 50
    np.testing.assert_array_equal(X_valid, prep.transform(data.X_valid))
    np.testing.assert_array_equal(y_valid, data.y_valid)
    # the real training rows come first, in order
    np.testing.assert_array_equal(trial["X"][:150], prep.transform(data.X_train))

    evaluator.refit(genotype, X, y, epochs=1, seed=0)
    refit = seen[-1]
    assert refit["valid"] is None
    assert len(refit["y"]) == (2 * int((y == "common").sum()) if choice == "smote" else len(y))


def test_resample_training_leaves_other_spaces_and_regression_alone():
    X, y = imbalanced()
    space = JointSpace(MLPSpace(max_blocks=1), TrainingSpace())
    assert resample_training(space, space.sample(0), X, y, 0)[0] is X
    regression = JointSpace(MLPSpace(max_blocks=1), TrainingSpace(task="regression"),
                            PipelineSpace(task="regression", oversamplers=("none", "smote")))
    g = regression.sample(0)
    assert resample_training(regression, g, X, np.arange(len(X), dtype=float), 0)[0] is X


def test_searched_through_the_estimator():
    X, y = imbalanced(n_common=270, n_rare=30)
    clf = AutoNASClassifier(search="random", preprocessing=["quantile", "smote"], time_budget=None, max_trials=3,
                            max_epochs=2, scoring="balanced_accuracy", validation_fraction=0.5,
                            random_state=1).fit(X, y)
    assert set(clf.search_results_["param_oversample"]) <= {"none", "smote"}
    assert clf.predict(X[:5]).shape == (5,)
