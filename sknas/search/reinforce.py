"""Reinforcement-learning search: an LSTM controller trained with REINFORCE."""

from __future__ import annotations

from collections import deque
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from .base import Candidate, Searcher, result_score

__all__ = ["ReinforceSearch"]

_MAX_REDRAWS = 10


class ReinforceSearch(Searcher):
    """NAS with a recurrent controller trained by policy gradient (Zoph & Le 2017).

    A small LSTM emits the space's decisions (``space.decisions(n_levels)``)
    one after another: at each step a softmax head of that decision picks a
    choice, and the embedding of the choice is the next step's input. The
    sequence of choices is turned into a genotype by ``space.from_decisions``.
    Each score told back is a reward; the controller takes one Adam step on
    the REINFORCE objective ``(reward - baseline) * log p(choices)`` plus an
    entropy bonus, where the baseline is an exponential moving average of
    past rewards.

    Conditional decisions: the controller always emits every decision, so
    its input sequence has a fixed shape, but a decision that is inactive in
    the resulting genotype (e.g. the width of a block beyond ``n_blocks``)
    is dropped by ``from_decisions`` and had no effect on the reward. Only
    the active decisions' log-probabilities (and entropies) enter the loss,
    so the controller is neither rewarded nor blamed for choices that did
    not matter.

    Parameters
    ----------
    hidden_size : int, default=32
        Width of the LSTM and of the choice embeddings.
    lr : float, default=0.01
        Adam learning rate of the controller.
    entropy_weight : float, default=0.01
        Weight of the entropy bonus, which keeps the controller exploring.
    baseline_decay : float, default=0.9
        Decay of the moving-average baseline, in [0, 1).
    n_levels : int, default=5
        Levels of each numeric parameter in the controller's decisions.

    Attributes
    ----------
    controller_ : torch.nn.Module
        The LSTM controller (on the CPU).
    baseline_ : float or None
        The current moving-average baseline.

    Notes
    -----
    Simplified from the paper: one update per result (batch size 1, which
    suits ask/tell), no parallel replicas, no anchor-point attention for skip
    connections (a skip is just another categorical decision), numbers are
    discretized into levels. The advantage is divided by the standard
    deviation of the scores seen so far (and clipped to [-5, 5]), so that
    ``lr`` and ``entropy_weight`` mean the same whatever the scale of the
    scores. The log-probability of a told candidate is recomputed under the
    current controller, which is slightly off-policy when several candidates
    are in flight. Candidates already proposed or told are redrawn (up to a
    few times) so that budget is not spent twice on one genotype; the
    redrawn sample still trains the controller. A failed trial's reward is
    the lowest score seen (no update while no score is known). Results of
    candidates the controller did not propose update the baseline and the
    score statistics but not the policy, since their log-probability under
    a discretized controller is not defined.

    Randomness: the controller is initialized under ``torch.random.fork_rng``
    and samples with a ``torch.Generator``, both seeded from the searcher's
    generator, so the global torch state is untouched and the search is
    reproducible. The number of torch threads is left as it is.

    References
    ----------
    Zoph, Le. "Neural Architecture Search with Reinforcement Learning." ICLR 2017.
    Williams. "Simple Statistical Gradient-Following Algorithms for
    Connectionist Reinforcement Learning." Machine Learning 1992.
    """

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "baseline_decay": [Interval(Real, 0, 1, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, hidden_size=32, lr=0.01, entropy_weight=0.01, baseline_decay=0.9, n_levels=5):
        self.hidden_size = hidden_size
        self.lr = lr
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.n_levels = n_levels

    def _setup(self):
        _setup_controller(self)

    def _ask(self, n):
        def sample(generator):
            actions = self.controller_.sample(generator)
            return actions, actions  # the choice indices are what the update needs

        return _ask_controller(self, n, sample)

    def _tell(self, candidate, result):
        actions, reward, baseline = _told(self, candidate, result)
        if reward is None or actions is None:
            return
        self._update(actions, _advantage(self, reward, baseline), candidate.genotype)

    def _update(self, actions, advantage, genotype):
        active = torch.tensor([name in genotype for name, _ in self._decisions], dtype=torch.bool)
        if not bool(active.any()):
            return
        log_probs, entropies = self.controller_.evaluate(actions)
        loss = -advantage * log_probs[active].sum() - self.entropy_weight * entropies[active].sum()
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()


def _setup_controller(searcher):
    """The controller, its optimizer and the bookkeeping REINFORCE and PPO share, seeded from ``rng_``."""
    # Plain (name, choices) tuples: they pickle, where Decision does not.
    searcher._decisions = [(d.name, tuple(d.choices)) for d in searcher.space_.decisions(int(searcher.n_levels))]
    seed = int(searcher.rng_.integers(2**63 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        searcher.controller_ = _Controller([len(choices) for _, choices in searcher._decisions],
                                           int(searcher.hidden_size))
    searcher._optimizer = torch.optim.Adam(searcher.controller_.parameters(), lr=float(searcher.lr))
    searcher.baseline_ = None
    searcher._scores = []
    searcher._pending = {}  # genotype -> deque of what the controller sampled for it
    searcher._proposed = set()


def _ask_controller(searcher, n, sample):
    """``n`` candidates sampled from the controller, each redrawn (at most ``_MAX_REDRAWS`` times) until new.

    ``sample(generator) -> (actions, record)``: the choice indices, and what
    is kept for the genotype until its result is told.
    """
    out = []
    for _ in range(n):
        generator = torch.Generator().manual_seed(int(searcher.rng_.integers(2**63 - 1)))
        for _ in range(_MAX_REDRAWS):
            with torch.no_grad():
                actions, record = sample(generator)
            genotype = searcher.space_.from_decisions(
                {name: choices[a] for (name, choices), a in zip(searcher._decisions, actions)}
            )
            if genotype not in searcher._proposed:
                break
        searcher._proposed.add(genotype)
        searcher._pending.setdefault(genotype, deque()).append(record)
        out.append(Candidate(genotype))
    return out


def _advantage(searcher, reward, baseline):
    """``reward - baseline`` over the standard deviation of the scores so far, clipped to [-5, 5]."""
    scale = float(np.std(searcher._scores)) if len(searcher._scores) > 1 else 0.0
    advantage = (reward - baseline) / scale if scale > 1e-12 else 0.0
    return float(np.clip(advantage, -5.0, 5.0))


def _told(searcher, candidate, result):
    """The controller's bookkeeping of a result, shared by REINFORCE and PPO.

    Records the candidate as proposed and its score; pops what the
    controller sampled for this genotype (``None`` for a candidate it did
    not propose, e.g. a portfolio entry); the reward is the score, or the
    worst score so far for a failed trial. Updates the moving-average
    baseline and returns ``(sampled, reward, baseline)`` with the baseline
    from *before* this reward (``reward`` ``None``: nothing to learn yet).
    """
    genotype = candidate.genotype
    searcher._proposed.add(genotype)
    score = result_score(result)
    if score is not None:
        searcher._scores.append(score)
    queue = searcher._pending.get(genotype)
    sampled = queue.popleft() if queue else None
    if queue is not None and not queue:
        del searcher._pending[genotype]
    reward = score if score is not None else (min(searcher._scores) if searcher._scores else None)
    if reward is None:
        return sampled, None, None
    baseline = reward if searcher.baseline_ is None else searcher.baseline_
    searcher.baseline_ = searcher.baseline_decay * baseline + (1.0 - searcher.baseline_decay) * reward
    return sampled, reward, baseline


class _Controller(nn.Module):
    """One LSTM cell unrolled over the decisions; a softmax head and an embedding per decision."""

    def __init__(self, n_choices, hidden_size):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, hidden_size))
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.embeddings = nn.ModuleList(nn.Embedding(k, hidden_size) for k in n_choices)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, k) for k in n_choices)

    def _steps(self, actions=None, generator=None):
        x, state = self.start, None
        chosen, log_probs, entropies = [], [], []
        for i, (embedding, head) in enumerate(zip(self.embeddings, self.heads)):
            state = self.cell(x, state)
            logp = torch.log_softmax(head(state[0])[0], dim=-1)
            a = int(torch.multinomial(logp.exp(), 1, generator=generator)) if actions is None else actions[i]
            chosen.append(a)
            log_probs.append(logp[a])
            entropies.append(-(logp.exp() * logp).sum())
            x = embedding(torch.tensor([a]))
        return chosen, log_probs, entropies

    def sample(self, generator):
        """Choice indices of one sequence drawn from the policy."""
        return tuple(self._steps(generator=generator)[0])

    def evaluate(self, actions):
        """Log-probability and entropy of each step of a given sequence."""
        _, log_probs, entropies = self._steps(actions=actions)
        return torch.stack(log_probs), torch.stack(entropies)
