"""Reinforcement-learning search: a tabular Q-learning agent (MetaQNN)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from .base import Candidate, Searcher, result_score

__all__ = ["QLearningSearch", "METAQNN_SCHEDULE"]

_MAX_REDRAWS = 10

#: MetaQNN's epsilon schedule (Baker et al. 2017, Table 2): models trained at each epsilon.
METAQNN_SCHEDULE = ((1.0, 1500), (0.9, 100), (0.8, 100), (0.7, 100), (0.6, 150),
                    (0.5, 150), (0.4, 150), (0.3, 150), (0.2, 150), (0.1, 150))

#: The default: MetaQNN's schedule with 50 times fewer models (54 in all, 30 of them at random).
DEFAULT_SCHEDULE = tuple((eps, n // 50) for eps, n in METAQNN_SCHEDULE)


class QLearningSearch(Searcher):
    """NAS by an epsilon-greedy Q-learning agent with experience replay (MetaQNN).

    The agent builds a genotype one decision at a time. A state is the
    sequence of choices taken so far; its actions are the choices of the
    next decision of ``space.decisions(n_levels)`` that is active given
    those choices (decisions a choice deactivates, such as the width of a
    block beyond ``n_blocks``, are skipped, as MetaQNN's state space only
    allows valid next layers). Numeric parameters are discretized into
    ``n_levels`` bins. The last choice leads to the terminal state, whose
    reward is the trained network's score; every other transition has
    reward 0.

    Each episode draws its choices epsilon-greedily from the Q-table
    (ties between equal Q-values broken at random), with epsilon following
    ``epsilon_schedule``: MetaQNN's schedule trains many models at
    ``epsilon = 1`` (pure exploration), then a few at each of 0.9, 0.8,
    ..., 0.1; after the schedule, epsilon stays at its last value. Every
    told result joins the replay memory, and after each one
    ``replay_size`` episodes are drawn from the memory (without
    replacement) and each of their transitions is updated, from the last
    to the first, by the Q-learning rule::

        Q(s, a) <- (1 - learning_rate) Q(s, a)
                   + learning_rate [r + discount * max_a' Q(s', a')]

    with the paper's ``learning_rate = 0.01`` and ``discount = 1``.

    Parameters
    ----------
    learning_rate : float, default=0.01
        The Q-learning rate alpha, in (0, 1].
    discount : float, default=1.0
        The discount gamma, in [0, 1].
    epsilon_schedule : tuple of (float, int) pairs, default=DEFAULT_SCHEDULE
        ``(epsilon, n_models)`` in order: the first ``n_models`` proposals
        at the first epsilon, and so on. The default is MetaQNN's schedule
        (:data:`METAQNN_SCHEDULE`, 2,700 models) with 50 times fewer
        models: 30 at random, then 2 or 3 at each lower epsilon.
    replay_size : int, default=100
        Episodes replayed from memory after each result (MetaQNN: 100).
        0 updates only the new episode.
    n_levels : int, default=5
        Bins of each numeric parameter.

    Attributes
    ----------
    q_values_ : dict
        ``state -> ndarray`` of the Q-values of the state's actions, for
        the states visited so far (a state is a tuple of
        ``(decision index, choice index)`` pairs).
    replay_ : list
        The replay memory: ``(transitions, reward)`` per told result, the
        reward ``None`` for a failed trial.
    epsilon_ : float
        The epsilon of the next proposal.
    n_episodes_ : int
        Proposals made so far (the schedule's clock).
    n_replay_updates_ : int
        Episodes replayed so far.

    Notes
    -----
    Scaled down from the paper: the schedule is 50 times shorter; the state is
    the whole prefix of choices (MetaQNN's state holds the layer type, depth
    and representation size, which for its chain networks is what the prefix
    determines); the decisions are the space's parameters rather than layer
    types. MetaQNN starts Q-values at 0.5, the middle of an accuracy range;
    our scores may be on any scale, so rather than a start value on the scale
    of the scores, the reward is the score minus the mean score seen so far,
    recomputed whenever an episode is replayed, and every Q-value starts at 0:
    an unvisited choice reads as average, and the greedy policy prefers
    choices whose networks scored above the mean. A failed trial's reward is
    the lowest score seen, when it is replayed. Where MetaQNN reuses the
    stored accuracy of a model sampled twice, the agent redraws (up to a few
    times) so that the budget is not spent twice on one genotype. Results of
    candidates the agent did not propose (the runner's portfolio) join the
    replay memory too: their values are put in the nearest bin of each
    decision.

    References
    ----------
    Baker, Gupta, Naik, Raskar. "Designing Neural Network Architectures
    using Reinforcement Learning." ICLR 2017 (MetaQNN).
    Watkins, Dayan. "Q-learning." Machine Learning 1992.
    Lin. "Self-Improving Reactive Agents Based on Reinforcement Learning,
    Planning and Teaching." Machine Learning 1992 (experience replay).
    """

    _parameter_constraints: dict = {
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "discount": [Interval(Real, 0, 1, closed="both")],
        "epsilon_schedule": [tuple, list],
        "replay_size": [Interval(Integral, 0, None, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, learning_rate=0.01, discount=1.0, epsilon_schedule=DEFAULT_SCHEDULE, replay_size=100,
                 n_levels=5):
        self.learning_rate = learning_rate
        self.discount = discount
        self.epsilon_schedule = epsilon_schedule
        self.replay_size = replay_size
        self.n_levels = n_levels

    def _setup(self):
        self._schedule = _check_schedule(self.epsilon_schedule)
        params = {p.name: p for p in self.space_.params}
        self._decisions = [(d.name, tuple(d.choices)) for d in self.space_.decisions(int(self.n_levels))]
        self._params = [params[name] for name, _ in self._decisions]
        self.q_values_ = {}
        self.replay_ = []
        self.n_episodes_ = 0
        self.n_replay_updates_ = 0
        self._scores = []
        self._pending = {}  # genotype -> list of transition tuples
        self._proposed = set()

    # -- the schedule ------------------------------------------------------------------
    def epsilon_at(self, episode):
        """Epsilon of the proposal number ``episode`` (counted from 0)."""
        schedule = getattr(self, "_schedule", None) or _check_schedule(self.epsilon_schedule)
        for epsilon, n_models in schedule:
            if episode < n_models:
                return epsilon
            episode -= n_models
        return schedule[-1][0]

    @property
    def epsilon_(self):
        return self.epsilon_at(self.n_episodes_)

    # -- episodes ----------------------------------------------------------------------
    def _q(self, state, n_actions):
        values = self.q_values_.get(state)
        return np.zeros(n_actions) if values is None else values

    def _next_decision(self, start, assigned):
        """Index of the first decision from ``start`` on that is active given ``assigned`` (None: terminal)."""
        for i in range(start, len(self._decisions)):
            if self._params[i].is_active(assigned):
                return i
        return None

    def _episode(self, epsilon):
        """One walk from the empty state: ``(genotype, transitions)``.

        A transition is ``(state, decision index, action)``.
        """
        state, assigned, transitions = (), {}, []
        i = self._next_decision(0, assigned)
        while i is not None:
            name, choices = self._decisions[i]
            if self.rng_.random() < epsilon:
                action = int(self.rng_.integers(len(choices)))
            else:
                q = self._q(state, len(choices))
                best = np.flatnonzero(q == q.max())
                action = int(best[self.rng_.integers(len(best))])
            transitions.append((state, i, action))
            assigned[name] = choices[action]
            state = state + ((i, action),)
            i = self._next_decision(i + 1, assigned)
        return self.space_.from_decisions(assigned), tuple(transitions)

    def policy_genotype(self):
        """The genotype the greedy policy builds now (epsilon = 0, ties to the first choice)."""
        state, assigned = (), {}
        i = self._next_decision(0, assigned)
        while i is not None:
            name, choices = self._decisions[i]
            action = int(np.argmax(self._q(state, len(choices))))
            assigned[name] = choices[action]
            state = state + ((i, action),)
            i = self._next_decision(i + 1, assigned)
        return self.space_.from_decisions(assigned)

    def _transitions_of(self, genotype):
        """The episode that builds ``genotype``, each value in its nearest bin."""
        state, assigned, transitions = (), {}, []
        i = self._next_decision(0, assigned)
        while i is not None:
            name, choices = self._decisions[i]
            if name not in genotype:  # not a genotype of this space's decisions
                return None
            param, value = self._params[i], genotype[name]
            target = param.encode(value)
            action = int(np.argmin([np.abs(param.encode(c) - target).sum() for c in choices]))
            transitions.append((state, i, action))
            assigned[name] = choices[action]
            state = state + ((i, action),)
            i = self._next_decision(i + 1, assigned)
        return tuple(transitions)

    def _ask(self, n):
        out = []
        for _ in range(n):
            epsilon = self.epsilon_
            for _ in range(_MAX_REDRAWS):
                genotype, transitions = self._episode(epsilon)
                if genotype not in self._proposed:
                    break
            self.n_episodes_ += 1
            self._proposed.add(genotype)
            self._pending.setdefault(genotype, []).append(transitions)
            out.append(Candidate(genotype))
        return out

    # -- learning ----------------------------------------------------------------------
    def _tell(self, candidate, result):
        genotype = candidate.genotype
        self._proposed.add(genotype)
        score = result_score(result)
        if score is not None:
            self._scores.append(score)
        queue = self._pending.get(genotype)
        transitions = queue.pop(0) if queue else self._transitions_of(genotype)
        if queue is not None and not queue:
            del self._pending[genotype]
        if transitions:
            self.replay_.append((transitions, score))
        self._replay(latest=len(self.replay_) - 1 if transitions else None)

    def _replay(self, latest):
        """Update the newest episode, then ``replay_size`` episodes drawn from the memory."""
        if not self._scores:
            return  # no reward is known yet (every trial so far failed)
        chosen = [] if latest is None else [latest]
        k = min(int(self.replay_size), len(self.replay_))
        if k:
            chosen += [int(j) for j in self.rng_.choice(len(self.replay_), size=k, replace=False)]
        for j in chosen:
            self._update_episode(*self.replay_[j])
        self.n_replay_updates_ += k

    def _update_episode(self, transitions, score):
        # centred on the mean score, so that Q = 0, where every entry starts, means "average"
        reward = (score if score is not None else min(self._scores)) - float(np.mean(self._scores))
        alpha, gamma = float(self.learning_rate), float(self.discount)
        for t in range(len(transitions) - 1, -1, -1):
            state, i, action = transitions[t]
            if t == len(transitions) - 1:
                target = reward  # into the terminal state: the network's score
            else:
                next_state, j, _ = transitions[t + 1]
                target = gamma * float(np.max(self._q(next_state, len(self._decisions[j][1]))))
            values = self.q_values_.get(state)
            if values is None:
                values = self.q_values_[state] = np.zeros(len(self._decisions[i][1]))
            values[action] = (1.0 - alpha) * values[action] + alpha * target


def _check_schedule(schedule):
    """``epsilon_schedule`` as a tuple of ``(float, int)`` pairs, or a ValueError naming the problem."""
    pairs = []
    for item in schedule:
        try:
            epsilon, n_models = item
        except (TypeError, ValueError):
            raise ValueError(
                f"QLearningSearch: epsilon_schedule must hold (epsilon, n_models) pairs. Got {item!r} instead."
            ) from None
        if isinstance(epsilon, bool) or not isinstance(epsilon, Real) or not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"QLearningSearch: each epsilon of epsilon_schedule must be in [0, 1]. Got {epsilon!r}.")
        if isinstance(n_models, bool) or not isinstance(n_models, Integral) or n_models < 0:
            raise ValueError(
                f"QLearningSearch: each n_models of epsilon_schedule must be an int >= 0. Got {n_models!r}."
            )
        pairs.append((float(epsilon), int(n_models)))
    if not pairs:
        raise ValueError("QLearningSearch: epsilon_schedule must hold at least one (epsilon, n_models) pair.")
    return tuple(pairs)
