"""DARTS: differentiable architecture search by bi-level optimization of a supernet."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .base import OneShotSearcher, epoch_batches, weight_step

__all__ = ["DARTSSearch", "count_skips"]


def count_skips(space, genotype):
    """Skip connections of an architecture genotype, as DARTS+ and P-DARTS count them.

    Cell spaces: ``skip_connect`` operations of the normal cell. The mlp
    space: blocks with a skip (``skip_i != "none"``). Other spaces: 0.
    """
    if hasattr(space, "cell_nodes"):
        return sum(op == "skip_connect" for _, op0, _, op1, _ in space.cell_nodes(genotype, "normal")
                   for op in (op0, op1))
    return sum(1 for k, v in genotype.items() if k.startswith("skip_") and v != "none")


class DARTSSearch(OneShotSearcher):
    """DARTS (Liu et al. 2019): a continuous relaxation of the space, searched by gradient descent.

    Every categorical decision of the architecture space becomes a softmax
    mixture of its choices (the space's supernet, see
    :mod:`sknas.nn.supernet`). Network weights ``w`` and architecture
    logits ``alpha`` are optimized alternately, one step each per
    mini-batch: ``alpha`` on a batch of the architecture share of the
    training part, ``w`` on a batch of the weights share (bi-level
    optimization). The genotype is derived by ``space.derive`` (argmax per
    decision; for cells, the two strongest incoming edges of every node).
    How the supernet's training and the derived genotype reach
    ``search_results_`` is described in :mod:`sknas.search.oneshot`.

    Parameters
    ----------
    order : {"first", "second"}, default="first"
        ``"first"``: the architecture gradient is taken at the current
        weights. ``"second"``: DARTS's second-order approximation, at the
        weights after one virtual gradient step ``w - xi * grad_w L_train``
        (``xi`` the current weight learning rate), with the Hessian-vector
        product by finite differences.
    arch_lr : float, default=3e-3
        Adam learning rate of the logits (betas ``(0.5, 0.999)`` as in DARTS).
    arch_weight_decay : float, default=1e-3
    early_stop_skips : int or None, default=None
        DARTS+ (Liang et al. 2019): stop the search at the end of the epoch
        where the derived genotype has at least this many skip
        connections (see :func:`count_skips`), counted before the
        ``max_skips`` cap; the paper uses 2.
    skip_dropout : float, default=0.0
        P-DARTS's dropout on the output of skip connections during the
        search, decaying linearly to 0 over the epochs, so that
        parameter-free skips cannot win by learning fastest (the whole of
        P-DARTS, with its stages, is :class:`~sknas.search.oneshot.pdarts.PDARTSSearch`).
    max_skips : int or None, default=None
        P-DARTS's cap: the derived genotype keeps at most this many skip
        connections (the strongest); the paper uses 2.
    warmup_epochs : int, default=0
        Epochs training only the weights before the logits move.
    epochs : int or None, default=None
        Supernet epochs; ``None``: ``min(max_epochs, 50)``.
    time_share : float, default=0.5
        The supernet may use this share of the search time left at the first ask.
    arch_fraction : float, default=0.5
        Share of the training part used for the logits (DARTS: half).
    batch_size : int, default=64
    one_stage : bool, default=False
        Fine-tune the derived network from the supernet's weights instead
        of retraining it from scratch.
    supernet_options : dict or None, default=None
        Keyword arguments of ``space.supernet``.

    Attributes
    ----------
    alphas_ : dict
        The final architecture logits (the format of ``space.derive``).
    derived_ : Genotype
        The derived genotype.
    base_ : Genotype
        The genotype whose non-architecture decisions are fixed.
    stopped_early_ : bool
        Whether DARTS+'s criterion ended the search.

    Notes
    -----
    Simplified from the paper: the weights use the base genotype's
    optimizer (AdamW by default) with a cosine schedule instead of SGD with
    momentum; the default ``arch_lr`` is ten times DARTS's 3e-4, because a
    search here takes hundreds of steps rather than tens of thousands; the
    second-order virtual step is a plain gradient step; for dense spaces
    the supernet relaxes the dense decisions (activations, norms, widths,
    skips, depth) rather than DARTS's convolutional cells; batch-norm
    statistics of the derived network are re-estimated before its
    shared-weight score. Only the first fold of cross-validation is used.
    DARTS+'s second criterion (stable ranking) is not implemented, and the
    genotype it keeps is the one derived when the criterion fires.

    References
    ----------
    Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search." ICLR 2019.
    Liang, Zhang, Sun, He, Huang, Zhuang, Li. "DARTS+: Improved Differentiable
    Architecture Search with Early Stopping." arXiv:1909.06035, 2019.
    Chen, Xie, Wu, Tian. "Progressive Differentiable Architecture Search:
    Bridging the Depth Gap between Search and Evaluation." ICCV 2019 (P-DARTS).
    """

    MODE = "softmax"

    _parameter_constraints: dict = {
        **OneShotSearcher._parameter_constraints,
        "order": [StrOptions({"first", "second"})],
        "arch_lr": [Interval(Real, 0, None, closed="neither")],
        "arch_weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stop_skips": [Interval(Integral, 1, None, closed="left"), None],
        "skip_dropout": [Interval(Real, 0, 1, closed="left")],
        "max_skips": [Interval(Integral, 0, None, closed="left"), None],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, order="first", arch_lr=3e-3, arch_weight_decay=1e-3, early_stop_skips=None,
                 skip_dropout=0.0, max_skips=None, warmup_epochs=0, epochs=None, time_share=0.5,
                 arch_fraction=0.5, batch_size=64, one_stage=False, supernet_options=None):
        self.order = order
        self.arch_lr = arch_lr
        self.arch_weight_decay = arch_weight_decay
        self.early_stop_skips = early_stop_skips
        self.skip_dropout = skip_dropout
        self.max_skips = max_skips
        self.warmup_epochs = warmup_epochs
        self._set_common_params(epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options)

    def _setup(self):
        super()._setup()
        self.stopped_early_ = False

    def _derive(self, alphas, capped=True):
        """The genotype of ``alphas``; ``capped=False`` ignores ``max_skips`` (what DARTS+ counts)."""
        return self._arch_space().derive(alphas, base=self._arch_part(self.base_),
                                         max_skips=self.max_skips if capped else None)

    # -- one search step per batch ------------------------------------------------------------
    def _prepare_mode(self, supernet, epoch, epochs):
        supernet.set_mode(self.MODE)

    def _arch_step(self, supernet, data, batch, arch_batch, optimizer, xi):
        (X, y), (Xa, ya) = batch, arch_batch
        alphas = supernet.arch_parameters()
        optimizer.zero_grad()
        if self.order == "first" or self.MODE != "softmax":
            loss = data.loss(supernet(Xa), ya)
            loss.backward()
        else:
            loss = self._second_order_gradient(supernet, data, X, y, Xa, ya, alphas, xi)
        optimizer.step()
        return float(loss.detach())

    @staticmethod
    def _second_order_gradient(supernet, data, X, y, Xa, ya, alphas, xi):
        """DARTS's eq. 7-8: grad_alpha L_val(w') - xi * (grad_alpha L_train(w+) - grad_alpha L_train(w-)) / 2eps."""
        weights = supernet.weight_parameters()
        grads = torch.autograd.grad(data.loss(supernet(X), y), weights, allow_unused=True)
        backup = [w.detach().clone() for w in weights]
        with torch.no_grad():
            for w, g in zip(weights, grads):
                if g is not None:
                    w.sub_(xi * g)
        loss = data.loss(supernet(Xa), ya)
        found = torch.autograd.grad(loss, alphas + weights, allow_unused=True)
        d_alpha, d_w = found[:len(alphas)], found[len(alphas):]
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in d_w if g is not None))
        eps = 0.01 / max(norm, 1e-12)

        def alpha_gradient(sign):
            with torch.no_grad():
                for w, g in zip(weights, d_w):
                    if g is not None:
                        w.add_(sign * eps * g)
            found = torch.autograd.grad(data.loss(supernet(X), y), alphas, allow_unused=True)
            with torch.no_grad():
                for w, b in zip(weights, backup):
                    w.copy_(b)
            return found

        plus, minus = alpha_gradient(1.0), alpha_gradient(-1.0)
        for a, da, p, m in zip(alphas, d_alpha, plus, minus):
            g = torch.zeros_like(a) if da is None else da.clone()
            if p is not None and m is not None:
                g -= xi * (p - m) / (2 * eps)
            a.grad = g
        return loss

    # -- the search ----------------------------------------------------------------------
    def _train(self, supernet, data, epochs, deadline):
        run = self._train_stage(supernet, data, epochs, deadline, float(self.skip_dropout))
        if run["stop_reason"] == "early_stopping":
            self.stopped_early_ = True
        alphas = self._alphas_of(supernet)
        return {"genotype": self._derive(alphas), "alphas": alphas, **run}

    def _alphas_of(self, supernet):
        """The logits ``space.derive`` reads (P-DARTS masks the operations it has dropped)."""
        return supernet.alphas()

    def _train_stage(self, supernet, data, epochs, deadline, skip_dropout):
        """``epochs`` epochs of alternating logit and weight steps on ``supernet``.

        Skip dropout starts at ``skip_dropout`` and decays linearly to 0 over
        the epochs; DARTS+'s criterion (``early_stop_skips``) ends the
        epochs early. Returns ``n_epochs``, ``learning_curve`` (the mean loss
        on the architecture share per epoch) and ``stop_reason``.
        """
        weights = supernet.weight_parameters()
        w_opt, scheduler = self._weight_training(weights, data, epochs)
        a_opt = torch.optim.Adam(supernet.arch_parameters(), lr=float(self.arch_lr), betas=(0.5, 0.999),
                                 weight_decay=float(self.arch_weight_decay))
        Xw, yw = data.weights
        Xa, ya = data.arch
        curve, stop_reason, n_epochs = [], "max_epochs", 0
        arch_space = self._arch_space()
        for epoch in range(epochs):
            supernet.train()
            self._prepare_mode(supernet, epoch, epochs)
            supernet.skip_dropout = skip_dropout * (1.0 - epoch / epochs)
            arch_batches = epoch_batches(len(Xa), self.batch_size, self._generator)
            arch_losses = []
            timed_out = False
            for step, rows in enumerate(epoch_batches(len(Xw), self.batch_size, self._generator)):
                batch = (Xw[rows], yw[rows])
                if epoch >= self.warmup_epochs and arch_batches:
                    arch_rows = arch_batches[step % len(arch_batches)]
                    xi = w_opt.param_groups[0]["lr"]
                    arch_losses.append(self._arch_step(supernet, data, batch, (Xa[arch_rows], ya[arch_rows]),
                                                       a_opt, xi))
                w_opt.zero_grad()
                loss = data.loss(supernet(batch[0]), batch[1])
                if weight_step(loss, weights, w_opt, scheduler, deadline, epoch):
                    timed_out = True
                    break
            n_epochs = epoch + 1
            if arch_losses:
                curve.append(sum(arch_losses) / len(arch_losses))
            if timed_out:
                stop_reason = "time_limit"
                break
            if (self.early_stop_skips is not None and epoch >= self.warmup_epochs
                    and count_skips(arch_space, self._derive(self._alphas_of(supernet), capped=False))
                    >= self.early_stop_skips):
                stop_reason = "early_stopping"
                break
        supernet.skip_dropout = 0.0
        return {"n_epochs": n_epochs, "learning_curve": curve, "stop_reason": stop_reason}
