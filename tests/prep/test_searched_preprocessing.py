"""The issue's end-to-end checks: searched data preparation inside AutoNASClassifier."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from sknas import AutoNASClassifier
from sknas.prep.cleaning import IDColumnWarning
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


def small_mlp():
    return MLPSpace(max_blocks=2, max_width=128)


def raw_customers(n, seed=0):
    """Numbers stored as text, a date, an ID, a constant, NaNs and a 500-level categorical."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(size=n)
    product = rng.integers(0, 500, n)
    frame = pd.DataFrame({
        "customer_id": np.arange(n) + 100_000 * (seed + 1),
        "amount": [f"{v * 10 + 50:.2f}" for v in amount],
        "signup": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
        "country": "FR",
        "rating": np.where(rng.random(n) < 0.15, np.nan, rng.normal(size=n)),
        "product": [f"p{v:03d}" for v in product],
    })
    y = np.where(amount + 0.8 * (product % 2) + 0.3 * rng.normal(size=n) > 0.4, "buys", "leaves")
    return frame, y


def test_raw_frame_fits_warns_lists_removed_columns_and_predicts_unseen_levels():
    X, y = raw_customers(1000)
    clf = AutoNASClassifier(space=small_mlp(), search="random", time_budget=None, max_trials=2, max_epochs=5,
                            random_state=0)
    with pytest.warns(IDColumnWarning, match="customer_id"):
        clf.fit(X, y)
    prep = clf.best_estimator_.named_steps["preprocessing"]
    assert isinstance(prep, Pipeline)
    removed = prep.named_steps["clean"].removed_columns_
    assert removed["customer_id"].startswith("identifier") and removed["country"] == "constant"
    X_new, y_new = raw_customers(60, seed=1)
    X_new.loc[:19, "product"] = [f"new-{i}" for i in range(20)]  # unseen levels
    X_new.loc[:5, "amount"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", IDColumnWarning)  # predicting refits nothing, so it does not warn
        predictions = clf.predict(X_new)
    assert set(predictions) <= {"buys", "leaves"} and clf.score(X_new, y_new) > 0.6


def test_search_results_show_the_chosen_preprocessing_of_each_trial():
    X, y = raw_customers(1000)
    clf = AutoNASClassifier(space=small_mlp(), search="random", time_budget=None, max_trials=4, max_epochs=2,
                            random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IDColumnWarning)
        clf.fit(X, y)
    results = pd.DataFrame(clf.search_results_)
    for genotype, scaler, select in zip(results["genotype"], results["param_scaler"], results["param_select"]):
        assert genotype["scaler"] == scaler and genotype["select"] == select
    assert results["param_select"].notna().all() and results["param_augment"].notna().all()
    best = clf.best_genotype_
    steps = dict(clf.best_estimator_.named_steps["preprocessing"].steps)
    assert steps["encode"].scaler == best["scaler"]
    assert ("select" in steps) == (best["select"] != "none")


@pytest.mark.slow
def test_feature_selection_beats_the_best_none_pipeline_on_held_out_data():
    """5 informative and 200 pure-noise features: the searched pipeline generalizes better.

    A quality bar of two 8-trial searches (over a minute), so slow-only.
    """
    X, y = make_classification(n_samples=1800, n_features=205, n_informative=5, n_redundant=0, n_repeated=0,
                               shuffle=False, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=600, random_state=0, stratify=y)
    common = dict(search="random", time_budget=None, max_trials=8, max_epochs=15, random_state=0)
    none = AutoNASClassifier(space=small_mlp(), preprocessing="none", **common).fit(X_train, y_train)
    selection = PipelineSpace.from_allowed(["mutual_info", "f_test", "l1"], task="classification")
    # snapshot ensembles off: the property under test is the selection step
    auto = AutoNASClassifier(space=JointSpace(small_mlp(), TrainingSpace("classification", snapshots=(1,)), selection),
                             **common).fit(X_train, y_train)
    assert auto.best_genotype_["select"] != "none"
    n_kept = auto.best_estimator_.named_steps["preprocessing"].named_steps["select"].get_support().sum()
    assert n_kept < 50
    # the issue asks that it beats the best "none" pipeline; 0.01 keeps a margin above ties on 600 rows
    assert auto.score(X_test, y_test) > none.score(X_test, y_test) + 0.01


def test_class_weights_with_balanced_accuracy_scoring():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 6))
    y = np.where(X[:, 0] + X[:, 1] + 0.5 * rng.normal(size=1000) > 2.0, "rare", "common")  # 8% rare

    def search(class_weight):
        pipeline = PipelineSpace(task="classification", scalers=("quantile",), encoders=("onehot",),
                                 selectors=("none",), constructors=("none",), extractors=("none",),
                                 augmentations=("none",), class_weights=(class_weight,))
        space = JointSpace(small_mlp(), TrainingSpace("classification"), pipeline)
        return AutoNASClassifier(space=space, scoring="balanced_accuracy", search="random", time_budget=None,
                                 max_trials=2, max_epochs=10, random_state=0).fit(X, y)

    weighted, plain = search("balanced"), search("none")
    assert "class_weight" in dict(weighted.best_estimator_.named_steps["net"].callbacks_)
    assert "class_weight" not in dict(plain.best_estimator_.named_steps["net"].callbacks_)
    # candidates are ranked by balanced accuracy, which the class weights improve
    assert weighted.best_score_ > plain.best_score_ + 0.05
    assert balanced_accuracy_score(y, weighted.predict(X)) > 0.8
