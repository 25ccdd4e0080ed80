"""The mechanisms of the PPO controller and of the MetaQNN Q-learning agent.

The shared searcher suite (tests/search/test_optimizers.py) checks both as
ask/tell searchers; these tests check that each does what its paper says:
PPO's policy moves toward the rewarded choice and its clip bounds the
probability ratio; Q-learning follows its epsilon schedule, learns from its
replay memory, and its greedy policy finds the best genotype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sknas.search.base import Candidate
from sknas.search.ppo import PPOSearch, clipped_surrogate
from sknas.search.qlearning import DEFAULT_SCHEDULE, METAQNN_SCHEDULE, QLearningSearch
from sknas.space.base import SearchSpace
from sknas.space.genotype import Genotype
from sknas.space.params import Categorical, Int


@dataclass
class Result:
    status: str = "ok"
    score: float | None = None


class Small(SearchSpace):
    """Two blocks at most; 3 + 9 = 12 categorical genotypes, times 3 depth bins."""

    def _params(self):
        return [
            Categorical("n", (1, 2)),
            Categorical("w0", ("s", "m", "l")),
            Categorical("w1", ("s", "m", "l"), when={"n": 2}),
            Int("depth", 1, 9),
        ]


SIZE = {"s": 0.0, "m": 1.0, "l": 0.5}


def small_score(g):
    """Best: n=2, w0="m", w1="m", depth=9 (a unique optimum among the 36 binned genotypes)."""
    score = SIZE[g["w0"]] + g["depth"] / 9
    if g["n"] == 2:
        score += 0.8 * SIZE[g["w1"]] + 0.1
    return score


BEST = Genotype({"n": 2, "w0": "m", "w1": "m", "depth": 9})


def loop(searcher, n_trials, score_fn=small_score):
    asked = []
    for _ in range(n_trials):
        candidate = searcher.ask(1)[0]
        searcher.tell(candidate, Result(score=score_fn(candidate.genotype)))
        asked.append(candidate.genotype)
    return asked


# -- PPO --------------------------------------------------------------------------
def prob_of_first_choice(searcher, index):
    """The controller's probability of choice ``index`` at the first decision."""
    actions = (index,) + (0,) * (len(searcher._decisions) - 1)
    with torch.no_grad():
        return float(searcher.controller_.evaluate(actions)[0][0].exp())


def test_ppo_policy_moves_toward_the_rewarded_choice():
    def score(g):  # only the first decision matters: n = 2 (its choice 1) is worth 1, n = 1 nothing
        return float(g["n"] == 2)

    for seed in range(2):
        searcher = PPOSearch(hidden_size=16, batch_size=4).setup(Small(), seed)
        before = prob_of_first_choice(searcher, 1)
        asked = loop(searcher, 40, score)
        after = prob_of_first_choice(searcher, 1)
        assert 0.35 < before < 0.65  # two choices, an untrained controller
        assert after > max(0.65, before + 0.15), (before, after)
        assert searcher.n_updates_ == 10
        assert np.mean([g["n"] == 2 for g in asked[-12:]]) > np.mean([g["n"] == 2 for g in asked[:12]])


def test_clipped_surrogate_has_no_gradient_beyond_the_clip():
    old = torch.log(torch.tensor([0.5, 0.5, 0.5, 0.5]))
    # ratios 0.6, 1.1, 1.4 (beyond 1 + 0.2) and 1.0
    new = torch.log(torch.tensor([0.3, 0.55, 0.7, 0.5])).requires_grad_()
    clipped_surrogate(new, old, 1.0, 0.2).backward()
    grad_positive = new.grad.clone()
    assert grad_positive[2] == 0.0  # a positive advantage gains nothing above 1 + clip
    assert grad_positive[0] > 0 and grad_positive[1] > 0 and grad_positive[3] > 0
    new.grad = None
    clipped_surrogate(new, old, -1.0, 0.2).backward()
    assert new.grad[0] == 0.0  # a negative advantage gains nothing below 1 - clip
    assert new.grad[2] < 0 and new.grad[1] < 0
    # Inside the clip the objective is the plain ratio times the advantage.
    value = clipped_surrogate(torch.log(torch.tensor([0.55])), torch.log(torch.tensor([0.5])), 2.0, 0.2)
    assert float(value) == pytest.approx(2.2)


def log_ratios_after_one_batch(clip):
    """``|log(new / old)|`` of each decision of one batch after many large steps on it."""
    searcher = PPOSearch(batch_size=8, n_epochs=20, lr=0.01, entropy_weight=0.0, clip=clip).setup(Small(), 0)
    loop(searcher, 8)
    assert searcher.n_updates_ == 1
    return np.abs(np.log(np.concatenate(searcher.last_ratios_)))


def test_ppo_clip_bounds_the_policy_ratio():
    # Twenty large steps on one batch. Without a clip the policy runs far from the one that sampled
    # the batch. With PPO's clip a decision stops pulling once its ratio passes 1 + clip (1 - clip
    # for a blamed one), and the policy stays near the one that sampled the batch: not exactly
    # within the clip, since the decisions share the LSTM's weights and Adam has momentum.
    clipped, free = log_ratios_after_one_batch(0.2), log_ratios_after_one_batch(1e6)
    assert free.mean() > 1.5  # ratios of e^1.5 = 4.5 (or 1 / 4.5) on average
    assert np.median(clipped) < 0.4  # log(1.2) = 0.18
    assert clipped.mean() < free.mean() / 3 and clipped.max() < free.max() / 2


def test_ppo_old_probabilities_are_those_of_the_sampling_policy():
    searcher = PPOSearch(batch_size=100).setup(Small(), 3)
    for c in searcher.ask(5):
        actions, old = searcher._pending[c.genotype][0]
        with torch.no_grad():
            assert torch.allclose(searcher.controller_.evaluate(actions)[0], old)


# -- Q-learning ---------------------------------------------------------------------
def test_epsilon_follows_the_schedule():
    searcher = QLearningSearch(epsilon_schedule=((1.0, 4), (0.5, 2), (0.1, 3))).setup(Small(), 0)
    assert [searcher.epsilon_at(k) for k in range(12)] == [1.0] * 4 + [0.5] * 2 + [0.1] * 6
    seen = []
    for _ in range(10):
        seen.append(searcher.epsilon_)
        loop(searcher, 1)
    assert seen == [1.0] * 4 + [0.5] * 2 + [0.1] * 4
    # The default is MetaQNN's schedule, 50 times shorter: 30 models at random of 54.
    assert DEFAULT_SCHEDULE[0] == (1.0, 30) and sum(n for _, n in DEFAULT_SCHEDULE) == 54
    assert [e for e, _ in DEFAULT_SCHEDULE] == [e for e, _ in METAQNN_SCHEDULE]
    assert sum(n for _, n in METAQNN_SCHEDULE) == 2700


def test_exploration_is_random_at_epsilon_one_and_greedy_at_zero():
    searcher = QLearningSearch(epsilon_schedule=((1.0, 40), (0.0, 1))).setup(Small(), 0)
    asked = loop(searcher, 40)
    # At epsilon = 1 the agent ignores what it learned: the first choice is a coin flip.
    assert 0.3 < np.mean([g["n"] == 2 for g in asked]) < 0.7
    # At epsilon = 0 it follows its Q-values: the first two choices are the greedy policy's
    # (the states they are taken in were visited, so their Q-values are not tied).
    assert searcher.epsilon_ == 0.0
    greedy, proposal = searcher.policy_genotype(), searcher.ask(1)[0].genotype
    assert (proposal["n"], proposal["w0"]) == (greedy["n"], greedy["w0"])


def test_replay_updates_episodes_told_earlier():
    def terminal_q(searcher, genotype):
        state, i, action = searcher._transitions_of(genotype)[-1]
        return searcher.q_values_[state][action]

    first, second = Genotype({"n": 1, "w0": "m", "depth": 9}), Genotype({"n": 1, "w0": "s", "depth": 1})
    values = {}
    for replay_size in (0, 100):
        searcher = QLearningSearch(replay_size=replay_size).setup(Small(), 0)
        searcher.tell(Candidate(first), Result(score=1.0))  # the mean: reward 0
        searcher.tell(Candidate(second), Result(score=0.0))  # the mean drops to 0.5
        values[replay_size] = terminal_q(searcher, first)
        assert len(searcher.replay_) == 2
        assert searcher.n_replay_updates_ == (0 if replay_size == 0 else 1 + 2)
    # Without replay the first episode was updated once, when its reward was 0; replayed, it learns
    # its reward against the new mean: Q <- 0.99 * 0 + 0.01 * (1 - 0.5).
    assert values[0] == 0.0
    assert values[100] == pytest.approx(0.01 * 0.5)


def test_foreign_genotypes_are_put_in_the_nearest_bins():
    searcher = QLearningSearch(n_levels=3).setup(Small(), 0)  # depth bins 1, 5, 9
    transitions = searcher._transitions_of(Genotype({"n": 1, "w0": "l", "depth": 8}))
    assert [action for _, _, action in transitions] == [0, 2, 2]
    searcher.tell(Candidate(Genotype({"n": 1, "w0": "l", "depth": 8})), Result(score=1.0))
    assert len(searcher.replay_) == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_policy_finds_the_best_genotype(seed):
    # 80 episodes, half at random, on 36 binned genotypes; at MetaQNN's learning rate of 0.01 the
    # Q-values need more episodes than a quick test affords (about 120 here), so 0.1.
    searcher = QLearningSearch(n_levels=3, learning_rate=0.1,
                               epsilon_schedule=((1.0, 40), (0.5, 20), (0.1, 20))).setup(Small(), seed)
    loop(searcher, 80)
    assert searcher.policy_genotype() == BEST


def test_failed_trials_enter_the_memory_at_the_lowest_score():
    searcher = QLearningSearch(epsilon_schedule=((1.0, 5),)).setup(Small(), 0)
    searcher.tell(Candidate(BEST), Result(status="failed"))
    assert searcher.q_values_ == {} and searcher.replay_[0][1] is None  # no score known: nothing learned yet
    loop(searcher, 4)
    state, _, action = searcher.replay_[0][0][-1]
    assert searcher.q_values_[state][action] < 0  # the failure counts as the worst score, below the mean


def test_bad_schedules_are_refused():
    for bad, message in [(((1.0, 3), (1.5, 2)), "epsilon"), (((1.0, -1),), "n_models"), (((1.0,),), "pairs"),
                         ((), "at least one")]:
        with pytest.raises(ValueError, match=message):
            QLearningSearch(epsilon_schedule=bad).setup(Small(), 0)
