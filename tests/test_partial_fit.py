"""Data that keeps coming: ``partial_fit`` on new rows, and ``warm_start`` on new data."""

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.evaluation.ensembles import EnsembleClassifier, leaves
from sknas.io import load

# one trial, one network, a holdout split (>= 1000 rows) or 2 folds: fast
ONE = dict(time_budget=None, max_trials=1, max_epochs=8, random_state=0, search="random", ensemble_size=1,
           validation_fraction=0.5)


def rotated(n, angle, seed, n_features=4):
    """Gaussian rows labelled by the side of a hyperplane whose normal is at ``angle`` in the first two features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    w = np.zeros(n_features)
    w[:2] = np.cos(angle), np.sin(angle)
    return X, (X @ w > 0).astype(int)


def _epochs(model):
    return [len(leaf.named_steps["net"].history) for leaf in leaves(model)]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    return AutoNASClassifier(**ONE).fit(X, y)


# -- the drift test --------------------------------------------------------------------
@pytest.mark.slow
def test_partial_fit_recovers_after_the_decision_boundary_rotates():
    """Fit on A; the boundary turns by 90 degrees (B); partial_fit on B rows gets close to a refit on B."""
    settings = dict(ONE, max_epochs=15, validation_fraction=0.25)
    XA, yA = rotated(1200, 0.0, seed=0)
    XB, yB = rotated(600, np.pi / 2, seed=1)
    X_test, y_test = rotated(1000, np.pi / 2, seed=2)
    clf = AutoNASClassifier(**settings).fit(XA, yA)
    before = clf.score(X_test, y_test)
    clf.partial_fit(XB, yB, epochs=30)
    after = clf.score(X_test, y_test)
    reference = AutoNASClassifier(**settings).fit(XB, yB).score(X_test, y_test)  # a plain refit from scratch on B
    assert before < 0.65  # the drift broke the model
    assert after > before + 0.3
    assert after >= reference - 0.03, (before, after, reference)


def test_partial_fit_on_a_stream_of_drifted_batches_beats_the_stale_model():
    """The default epochs, three small batches of B one after the other: B's accuracy climbs back."""
    XA, yA = rotated(1000, 0.0, seed=0, n_features=2)
    XB, yB = rotated(300, np.pi / 2, seed=1, n_features=2)
    X_test, y_test = rotated(500, np.pi / 2, seed=2, n_features=2)
    clf = AutoNASClassifier(**ONE).fit(XA, yA)
    before = clf.score(X_test, y_test)
    for batch in np.array_split(np.arange(len(yB)), 3):
        clf.partial_fit(XB[batch], yB[batch])
    assert len(clf.partial_fits_) == 3 and all(c["epochs_trained"] == c["epochs"] for c in clf.partial_fits_)
    assert before < 0.65 and clf.score(X_test, y_test) > before + 0.2


# -- the contract ------------------------------------------------------------------------
def test_unfitted_classifier_needs_classes(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        AutoNASClassifier(**ONE).partial_fit(X, y)
    with pytest.raises(ValueError, match=r"label\(s\) \[2\] not in classes"):
        AutoNASClassifier(**ONE).partial_fit(X, y, classes=[0, 1])


def test_first_partial_fit_fits_with_the_declared_classes(iris):
    """The first call is a fit; a class declared but absent from those rows can come later."""
    X, y = iris
    first = y < 2
    clf = AutoNASClassifier(**ONE).partial_fit(X[first], y[first], classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2] and clf.predict_proba(X[:5]).shape == (5, 3)
    assert clf.n_trials_ == 1 and clf.partial_fits_ == []  # a search ran: the first call is a fit
    clf.partial_fit(X, y, epochs=2)  # class 2 arrives
    assert clf.partial_fits_[-1]["n_samples"] == len(y)
    with pytest.raises(ValueError, match="is not the same as the classes_"):
        clf.partial_fit(X, y, classes=[0, 1])


def test_unseen_class_is_refused_and_the_model_is_unchanged(fitted, iris):
    X, y = iris
    clf = copy.deepcopy(fitted)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match=r"class\(es\) \[7\] never seen in fit"):
        clf.partial_fit(X[:10], np.r_[y[:9], 7])
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_wrong_features_are_refused(fitted, iris):
    X, y = iris
    clf = copy.deepcopy(fitted)
    with pytest.raises(ValueError, match="X has 3 features, but AutoNASClassifier is expecting 4"):
        clf.partial_fit(X[:, :3], y)
    named = AutoNASClassifier(**ONE).fit(pd.DataFrame(X, columns=list("abcd")), y)
    with pytest.raises(ValueError, match="feature names should match"):
        named.partial_fit(pd.DataFrame(X, columns=list("abce")), y)
    with pytest.raises(ValueError, match="at least 2 rows"):
        clf.partial_fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        clf.partial_fit(X, y, epochs=0)


def test_partial_fit_trains_the_network_on_with_a_standard_scaler_updated(fitted, iris):
    X, y = iris
    clf = copy.deepcopy(fitted)
    net = clf.best_estimator_.named_steps["net"]
    n_before, weights = len(net.history), [p.detach().clone() for p in net.module_.parameters()]
    clf.partial_fit(X[:60], y[:60], epochs=3)
    net = clf.best_estimator_.named_steps["net"]
    assert len(net.history) == n_before + 3
    assert any(not np.allclose(a, b.detach()) for a, b in zip(weights, net.module_.parameters()))
    # the genotype's scaler is "standard": its running statistics now count the new rows too
    encode = clf.best_estimator_.named_steps["preprocessing"].named_steps["encode"]
    scaler = encode.column_transformer_.named_transformers_["numeric"].named_steps["scale"]
    assert scaler.n_samples_seen_ == len(y) + 60
    assert clf.partial_fits_[-1]["statistics_updated"] == 1
    # not asked to: the statistics stay
    again = copy.deepcopy(fitted)
    again.partial_fit(X[:60], y[:60], epochs=1, update_preprocessing=False)
    encode = again.best_estimator_.named_steps["preprocessing"].named_steps["encode"]
    assert encode.column_transformer_.named_transformers_["numeric"].named_steps["scale"].n_samples_seen_ == len(y)


def test_time_limit_stops_the_training(fitted, iris):
    X, y = iris
    clf = copy.deepcopy(fitted)
    clf.partial_fit(X, y, epochs=500, time_limit=0.05)
    record = clf.partial_fits_[-1]
    assert record["time_limit_reached"] and record["epochs_trained"] < 500


def test_regressor_partial_fit_keeps_the_target_scaling_and_follows_a_shift():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    reg = AutoNASRegressor(**ONE).fit(X, y)
    nets = [leaf.named_steps["net"] for leaf in leaves(reg._final)]
    scaling = [(net.target_mean_.copy(), net.target_scale_.copy()) for net in nets]
    shifted = y + 5.0  # the target level drifts
    gap_before = abs(reg.predict(X).mean() - shifted.mean())
    reg.partial_fit(X, shifted, epochs=60)
    gap_after = abs(reg.predict(X).mean() - shifted.mean())
    assert gap_before > 4.0 and gap_after < 0.5 * gap_before
    for leaf, (mean, scale) in zip(leaves(reg._final), scaling):
        np.testing.assert_array_equal(leaf.named_steps["net"].target_mean_, mean)
        np.testing.assert_array_equal(leaf.named_steps["net"].target_scale_, scale)


def test_unfitted_regressor_partial_fit_is_a_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    reg = AutoNASRegressor(**ONE).partial_fit(X, X[:, 0])
    assert reg.n_trials_ == 1 and reg.n_features_in_ == 3


def test_save_and_load_after_partial_fit(fitted, iris, tmp_path):
    X, y = iris
    clf = copy.deepcopy(fitted).partial_fit(X[::2], y[::2], epochs=2)
    path = clf.save(tmp_path / "model.sknas")
    loaded = load(path)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert loaded.partial_fits_ == clf.partial_fits_
    loaded.partial_fit(X[1::2], y[1::2], epochs=2)  # a loaded model trains on too
    assert len(loaded.partial_fits_) == 2


def test_bag_and_ensemble_members_are_all_trained(iris):
    """With cross-validation every member is a bag of fold models: each network is trained, once."""
    X, y = iris
    clf = AutoNASClassifier(**dict(ONE, ensemble_size="auto", max_trials=2, max_epochs=4)).fit(X, y)
    assert isinstance(clf.ensemble_, EnsembleClassifier)
    before = _epochs(clf.ensemble_)
    assert len(before) >= 2  # at least one bag of 2 fold models
    clf.partial_fit(X, y, epochs=2)
    assert _epochs(clf.ensemble_) == [n + 2 for n in before]
    # best_estimator_ is still the network the bag or ensemble holds, not a copy trained apart
    assert any(leaf is clf.best_estimator_ for leaf in leaves(clf.ensemble_))
    assert clf.partial_fits_[-1]["n_networks"] == len({id(leaf) for leaf in leaves(clf.ensemble_)})


# -- warm start on new data ------------------------------------------------------------
@pytest.mark.slow  # three searches
def test_warm_start_on_new_data_evaluates_the_earlier_best_genotypes_first():
    settings = dict(time_budget=None, max_epochs=3, random_state=0, search="random", ensemble_size=1,
                    validation_fraction=0.5, warm_start=True)
    XA, yA = rotated(200, 0.0, seed=0)
    XB, yB = rotated(200, np.pi / 2, seed=1)
    clf = AutoNASClassifier(max_trials=3, **settings).fit(XA, yA)
    old = clf.search_results_
    ranked = sorted((i for i in range(len(old["score"])) if old["status"][i] == "ok"),
                    key=lambda i: (-old["score"][i], i))
    assert len(ranked) == 3
    clf.set_params(max_trials=5)
    clf.fit(XB, yB)
    new = clf.search_results_
    assert clf.n_trials_ == 5  # the earlier trials are not counted, nor kept
    assert new["genotype"][:3] == [old["genotype"][i] for i in ranked]  # best first, by their old score
    assert new["source"][:3] == ["warm_start"] * 3 and new["source"][3:] == ["searcher"] * 2
    # re-evaluated on B: the scores are B's (the A-best genotypes, judged on rotated labels)
    assert new["score"][:3] != [old["score"][i] for i in ranked]
    # the same rows again (in another order): the search continues instead
    clf.set_params(max_trials=6)
    clf.fit(XB[::-1], yB[::-1])
    assert clf.n_trials_ == 6 and clf.search_results_["genotype"][:5] == new["genotype"]
