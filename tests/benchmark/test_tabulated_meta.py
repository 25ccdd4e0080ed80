"""The multi-dataset tables: made by training (tiny tables built here), shipped, and answered by lookup.

The shipped tables hold a sample of the default ``mlp`` space; a searcher
is kept to it by :class:`TabulatedSpace`, and whatever it proposes is
answered by the nearest tabulated genotype.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sknas.benchmark.tabulated import (
    SCORE_CURVES, TabularBenchmark, TabulatedSpace, available_datasets, load_table, meta_genotypes, meta_space,
    prepare_meta_dataset, train_curves,
)
from sknas.search.base import Candidate
from sknas.space.genotype import Genotype

SHIPPED = [d for d in available_datasets() if d != "digits"]


def _raw_table(task, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                      "c": rng.choice(["x", "y", "z"], size=n)})
    X.loc[::7, "b"] = np.nan
    signal = X["a"].to_numpy() + (X["c"] == "x").to_numpy()
    if task == "regression":
        return X, signal + 0.1 * rng.normal(size=n)
    return X, np.where(signal > 0.3, "yes", "no")


def _write_table(path, task, genotypes, rng, *, runs=2, epochs=3, fail=None):
    """A table in the format of ``benchmarks/make_tabulated_meta.py``, with made-up curves."""
    shape = (len(genotypes), runs, epochs)
    curves = {name: rng.uniform(0.1, 0.9, size=shape).astype(np.float16) for name in SCORE_CURVES}
    curves["train_time"] = np.cumsum(rng.uniform(0.1, 1.0, size=shape), axis=2).astype(np.float32)
    if fail is not None:
        curves["valid_score"][fail, :, -1] = np.nan
        curves["test_score"][fail, :, -1] = np.nan
    meta = {"space": "sknas.benchmark.tabulated.meta_space(task): ...", "task": task,
            "epochs": list(range(1, epochs + 1)), "seeds": list(range(runs))}
    np.savez_compressed(path, genotypes=np.array([g.to_json() for g in genotypes]),
                        n_params=np.arange(len(genotypes)), meta=np.array(json.dumps(meta)), **curves)
    return curves


@pytest.fixture(scope="module")
def genotypes():
    return meta_genotypes(12, seed=0)


def test_meta_genotypes_are_of_the_default_space_portfolio_first_and_capped(genotypes):
    from sknas.benchmark.tabulated import META_MAX_COST, genotype_cost
    from sknas.space.joint import JointSpace
    from sknas.space.pipeline import PipelineSpace

    space = meta_space("classification")
    assert len(set(genotypes)) == len(genotypes) == 12
    assert all(space.validate(g) == g for g in genotypes)
    full = JointSpace(space.arch, space.training, PipelineSpace(task="classification"))
    names = {p.name for p in space.params}
    portfolio = [space.validate({k: v for k, v in g.items() if k in names}) for g in full.portfolio()]
    assert genotypes[: len(portfolio)] == portfolio
    drawn = genotypes[len(set(portfolio + [space.validate({k: v for k, v in g.items() if k in names})
                                           for g in full.hand_portfolio()])):]
    assert drawn and all(genotype_cost(space, g) <= META_MAX_COST for g in drawn)
    assert meta_genotypes(12, seed=0) == genotypes  # deterministic: the tables' rows


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_train_curves_trains_a_default_space_genotype_and_records_its_curves(task, genotypes):
    kind = "binary" if task == "classification" else "regression"
    X, y = _raw_table(task)
    data, info = prepare_meta_dataset(X, y, kind, max_rows=100)
    assert info["rows_used"] == 100 and info["split"] == {"train": 60, "valid": 20, "test": 20}
    assert data["X_train"].dtype == np.float32 and not np.isnan(data["X_train"]).any()  # cleaned and encoded
    space = meta_space(task)
    names = {p.name for p in space.params}
    # a 3x256 network of the hand-picked portfolio (the shipped portfolio's entries lead, small networks)
    deep = next(g for g in genotypes if g.get("n_blocks") == 3 and g.get("width_0") == 256)
    g = space.validate({k: v for k, v in deep.items() if k in names})
    record = train_curves(space, g, data, task=task, epochs=3, seed=0, classes=info.get("classes"))
    assert record["n_params"] > 10_000
    for name in SCORE_CURVES:
        assert record[name].shape == (3,) and np.all(np.isfinite(record[name]))
    assert np.all(np.diff(record["train_time"]) > 0)
    if task == "classification":
        assert np.all((0 <= record["valid_score"]) & (record["valid_score"] <= 1))
    # a learned model beats the constant one on this easy signal: R^2 > 0, accuracy above the majority class
    baseline = 0.0 if task == "regression" else np.mean(data["y_valid"] == np.bincount(data["y_train"]).argmax())
    assert record["valid_score"][-1] > baseline
    again = train_curves(space, g, data, task=task, epochs=3, seed=0, classes=info.get("classes"))
    assert np.allclose(again["valid_loss"], record["valid_loss"])  # seeded


def test_prepare_meta_dataset_rejects_an_unknown_kind():
    X, y = _raw_table("classification")
    with pytest.raises(ValueError, match="kind must be"):
        prepare_meta_dataset(X, y, "ranking")


def test_tabulated_space_hands_out_only_tabulated_genotypes(genotypes):
    space = TabulatedSpace(meta_space("classification"), genotypes)
    rng = np.random.default_rng(0)
    table = set(genotypes)
    seen = {space.sample(rng) for _ in range(200)}
    assert seen == table  # uniform over the table: all 12 are drawn
    for g in genotypes:
        child = space.mutate(g, rng)
        assert child in table and child != g
        assert space.crossover(g, genotypes[3], rng) in table
    # an untabulated genotype maps to the tabulated one nearest in the base encoding
    base = meta_space("classification")
    other = base.sample(np.random.default_rng(123))
    codes = np.stack([base.encode(g) for g in genotypes])
    expected = genotypes[int(np.argmin(((codes - base.encode(other)) ** 2).sum(axis=1)))]
    assert space.nearest(other) == expected
    assert space.nearest(genotypes[5]) == genotypes[5]
    point = {p.name: p.to_hyperopt_raw(genotypes[4][p.name]) for p in base.params if p.name in genotypes[4]}
    point.update({p.name: p.to_hyperopt_raw(p.sample(rng)) for p in base.params if p.name not in point})
    assert space.from_hyperopt(point) in table


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_benchmark_answers_a_table_and_maps_proposals_to_the_nearest_entry(tmp_path, genotypes, task):
    rng = np.random.default_rng(1)
    path = tmp_path / "t.npz"
    curves = _write_table(path, task, genotypes, rng, fail=2)
    bench = TabularBenchmark(path)
    assert bench.task == task and isinstance(bench.space, TabulatedSpace) and len(bench) == 12
    if task == "regression":
        assert all("label_smoothing" not in g for g in bench.genotypes)
    final = curves["test_score"][:, :, -1].astype(float).mean(axis=1)
    ok = np.isfinite(final)
    assert bench.optimum == pytest.approx(final[ok].max())
    assert bench.final_test_score[2] == pytest.approx(final[ok].min())  # a failure counts as the worst
    g = bench.genotypes[4]
    result = bench.evaluate(Candidate(g, epochs=2))
    assert result.score == pytest.approx(curves["valid_score"][4, :, 1].astype(float).mean())
    assert result.fit_time == pytest.approx(curves["train_time"][4, :, 1].astype(float).mean(), rel=1e-5)
    assert bench.evaluate(Candidate(bench.genotypes[2])).status == "failed"
    # an untabulated proposal is answered by its nearest tabulated genotype
    other = bench.space.base.sample(np.random.default_rng(7))
    near = bench.space.nearest(other)
    assert bench.answered(other) == near
    assert bench.evaluate(Candidate(other)).score == bench.evaluate(Candidate(near)).score
    assert bench.regret(other) == pytest.approx(bench.optimum - bench.final_test_score[bench.genotypes.index(near)])
    scores = bench.final_valid_scores()
    assert scores.shape == (12, 2) and np.isnan(scores[2]).all()
    for searcher in ("random", "evolution", "tpe"):
        run = bench.simulate(searcher, max_trials=15, seed=0)
        regret = run["regret"][np.isfinite(run["regret"])]  # NaN until a trial succeeded
        assert len(run["trial"]) == 15 and len(regret) >= 10 and np.all(regret >= 0)
        assert np.all(np.diff(run["incumbent_score"][np.isfinite(run["incumbent_score"])]) >= 0)
    run = bench.simulate("random", max_trials=40, seed=0)
    assert run["regret"][-1] < np.median(bench.optimum - bench.final_test_score)


def test_load_table_takes_a_table_or_a_dataset_not_both(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        load_table(tmp_path / "x.npz", dataset="digits")
    with pytest.raises(ValueError, match="no shipped table"):
        TabularBenchmark(dataset="no_such_table")
    with pytest.raises(TypeError, match="must be a str"):
        TabularBenchmark(dataset=3)


def test_shipped_tables_load_share_their_rows_and_are_compact():
    from sknas.benchmark.tabulated import table_path

    assert len(SHIPPED) >= 8
    kinds, total, rows = set(), 0, None
    for name in SHIPPED:
        with table_path(name).open("rb") as f:
            total += len(f.read())
        table = load_table(dataset=name)
        kinds.add(table["meta"]["task"])
        n = len(table["genotypes"])
        rows = table["genotypes"] if rows is None or len(rows) > n else rows
        assert table["valid_score"].shape[1:] == (2, 10)  # 2 seeds, 10 epochs
        assert np.isfinite(table["valid_score"][:, :, -1]).mean() > 0.95
        assert np.all(np.diff(table["train_time"], axis=2)[np.isfinite(np.diff(table["train_time"], axis=2))] >= 0)
    for name in SHIPPED:  # row i is the same genotype in every table
        assert load_table(dataset=name)["genotypes"][: len(rows)] == rows
    assert kinds == {"binary", "multiclass", "regression"}
    assert total < 5_000_000


@pytest.mark.parametrize("name", SHIPPED[:2] + [d for d in SHIPPED if "quakes" in d or "saratoga" in d][:1])
def test_a_shipped_table_is_answered_and_search_beats_its_median(name):
    bench = TabularBenchmark(dataset=name)
    assert bench.evaluate(Candidate(bench.genotypes[0])).status == "ok"
    regrets = [bench.simulate("evolution", max_trials=30, seed=s)["regret"][-1] for s in range(3)]
    assert np.mean(regrets) < np.median(bench.optimum - bench.final_test_score)
    assert isinstance(bench.best_genotype, Genotype)
