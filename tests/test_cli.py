"""The command line: fit / predict / show / export on CSV files, and one-line errors."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

pytest.importorskip("skops")

from sknas.__main__ import detect_task, main  # noqa: E402
from sknas.io import load, read_metadata  # noqa: E402

FAST = ["--time-budget", "60", "--max-trials", "1", "--max-epochs", "3", "--validation-fraction", "0.5"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    frame = load_breast_cancer(as_frame=True).frame.sample(240, random_state=0)
    frame["target"] = np.where(frame["target"] == 1, "benign", "malignant")
    frame.iloc[:200].to_csv(root / "train.csv", index=False)
    frame.iloc[200:].drop(columns=["target"]).to_csv(root / "new.csv", index=False)
    return root


@pytest.fixture(scope="module")
def model(files):
    out = files / "model.sknas"
    code = main(["fit", str(files / "train.csv"), "--target", "target", "--out", str(out), *FAST])
    assert code == 0
    return out


def _fails(capsys, argv, match):
    code = main(argv)
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sknas: error:"), captured.err
    assert "Traceback" not in captured.err
    assert match in lines[0], lines[0]
    return lines[0]


def test_fit_writes_a_model_with_the_target_name(model, files):
    meta = read_metadata(model)
    assert meta["target"] == "target" and meta["task"] == "classification"
    estimator = load(model)
    assert list(estimator.classes_) == ["benign", "malignant"]


def test_predict_writes_a_csv(model, files, capsys):
    out = files / "pred.csv"
    assert main(["predict", str(model), str(files / "new.csv"), "--out", str(out), "--proba"]) == 0
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["target", "proba_benign", "proba_malignant"]
    new = pd.read_csv(files / "new.csv")
    expected = load(model).predict_proba(new)
    np.testing.assert_allclose(predictions[["proba_benign", "proba_malignant"]], expected, rtol=1e-6)
    assert "wrote 40 predictions" in capsys.readouterr().err


def test_predict_ignores_the_target_column_and_prints_to_stdout(model, files, capsys):
    main(["predict", str(model), str(files / "train.csv")])  # train.csv still has its target column
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "target" and len(lines) == 201
    assert set(lines[1:]) <= {"benign", "malignant"}


def test_show_describes_the_model(model, capsys):
    assert main(["show", str(model)]) == 0
    out = capsys.readouterr().out
    for expected in ("AutoNASClassifier", "target", "best genotype", "preprocessing", "rank", "benign"):
        assert expected in out


def test_export_torchscript(model, files, capsys):
    # torchscript takes one network: the default model (a bag of fold models) is refused, --ensemble-size 1 is not
    _fails(capsys, ["export", str(model), str(files / "bag.pt")], "ensemble")
    one = files / "one.sknas"
    assert main(["fit", str(files / "train.csv"), "--target", "target", "--out", str(one), "--ensemble-size", "1",
                 *FAST]) == 0
    capsys.readouterr()
    model = one
    out = files / "net.pt"
    assert main(["export", str(model), str(out)]) == 0
    assert out.stat().st_size > 0
    assert "wrote torchscript export" in capsys.readouterr().err
    _fails(capsys, ["export", str(model), str(files / "net.xyz")], "cannot tell the export format")


def test_regression_is_detected(tmp_path, capsys):
    frame = load_diabetes(as_frame=True).frame.iloc[:150]
    frame.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "d.sknas"
    assert main(["fit", str(tmp_path / "d.csv"), "--target", "target", "--out", str(out), *FAST]) == 0
    assert "task: regression" in capsys.readouterr().err
    assert read_metadata(out)["task"] == "regression"


def test_detect_task():
    assert detect_task(pd.Series(np.linspace(0, 1, 100)))[0] == "regression"
    assert detect_task(pd.Series([0.5, 1.5, 2.5] * 5))[0] == "regression"
    assert detect_task(pd.Series([0, 1, 2] * 30))[0] == "classification"
    assert detect_task(pd.Series(["a", "b"] * 30))[0] == "classification"
    assert detect_task(pd.Series([True, False] * 30))[0] == "classification"


def test_unknown_target_suggests_the_closest(files, capsys):
    _fails(capsys, ["fit", str(files / "train.csv"), "--target", "targte"], "did you mean 'target'?")


def test_missing_files_and_wrong_formats(model, files, tmp_path, capsys):
    _fails(capsys, ["fit", str(tmp_path / "nope.csv"), "--target", "y"], "no such data file")
    _fails(capsys, ["show", str(tmp_path / "nope.sknas")], "no such model file")
    _fails(capsys, ["predict", str(files / "train.csv"), str(files / "new.csv")], "not a sknas model file")
    _fails(capsys, ["predict", str(model), str(model)], "not a CSV data file")
    (tmp_path / "empty.csv").write_text("")
    _fails(capsys, ["fit", str(tmp_path / "empty.csv"), "--target", "y"], "is empty")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81" * 100)
    _fails(capsys, ["fit", str(tmp_path / "binary.csv"), "--target", "y"], "binary.csv")


def test_predict_with_missing_columns(model, tmp_path, capsys):
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "other.csv", index=False)
    _fails(capsys, ["predict", str(model), str(tmp_path / "other.csv")], "lacks 30 column(s)")


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "required" in err[0]


def test_module_entry_point_reports_errors_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "sknas", "show", str(tmp_path / "missing.sknas")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"sknas: error: no such model file: {str(tmp_path / 'missing.sknas')!r}"
