"""ENAS: an LSTM controller samples child networks that share the supernet's weights."""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ..reinforce import _Controller
from .base import OneShotSearcher, epoch_batches, weight_step

__all__ = ["ENASSearch"]


class ENASSearch(OneShotSearcher):
    """ENAS (Pham et al. 2018): parameter sharing between child networks sampled by a controller.

    The supernet runs one child at a time (mode ``"fixed"``): the child the
    controller just sampled. The controller is the LSTM of
    :class:`~sknas.search.reinforce.ReinforceSearch`, emitting the
    supernet's discrete decisions (``supernet.genotype_decisions()``: for
    the mlp space depth, widths, activations, norms and skips; for cells
    each node's inputs and operations). Each epoch alternates two phases,
    as in the paper:

    1. the shared weights take one step per mini-batch of the weights share
       of the training part, each on a freshly sampled child;
    2. the controller takes ``controller_steps`` REINFORCE steps: a sampled
       child's reward is its shared-weight score (accuracy, or ``1 - MSE``
       of the standardized target) on a mini-batch of the architecture
       share, computed in evaluation mode (dropout off, see Notes); the
       update is ``-(reward - baseline) * log p(child)`` minus an entropy
       bonus, with a moving-average baseline.

    At the end, ``n_candidates`` children are sampled and the one with the
    best shared-weight score on the whole architecture share is derived,
    then retrained from scratch (or fine-tuned, ``one_stage=True``), see
    :mod:`sknas.search.oneshot`. Later asks sample the controller.

    Parameters
    ----------
    controller_hidden : int, default=32
    controller_lr : float, default=5e-3
        Adam learning rate of the controller.
    controller_steps : int, default=20
        Controller updates per epoch.
    entropy_weight : float, default=1e-3
    baseline_decay : float, default=0.95
    n_candidates : int, default=10
        Children sampled at the end, the best of which is derived.
    epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options : see DARTSSearch

    Attributes
    ----------
    controller_ : torch.nn.Module
    baseline_ : float or None
    derived_, base_ : Genotype

    Notes
    -----
    Simplified from the paper: the advantage is divided by the standard
    deviation of the rewards seen so far and clipped to [-5, 5] (as in
    ReinforceSearch), so the step size does not depend on the reward's
    scale; the controller has no anchor-point attention (a skip is another
    categorical decision); children are scored in evaluation mode (no
    dropout), but their batch norms use the reward batch's statistics,
    because the running statistics mix many children; the
    shared weights use the base genotype's optimizer with a cosine
    schedule; a node's ``combine`` is fixed to ``"sum"``; only the first
    fold is used.

    References
    ----------
    Pham, Guan, Zoph, Le, Dean. "Efficient Neural Architecture Search via
    Parameter Sharing." ICML 2018.
    Williams. "Simple Statistical Gradient-Following Algorithms for
    Connectionist Reinforcement Learning." Machine Learning 1992.
    """

    #: children drawn from the final controller for the asks after the first
    POOL_SIZE = 50
    #: rows of the architecture share a reward is computed on
    REWARD_BATCH = 256

    _parameter_constraints: dict = {
        **OneShotSearcher._parameter_constraints,
        "controller_hidden": [Interval(Integral, 1, None, closed="left")],
        "controller_lr": [Interval(Real, 0, None, closed="neither")],
        "controller_steps": [Interval(Integral, 0, None, closed="left")],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "baseline_decay": [Interval(Real, 0, 1, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, controller_hidden=32, controller_lr=5e-3, controller_steps=20, entropy_weight=1e-3,
                 baseline_decay=0.95, n_candidates=10, epochs=None, time_share=0.5, arch_fraction=0.5,
                 batch_size=64, one_stage=False, supernet_options=None):
        self.controller_hidden = controller_hidden
        self.controller_lr = controller_lr
        self.controller_steps = controller_steps
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.n_candidates = n_candidates
        self._set_common_params(epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options)

    def _setup(self):
        super()._setup()
        self.controller_ = None
        self.baseline_ = None
        self._decisions = None
        self._rewards = []
        self._pool = []

    # -- the controller ------------------------------------------------------------------
    def _sample(self, generator):
        with torch.no_grad():
            actions = self.controller_.sample(generator)
        values = {name: choices[a] for (name, choices), a in zip(self._decisions, actions)}
        return actions, values

    def _reinforce(self, actions, genotype, reward):
        self._rewards.append(reward)
        baseline = reward if self.baseline_ is None else self.baseline_
        self.baseline_ = self.baseline_decay * baseline + (1.0 - self.baseline_decay) * reward
        scale = float(np.std(self._rewards[-200:])) if len(self._rewards) > 1 else 0.0
        advantage = float(np.clip((reward - baseline) / scale, -5.0, 5.0)) if scale > 1e-12 else 0.0
        active = torch.tensor([name in genotype for name, _ in self._decisions], dtype=torch.bool)
        if not bool(active.any()):
            return
        log_probs, entropies = self.controller_.evaluate(actions)
        loss = -advantage * log_probs[active].sum() - float(self.entropy_weight) * entropies[active].sum()
        self._controller_optimizer.zero_grad()
        loss.backward()
        self._controller_optimizer.step()

    @staticmethod
    @torch.no_grad()
    def _child_outputs(supernet, genotype, X):
        """The outputs of the child ``genotype`` on ``X`` in evaluation mode (what a reward is computed from).

        Dropout is off, so a child's reward is a function of the child and
        the rows. Batch norms normalize with the statistics of ``X`` (the
        reward batches have ``REWARD_BATCH`` rows) and leave their running
        statistics untouched (momentum 0 for the call): those mix every
        child the shared weights were trained with. The supernet's
        training mode is restored afterwards, for the shared-weights steps.
        """
        was_training = supernet.training
        norms = [m for m in supernet.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        supernet.use_genotype(genotype)
        supernet.eval()
        if len(X) > 1:
            for m in norms:
                m.momentum = 0.0
                m.train()
        try:
            return supernet(X)
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
            supernet.train(was_training)

    def _sample_architecture(self):
        # drawn from the trained controller at the end of the search (the supernet, which turns
        # decisions into genotypes, is not kept)
        if not self._pool:
            raise LookupError("no more sampled children")
        return self._pool.pop(0)

    # -- the search ----------------------------------------------------------------------
    def _train(self, supernet, data, epochs, deadline):
        self._decisions = [(name, tuple(choices)) for name, choices in supernet.genotype_decisions()]
        self.controller_ = _Controller([len(c) for _, c in self._decisions], int(self.controller_hidden))
        self._controller_optimizer = torch.optim.Adam(self.controller_.parameters(), lr=float(self.controller_lr))
        generator = self._generator
        weights = [p for p in supernet.weight_parameters()]
        w_opt, scheduler = self._weight_training(weights, data, epochs)
        Xw, yw = data.weights
        Xa, ya = data.arch
        curve, stop_reason, n_epochs = [], "max_epochs", 0
        timed_out = False
        for epoch in range(epochs):
            supernet.train()
            for rows in epoch_batches(len(Xw), self.batch_size, generator):
                _, values = self._sample(generator)
                supernet.use_genotype(supernet.genotype_of(values))
                w_opt.zero_grad()
                loss = data.loss(supernet(Xw[rows]), yw[rows])
                if weight_step(loss, weights, w_opt, scheduler, deadline, epoch, who="a child"):
                    timed_out = True
                    break
            losses = []
            # rewards on larger batches than the weights' steps: a 32-row score is mostly noise
            arch_batches = epoch_batches(len(Xa), self.REWARD_BATCH, generator) if len(Xa) > 1 else []
            for step in range(int(self.controller_steps) if not timed_out else 0):
                if not arch_batches:
                    break
                rows = arch_batches[step % len(arch_batches)]
                actions, values = self._sample(generator)
                genotype = supernet.genotype_of(values)
                outputs = self._child_outputs(supernet, genotype, Xa[rows])
                losses.append(float(data.loss(outputs, ya[rows])))
                self._reinforce(actions, genotype, data.reward(outputs, ya[rows]))
                if deadline is not None and time.time() > deadline:
                    timed_out = True
                    break
            n_epochs = epoch + 1
            if losses:
                curve.append(sum(losses) / len(losses))
            if timed_out:
                stop_reason = "time_limit"
                break
        best, best_reward = None, -math.inf
        Xs, ys = (Xa, ya) if len(Xa) > 1 else data.weights
        for _ in range(int(self.n_candidates)):
            _, values = self._sample(generator)
            genotype = supernet.genotype_of(values)
            reward = np.mean([data.reward(self._child_outputs(supernet, genotype, Xs[rows]), ys[rows])
                              for rows in epoch_batches(len(Xs), self.REWARD_BATCH, generator)])
            if reward > best_reward:
                best, best_reward = genotype, reward
        self._pool = [supernet.genotype_of(self._sample(generator)[1]) for _ in range(self.POOL_SIZE)]
        return {"genotype": best, "alphas": None, "n_epochs": n_epochs, "learning_curve": curve,
                "stop_reason": stop_reason}

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_controller_optimizer", None)
        return state
