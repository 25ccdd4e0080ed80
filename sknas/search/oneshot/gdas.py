"""GDAS: differentiable search that samples one path of the supernet per step."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import Interval

from .darts import DARTSSearch

__all__ = ["GDASSearch"]


class GDASSearch(DARTSSearch):
    """GDAS (Dong & Yang 2019): Gumbel-softmax sampling, one path forward per step.

    As :class:`~sknas.search.oneshot.darts.DARTSSearch`, weights and
    architecture logits are optimized alternately on the two shares of the
    training part, but each forward pass draws one choice per decision
    with the Gumbel-softmax trick (supernet mode ``"gumbel"``): only that
    choice runs, multiplied by the straight-through one-hot weight
    ``h = one_hot - softmax.detach() + softmax``, so the forward pass costs
    one child network while the gradient reaches every logit of the
    decision. The temperature ``tau`` decays linearly from ``tau_max`` to
    ``tau_min`` over the epochs. The genotype is the argmax of the logits.

    Parameters
    ----------
    tau_max, tau_min : float, default=10.0, 0.1
        Gumbel-softmax temperature at the first and the last epoch (the paper's values).
    arch_lr : float, default=3e-3
    arch_weight_decay : float, default=1e-3
    early_stop_skips, skip_dropout, max_skips, warmup_epochs : see DARTSSearch
    epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options : see DARTSSearch

    Notes
    -----
    Simplified from the paper: one sample per decision per mini-batch
    (shared by every cell of a type), first-order gradients only, the
    reduction cell is searched like the normal one (the paper fixes a
    hand-designed one), and the simplifications of DARTSSearch.

    References
    ----------
    Dong, Yang. "Searching for a Robust Neural Architecture in Four GPU
    Hours." CVPR 2019.
    Jang, Gu, Poole. "Categorical Reparameterization with Gumbel-Softmax." ICLR 2017.
    """

    MODE = "gumbel"

    _parameter_constraints: dict = {
        **{k: v for k, v in DARTSSearch._parameter_constraints.items() if k != "order"},
        "tau_max": [Interval(Real, 0, None, closed="neither")],
        "tau_min": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, tau_max=10.0, tau_min=0.1, arch_lr=3e-3, arch_weight_decay=1e-3, early_stop_skips=None,
                 skip_dropout=0.0, max_skips=None, warmup_epochs=0, epochs=None, time_share=0.5,
                 arch_fraction=0.5, batch_size=64, one_stage=False, supernet_options=None):
        self.tau_max = tau_max
        self.tau_min = tau_min
        self.arch_lr = arch_lr
        self.arch_weight_decay = arch_weight_decay
        self.early_stop_skips = early_stop_skips
        self.skip_dropout = skip_dropout
        self.max_skips = max_skips
        self.warmup_epochs = warmup_epochs
        self._set_common_params(epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options)

    #: first-order gradients only (not a parameter of GDAS)
    order = "first"

    def _check_params(self):
        super()._check_params()
        if self.tau_min > self.tau_max:
            raise ValueError(
                f"The 'tau_min' parameter of {type(self).__name__} must be at most tau_max={self.tau_max!r}. "
                f"Got {self.tau_min!r} instead."
            )

    def _prepare_mode(self, supernet, epoch, epochs):
        share = epoch / (epochs - 1) if epochs > 1 else 1.0
        supernet.set_mode("gumbel", tau=float(self.tau_max) - (float(self.tau_max) - float(self.tau_min)) * share)
