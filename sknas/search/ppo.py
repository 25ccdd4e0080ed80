"""Reinforcement-learning search: the LSTM controller trained with PPO (as NASNet's)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from .base import Searcher
from .reinforce import _advantage, _ask_controller, _setup_controller, _told

__all__ = ["PPOSearch", "clipped_surrogate"]


def clipped_surrogate(log_probs, old_log_probs, advantage, clip):
    """PPO's clipped objective of sampled decisions, summed, to be maximized.

    ``sum_t min(r_t * A_t, clip(r_t, 1 - clip, 1 + clip) * A_t)`` with
    ``r_t = exp(log_probs[t] - old_log_probs[t])``: each decision of a
    sequence is one action of the controller's episode, and every action
    of an episode shares its advantage (the reward comes at the end and
    the discount is 1); ``advantage`` is a number or a tensor shaped like
    ``log_probs``. Beyond the clip, in the direction the
    advantage pushes, the term is constant: it has no gradient, so an
    update gains nothing by moving the policy further from the one that
    sampled the sequence (Schulman et al. 2017, eq. 7).
    """
    ratio = torch.exp(log_probs - old_log_probs)
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.minimum(ratio * advantage, clipped * advantage).sum()


class PPOSearch(Searcher):
    """NAS with a recurrent controller trained by proximal policy optimization.

    The controller and its sampling are those of
    :class:`~sknas.search.reinforce.ReinforceSearch` (one LSTM cell
    unrolled over ``space.decisions(n_levels)``, a softmax head and a
    choice embedding per decision), as in NASNet (Zoph et al. 2018), whose
    controller is trained with PPO instead of REINFORCE. The
    log-probability of each decision is recorded when the sequence is
    sampled (the "old" policy). Once ``batch_size`` results of sampled
    sequences have been told, the controller takes ``n_epochs`` Adam
    steps on the whole batch, each on the clipped surrogate objective
    (:func:`clipped_surrogate`, Schulman et al. 2017) plus an entropy
    bonus over the active decisions, then the batch is emptied.

    Baseline: the advantage of a result is its reward minus an
    exponential moving average of past rewards (decay ``baseline_decay``,
    the baseline of Zoph & Le 2017 and NASNet), not a learned value
    network. The controller has no input: every episode starts from the
    same state, whose value is the expected reward, and the moving
    average estimates exactly that; a learned critic would add parameters
    to estimate the same number. As in ``reinforce``, the advantage is
    divided by the standard deviation of the scores seen so far and
    clipped to [-5, 5], so that ``lr`` and ``entropy_weight`` mean the same
    whatever the scale of the scores.

    Parameters
    ----------
    hidden_size : int, default=32
        Width of the LSTM and of the choice embeddings.
    lr : float, default=0.005
        Adam learning rate of the controller.
    batch_size : int, default=5
        Results of sampled sequences gathered before each PPO update.
    n_epochs : int, default=4
        Adam steps on each batch (the "K epochs" of PPO).
    clip : float, default=0.2
        PPO's clip range epsilon: the probability ratio is clipped to
        ``[1 - clip, 1 + clip]`` in the objective.
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
    n_updates_ : int
        PPO updates (batches) done so far.
    last_ratios_ : list of ndarray
        After each update, the probability ratios new / old of every active
        decision of the batch, one array per sequence (a diagnostic).
    last_advantages_ : ndarray
        The advantage of each sequence of the last batch.

    Notes
    -----
    Simplified from NASNet: one controller on one CPU instead of a
    controller fed by hundreds of workers through a queue, batches of a
    few results, numbers discretized into levels, no attention over
    earlier layers. Conditional decisions are handled as in ``reinforce``:
    only the decisions active in the resulting genotype enter the ratio
    and the entropy. Candidates already proposed or told are redrawn (up
    to a few times). A failed trial's reward is the lowest score seen (it
    joins no batch while no score is known). Results of candidates the
    controller did not propose update the baseline and the score
    statistics but join no batch: their probability under the old policy
    is unknown. A result told after an update for a sequence sampled
    before it is still weighed against the policy that sampled it, which
    is what the ratio is for.

    Randomness: as in ``reinforce``, the controller is initialized under
    ``torch.random.fork_rng`` and samples with a ``torch.Generator``, both
    seeded from the searcher's generator.

    References
    ----------
    Schulman, Wolski, Dhariwal, Radford, Klimov. "Proximal Policy
    Optimization Algorithms." arXiv:1707.06347, 2017.
    Zoph, Vasudevan, Shlens, Le. "Learning Transferable Architectures for
    Scalable Image Recognition." CVPR 2018 (NASNet).
    Zoph, Le. "Neural Architecture Search with Reinforcement Learning." ICLR 2017.
    """

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "clip": [Interval(Real, 0, None, closed="neither")],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "baseline_decay": [Interval(Real, 0, 1, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, hidden_size=32, lr=0.005, batch_size=5, n_epochs=4, clip=0.2, entropy_weight=0.01,
                 baseline_decay=0.9, n_levels=5):
        self.hidden_size = hidden_size
        self.lr = lr
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.clip = clip
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.n_levels = n_levels

    def _setup(self):
        _setup_controller(self)  # self._pending: genotype -> deque of (choice indices, old log-probabilities)
        self.n_updates_ = 0
        self.last_ratios_ = []
        self.last_advantages_ = np.zeros(0)
        self._batch = []  # (choice indices, old log-probabilities, active mask, advantage)

    def _ask(self, n):
        def sample(generator):
            actions, log_probs, _ = self.controller_._steps(generator=generator)
            return actions, (tuple(actions), torch.stack(log_probs))

        return _ask_controller(self, n, sample)

    def _tell(self, candidate, result):
        genotype = candidate.genotype
        sampled, reward, baseline = _told(self, candidate, result)
        if reward is None or sampled is None:
            return
        active = torch.tensor([name in genotype for name, _ in self._decisions], dtype=torch.bool)
        if not bool(active.any()):
            return
        actions, old_log_probs = sampled
        self._batch.append((actions, old_log_probs, active, _advantage(self, reward, baseline)))
        if len(self._batch) >= self.batch_size:
            self._update()

    def _update(self):
        """``n_epochs`` Adam steps on the clipped objective of the batch, then a fresh batch."""
        batch, self._batch = self._batch, []
        actions = torch.tensor([a for a, _, _, _ in batch], dtype=torch.long)
        old = torch.stack([o for _, o, _, _ in batch])
        active = torch.stack([m for _, _, m, _ in batch])
        advantages = torch.tensor([adv for _, _, _, adv in batch], dtype=torch.float32)
        for _ in range(int(self.n_epochs)):
            log_probs, entropies = _evaluate_batch(self.controller_, actions)
            objective = clipped_surrogate(
                log_probs[active], old[active], advantages[:, None].expand_as(log_probs)[active], float(self.clip)
            ) + self.entropy_weight * entropies[active].sum()
            loss = -objective / len(batch)
            self._optimizer.zero_grad()
            loss.backward()
            self._optimizer.step()
        with torch.no_grad():
            ratios = torch.exp(_evaluate_batch(self.controller_, actions)[0] - old)
        self.last_ratios_ = [r[m].numpy() for r, m in zip(ratios, active)]
        self.last_advantages_ = advantages.numpy()
        self.n_updates_ += 1


def _evaluate_batch(controller, actions):
    """Log-probabilities and entropies, ``(n_sequences, n_decisions)``, of given choice sequences.

    The same computation as ``controller.evaluate`` on each row of
    ``actions``, with the sequences stacked in the LSTM's batch dimension.
    """
    x, state = controller.start.expand(len(actions), -1), None
    log_probs, entropies = [], []
    for i, (embedding, head) in enumerate(zip(controller.embeddings, controller.heads)):
        state = controller.cell(x, state)
        logp = torch.log_softmax(head(state[0]), dim=-1)
        log_probs.append(logp.gather(1, actions[:, i : i + 1])[:, 0])
        entropies.append(-(logp.exp() * logp).sum(dim=-1))
        x = embedding(actions[:, i])
    return torch.stack(log_probs, dim=1), torch.stack(entropies, dim=1)
