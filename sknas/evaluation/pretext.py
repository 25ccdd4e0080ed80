"""Pre-training on a pretext task over unlabeled rows (UnNAS for tables).

Liu, Dollár, He, Girshick, Yuille and Xie (2020) asked whether neural
architecture search needs labels, and found that architectures searched and
pre-trained on a pretext task without labels (rotation, colorization,
jigsaw) rank, and transfer, nearly like those searched with labels. On
tables the natural pretext task is *masked-feature reconstruction*
(VIME's feature estimator, Yoon et al. 2020): corrupt a random share of
each row's values with draws from their column's marginal (the corruption
of SCARF, Bahri et al. 2022, used here as the augmentation
:class:`sknas.prep.augment.FeatureCorruption`) and train the network to
give back the clean row.

How sknas scales it to the CPU. When a fit is given unlabeled rows
(``AutoNASClassifier(unlabeled=-1)``), every trial, before its supervised
training, pre-trains its network's body for a few epochs on the pretext
task over *all* its rows: its labeled training rows and the unlabeled rows,
both through the trial's own preprocessing (fitted on the labeled training
rows only: the validation rows and their labels are never seen). A
temporary linear reconstruction head reads what the network's last linear
layer (its head) reads; after pre-training that head is thrown away, and
the trial trains as usual on its labeled rows, starting from the
pre-trained body. The refit of the winner (and of ensemble members) does
the same on all the labeled rows. The architecture is then ranked by its
supervised validation score after that fine-tuning; UnNAS's other variant,
ranking by the pretext loss alone, is what
``benchmarks/bench_unlabeled.py`` measures (the rank correlation between
pretext and supervised scores on a real table).

Simplifications of the papers: a fixed, short pre-training (``epochs``
epochs, at most ``max_rows`` rows per epoch) in each trial rather than a
long search on the pretext task; reconstruction loss is the mean squared
error over all values (VIME also predicts the mask; not here); the
one-shot searchers' supernets train on the labeled rows only.

References
----------
Liu, Dollár, He, Girshick, Yuille, Xie. "Are Labels Necessary for Neural
Architecture Search?" ECCV 2020.

Yoon, Zhang, Jordon, van der Schaar. "VIME: Extending the Success of Self-
and Semi-supervised Learning to Tabular Domain." NeurIPS 2020.

Bahri, Jiang, Tay, Metzler. "SCARF: Self-Supervised Contrastive Learning
using Random Feature Corruption." ICLR 2022.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn

from ..nn.tabm import EnsembleHead
from ..prep.chunked import transform_bounded

__all__ = ["MaskedFeaturePretext", "PretextPretraining", "find_head", "pretext_loss", "pretrain"]


def find_head(module):
    """The network's output layer: its last ``nn.Linear`` (or TabM's ``EnsembleHead``) in registration order.

    What that layer reads is the representation the pretext task trains.
    Raises ``ValueError`` when the network has none.
    """
    head = None
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, EnsembleHead)):
            head = sub
    if head is None:
        raise ValueError(f"{type(module).__name__} has no linear output layer to pre-train a body for.")
    return head


def _corrupt(X, rate, generator):
    """Each value replaced, with probability ``rate``, by the same column's value in a random row (SCARF, VIME)."""
    mask = torch.rand(X.shape, generator=generator) < rate
    donors = torch.randint(0, X.shape[0], X.shape, generator=generator)
    return torch.where(mask, X.gather(0, donors), X)


class _Reconstruction:
    """A forward hook on the head that keeps its input, and a temporary head mapping it back to the row."""

    def __init__(self, module, n_features, generator):
        self.head = find_head(module)
        self.decoder = nn.Linear(self.head.in_features, n_features)
        with torch.no_grad():  # seeded init, independent of the global stream
            bound = 1.0 / np.sqrt(self.head.in_features)
            self.decoder.weight.uniform_(-bound, bound, generator=generator)
            self.decoder.bias.uniform_(-bound, bound, generator=generator)
        self._seen = None
        self._handle = self.head.register_forward_pre_hook(self._keep)

    def _keep(self, layer, args):
        self._seen = args[0]

    def loss(self, module, X_in, X_target):
        module(X_in)
        out = self.decoder(self._seen)  # (n, d), or (n, k, d) for TabM's k members
        target = X_target if out.dim() == 2 else X_target.unsqueeze(1).expand_as(out)
        return torch.mean((out - target) ** 2)

    def remove(self):
        self._handle.remove()


def pretrain(module, X, *, epochs=10, mask_rate=0.3, batch_size=128, lr=1e-3, max_rows=1280, seed=0,
             deadline=None, device="cpu"):
    """Pre-train ``module``'s body in place on masked-feature reconstruction of the rows ``X``.

    ``X`` is preprocessed (numeric, as the network reads it). Each epoch
    draws at most ``max_rows`` rows, corrupts each value with probability
    ``mask_rate`` and minimizes the mean squared error between the clean
    rows and a temporary linear head on the network's representation (what
    its output layer reads), with AdamW at ``lr``. The output layer itself
    is not trained (the loss does not reach it); the temporary head is
    discarded. Stops early when ``deadline`` (a ``time.time()`` value)
    passes. Returns the mean training loss of each epoch run (empty when
    the output layer reads the input itself, a linear model: there is no
    body to pre-train, and nothing is changed).
    """
    generator = torch.Generator().manual_seed(int(seed))
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    n = X.shape[0]
    if n < 2:
        return []
    recon = _Reconstruction(module, X.shape[1], generator)
    recon.decoder.to(device)
    params = [p for p in module.parameters() if p.requires_grad] + list(recon.decoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr)
    was_training = module.training
    module.train()
    losses = []
    try:
        for _ in range(int(epochs)):
            if deadline is not None and time.time() > deadline:
                break
            order = torch.randperm(n, generator=generator)[:max_rows]
            total, count = 0.0, 0
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                if len(idx) < 2:  # batch normalization needs two rows
                    continue
                clean = X[idx]
                corrupted = _corrupt(clean, mask_rate, generator)
                optimizer.zero_grad(set_to_none=True)
                corrupted = corrupted.to(device)
                loss = recon.loss(module, corrupted, clean.to(device))
                if recon._seen is corrupted:  # the head reads the input itself: no body to pre-train
                    return []
                if not torch.isfinite(loss):
                    raise FloatingPointError("the pretext loss is not finite")
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            if count:
                losses.append(total / count)
    finally:
        recon.remove()
        module.train(was_training)
    return losses


def pretext_loss(module, X, *, mask_rate=0.3, seed=0, device="cpu"):
    """The masked-feature reconstruction loss of ``module`` on rows ``X`` with a least-squares decoder.

    The decoder is the best linear map (ridge, fitted on the rows
    themselves) from the network's representation of the corrupted rows to
    the clean rows, so the loss measures what the representation keeps,
    independently of how a temporary head was trained: lower is better.
    """
    generator = torch.Generator().manual_seed(int(seed))
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    recon = _Reconstruction(module, X.shape[1], generator)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            corrupted = _corrupt(X, mask_rate, generator)
            module(corrupted.to(device))
            H = recon._seen.reshape(len(X), -1, recon.head.in_features).mean(dim=1).double().cpu()
    finally:
        recon.remove()
        module.train(was_training)
    H = torch.cat([H, torch.ones(len(H), 1, dtype=H.dtype)], dim=1)
    Y = X.double()
    W = torch.linalg.solve(H.T @ H + 1e-3 * torch.eye(H.shape[1], dtype=H.dtype), H.T @ Y)
    return float(torch.mean((H @ W - Y) ** 2))


class PretextPretraining(Callback):
    """A skorch callback: pre-train the net's module on the pretext task when its training begins.

    ``on_train_begin`` runs after the module is initialized and before the
    first supervised batch (in skorch's ``fit`` and in
    :func:`sknas.evaluation.batched.fit_members`), so the supervised
    training starts from the pre-trained body. The rows pre-trained on are
    the net's training rows and ``X_unlabeled`` (already preprocessed).
    After one run the callback removes itself from the net and forgets the
    rows: the kept model carries neither, and a later ``fit`` of it trains
    from scratch as a plain net would.
    """

    def __init__(self, X_unlabeled, seed=0, **settings):
        self.X_unlabeled = X_unlabeled
        self.seed = seed
        self.settings = settings

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.X_unlabeled is None:
            return
        rows = np.asarray(self.X_unlabeled, dtype=np.float32)
        if X is not None:
            Xl = X.cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X, dtype=np.float32)
            rows = np.concatenate([np.asarray(Xl, dtype=np.float32), rows], axis=0)
        deadline = dict(net.callbacks_).get("deadline")
        self.losses_ = pretrain(net.module_, rows, seed=self.seed, device=net.device,
                                deadline=getattr(deadline, "deadline", None), **self.settings)
        self.X_unlabeled = None
        net.callbacks = [(name, cb) for name, cb in net.callbacks if cb is not self]
        net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if cb is not self]


class MaskedFeaturePretext:
    """The unlabeled rows of a fit and the settings of their pretext pre-training (see the module docstring).

    The :class:`~sknas.evaluation.trainer.Evaluator` holds one as its
    ``pretext``; :meth:`attach` gives a trial's (or a refit's) net the
    :class:`PretextPretraining` callback, with the unlabeled rows passed
    through that trial's fitted preprocessing.

    Parameters
    ----------
    X_unlabeled : array-like or DataFrame
        Raw rows without a label (as ``X``).
    epochs : int, default=10
        Pre-training epochs per trial.
    mask_rate : float, default=0.3
        Share of values corrupted.
    max_rows : int, default=1280
        Rows drawn per pre-training epoch (of labeled and unlabeled rows):
        with ``batch_size``, at most ``epochs * max_rows / batch_size``
        (100) optimizer steps per trained network (per fold of a
        cross-validated trial), whatever the size of the data.
    lr : float, default=1e-3
    batch_size : int, default=128
        Pre-training batches (not the genotype's, which a few labeled rows
        may cut down to a handful).
    """

    def __init__(self, X_unlabeled, epochs=10, mask_rate=0.3, max_rows=1280, lr=1e-3, batch_size=128):
        self.X_unlabeled = X_unlabeled
        self.epochs = epochs
        self.mask_rate = mask_rate
        self.max_rows = max_rows
        self.lr = lr
        self.batch_size = batch_size

    def attach(self, net, prep, seed=0):
        """Add the pre-training callback to the (unfitted) skorch ``net``; ``prep`` is fitted. Returns ``net``."""
        rows = transform_bounded(prep, self.X_unlabeled)
        callback = PretextPretraining(rows, seed=seed, epochs=self.epochs, mask_rate=self.mask_rate,
                                      max_rows=self.max_rows, lr=self.lr, batch_size=self.batch_size)
        net.callbacks = list(net.callbacks) + [("pretext", callback)]
        return net
