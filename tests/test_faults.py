"""The fault matrix: what a user meets ends with a clear message, nothing run from a file, nothing lost.

Each case states the behaviour promised; the README's resilience line and
docs/user_guide/persistence.rst refer to it. (Interrupts, resume after Ctrl-C
and parallel trials are in test_resilience.py.)
"""

import io
import os
import pickle
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_iris

import sknas
from sknas import AutoNASClassifier, AutoNASRegressor
from sknas.checkpoint import HEADER
from sknas.io import WEIGHTS, UnsafeFileError
from sknas.prep.cleaning import UnparsedValueWarning

FAST = dict(time_budget=None, max_trials=1, max_epochs=2, validation_fraction=0.5, random_state=0, search="random")


class _Payload:
    """Unpickling this creates a directory: the proof that code from a file ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


# -- bad input frames ------------------------------------------------------------------
_N = 12


def _column(draw):
    kind = draw(st.sampled_from(["float", "int", "nan_inf", "constant", "empty", "text", "mixed", "bool", "dates"]))
    if kind == "float":
        return draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)), min_size=_N, max_size=_N))
    if kind == "int":
        return draw(st.lists(st.integers(-1000, 1000), min_size=_N, max_size=_N))
    if kind == "nan_inf":
        return draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 1.0, 2.0]), min_size=_N, max_size=_N))
    if kind == "constant":
        return [draw(st.sampled_from([0, "a", 1.5]))] * _N
    if kind == "empty":
        return [None] * _N
    if kind == "text":
        return draw(st.lists(st.sampled_from(["red", "green", "blue", "", " ", None]), min_size=_N, max_size=_N))
    if kind == "mixed":
        return draw(st.lists(st.one_of(st.integers(0, 5), st.sampled_from(["x", "3.5", "abc", None]),
                                       st.floats(allow_nan=True, allow_infinity=False, width=32)),
                             min_size=_N, max_size=_N))
    if kind == "bool":
        return draw(st.lists(st.sampled_from([True, False, "yes", "no"]), min_size=_N, max_size=_N))
    return draw(st.lists(st.sampled_from(["2021-01-05", "2022-03-01T10:00", None, "not a date"]),
                         min_size=_N, max_size=_N))


@st.composite
def bad_frames(draw):
    n_columns = draw(st.integers(1, 4))
    if draw(st.integers(0, 3)) == 0:  # now and then duplicate or mixed-type names
        names = draw(st.lists(st.sampled_from(["a", "b", 0, 1]), min_size=n_columns, max_size=n_columns))
    else:
        names = [f"x{i}" for i in range(n_columns)]
    columns = [_column(draw) for _ in range(n_columns)]
    frame = pd.DataFrame(dict(enumerate(columns)))
    frame.columns = names  # duplicate and mixed-type names included
    return frame


def _unseen_levels(frame):
    """The same frame at predict time, with levels never seen at fit in its text columns."""
    out = frame.copy()
    for i in range(out.shape[1]):
        if out.iloc[:, i].dtype == object:
            out.iloc[:3, i] = "never seen"
    return out


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(frame=bad_frames(), task=st.sampled_from(["classification", "regression"]))
def test_bad_frames_fit_or_say_why(frame, task):
    """Fit succeeds with finite predictions (also on unseen levels), or a ValueError/TypeError says why."""
    y = np.arange(_N) % 2 if task == "classification" else np.linspace(0.0, 1.0, _N)
    estimator = (AutoNASClassifier if task == "classification" else AutoNASRegressor)(**FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            estimator.fit(frame, y)
        except (ValueError, TypeError) as exc:
            assert len(str(exc)) > 20, exc  # a sentence, not a bare key or index
            return
        predictions = (estimator.predict_proba if task == "classification" else estimator.predict)(
            _unseen_levels(frame))
    assert np.all(np.isfinite(np.asarray(predictions, dtype=float)))


# -- smaller ones -----------------------------------------------------------------------
def test_n_jobs_zero_fails_validation():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="'n_jobs' parameter of AutoNASClassifier.*Got 0 instead"):
        AutoNASClassifier(n_jobs=0, **FAST).fit(X, y)


@pytest.mark.parametrize("estimator, n, needed", [(AutoNASClassifier, 2, 3), (AutoNASRegressor, 5, 8)])
def test_too_few_rows_fail_before_any_trial(estimator, n, needed):
    X, y = load_iris(return_X_y=True)
    model = estimator(**dict(FAST, validation_fraction=0.2))
    with pytest.raises(ValueError, match=f"needs at least {needed} samples.*got n_samples = {n}"):
        model.fit(X[49:49 + n], y[49:49 + n].astype(float) if estimator is AutoNASRegressor else y[49:49 + n])
    assert not hasattr(model, "search_results_")  # no trial ran


def test_unreadable_numbers_at_predict_are_reported_once_per_call():
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = AutoNASClassifier(**FAST).fit(X, y)
    bad = X.head(6).astype({"petal length (cm)": object})
    bad.iloc[[1, 4], 2] = "abc"
    bad.iloc[2, 2] = None  # a missing value is not an unreadable one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.predict_proba(bad)
    unparsed = [w for w in caught if issubclass(w.category, UnparsedValueWarning)]
    assert len(unparsed) == 1, [str(w.message) for w in caught]
    assert "'petal length (cm)' (numeric): 2 value(s), e.g. 'abc'" in str(unparsed[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnparsedValueWarning)
        clf.predict(X.head(6))  # clean rows: no warning


# -- model files -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_iris():
    X, y = load_iris(return_X_y=True)
    return AutoNASClassifier(**FAST).fit(X, y), X


def test_tampered_model_file_is_refused(fitted_iris, tmp_path):
    clf, X = fitted_iris
    path = clf.save(tmp_path / "model.sknas")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    state = torch.load(io.BytesIO(members[WEIGHTS]), weights_only=True)
    buffer = io.BytesIO()
    torch.save({k: -v for k, v in state.items()}, buffer)
    members[WEIGHTS] = buffer.getvalue()
    tampered = tmp_path / "tampered.sknas"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(UnsafeFileError, match="tampered.sknas.*altered"):
        sknas.load(tampered)
    np.testing.assert_array_equal(sknas.load(path).predict_proba(X), clf.predict_proba(X))


# -- checkpoints -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory):
    X, y = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("faults") / "search.ckpt"
    AutoNASClassifier(checkpoint=path, **FAST).fit(X, y)
    return path


def _resume(path):
    X, y = load_iris(return_X_y=True)
    return AutoNASClassifier(checkpoint=path, **dict(FAST, max_trials=2)).fit(X, y)


def test_checkpoint_holds_no_pickle(checkpoint_file):
    with zipfile.ZipFile(checkpoint_file) as archive:
        names = archive.namelist()
        assert HEADER in names and "hashes.json" in names
        for name in names:
            if name.endswith(".json"):
                continue
            data = archive.read(name)
            # npy, skops (a zip of JSON) and torch's zip format; never a bare pickle
            assert not data.startswith(b"\x80"), name


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_checkpoint_runs_no_code(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"version": 1, "runner": _Payload(str(marker))}, protocol=protocol))
    with pytest.raises(ValueError, match="evil.ckpt"):
        _resume(path)
    assert not marker.exists()


def test_damaged_checkpoints_are_refused_with_the_file_named(checkpoint_file, tmp_path):
    data = checkpoint_file.read_bytes()
    cases = {
        "empty.ckpt": b"",
        "truncated.ckpt": data[: len(data) // 2],
        "cut_at_the_end.ckpt": data[:-10],
        "foreign.ckpt": b"a,b\n1,2\n",
    }
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    cases["flipped.ckpt"] = bytes(flipped)
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("hello.txt", "hi")
    cases["other_zip.ckpt"] = other_zip.getvalue()
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=name.replace(".", r"\.")):  # never BadZipFile, EOFError...
            _resume(path)


def test_edited_checkpoint_is_refused(checkpoint_file, tmp_path):
    with zipfile.ZipFile(checkpoint_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[HEADER] = members[HEADER].replace(b'"score"', b'"score" ', 1)
    path = tmp_path / "edited.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(UnsafeFileError, match="edited.ckpt.*altered.*checkpoint.json"):
        _resume(path)


def test_sound_checkpoint_resumes(checkpoint_file, tmp_path):
    path = tmp_path / "copy.ckpt"
    path.write_bytes(checkpoint_file.read_bytes())
    assert _resume(path).n_trials_ == 2


class _FailsOnFirstFit(TransformerMixin, BaseEstimator):
    """A scaler whose first fit in this process raises ``error`` (a trial's preprocessing), later fits work."""

    calls = []

    def __init__(self, error="memory"):
        self.error = error

    def fit(self, X, y=None):
        type(self).calls.append(len(X))
        if len(type(self).calls) == 1:
            raise MemoryError("cannot allocate 12 GiB") if self.error == "memory" else RuntimeError("broken step")
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32)


@pytest.mark.parametrize("error, message", [("memory", "MemoryError: cannot allocate 12 GiB"),
                                            ("other", "RuntimeError: broken step")])
def test_an_error_inside_a_trial_fails_that_trial_only(error, message):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    _FailsOnFirstFit.calls.clear()
    clf = AutoNASClassifier(**dict(FAST, max_trials=2, ensemble_size=1),
                            preprocessing=_FailsOnFirstFit(error)).fit(X, y)
    res = clf.search_results_
    assert res["status"] == ["failed", "ok"] and res["error"][0].startswith(message)
    assert clf.best_index_ == 1 and clf.score(X, y) > 0.3
