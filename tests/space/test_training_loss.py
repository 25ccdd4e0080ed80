"""The training loss decision of TrainingSpace: robust losses for the right task only, the plain one by default."""

import numpy as np
import pytest

from sknas.space.training import LOSSES, TrainingSpace


@pytest.mark.parametrize("task, other", [("classification", "huber"), ("regression", "gce")])
def test_the_loss_is_sampled_among_the_tasks_own(task, other):
    space = TrainingSpace(task)
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(200)]
    assert {g["loss"] for g in samples} == set(LOSSES[task])
    # Huber's delta is a decision of Huber genotypes only
    for g in samples:
        assert ("huber_delta" in g) == (g["loss"] == "huber")
    with pytest.raises(ValueError, match="not one of"):
        space.validate({**samples[0], "loss": other})


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_genotype_without_the_key_means_the_plain_loss(task):
    space = TrainingSpace(task)
    (default,) = space.portfolio()
    assert default["loss"] == LOSSES[task][0]
    old = {k: v for k, v in default.items() if k != "loss"}
    assert space.validate(old)["loss"] == LOSSES[task][0]
    assert space.loss(old) == LOSSES[task][0]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_space_without_the_robust_losses_has_no_loss_decision(task):
    """``losses=(plain,)`` is the space of before: the same draws of every other decision, and no ``loss`` key."""
    plain = TrainingSpace(task, losses=LOSSES[task][:1])
    full = TrainingSpace(task)
    assert "loss" not in {p.name for p in plain.params}
    for seed in range(5):
        a, b = plain.sample(np.random.default_rng(seed)), full.sample(np.random.default_rng(seed))
        assert dict(a) == {k: v for k, v in b.items() if k not in ("loss", "huber_delta")}
    # a robust genotype does not validate in it
    with pytest.raises(ValueError):
        plain.validate({**plain.portfolio()[0], "loss": LOSSES[task][1]})


def test_a_single_robust_loss_is_kept_as_the_decision():
    space = TrainingSpace("regression", losses=("huber",))
    g = space.sample(np.random.default_rng(0))
    assert g["loss"] == "huber" and g["huber_delta"] in (0.1, 0.3, 1.0)
    assert space.portfolio()[0]["loss"] == "huber"


@pytest.mark.parametrize("losses", [("ce", "huber"), (), ("gce", "gce"), ("focal",), (1,)])
def test_bad_losses_are_rejected(losses):
    with pytest.raises(ValueError, match="losses must be"):
        TrainingSpace("classification", losses=losses).params
