"""Objectives beyond the score: size, FLOPs, measured latency, constraints and Pareto fronts."""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from ..nn.builders import count_parameters

__all__ = ["MnasReward", "count_flops", "count_parameters", "measure_latency", "pareto_front", "scalarized_reward"]


def _device(module):
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def count_flops(module, n_inputs, input_shape=None):
    """Floating-point operations of one forward pass on one row, counted by torch.

    Uses ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts
    as two FLOPs), so every op torch knows a formula for is counted, whatever
    the architecture.
    """
    from torch.utils.flop_counter import FlopCounterMode

    shape = (1, n_inputs) if input_shape is None else (1, *input_shape)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.zeros(shape, device=_device(module)))
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


def measure_latency(module, n_inputs, batch_sizes=(1, 1024), repeats=15, warmup=3):
    """Median wall time (milliseconds) of a forward pass in eval mode, per batch size.

    Measured on this machine with the current torch thread setting; a few
    warm-up passes are discarded. Returns ``{batch_size: ms}``.
    """
    was_training = module.training
    module.eval()
    out = {}
    try:
        with torch.no_grad():
            for batch in batch_sizes:
                x = torch.randn(batch, n_inputs, device=_device(module))
                for _ in range(warmup):
                    module(x)
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    module(x)
                    if x.is_cuda:
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - start)
                out[batch] = 1000.0 * statistics.median(times)
    finally:
        module.train(was_training)
    return out


def pareto_front(points):
    """Indices of the non-dominated rows of ``points`` (every column minimized).

    A row dominates another when it is no worse in every column and strictly
    better in at least one.
    """
    points = np.asarray(points, dtype=float)
    front = []
    for i, p in enumerate(points):
        dominated = np.any(np.all(points <= p, axis=1) & np.any(points < p, axis=1))
        if not dominated:
            front.append(i)
    return front


def scalarized_reward(score, cost, target, weight=-0.07):
    """MnasNet's soft-constraint reward ``score * (cost / target) ** weight``.

    With ``weight=-0.07`` (Tan et al. 2019) a model twice as slow as the
    target needs about 5 % more score to be preferred. For scores that can be
    negative (R^2), the reward is applied to ``score - 1`` so that a higher
    cost always lowers the reward.

    References
    ----------
    Tan, Chen, Pang, Vasudevan, Sandler, Howard, Le. "MnasNet: Platform-Aware
    Neural Architecture Search for Mobile." CVPR 2019.
    """
    factor = (max(cost, 1e-12) / target) ** weight
    if score >= 0:
        return score * factor
    return score / factor


#: the results column (and TrialResult attribute) that holds each cost objective
OBJECTIVE_COLUMNS = {"params": "n_params", "flops": "flops", "latency": "latency_ms"}


class MnasReward:
    """The MnasNet-style scalarized reward (:func:`scalarized_reward`) told to the searcher for cost objectives.

    The reference cost of each objective is its constraint when one is set
    (``params``, ``flops``, ``latency_ms``), else the cost of the first
    successful trial (the portfolio's default). Those first costs are
    ``targets``, part of the search's state: a resumed or warm-started
    search keeps the reward it had (the runner saves and restores them).

    Use :meth:`for_objectives`, which gives ``None`` when ``objectives`` is
    only the score.
    """

    def __init__(self, objectives, constraints=None, targets=None):
        self.objectives = tuple(o for o in objectives if o != "score")
        self.constraints = dict(constraints or {})
        self.targets = dict(targets or {})

    @classmethod
    def for_objectives(cls, objectives, constraints=None):
        return cls(objectives, constraints) if any(o != "score" for o in objectives) else None

    def __call__(self, result):
        value = result.score
        for objective in self.objectives:
            cost = getattr(result, OBJECTIVE_COLUMNS[objective])
            if cost is None:
                continue
            limit_key = "latency_ms" if objective == "latency" else objective
            target = self.constraints.get(limit_key) or self.targets.setdefault(objective, cost)
            value = scalarized_reward(value, cost, target)
        return value
