import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from sknas.prep.cleaning import IDColumnWarning
from sknas.space.genotype import Genotype
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


def raw_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(n),
        "num_text": [f"{v:.2f}" for v in rng.normal(size=n)],
        "when": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D"),
        "const": 1,
        "nan": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
        "level": [f"l{v}" for v in rng.integers(0, 500, n)],
        "x": rng.normal(size=n),
    })


def test_parameters_and_their_conditions():
    space = PipelineSpace(task="classification")
    params = {p.name: p for p in space.params}
    assert list(params) == ["scaler", "clip", "encoder", "select", "select_k", "select_c", "construct",
                            "construct_top", "extract", "extract_dim", "augment", "augment_strength",
                            "class_weight", "text", "text_dim"]
    assert params["clip"].when == (("scaler", ("standard", "robust", "power")),)
    assert params["select_k"].when == (("select", ("mutual_info", "f_test")),)
    assert params["select_c"].when == (("select", ("l1",)),)
    assert "class_weight" not in {p.name for p in PipelineSpace(task="regression").params}
    g = space.validate({"scaler": "quantile", "encoder": "target", "select": "f_test", "select_k": 12,
                        "construct": "none", "extract": "none", "augment": "none", "class_weight": "none"})
    assert "clip" not in g and "select_c" not in g
    with pytest.raises(ValueError, match="inactive or unknown"):
        space.validate(dict(g, select_c=0.1))


def test_portfolio_starts_with_the_fast_strong_default():
    space = PipelineSpace()
    first = space.portfolio()[0]
    assert first == Genotype({"scaler": "quantile", "encoder": "onehot", "select": "none", "construct": "none",
                              "extract": "none", "augment": "none", "class_weight": "none",
                              "text": "tfidf", "text_dim": 32})
    assert [name for name, _ in space.build(first).steps] == ["clean", "encode", "to_float32"]
    fixed_selection = PipelineSpace(scalers=("standard",), selectors=("f_test",))
    first = fixed_selection.portfolio()[0]
    assert "select" not in first and first["select_k"] == 32  # a fixed stage still has its setting searched
    assert fixed_selection.choices(first)["select"] == "f_test"
    assert [name for name, _ in fixed_selection.build(first).steps] == ["clean", "encode", "select", "to_float32"]


def test_from_allowed_restricts_every_stage():
    space = PipelineSpace.from_allowed(["standard", "power", "mutual_info", "pca", "mixup", "balanced"])
    assert space.scalers == ("standard", "power") and space.encoders == ("onehot",)
    assert space.selectors == ("none", "mutual_info") and space.extractors == ("none", "pca")
    assert space.constructors == ("none",) and space.clips == ("none",)
    assert space.augmentations == ("none", "mixup") and space.class_weights == ("none", "balanced")
    names = [p.name for p in space.params]
    assert names == ["scaler", "select", "select_k", "extract", "extract_dim", "augment", "augment_strength",
                     "class_weight"]
    fixed = PipelineSpace.from_allowed([])
    assert [p.name for p in fixed.params] == ["scaler"] and fixed.scalers == ("quantile",)
    with pytest.raises(ValueError, match=r"'mutual_inf': did you mean \['mutual_info'\]"):
        PipelineSpace.from_allowed(["mutual_inf"])
    with pytest.raises(TypeError, match="list of str"):
        PipelineSpace.from_allowed("pca")


def test_bad_choices_are_named():
    with pytest.raises(ValueError, match="selectors must be"):
        PipelineSpace(selectors=("none", "boruta")).params
    with pytest.raises(ValueError, match="task must be"):
        PipelineSpace(task="ranking").params


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_sampled_pipeline_is_a_plain_sklearn_pipeline_giving_float32(task):
    X = raw_frame()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, len(X)) if task == "classification" else rng.normal(size=len(X))
    space = PipelineSpace(task=task)
    new = raw_frame(n=7, seed=1)
    new["level"] = "unseen level"
    for seed in range(12):
        g = space.sample(np.random.default_rng(seed))
        assert space.validate(g) == g and Genotype.from_json(g.to_json()) == g
        pipe = space.build(g)
        assert isinstance(pipe, Pipeline)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IDColumnWarning)
            out = pipe.fit_transform(X, y)
        out_new = pipe.transform(new)
        assert out.dtype == out_new.dtype == np.float32, g
        assert out_new.shape == (7, out.shape[1]) and np.isfinite(out).all() and np.isfinite(out_new).all(), g
        removed = pipe.named_steps["clean"].removed_columns_
        assert {"id", "const"} <= set(removed), g


def test_training_options_and_joint_search():
    space = PipelineSpace(task="classification")
    g = space.validate({"scaler": "quantile", "encoder": "onehot", "select": "none", "construct": "none",
                        "extract": "none", "augment": "noise", "augment_strength": 0.2, "class_weight": "balanced"})
    assert space.training_options(g) == {"augment": "noise", "augment_strength": 0.2, "class_weight": "balanced"}
    joint = JointSpace(MLPSpace(max_blocks=2), TrainingSpace(), space)
    sample = joint.sample(np.random.default_rng(3))
    assert set(joint.pipeline_genotype(sample)) >= {"scaler", "select", "augment"}
    assert joint.from_hyperopt(joint.to_hyperopt_raw(sample)) == sample
