import numpy as np
import pytest
from sklearn.metrics import get_scorer

from sknas.evaluation.fidelity import extrapolate_best_loss, plan_data_fraction
from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData
from sknas.search.base import Candidate
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.training import TrainingSpace


def test_extrapolation_sees_a_decaying_curve_going_lower():
    t = np.arange(1, 11)
    curve = 0.2 + 1.0 * t ** -0.7
    predicted = extrapolate_best_loss(curve, horizon=100)
    assert predicted < curve[-1]
    assert predicted == pytest.approx(0.2 + 100 ** -0.7, abs=0.05)


def test_extrapolation_of_a_flat_curve_stays_flat():
    assert extrapolate_best_loss([0.5] * 8, horizon=100) == pytest.approx(0.5, abs=0.02)


def test_data_fraction_plan():
    assert plan_data_fraction(1000, 1e-5, 60) == 1.0
    f = plan_data_fraction(1_000_000, 1e-6, 60)
    assert 0 < f < 0.2
    assert plan_data_fraction(1_000_000, 1e-6, None) == 1.0


def _two_blobs_with_pruning(epochs):
    """Two shifted Gaussian classes, a pruning evaluator without early stopping, and a good genotype."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=600)
    X = rng.normal(size=(600, 6)) + 1.5 * y[:, None]
    data = TrialData(X[:450], y[:450], X[450:], y[450:])
    space = JointSpace(MLPSpace(max_blocks=1, max_width=64), TrainingSpace())
    ev = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=epochs, classes=np.array([0, 1]),
                   preprocessing="none", prune=True, patience=epochs)
    return data, ev, space.portfolio()[0].replace(lr=1e-2)


def test_a_hopeless_trial_is_pruned_and_a_good_one_is_not():
    data, ev, good = _two_blobs_with_pruning(60)
    ref = ev.evaluate(Candidate(good), data, seed=0)
    assert ref.status == "ok"
    incumbent = min(ref.learning_curve)
    # a learning rate so small that the loss barely moves: extrapolation cannot reach the incumbent
    slow = good.replace(lr=1e-4, lr_schedule="constant", batch_size=32)
    pruned = ev.evaluate(Candidate(slow), data, seed=0, incumbent_loss=incumbent)
    assert pruned.status == "pruned" and pruned.stop_reason == "pruned"
    assert pruned.n_epochs < 60
    again = ev.evaluate(Candidate(good), data, seed=0, incumbent_loss=incumbent * 1.5)
    assert again.status == "ok"


def test_a_snapshot_ensemble_is_judged_at_the_ends_of_its_cycles():
    """3 cycles of 20 epochs: judged at epochs 40 and 60, never inside a cycle."""
    from sknas.nn.snapshot import SnapshotEnsemble

    data, ev, good = _two_blobs_with_pruning(60)
    incumbent = ev.evaluate(Candidate(good), data, seed=0).plain_loss
    slow = good.replace(lr=1e-4, lr_schedule="constant", batch_size=32, snapshots=3)
    pruned = ev.evaluate(Candidate(slow), data, seed=0, incumbent_loss=incumbent)
    assert pruned.status == "pruned" and pruned.n_epochs == 40
    # the partial model is the ensemble of the two cycles it finished
    ensemble = pruned.model.named_steps["net"].module_.net
    assert isinstance(ensemble, SnapshotEnsemble) and len(ensemble.members) == 2
    fast = good.replace(snapshots=3)
    kept = ev.evaluate(Candidate(fast), data, seed=0, incumbent_loss=incumbent * 1.5)
    assert kept.status == "ok" and kept.n_epochs == 60


def test_the_incumbent_loss_is_the_scored_models_loss():
    """For a snapshot ensemble that is the average of its snapshots, which is on no per-epoch curve."""
    from sklearn.metrics import log_loss

    data, ev, good = _two_blobs_with_pruning(30)
    for genotype in (good, good.replace(snapshots=3)):
        result = ev.evaluate(Candidate(genotype), data, seed=0)
        proba = result.model.predict_proba(data.X_valid)
        assert result.plain_loss == pytest.approx(log_loss(data.y_valid, proba), rel=1e-4)
    # the ensemble of cycle-end snapshots scores above its best single epoch on this problem too
    assert result.plain_loss > min(result.plain_curve)


def test_pruning_compares_trials_without_their_label_smoothing():
    """A smoothed trial's own valid_loss has a higher floor; the pruner compares the plain cross-entropy."""
    data, ev, good = _two_blobs_with_pruning(30)
    ref = ev.evaluate(Candidate(good), data, seed=0)
    # without smoothing or class weights the plain loss is the criterion's loss
    np.testing.assert_allclose(ref.plain_curve, ref.learning_curve, rtol=1e-4)
    smoothed = good.replace(label_smoothing=0.2)
    alone = ev.evaluate(Candidate(smoothed), data, seed=0)
    # smoothing 0.2 puts the criterion's floor at 0.33 nats, far above the model's plain cross-entropy
    assert min(alone.learning_curve) > 1.5 * min(alone.plain_curve)
    # an incumbent this trial beats on the comparable loss: it is not pruned (its own valid_loss would be)
    incumbent = 1.2 * min(alone.plain_curve)
    assert min(alone.learning_curve) > 1.05 * incumbent
    again = ev.evaluate(Candidate(smoothed), data, seed=0, incumbent_loss=incumbent)
    assert again.status == "ok", again.plain_curve


def test_pruning_waits_for_enough_steps_and_the_one_cycle_warm_up():
    from sknas.evaluation.trainer import pruning_start

    assert pruning_start(100, n_train=100_000, batch_size=128, lr_schedule="cosine") == 10  # a tenth of the epochs
    assert pruning_start(30, n_train=100_000, batch_size=128, lr_schedule="cosine") == 5
    assert pruning_start(100, n_train=1_280, batch_size=128, lr_schedule="cosine") == 10  # 10 steps per epoch
    # one step per epoch (the net's batch size is at most the rows): never before the end
    assert pruning_start(100, n_train=120, batch_size=120, lr_schedule="cosine") == 100
    assert pruning_start(100, n_train=100_000, batch_size=128, lr_schedule="onecycle") == 30
