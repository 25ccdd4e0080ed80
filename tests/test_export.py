"""sknas.export: the whole pipeline as one ONNX graph (checked with onnxruntime), and TorchScript."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer, SplineTransformer, StandardScaler

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from sknas import AutoNASClassifier, AutoNASRegressor  # noqa: E402
from sknas.export import (  # noqa: E402
    _torch_onnx_model, check_onnx, export_onnx, export_torchscript, onnx_input, onnx_inputs, preprocessing_to_onnx,
    to_onnx,
)
from sknas.nn.builders import DenseDAG  # noqa: E402
from sknas.prep.tabular import TabularPreprocessor  # noqa: E402

# validation_fraction=0.5: two cross-validation folds instead of five, for speed
TINY = dict(time_budget=None, max_trials=1, max_epochs=5, validation_fraction=0.5, random_state=0,
            ensemble_size=1)  # one network (bags and ensembles have their own tests)


def _run(model_or_path, X):
    data = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {"X": onnx_input(X)})


@pytest.fixture(scope="module")
def cancer_split():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.copy()
    rng = np.random.default_rng(0)
    X.iloc[rng.integers(0, len(X), 30), 2] = np.nan  # missing values: imputer + missing indicator
    labels = np.where(y.to_numpy() == 1, "benign", "malignant")
    return train_test_split(X, labels, test_size=0.3, random_state=0)


@pytest.fixture(scope="module")
def classifier(cancer_split):
    X_train, _, y_train, _ = cancer_split
    return AutoNASClassifier(**TINY).fit(X_train, y_train)


@pytest.fixture(scope="module")
def classifier_onnx(classifier, cancer_split, tmp_path_factory):
    _, X_test, _, _ = cancer_split
    path = tmp_path_factory.mktemp("export") / "clf.onnx"
    return export_onnx(classifier, path, X_check=X_test)  # X_check: runs onnxruntime, raises on a mismatch


def test_classifier_onnx_matches_predict_proba(classifier, classifier_onnx, cancer_split):
    _, X_test, _, _ = cancer_split
    assert X_test.isna().any().any()
    path = classifier_onnx
    assert onnx.load(path).graph.output[1].name == "probabilities"
    label, proba = _run(str(path), X_test)
    np.testing.assert_allclose(proba, classifier.predict_proba(X_test), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(label, classifier.predict(X_test))
    assert check_onnx(classifier, path, X_test) <= 1e-5
    meta = json.loads(onnx.load(str(path)).doc_string)
    assert meta["classes"] == ["benign", "malignant"] and meta["n_features_in"] == X_test.shape[1]


def test_regressor_onnx_matches_predict(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    reg = AutoNASRegressor(space="resnet", **TINY).fit(X, y)
    path = export_onnx(reg, tmp_path / "reg.onnx", X_check=X)
    (pred,) = _run(str(path), X)
    assert pred.shape == (len(X), 1)
    expected = reg.predict(X)
    # the network runs in float32 (relative precision ~1e-7) and its output is scaled by the target's std
    np.testing.assert_allclose(pred.ravel(), expected, rtol=1e-5, atol=1e-5 * np.std(y))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in recent torch
def test_torchscript_matches_the_network(classifier, cancer_split, tmp_path):
    _, X_test, _, _ = cancer_split
    path = export_torchscript(classifier, tmp_path / "net.pt")
    extra = {"sknas.json": ""}
    scripted = torch.jit.load(str(path), _extra_files=extra)
    features = classifier.best_estimator_[:-1].transform(X_test)
    with torch.no_grad():
        proba = scripted(torch.as_tensor(features)).numpy()
    np.testing.assert_allclose(proba, classifier.predict_proba(X_test), atol=1e-6, rtol=0)
    meta = json.loads(extra["sknas.json"])
    assert meta["classes"] == ["benign", "malignant"]
    assert meta["feature_names_in"] == list(X_test.columns)


def test_every_activation_and_norm_of_the_mlp_space_exports():
    blocks = [
        dict(width=7, activation="relu", norm="batch", dropout=0.1, skip=None),
        dict(width=6, activation="gelu", norm="layer", dropout=0.0, skip=0),
        dict(width=5, activation="silu", norm="none", dropout=0.2, skip=1),
        dict(width=4, activation="selu", norm="batch", dropout=0.0, skip=None),
        dict(width=3, activation="mish", norm="layer", dropout=0.0, skip=2),
    ]
    torch.manual_seed(0)
    module = DenseDAG(4, 3, blocks)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    module.eval()
    model = _torch_onnx_model(module, 4, 18)
    x = np.random.default_rng(0).normal(size=(9, 4)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    with torch.no_grad():
        expected = module(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def _scalers():
    try:
        from sknas.prep.tabular import SCALERS
    except ImportError:  # older preprocessing
        SCALERS = ("standard", "quantile", "robust")
    return SCALERS


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the power transform overflows on the far-out rows
@pytest.mark.parametrize("scaler", _scalers())
def test_numeric_preprocessing_converts_exactly(scaler):
    X, y = load_breast_cancer(return_X_y=True)
    X = X[:200].copy()
    X[::7, 3] = np.nan
    X[::11, 0] = np.nan
    X[5, :] = X[6, :]  # repeated rows: repeated quantiles
    prep = TabularPreprocessor(scaler=scaler).fit(X, y[:200])
    X_new = np.vstack([X, X.min(axis=0) - 1.0, X.max(axis=0) + 1.0, np.full(X.shape[1], np.nan)])
    (out,) = _run(preprocessing_to_onnx(prep, X.shape[1]), X_new)
    np.testing.assert_allclose(out, prep.transform(X_new), atol=1e-6, rtol=1e-6)


def test_normal_quantile_transform_edge_cases():
    rng = np.random.default_rng(0)
    column = np.concatenate([rng.normal(size=300), np.zeros(40), np.full(20, 3.0)])  # ties
    X = np.stack([column, rng.exponential(size=column.size)], axis=1)
    qt = QuantileTransformer(output_distribution="normal", n_quantiles=100).fit(X)
    probes = np.concatenate([X, qt.quantiles_, qt.quantiles_ + 1e-9, qt.quantiles_ - 1e-9,
                             qt.quantiles_ + 2e-7, [[-50.0, -50.0], [50.0, 50.0], [np.nan, 1.0]]])
    (out,) = _run(preprocessing_to_onnx(qt, 2), probes)
    expected = qt.transform(probes)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_text_columns_are_refused_with_their_name():
    frame = pd.DataFrame({"x": np.arange(30.0), "colour": ["red", "green", "blue"] * 10})
    prep = TabularPreprocessor().fit(frame)
    with pytest.raises(ValueError, match="categorical columns.*colour"):
        preprocessing_to_onnx(prep, 2)


def test_a_step_without_converter_is_named():
    X = np.random.default_rng(0).normal(size=(50, 3))
    prep = Pipeline([("scale", StandardScaler()), ("splines", SplineTransformer())]).fit(X)
    with pytest.raises(ValueError, match=r"splines \(SplineTransformer\) has no ONNX converter"):
        preprocessing_to_onnx(prep, 3)


def test_check_onnx_detects_a_mismatch(classifier, classifier_onnx, cancer_split, tmp_path):
    _, X_test, _, _ = cancer_split
    model = onnx.load(classifier_onnx)
    head_bias = [init for init in model.graph.initializer if "net_w" in init.name][-1]
    values = onnx.numpy_helper.to_array(head_bias).copy()
    values[0] += 5.0  # shifts the first class's logit
    head_bias.CopyFrom(onnx.numpy_helper.from_array(values, head_bias.name))
    path = tmp_path / "tampered.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="differ"):
        check_onnx(classifier, path, X_test)


# ---------------------------------------------------------------------------------------
# tables with string (categorical) and date columns: the two-input graph
# ---------------------------------------------------------------------------------------
def mixed_frame(n, seed):
    """Numbers (some missing), strings (some missing), yes/no text, dates (some missing), numbers as text."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "num": rng.normal(size=n),
        "city": rng.choice([f"city {i}" for i in range(9)], size=n).astype(object),
        "color": rng.choice(["red", "green", "blue"], size=n, p=[0.6, 0.3, 0.1]).astype(object),
        "flag": rng.choice(["yes", "no"], size=n).astype(object),
        "when": pd.Timestamp("2019-06-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
        + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
        "amount": rng.normal(size=n).round(3).astype(str),
    })
    X.loc[rng.random(n) < 0.1, "city"] = None
    X.loc[rng.random(n) < 0.1, "num"] = np.nan
    X.loc[rng.random(n) < 0.05, "when"] = pd.NaT
    return X


@pytest.fixture(scope="module")
def mixed_split():
    X, X_test = mixed_frame(300, 0), mixed_frame(60, 1)
    for frame in (X, X_test):
        frame["when"] = frame["when"].dt.strftime("%Y-%m-%dT%H:%M:%S").where(frame["when"].notna())  # ISO text
    X_test.loc[0, "city"] = "atlantis"  # a level never seen in training
    X_test.loc[1, "color"] = "purple"
    X_test.loc[2, ["city", "color", "num", "when"]] = [None, None, np.nan, None]
    score = X["num"].fillna(0) + (X["color"] == "red") - (X["city"] == "city 3")
    y = np.digitize(score, [-0.3, 0.6])  # three classes
    return X, y, X_test


@pytest.mark.parametrize("encoder", ["onehot", "ordinal", "target"])
def test_string_and_date_columns_convert_exactly(encoder, mixed_split):
    from sknas.prep.cleaning import TableCleaner
    from sknas.prep.tabular import AsFloat32

    X, y, X_test = mixed_split
    # max_categories=4: "city" (9 levels) gets infrequent levels (one-hot, ordinal) or target encoding
    prep = Pipeline([("clean", TableCleaner()),
                     ("encode", TabularPreprocessor(encoder=encoder, max_categories=4, clip="smooth")),
                     ("to_float32", AsFloat32())]).fit(X, y)
    assert prep.named_steps["clean"].column_kinds_ == {"num": "numeric", "city": "categorical", "color": "categorical",
                                                       "flag": "boolean", "when": "datetime", "amount": "numeric"}
    model = preprocessing_to_onnx(prep, X.shape[1])
    assert [i.name for i in model.graph.input] == ["X", "X_str"]
    feed = onnx_inputs(prep, X_test)
    assert feed["X_str"].shape == (len(X_test), 2) and np.isnan(feed["X"][:, 1]).all()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, feed)
    np.testing.assert_allclose(out, prep.transform(X_test), rtol=0, atol=1e-6)


def test_a_mixed_frame_exports_and_matches_predict_proba(mixed_split, tmp_path):
    X, y, X_test = mixed_split
    clf = AutoNASClassifier(**TINY).fit(X, y)
    path = export_onnx(clf, tmp_path / "mixed.onnx", X_check=X_test)
    model = onnx.load(path)
    assert [i.name for i in model.graph.input] == ["X", "X_str"]
    layout = json.loads(model.doc_string)["input_layout"]
    assert layout["string_columns"] == [1, 2]
    label, proba = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, onnx_inputs(path, X_test))
    expected = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba, expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(label, clf.predict(X_test))
    # the unseen levels and the all-missing row were predicted, not refused
    assert np.isfinite(proba[:3]).all()


def test_free_text_columns_are_refused_with_their_name():
    from sknas.prep.cleaning import TableCleaner

    rng = np.random.default_rng(0)
    words = np.array(["good", "bad", "very", "quite", "long", "short", "service", "food", "slow"])
    review = [" ".join(rng.choice(words, 5)) + f" {i}" for i in range(60)]
    X = pd.DataFrame({"x": rng.normal(size=60), "review": review})
    prep = Pipeline([("clean", TableCleaner()), ("encode", TabularPreprocessor())]).fit(X)
    with pytest.raises(ValueError, match=r"column 'review' as free text"):
        preprocessing_to_onnx(prep, 2)


# ---------------------------------------------------------------------------------------
# ensembles and bags: one graph, the members on the same inputs, then a weighted average
# ---------------------------------------------------------------------------------------
def _outputs(model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, onnx_inputs(model, X))


def _fold_model(pipeline, X, y, rows):
    """A member of a bag: the pipeline refit on some rows."""
    from sklearn.base import clone

    return clone(pipeline).fit(X.iloc[rows] if hasattr(X, "iloc") else X[rows], y[rows])


def _with_ensemble(estimator, ensemble):
    """A shallow copy of a fitted estimator that predicts with ``ensemble`` (the fixture stays untouched)."""
    import copy

    other = copy.copy(estimator)
    other.ensemble_ = ensemble
    return other


@pytest.fixture(scope="module")
def ensemble_classifier(mixed_split):
    X, y, _ = mixed_split
    return AutoNASClassifier(max_trials=3, time_budget=None, max_epochs=3, ensemble_size=3, validation_fraction=0.5,
                             random_state=0).fit(X, y)


def test_a_fitted_ensemble_exports_as_one_graph_with_an_average(ensemble_classifier, mixed_split):
    from sknas.ensemble import EnsembleClassifier
    from sknas.evaluation.ensembles import leaves

    _, _, X_test = mixed_split
    clf = ensemble_classifier
    assert isinstance(clf.ensemble_, EnsembleClassifier)
    model = to_onnx(clf)
    assert [i.name for i in model.graph.input] == ["X", "X_str"]
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    assert {"Mul", "Div"} <= {n.op_type for n in model.graph.node if n.name.startswith("ensemble_")}
    meta = json.loads(model.doc_string)
    # the networks the graph averages: the ensemble's leaves (a member may itself be a bag of fold models)
    assert meta["ensemble_members"] == len(leaves(clf.ensemble_)) >= len(clf.ensemble_.estimators)
    assert meta["input_layout"]["string_columns"] == [1, 2]
    label, proba = _outputs(model, X_test)
    assert proba.dtype == np.float32  # as a single model's
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(label, clf.predict(X_test))


@pytest.mark.slow  # 10 s: a fitted ensemble of bags exports in the default run (the test above)
def test_a_nested_ensemble_of_bags_exports_and_matches_predict_proba(ensemble_classifier, mixed_split, tmp_path):
    from sknas.ensemble import EnsembleClassifier

    from sknas.evaluation.ensembles import leaves

    X, y, X_test = mixed_split
    # the fit's own fold models (2 folds: validation_fraction=0.5); the best trial's first fold is best_estimator_
    best = ensemble_classifier.best_estimator_
    others = [p for p in leaves(ensemble_classifier.ensemble_) if p is not best]
    fold, other = others[0], others[-1]
    # a bag of two fold models inside an ensemble; a pipeline met twice is converted once (that keeps this fast)
    clf = _with_ensemble(ensemble_classifier, EnsembleClassifier([EnsembleClassifier([fold, best], [1, 1]), other],
                                                                 [2, 1]))
    path = export_onnx(clf, tmp_path / "nested.onnx", X_check=X_test)  # X_check: raises on a mismatch
    model = onnx.load(path)
    assert json.loads(model.doc_string)["ensemble_members"] == 3
    label, proba = _outputs(model, X_test)
    expected = clf.predict_proba(X_test)
    assert not np.allclose(expected, best.predict_proba(X_test), atol=1e-3)  # the members do differ
    np.testing.assert_allclose(proba, expected, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(label, clf.predict(X_test))


@pytest.mark.slow  # 9 s
def test_a_bagged_regressor_exports_and_matches_predict():
    from sknas.ensemble import EnsembleRegressor

    X, y = load_diabetes(return_X_y=True)
    X, y = X[:200], y[:200]
    reg = AutoNASRegressor(**TINY).fit(X, y)
    best = reg.best_estimator_
    bag = EnsembleRegressor([_fold_model(best, X, y, np.arange(100)), best], [1, 1])
    reg = _with_ensemble(reg, EnsembleRegressor([bag, best], [1, 3]))
    assert not np.allclose(reg.predict(X), best.predict(X))
    model = to_onnx(reg)
    (pred,) = _outputs(model, X)
    assert pred.dtype == np.float64 and pred.shape == (len(X), 1)
    np.testing.assert_allclose(pred.ravel(), reg.predict(X), rtol=1e-5, atol=1e-5 * np.std(y))


def test_members_reading_a_column_as_different_kinds_are_refused():
    from sknas.export.inputs import union_layout
    from sknas.prep.cleaning import TableCleaner

    rng = np.random.default_rng(0)
    numbers = pd.DataFrame({"x": rng.normal(size=40), "code": rng.integers(0, 5, 40).astype(float)})
    words = numbers.assign(code=rng.choice(["a", "b", "c"], 40).astype(object))
    preps = [Pipeline([("clean", TableCleaner()), ("encode", TabularPreprocessor())]).fit(frame)
             for frame in (numbers, words)]
    assert union_layout(preps[1:])["string_columns"] == [1]
    with pytest.raises(ValueError, match="read column 'code' as numeric and as categorical"):
        union_layout(preps, ["x", "code"])


def test_torchscript_refuses_an_ensemble_and_points_to_onnx(ensemble_classifier, tmp_path):
    with pytest.raises(ValueError, match="export_onnx exports ensembles as one graph"):
        export_torchscript(ensemble_classifier, tmp_path / "net.pt")


# ---------------------------------------------------------------------------------------
# the converter registry
# ---------------------------------------------------------------------------------------
def test_steps_are_matched_by_class_not_by_name():
    from sklearn.impute import SimpleImputer

    from sknas.export.registry import step_rule
    from sknas.prep.cleaning import TableCleaner

    class CustomImputer(SimpleImputer):  # may transform otherwise: sknas's rule is for SimpleImputer itself
        pass

    assert step_rule(SimpleImputer()) is not None and step_rule(CustomImputer()) is None
    assert step_rule(TableCleaner()) is not None
    assert step_rule(type("TableCleaner", (), {})()) is None  # a namesake is not sknas's cleaner
    assert step_rule(Pipeline([("scale", StandardScaler())])) is not None  # containers: subclasses too


def test_sknas_clipper_selector_extractor_and_cast_convert_exactly():
    from sknas.prep.clipping import Clipper
    from sknas.prep.extraction import FeatureExtractor
    from sknas.prep.selection import FeatureSelector
    from sknas.prep.tabular import AsFloat32

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:150]
    for clip in ("winsorize", "smooth"):
        prep = Pipeline([("scale", StandardScaler()), ("clip", Clipper(method=clip)),
                         ("select", FeatureSelector(k=8)), ("extract", FeatureExtractor(n_components=4)),
                         ("to_float32", AsFloat32())]).fit(X, y[:150])
        X_new = np.vstack([X, X.max(axis=0) * 10])
        (out,) = _run(preprocessing_to_onnx(prep, X.shape[1]), X_new)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, prep.transform(X_new), atol=1e-5, rtol=1e-5)
