"""sknas.inspect: fANOVA decision importance and marginals of a search's trials."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sknas.inspect import _Decision, _design, _fit_forest, _TreeANOVA, decision_importance, marginal


def synthetic(n=120, seed=0, score_of="act"):
    """Trials of four decisions (one conditional); the score depends on ``score_of`` only."""
    rng = np.random.default_rng(seed)
    act = rng.choice(["relu", "tanh", "gelu"], n)
    width = rng.integers(8, 257, n)
    lr = 10 ** rng.uniform(-4, -1, n)
    dropout = [None if rng.random() < 0.3 else float(rng.uniform(0, 0.5)) for _ in range(n)]
    effect = {"act": pd.Series(act).map({"relu": 0.9, "tanh": 0.7, "gelu": 0.8}).to_numpy(),
              "lr": 0.1 * np.log10(lr)}[score_of]
    return {"score": list(effect + rng.normal(0, 0.005, n)), "status": ["ok"] * n, "param_act": list(act),
            "param_width": [int(w) for w in width], "param_lr": list(lr), "param_dropout": dropout}


@pytest.mark.parametrize("score_of", ["act", "lr"])
def test_the_one_decision_the_score_depends_on_gets_nearly_all_the_importance(score_of):
    frame = decision_importance(synthetic(score_of=score_of))
    assert list(frame.columns) == ["decision", "importance", "std", "kind"]
    assert set(frame["decision"]) == {"act", "width", "lr", "dropout"}
    assert frame["decision"].iloc[0] == score_of and frame["importance"].iloc[0] > 0.9
    assert (frame["importance"].iloc[1:] < 0.05).all()
    assert frame.attrs["n_trials"] == 120 and 0 <= frame.attrs["interactions"] < 0.1
    assert dict(zip(frame["decision"], frame["kind"]))["act"] == "categorical"


def test_marginal_recovers_each_level_effect_and_the_inactive_level():
    curve = marginal(synthetic(), "act")
    means = dict(zip(curve["value"], curve["mean"]))
    assert means["relu"] > means["gelu"] > means["tanh"]
    np.testing.assert_allclose([means["relu"], means["gelu"], means["tanh"]], [0.9, 0.8, 0.7], atol=0.03)
    lr_curve = marginal(synthetic(score_of="lr"), "lr", n_points=5)
    assert lr_curve["mean"].is_monotonic_increasing and lr_curve["value"].iloc[0] < lr_curve["value"].iloc[-1]
    assert marginal(synthetic(), "dropout", n_points=3)["value"].iloc[0] == "inactive"


def test_exact_decomposition_matches_monte_carlo_over_the_product_measure():
    # a score with an interaction, so that singles do not sum to one
    rng = np.random.default_rng(1)
    results = synthetic(n=80)
    results["score"] = list(np.asarray(results["score"]) + 0.3 * (np.asarray(results["param_width"]) > 128)
                            * (np.asarray(results["param_act"]) == "relu"))
    decisions, X, y = _design(results, None, True)
    tree = _fit_forest(X, y, 1, 0).estimators_[0]
    anova = _TreeANOVA(tree, decisions)
    # draw from each decision's measure: categorical levels by weight, numbers uniform on [0, 1] or inactive
    m = 200_000
    cols = []
    for d in decisions:
        if d.kind == "categorical":
            cols.append(rng.choice(len(d.levels), m, p=d.weights / d.weights.sum()).astype(float))
        else:
            cols.append(np.where(rng.random(m) < d.p_inactive, -1.0, rng.random(m)))
    sample = np.column_stack(cols)
    pred = tree.predict(sample)
    assert anova.mean == pytest.approx(pred.mean(), abs=0.005)
    assert anova.variance == pytest.approx(pred.var(), rel=0.03)
    j = [d.name for d in decisions].index("act")
    by_level = [pred[sample[:, j] == k].mean() for k in range(len(decisions[j].levels))]
    np.testing.assert_allclose(anova.marginal(j, np.arange(len(decisions[j].levels))), by_level, atol=0.005)
    single = anova.single_variance(j)
    weights = decisions[j].weights
    assert single == pytest.approx(float(weights @ (np.array(by_level) - pred.mean()) ** 2), rel=0.05)


def test_measure_of_a_conditional_number_weighs_the_inactive_atom():
    d = _Decision("dropout", None, [None, 0.1, 0.3, None])
    assert d.p_inactive == 0.5 and d.kind == "numeric"
    np.testing.assert_allclose(d.measure(np.array([-np.inf, 0.5]), np.array([0.0, np.inf])), [0.5, 0.25])


def test_bad_inputs_are_clear_errors():
    with pytest.raises(TypeError, match="search_results_"):
        decision_importance([1, 2, 3])
    few = synthetic(n=2)
    with pytest.raises(ValueError, match="at least 3 successful trials"):
        decision_importance(few)
    with pytest.raises(ValueError, match="no param_"):
        decision_importance({"score": [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match="decision must be one of"):
        marginal(synthetic(), "depth")


def test_failed_and_low_fidelity_trials_are_left_out():
    results = synthetic(n=60)
    results["status"][:5] = ["failed"] * 5
    results["data_fraction"] = [0.25] * 10 + [None] * 50
    assert decision_importance(results).attrs["n_trials"] == 50
    assert decision_importance(results, full_fidelity_only=False).attrs["n_trials"] == 55


@pytest.mark.slow  # ~15-35 s on a shared CPU: six trials and a refit
def test_a_real_small_search_is_explained_by_its_own_decisions(tmp_path):
    import torch
    from sklearn.datasets import make_classification

    from sknas import AutoNASClassifier

    torch.set_num_threads(1)
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    clf = AutoNASClassifier(time_budget=None, max_trials=6, max_epochs=2, search="random", ensemble_size=1,
                            validation_fraction=0.5, random_state=0).fit(X, y)
    frame = decision_importance(clf)
    searched = {c[len("param_"):] for c in clf.search_results_ if c.startswith("param_")}
    assert set(frame["decision"]) == searched
    assert searched <= {p.name for p in clf.space_.params}
    assert frame["importance"].between(0, 1).all() and frame.attrs["n_trials"] >= 3

    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sknas.plotting import plot_decision_importance

    ax = plot_decision_importance(frame, top=5)
    assert len(ax.patches) == min(5, len(frame))
    ax.figure.savefig(tmp_path / "importance.png")
    assert (tmp_path / "importance.png").stat().st_size > 2000


# -- ablation and feature importance: on real (tiny) fitted estimators --------------------------
def _frame(n=160, seed=0):
    """One informative column, one noise column, one constant column, one useless categorical."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n), "const": 1.0,
                         "cat": rng.choice(["a", "b"], n)})


@pytest.fixture(scope="module")
def regressor():
    """A fitted regressor (one trial, two folds) whose target is 3 * signal."""
    import torch

    from sknas import AutoNASRegressor

    torch.set_num_threads(1)
    X = _frame()
    y = 3 * X["signal"].to_numpy() + np.random.default_rng(1).normal(0, 0.1, len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = AutoNASRegressor(time_budget=None, max_trials=1, max_epochs=8, ensemble_size=1,
                               validation_fraction=0.5, random_state=0).fit(X, y)
    return reg, X, y


def _lr_matters(space):
    """A winner whose lr is essential (1e-4 learns nothing in 8 short epochs) and whose optimizer is not."""
    from sknas.inspect import _space_default

    base = space.replace(_space_default(space), n_blocks=1, width_0=16, batch_size=32)
    return space.replace(base, lr=0.03, optimizer="nadam"), space.replace(base, lr=1e-4)


def test_leave_one_out_ablation_gives_the_essential_decision_the_largest_contribution(regressor):
    from sknas.inspect import ablation

    reg, X, y = regressor
    winner, default = _lr_matters(reg.space_)
    table = ablation(reg, X, y, genotype=winner, default=default)
    assert list(table["decision"]) == ["lr", "optimizer"]  # only the differing decisions, largest first
    assert (table["status"] == "ok").all()
    lr, opt = table.iloc[0], table.iloc[1]
    assert lr["winner_value"] == 0.03 and lr["default_value"] == 1e-4
    assert lr["contribution"] > 0.3 and abs(opt["contribution"]) < 0.5 * lr["contribution"]
    winner_score = table.attrs["winner_score"]
    np.testing.assert_allclose(table["contribution"], winner_score - table["score"])
    assert table.attrs["method"] == "leave-one-out" and table.attrs["n_evaluations"] == 3
    assert table.attrs["not_measured"] == []


def test_ablation_path_walks_from_the_default_and_its_steps_sum_to_the_gap(regressor):
    from sknas.inspect import ablation

    reg, X, y = regressor
    winner, default = _lr_matters(reg.space_)
    table = ablation(reg, X, y, genotype=winner, default=default, method="path")
    assert list(table["step"]) == [1, 2] and table["decision"].iloc[0] == "lr"  # the best move comes first
    gap = table.attrs["winner_score"] - table.attrs["default_score"]
    assert table["contribution"].sum() == pytest.approx(gap)
    assert table["score"].iloc[-1] == pytest.approx(table.attrs["winner_score"])  # the path ends at the winner
    assert table["contribution"].iloc[0] > 0.3


def test_resetting_a_parent_drops_or_fills_its_children(regressor):
    from sknas.inspect import _changed, _reset, _space_default

    space = regressor[0].space_
    default = _space_default(space)
    assert default["n_blocks"] == 3  # the hand-picked MLP, not the linear model that leads the portfolio
    deep = space.replace(default, n_blocks=5, width_3=64, act_3="relu", norm_3="none", dropout_3=0.0,
                         skip_3="none", width_4=64, act_4="relu", norm_4="none", dropout_4=0.0, skip_4="none")
    reset = _reset(space, deep, "n_blocks", 3, (default,))
    assert reset == default and set(_changed(deep, reset, "n_blocks")) >= {"width_3", "width_4", "skip_4"}
    linear = space.replace(default, n_blocks=0)
    back = _reset(space, linear, "n_blocks", 3, (default,))  # the blocks it activates take the default's values
    assert back == default


def test_ablation_within_a_time_budget_lists_what_it_did_not_measure(regressor):
    from sknas.inspect import ablation

    reg, X, y = regressor
    winner, default = _lr_matters(reg.space_)
    table = ablation(reg, X, y, genotype=winner, default=default, max_decisions=1)
    assert len(table) == 2 and table.attrs["n_evaluations"] == 2
    assert list(table["status"]).count("not measured") == 1 and len(table.attrs["not_measured"]) == 1
    with pytest.raises(ValueError, match="could not be retrained"):
        ablation(reg, X, y, genotype=winner, default=default, time_budget=1e-6)


def test_feature_importance_ranks_the_deciding_column_first_and_lists_the_removed_one():
    import torch

    from sknas import AutoNASClassifier
    from sknas.inspect import feature_importance

    torch.set_num_threads(1)
    X = _frame()
    y = (X["signal"] > 0).astype(int).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = AutoNASClassifier(time_budget=None, max_trials=1, max_epochs=20, ensemble_size=1,
                                validation_fraction=0.5, random_state=0).fit(X, y)
    frame = feature_importance(clf, X, y, n_repeats=3, random_state=0)
    assert list(frame.columns) == ["feature", "importance", "std", "status", "reason"]
    assert frame["feature"].iloc[0] == "signal" and frame["importance"].iloc[0] > 0.2
    assert (frame["importance"].iloc[1:] < 0.1).all()
    removed = frame[frame["status"] == "removed"]
    assert list(removed["feature"]) == ["const"] and removed["reason"].iloc[0] == "constant"
    assert frame["feature"].iloc[-1] == "const"  # listed, last
    assert frame.attrs["baseline_score"] > 0.8

    # an array without names: x<i>, the removed column by position
    arr = X.drop(columns="cat").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = AutoNASClassifier(time_budget=None, max_trials=1, max_epochs=20, ensemble_size=1,
                                validation_fraction=0.5, random_state=0).fit(arr, y)
    frame = feature_importance(clf, arr, y, n_repeats=2, random_state=0)
    assert frame["feature"].iloc[0] == "x0" and frame.set_index("feature").loc["x2", "status"] == "removed"


def test_ablation_and_feature_importance_refuse_an_unfitted_or_foreign_estimator():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LinearRegression

    from sknas import AutoNASClassifier
    from sknas.inspect import ablation, feature_importance

    X, y = _frame(), np.arange(160) % 2
    for fn in (ablation, feature_importance):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            fn(AutoNASClassifier(), X, y)
        with pytest.raises(TypeError, match="expected a fitted AutoNASClassifier"):
            fn(LinearRegression(), X, y)


def test_bad_ablation_arguments_are_clear_errors(regressor):
    from sknas.inspect import ablation

    reg, X, y = regressor
    with pytest.raises(ValueError, match="method must be one of"):
        ablation(reg, X, y, method="greedy")
    with pytest.raises(ValueError, match="time_budget must be"):
        ablation(reg, X, y, time_budget=0)
    with pytest.raises(ValueError, match="max_decisions must be"):
        ablation(reg, X, y, max_decisions=0)
    with pytest.raises(ValueError):
        ablation(reg, X, y, default={"n_blocks": 99})


def test_plots_of_ablation_and_feature_importance(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sknas.plotting import plot_ablation, plot_feature_importance

    table = pd.DataFrame({"decision": ["lr", "optimizer", "width_0"], "winner_value": [0.03, "nadam", 64],
                          "default_value": [1e-4, "adamw", 256], "score": [0.1, 0.8, np.nan],
                          "contribution": [0.7, -0.02, np.nan], "status": ["ok", "ok", "not measured"]})
    table.attrs.update(method="leave-one-out", winner_score=0.8, default_score=np.nan)
    ax = plot_ablation(table)
    assert len(ax.patches) == 3 and "width_0 (not measured)" in [t.get_text() for t in ax.get_yticklabels()]
    importance = pd.DataFrame({"feature": ["signal", "noise", "const"], "importance": [0.4, 0.0, 0.0],
                               "std": [0.02, 0.01, 0.0], "status": ["used", "used", "removed"],
                               "reason": ["", "", "constant"]})
    ax = plot_feature_importance(importance)
    assert "const (removed: constant)" in [t.get_text() for t in ax.get_yticklabels()]
    ax.figure.savefig(tmp_path / "fi.png")
    assert (tmp_path / "fi.png").stat().st_size > 2000
    with pytest.raises(TypeError, match="expected the DataFrame"):
        plot_ablation({"a": 1})
