"""sknas.inspect: fANOVA decision importance and marginals of a search's trials."""

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
