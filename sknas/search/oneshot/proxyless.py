"""ProxylessNAS: one path of the supernet per step, and a latency term in the architecture loss."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from .base import OneShotSearcher, epoch_batches, weight_step

__all__ = ["ProxylessSearch", "latency_table"]

#: lookup tables measured in this process (see :func:`latency_table`)
_LATENCY_TABLES = {}


def latency_table(supernet, arch_space, n_inputs, n_outputs, batch_size=256, repeats=7):
    """Per-choice latency (ms) of every decision of an :class:`~sknas.nn.supernet.MLPSuperNet`.

    The latency model is additive, as ProxylessNAS's lookup table: the
    *reference* network is the supernet's largest child
    (``supernet.genotype_of({})``: full depth, largest widths, the base's
    activations and norms, no skips); the entry of choice ``c`` of decision
    ``d`` is the measured latency
    (:func:`sknas.evaluation.objectives.measure_latency`, batch
    ``batch_size``) of the reference with ``d = c`` only. Returns
    ``(reference_ms, {decision: np.ndarray of ms per choice})``.

    A table is measured once per process for a given network shape,
    device and torch thread count (as the paper builds one per target
    device) and reused afterwards: measured latencies vary from run to
    run, and reusing them keeps a seeded search reproducible.
    """
    from ...evaluation.objectives import measure_latency

    device = next(iter(supernet.parameters())).device
    key = (type(arch_space).__name__, repr(arch_space.get_params()) if hasattr(arch_space, "get_params") else "",
           supernet.base, tuple(supernet.genotype_decisions()), int(n_inputs), int(n_outputs), int(batch_size),
           str(device), torch.get_num_threads())
    if key in _LATENCY_TABLES:
        reference, table = _LATENCY_TABLES[key]
        return reference, {name: lat.copy() for name, lat in table.items()}

    def measure(values):
        net = arch_space.build(supernet.genotype_of(values), n_inputs, n_outputs).to(device)
        return float(measure_latency(net, n_inputs, batch_sizes=(batch_size,), repeats=repeats, warmup=2)[batch_size])

    with torch.random.fork_rng(devices=[]):  # building the networks must not move the search's random stream
        reference = measure({})
        table = {}
        for name, choices in supernet.genotype_decisions():
            table[name] = np.array([measure({name: c}) for c in choices], dtype=float)
    _LATENCY_TABLES[key] = (reference, table)
    return reference, {name: lat.copy() for name, lat in table.items()}


class ProxylessSearch(OneShotSearcher):
    """ProxylessNAS (Cai et al. 2019): path binarization and a differentiable expected latency.

    The supernet of the mlp space (:meth:`sknas.space.mlp.MLPSpace.supernet`)
    runs one child at a time (supernet mode ``"fixed"``): at every step one
    choice per decision is drawn from ``softmax(alpha)`` (binary gates), so
    only one path is active and in memory, as in the paper. Per mini-batch:

    1. architecture step (after ``warmup_epochs``), on a batch of the
       architecture share of the training part: a child is drawn and its
       loss ``L`` measured; the logits take one Adam step on

       ``(L - b) / s * log p(child) + latency_weight * E[LAT] / LAT_ref``

       where ``b`` is a moving-average baseline and ``s`` the standard
       deviation of recent losses (the REINFORCE variant of the paper's
       Section 3.3.2, for the binarized gates), and the second term is the
       paper's additive latency loss (its eq. 4, ``lambda_2 * E[LAT]``,
       normalized by the reference latency so that the weight is unitless):
       ``E[LAT] = LAT_ref + sum_d sum_c softmax(alpha_d)_c * (LAT_dc - LAT_ref)``
       from a lookup table measured once, before training
       (:func:`latency_table`, with
       :func:`sknas.evaluation.objectives.measure_latency`);
    2. weight step, on a batch of the weights share: a fresh child is drawn
       and only its weights are updated.

    The genotype is the argmax of the logits (``space.derive``). How the
    supernet's training and the derived genotype reach ``search_results_``
    is described in :mod:`sknas.search.oneshot`.

    Parameters
    ----------
    latency_weight : float, default=0.1
        ``lambda`` of the latency term; 0 searches for accuracy only.
    latency_batch : int, default=256
        Batch size at which the lookup table is measured.
    arch_lr : float, default=1e-2
        Adam learning rate of the logits.
    baseline_decay : float, default=0.95
    warmup_epochs : int, default=0
        Epochs training only the weights (on uniformly drawn children) before the logits move.
    epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options : see DARTSSearch

    Attributes
    ----------
    alphas_ : dict
    derived_, base_ : Genotype
    latency_table_ : dict
        ``{decision: {choice: ms}}``, the lookup table (reference network with that choice).
    reference_latency_ms_ : float
        Measured latency of the reference (largest) child.
    expected_latency_ms_ : float
        ``E[LAT]`` under the final logits.

    Notes
    -----
    Simplified from the paper: the gradient of the binarized gates is the
    REINFORCE estimator (the paper's alternative to its BinaryConnect-style
    two-path gradient), with a normalized advantage clipped to [-5, 5];
    the latency model is additive around the largest child (a depth
    choice's latency does not change the weight of the width choices of
    the blocks it drops); latencies are measured on this machine's CPU
    (or the evaluator's device) rather than a target phone or GPU; the
    weights use the base genotype's optimizer with a cosine schedule; only
    the mlp space (dense blocks: depth, widths, activations, norms, skips)
    is supported, and only the first fold of cross-validation is used.
    Measured latencies vary between processes: a seeded search is
    reproducible within one process (the lookup table is measured once
    and reused, see :func:`latency_table`), and across processes only
    with ``latency_weight=0`` or when the measured table happens to agree.

    References
    ----------
    Cai, Zhu, Han. "ProxylessNAS: Direct Neural Architecture Search on Target
    Task and Hardware." ICLR 2019.
    Williams. "Simple Statistical Gradient-Following Algorithms for
    Connectionist Reinforcement Learning." Machine Learning 1992.
    """

    _parameter_constraints: dict = {
        **OneShotSearcher._parameter_constraints,
        "latency_weight": [Interval(Real, 0, None, closed="left")],
        "latency_batch": [Interval(Integral, 1, None, closed="left")],
        "arch_lr": [Interval(Real, 0, None, closed="neither")],
        "baseline_decay": [Interval(Real, 0, 1, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, latency_weight=0.1, latency_batch=256, arch_lr=1e-2, baseline_decay=0.95, warmup_epochs=0,
                 epochs=None, time_share=0.5, arch_fraction=0.5, batch_size=64, one_stage=False,
                 supernet_options=None):
        self.latency_weight = latency_weight
        self.latency_batch = latency_batch
        self.arch_lr = arch_lr
        self.baseline_decay = baseline_decay
        self.warmup_epochs = warmup_epochs
        self._set_common_params(epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options)

    def _check_params(self):
        name = type(self).__name__
        if not hasattr(self._arch_space(), "blocks"):
            raise ValueError(
                f"{name} needs the mlp space's supernet (dense blocks): space='mlp' or an MLPSpace. "
                f"Got {type(self._arch_space()).__name__} instead."
            )

    def _setup(self):
        super()._setup()
        self.latency_table_ = None
        self.reference_latency_ms_ = None
        self.expected_latency_ms_ = None

    # -- binary gates ---------------------------------------------------------------------
    def _sample_child(self, supernet):
        """Binary gates: one choice per decision drawn from softmax(alpha); the supernet runs that child."""
        from ...nn.supernet import gumbel_perturbed

        arch = self._derive(gumbel_perturbed(supernet.alphas(), self.rng_))  # Gumbel-max: exact softmax samples
        supernet.use_genotype(arch)
        return arch

    @staticmethod
    def _log_prob(supernet):
        total = 0.0
        for key, chosen in supernet._fixed.items():
            log_p = torch.log_softmax(supernet._logits(key), dim=-1)
            total = total + sum(log_p[i] for i in chosen)
        return total

    def _expected_latency(self, supernet):
        """Differentiable ``E[LAT]`` (ms) under the current logits (the additive lookup-table model)."""
        ref = self.reference_latency_ms_
        total = torch.zeros((), device=next(iter(supernet.arch_parameters())).device) + ref
        for name, lat in self._latency_arrays.items():
            p = torch.softmax(supernet._logits(name), dim=-1)
            total = total + (p * torch.as_tensor(lat - ref, dtype=p.dtype, device=p.device)).sum()
        return total

    # -- the search ----------------------------------------------------------------------
    def _train(self, supernet, data, epochs, deadline):
        reference, table = latency_table(supernet, self._arch_space(), data.n_features, data.n_outputs,
                                         batch_size=int(self.latency_batch))
        self.reference_latency_ms_ = reference
        self._latency_arrays = table
        choices = dict(supernet.genotype_decisions())
        self.latency_table_ = {name: dict(zip(choices[name], map(float, lat))) for name, lat in table.items()}
        weights = supernet.weight_parameters()
        w_opt, scheduler = self._weight_training(weights, data, epochs)
        a_opt = torch.optim.Adam(supernet.arch_parameters(), lr=float(self.arch_lr), betas=(0.5, 0.999))
        Xw, yw = data.weights
        Xa, ya = data.arch
        generator = self._generator
        baseline, losses_seen = None, []
        curve, stop_reason, n_epochs = [], "max_epochs", 0
        for epoch in range(epochs):
            supernet.train()
            arch_batches = epoch_batches(len(Xa), self.batch_size, generator) if len(Xa) > 1 else []
            arch_losses, timed_out = [], False
            for step, rows in enumerate(epoch_batches(len(Xw), self.batch_size, generator)):
                if epoch >= self.warmup_epochs and arch_batches:
                    arch_rows = arch_batches[step % len(arch_batches)]
                    self._sample_child(supernet)
                    with torch.no_grad():
                        loss = float(data.loss(supernet(Xa[arch_rows]), ya[arch_rows]))
                    arch_losses.append(loss)
                    losses_seen.append(loss)
                    base = loss if baseline is None else baseline
                    baseline = self.baseline_decay * base + (1.0 - self.baseline_decay) * loss
                    scale = float(np.std(losses_seen[-200:])) if len(losses_seen) > 1 else 0.0
                    advantage = float(np.clip((loss - base) / scale, -5.0, 5.0)) if scale > 1e-12 else 0.0
                    objective = advantage * self._log_prob(supernet)
                    if self.latency_weight > 0:
                        latency = self._expected_latency(supernet) / reference
                        objective = objective + float(self.latency_weight) * latency
                    a_opt.zero_grad()
                    if torch.is_tensor(objective) and objective.requires_grad:
                        objective.backward()
                        a_opt.step()
                self._sample_child(supernet)
                w_opt.zero_grad()
                loss = data.loss(supernet(Xw[rows]), yw[rows])
                if weight_step(loss, weights, w_opt, scheduler, deadline, epoch, who="a child"):
                    timed_out = True
                    break
            n_epochs = epoch + 1
            if arch_losses:
                curve.append(sum(arch_losses) / len(arch_losses))
            if timed_out:
                stop_reason = "time_limit"
                break
        with torch.no_grad():
            self.expected_latency_ms_ = float(self._expected_latency(supernet))
        self._latency_arrays = None
        alphas = supernet.alphas()
        return {"genotype": self._derive(alphas), "alphas": alphas, "n_epochs": n_epochs,
                "learning_curve": curve, "stop_reason": stop_reason}

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_latency_arrays", None)
        return state
