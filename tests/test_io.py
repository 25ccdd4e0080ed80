"""sknas.io: one-file, pickle-free save/load with exact predictions; tampered files refused."""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import NotFittedError

pytest.importorskip("skops")

from sknas import AutoNASClassifier, AutoNASRegressor  # noqa: E402
from sknas.io import (  # noqa: E402
    HASHES, MANIFEST, PREPROCESSING, WEIGHTS, UnsafeFileError, file_digest, load, read_metadata, save, write_archive,
)
from sknas.space.genotype import Genotype  # noqa: E402

# validation_fraction=0.5: two cross-validation folds instead of five, for speed
TINY = dict(time_budget=None, max_trials=1, max_epochs=5, validation_fraction=0.5, random_state=0)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    labels = np.where(y.to_numpy() == 1, "benign", "malignant").astype(object)
    return X, labels


@pytest.fixture(scope="module")
def classifier(cancer):
    X, y = cancer
    return AutoNASClassifier(**TINY).fit(X, y)


@pytest.fixture(scope="module")
def regressor():
    X, y = load_diabetes(return_X_y=True)
    return AutoNASRegressor(space="resnet", **TINY).fit(X, y), X


@pytest.fixture(scope="module")
def saved(classifier, tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "model.sknas"
    save(classifier, path, metadata={"target": "diagnosis"})
    return path


def _tamper(src, dst, **members):
    """Copy a model zip, replacing the named members (``name=bytes``) and leaving hashes.json as it was."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = members.pop(item.filename, None)
            zout.writestr(item.filename, data if data is not None else zin.read(item.filename))
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


def _rewrite(src, dst, **members):
    """Like ``_tamper``, but also rewrites hashes.json to match, as a deliberate forger would:
    what the digests cannot catch must still be refused by the checks behind them."""
    with zipfile.ZipFile(src) as zin:
        contents = {name: zin.read(name) for name in zin.namelist() if name != HASHES}
    contents.update(members)
    write_archive(dst, contents)
    return dst


def test_save_writes_one_zip_without_pickle(saved):
    with zipfile.ZipFile(saved) as archive:
        names = set(archive.namelist())
        assert {MANIFEST, WEIGHTS, PREPROCESSING} <= names
        manifest = json.loads(archive.read(MANIFEST))
        # torch.save's zip format keeps tensors apart from a small pickle of plain containers:
        # loading it with weights_only=True works, which is the point
        state = torch.load(archive.open(WEIGHTS), weights_only=True)
    assert manifest["estimator"] == "sknas.estimators:AutoNASClassifier"
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in names)


def test_classifier_round_trip_is_exact(classifier, cancer, saved):
    X, y = cancer
    loaded = load(saved)
    assert type(loaded) is AutoNASClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), classifier.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    assert loaded.score(X, y) == classifier.score(X, y)


def test_fitted_attributes_and_params_survive(classifier, saved):
    loaded = load(saved)
    assert loaded.get_params() == classifier.get_params()
    assert loaded.best_genotype_ == classifier.best_genotype_
    assert isinstance(loaded.best_genotype_, Genotype)
    assert loaded.best_score_ == classifier.best_score_
    assert loaded.best_index_ == classifier.best_index_
    assert loaded.n_trials_ == classifier.n_trials_
    assert loaded.n_features_in_ == classifier.n_features_in_
    np.testing.assert_array_equal(loaded.feature_names_in_, classifier.feature_names_in_)
    np.testing.assert_array_equal(loaded.classes_, classifier.classes_)
    assert loaded.classes_.dtype == classifier.classes_.dtype
    assert loaded.search_results_ == classifier.search_results_
    assert loaded.pareto_front_ == classifier.pareto_front_
    assert repr(loaded.space_) == repr(classifier.space_)
    net, original = loaded.best_estimator_.named_steps["net"], classifier.best_estimator_.named_steps["net"]
    assert len(net.history_) == len(original.history_)
    assert net.history_[-1, "train_loss"] == original.history_[-1, "train_loss"]
    clone(loaded)  # still an ordinary sklearn estimator


def test_regressor_round_trip_is_exact(regressor, tmp_path):
    reg, X = regressor
    path = save(reg, tmp_path / "reg.sknas")
    loaded = load(path)
    assert type(loaded) is AutoNASRegressor
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert not hasattr(loaded, "feature_names_in_")


def test_ensemble_round_trip_is_exact(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(**{**TINY, "max_trials": 3, "ensemble_size": 2, "search": "random"}).fit(X, y)
    if getattr(clf, "ensemble_", None) is None:
        pytest.skip("no ensemble was built")
    loaded = load(save(clf, tmp_path / "ens.sknas"))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert type(loaded.ensemble_) is type(clf.ensemble_)
    assert len(loaded.ensemble_.estimators) == len(clf.ensemble_.estimators)
    for ours, theirs in zip(loaded.ensemble_.estimators, clf.ensemble_.estimators):
        np.testing.assert_array_equal(ours.predict_proba(X[:50]), theirs.predict_proba(X[:50]))
    # a member that is the best model stays the same object, stored once
    shared = [m is clf.best_estimator_ for m in clf.ensemble_.estimators]
    assert [m is loaded.best_estimator_ for m in loaded.ensemble_.estimators] == shared
    from sknas.export import export_torchscript

    with pytest.raises(ValueError, match="ensemble"):  # exporting best_estimator_ alone would mislead
        export_torchscript(loaded, tmp_path / "ens.pt")


def _double(X):
    return 2.0 * X


def test_own_transformers_need_trusted(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(preprocessing=FunctionTransformer(_double), **TINY).fit(X, y)
    path = save(clf, tmp_path / "own.sknas")
    with pytest.raises(UnsafeFileError, match="_double"):
        load(path)
    name = f"{_double.__module__}._double"
    loaded = load(path, trusted=[name])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.preprocessing.func is _double


def test_metadata_is_read_without_loading(saved):
    assert read_metadata(saved) == {"target": "diagnosis"}


def test_unfitted_estimator_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        save(AutoNASClassifier(), tmp_path / "x.sknas")


def test_missing_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such model file"):
        load(tmp_path / "nothing.sknas")
    text = tmp_path / "data.csv"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a sknas model file"):
        load(text)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="not a sknas model file"):
        load(other_zip)


def test_untrusted_skops_type_is_refused(saved, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    evil = sio.dumps(FunctionTransformer(func=os.system))
    path = _rewrite(saved, tmp_path / "evil.sknas", **{PREPROCESSING: evil})
    with pytest.raises(UnsafeFileError, match="not trusted.*system"):
        load(path)


class _Payload:
    """Unpickling this would call os.mkdir (the classic pickle code-execution trick)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_weights_that_are_not_plain_tensors_are_refused_without_running_code(saved, tmp_path):
    marker = tmp_path / "pwned"
    for payload in ({"net.head.weight": _Payload(str(marker))}, _Payload(str(marker))):
        buffer = tmp_path / "weights.pt"
        torch.save(payload, buffer)
        path = _rewrite(saved, tmp_path / "evil.sknas", **{WEIGHTS: buffer.read_bytes()})
        with pytest.raises(UnsafeFileError, match="not plain tensors"):
            load(path)
        assert not marker.exists()
    raw = pickle.dumps(_Payload(str(marker)))  # a bare pickle, not even torch's format
    path = _rewrite(saved, tmp_path / "evil2.sknas", **{WEIGHTS: raw})
    with pytest.raises(UnsafeFileError):
        load(path)
    assert not marker.exists()


@pytest.mark.parametrize("where, path_value", [
    ("estimator", "os:system"),
    ("estimator", "sknas.__main__:main"),  # a sknas function, not an estimator class
    ("space", "subprocess:Popen"),
])
def test_classes_outside_sknas_are_refused(saved, tmp_path, where, path_value):
    with zipfile.ZipFile(saved) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    if where == "estimator":
        manifest["estimator"] = path_value
    else:
        manifest["fitted"]["space_"] = {"__sknas__": path_value, "params": {"__dict__": {"args": "touch x"}}}
    path = _rewrite(saved, tmp_path / "evil.sknas", **{MANIFEST: json.dumps(manifest)})
    with pytest.raises(UnsafeFileError, match="sknas"):
        load(path)


def test_mismatched_weights_are_reported(saved, tmp_path):
    buffer = tmp_path / "weights.pt"
    torch.save({"net.head.weight": torch.zeros(3, 3)}, buffer)
    path = _rewrite(saved, tmp_path / "bad.sknas", **{WEIGHTS: buffer.read_bytes()})
    with pytest.raises(ValueError, match="do not fit its network"):
        load(path)


def test_newer_format_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    manifest["format_version"] = 999
    path = _rewrite(saved, tmp_path / "new.sknas", **{MANIFEST: json.dumps(manifest)})
    with pytest.raises(ValueError, match="Upgrade sknas"):
        load(path)


# -- tamper evidence: hashes.json ------------------------------------------------------
def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_members(path, members):
    """A zip at ``path`` holding exactly ``members`` (``name: bytes``); returns ``path``."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_every_member_has_a_recorded_digest(saved):
    import hashlib

    members = _members(saved)
    hashes = json.loads(members.pop(HASHES))
    assert hashes["algorithm"] == "sha256"
    assert hashes["members"] == {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}


def test_negated_weights_are_refused(saved, tmp_path):
    state = torch.load(io.BytesIO(_members(saved)[WEIGHTS]), weights_only=True)
    buffer = io.BytesIO()
    torch.save({k: -v for k, v in state.items()}, buffer)
    path = _tamper(saved, tmp_path / "negated.sknas", **{WEIGHTS: buffer.getvalue()})
    with pytest.raises(UnsafeFileError, match=r"negated\.sknas.*altered.*models/0/weights\.pt"):
        load(path)


def test_swapped_classes_are_refused(saved, tmp_path):
    manifest = json.loads(_members(saved)[MANIFEST])
    classes = manifest["fitted"]["classes_"]["__ndarray__"]
    manifest["fitted"]["classes_"]["__ndarray__"] = classes[::-1]
    manifest["models"][0]["classes"]["__ndarray__"] = classes[::-1]
    path = _tamper(saved, tmp_path / "swapped.sknas", **{MANIFEST: json.dumps(manifest).encode()})
    with pytest.raises(UnsafeFileError, match=r"swapped\.sknas.*altered.*sknas\.json"):
        load(path)


def test_missing_added_or_unlisted_members_are_refused(saved, tmp_path):
    members = _members(saved)
    del members[PREPROCESSING]
    path = _write_members(tmp_path / "missing.sknas", members)
    with pytest.raises(UnsafeFileError, match="lacks.*preprocessing"):
        load(path)
    path = _tamper(saved, tmp_path / "added.sknas", **{"extra.json": b"{}"})
    with pytest.raises(UnsafeFileError, match="added"):
        load(path)
    members = _members(saved)
    del members[HASHES]
    path = _write_members(tmp_path / "unhashed.sknas", members)
    with pytest.raises(UnsafeFileError, match="hashes.json was removed"):
        load(path)


def test_flipped_bytes_truncated_and_empty_files_are_refused(saved, classifier, cancer, tmp_path):
    X, _ = cancer
    data = saved.read_bytes()
    refused = 0
    for offset in range(0, len(data), max(1, len(data) // 40)):  # across members and the zip directory
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        path = tmp_path / "flipped.sknas"
        path.write_bytes(bytes(flipped))
        try:
            loaded = load(path)
        except ValueError as exc:  # UnsafeFileError included; never BadZipFile, zlib.error, KeyError...
            assert "flipped.sknas" in str(exc)
            refused += 1
        else:  # a byte of zip bookkeeping no reader uses (a timestamp): the content is intact
            np.testing.assert_array_equal(loaded.predict_proba(X), classifier.predict_proba(X))
    assert refused >= 35
    for name, content in (("truncated.sknas", data[: len(data) // 2]), ("empty.sknas", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(UnsafeFileError, match=name.replace(".", "\\.")):
            load(path)


def test_pinned_digest(saved, classifier, tmp_path):
    import hashlib

    digest = file_digest(saved)
    assert digest == hashlib.sha256(saved.read_bytes()).hexdigest()
    loaded = load(saved, expected_sha256=digest.upper())
    assert loaded.best_genotype_ == classifier.best_genotype_
    # a forger who rewrites hashes.json passes the digests inside the file, not the pinned one
    forged = _rewrite(saved, tmp_path / "forged.sknas", **{"extra.json": b"{}"})
    with pytest.raises(UnsafeFileError, match="not the pinned model file.*Got expected_sha256="):
        load(forged, expected_sha256=digest)


def test_files_saved_before_digests_load_with_a_warning(saved, tmp_path):
    members = _members(saved)
    del members[HASHES]
    manifest = json.loads(members[MANIFEST])
    manifest["format_version"] = 1
    members[MANIFEST] = json.dumps(manifest).encode()
    path = _write_members(tmp_path / "old.sknas", members)
    with pytest.warns(UserWarning, match="integrity cannot be checked"):
        assert load(path).best_estimator_ is not None


@pytest.mark.parametrize("old", ["sknas.ensemble:EnsembleClassifier", "sknas.evaluation.predictor:PredictorFilter"])
def test_files_naming_a_class_at_its_old_place_still_load_it(old):
    from sknas.io import MOVED, _resolve_sknas_class

    module, name = MOVED[old].split(":")
    assert _resolve_sknas_class(old) is getattr(__import__(module, fromlist=[name]), name)
