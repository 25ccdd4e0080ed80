"""One-shot (weight-sharing) searchers: one supernet trained once instead of one network per candidate.

The base classes live in :mod:`.base` (:class:`~.base.OneShotSearcher`, what
DARTS (:mod:`.darts`), P-DARTS (:mod:`.pdarts`), GDAS (:mod:`.gdas`), ENAS
(:mod:`.enas`), ProxylessNAS (:mod:`.proxyless`) and OFA (:mod:`.ofa`)
share, and :class:`~.base.DataSearcher`, also the base of the network
morphism searcher, :mod:`sknas.search.morphism`); this package re-exports
them, so ``sknas.search.oneshot.OneShotSearcher`` still names the class.

How a one-shot searcher meets the runner
----------------------------------------
It sets ``needs_data = True``, so the runner calls
:meth:`~sknas.search.base.Searcher.set_data` once before the first ``ask``;
the searcher only keeps the data then. At its first ``ask`` it:

1. fixes every non-architecture decision (training hyperparameters and
   preprocessing of the joint genotype) to the space's first portfolio
   entry (the *base* genotype), fits that preprocessing on the training
   part of the first fold, and splits the training part in two: weights
   learn on one share, architecture parameters on the other
   (``arch_fraction``), so the fold's validation part stays untouched for
   scoring, as DARTS splits CIFAR-10's training set;
2. builds the architecture space's supernet (``space.supernet``) from the
   base genotype and trains it (the subclass's algorithm) for ``epochs``
   epochs or until ``time_share`` of the remaining search time is spent;
3. derives the genotype (``space.derive``, or the controller for ENAS),
   copies the supernet's weights into its discrete network, re-estimates
   its batch-norm statistics, and has the evaluator score it on the
   validation part (:meth:`~sknas.evaluation.trainer.Evaluator.evaluate_inherited`,
   the trials' scoring; a failing network is a failed row, as a failing
   trial is): this is the supernet's own row of ``search_results_`` (``source="supernet"``,
   ``data_fraction`` the weights' share, ``fit_time`` the search's wall
   time, ``n_params`` the supernet's weights, ``learning_curve`` the loss
   on the architecture share per epoch). It carries that inherited-weights
   model, so it is a usable (low-fidelity) trial;
4. two-stage (default): returns the derived genotype as a Candidate, which
   the runner retrains from scratch on the training part and records like
   any trial. One-stage (``one_stage=True``): has the evaluator fine-tune
   the inherited network itself (``evaluate_inherited`` with the
   evaluator's ``max_epochs``) and records it as a row with
   ``source="one_stage"``.

Later asks return genotypes drawn from the learned architecture
distribution (softmax of the logits via Gumbel-perturbed derivation; the
controller for ENAS), skipping ones already proposed or told, then
mutations of the derived genotype. The data and the supernet are dropped
once the derived genotype exists; ``alphas_`` (the final logits) and
``derived_`` stay.
"""

from .base import (
    DataSearcher,
    OneShotSearcher,
    PreparedData,
    check_loss,
    epoch_batches,
    prepare_data,
    weight_optimizer,
    weight_step,
    weight_update,
)

__all__ = [
    "DataSearcher", "OneShotSearcher", "PreparedData", "check_loss", "epoch_batches",
    "prepare_data", "weight_optimizer", "weight_step", "weight_update",
]
