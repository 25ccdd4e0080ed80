"""The base classes and helpers of the one-shot searchers (the protocol: :mod:`sknas.search.oneshot`).

:class:`OneShotSearcher` is what DARTS (:mod:`.darts`), GDAS (:mod:`.gdas`),
ENAS (:mod:`.enas`), P-DARTS, ProxylessNAS and OFA share;
:class:`DataSearcher` is the base of those and of the network morphism
searcher (:mod:`sknas.search.morphism`): the data hook and the base
genotype. :func:`prepare_data` preprocesses a fold once for them; a network
that starts from inherited weights is trained and scored by the evaluator
(:meth:`sknas.evaluation.trainer.Evaluator.evaluate_inherited`), as every
trial is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ...evaluation.trainer import NonFiniteLossError, failed_result
from ...evaluation.trial import PreparedFold
from ...space.genotype import Genotype
from ..base import Candidate, Searcher

__all__ = [
    "DataSearcher", "OneShotSearcher", "PreparedData", "check_loss", "epoch_batches",
    "prepare_data", "weight_optimizer", "weight_step", "weight_update",
]


@dataclass
class PreparedData(PreparedFold):
    """One fold, preprocessed once with the base genotype's preprocessing, as tensors.

    ``weights`` and ``arch`` are ``(X, y)`` tensor pairs of the two shares
    of the training part (``y``: class indices, or the standardized
    target); ``X_train`` (all training rows, a tensor) serves batch-norm
    re-estimation; the numpy ``Xt``/``y_train`` and ``Xv``/``y_valid`` (a
    :class:`~sknas.evaluation.trial.PreparedFold`) are what a skorch net
    trains and is scored on (:meth:`~sknas.evaluation.trainer.Evaluator.evaluate_inherited`).
    """

    task: str
    classes: object
    n_outputs: int
    X_train: torch.Tensor
    weights: tuple
    arch: tuple
    label_smoothing: float = 0.0

    @property
    def n_features(self):
        return self.Xt.shape[1]

    def loss(self, outputs, y):
        if self.task == "classification":
            return torch.nn.functional.cross_entropy(outputs, y, label_smoothing=self.label_smoothing)
        return torch.nn.functional.mse_loss(outputs, y)

    def reward(self, outputs, y):
        """Accuracy (classification) or ``1 - MSE`` of the standardized target (about R^2)."""
        if self.task == "classification":
            return float((outputs.argmax(dim=1) == y).float().mean())
        return 1.0 - float(torch.nn.functional.mse_loss(outputs, y))


def prepare_data(evaluator, space, genotype, fold, arch_fraction, seed):
    """Preprocess ``fold`` with ``genotype``'s preprocessing and split its training part.

    ``arch_fraction`` of the training rows (stratified by class for
    classifiers) go to the architecture share; 0 puts every row in the
    weights share (and the architecture share is then empty).
    """
    rng = np.random.default_rng(seed)
    prep = evaluator.make_preprocessor(genotype)
    Xt = np.ascontiguousarray(prep.fit_transform(fold.X_train, fold.y_train), dtype=np.float32)
    Xv = np.ascontiguousarray(prep.transform(fold.X_valid), dtype=np.float32)
    y_train, y_valid = np.asarray(fold.y_train), np.asarray(fold.y_valid)
    device = evaluator.device
    training = space.training_genotype(genotype) if hasattr(space, "training_genotype") else genotype
    if evaluator.task == "classification":
        classes = np.asarray(evaluator.classes) if evaluator.classes is not None else np.unique(y_train)
        target = torch.as_tensor(np.searchsorted(classes, y_train), dtype=torch.int64)
        n_outputs = len(classes)
        groups = [np.flatnonzero(target.numpy() == c) for c in range(n_outputs)]
    else:
        classes = None
        y = np.asarray(y_train, dtype=np.float64).reshape(len(y_train), -1)
        scale = y.std(axis=0)
        y = (y - y.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
        target = torch.as_tensor(y, dtype=torch.float32)
        n_outputs = y.shape[1]
        groups = [np.arange(len(y))]
    arch_rows = []
    for rows in groups:
        rows = rng.permutation(rows)
        arch_rows.append(rows[:round(arch_fraction * len(rows))])
    arch_rows = np.sort(np.concatenate(arch_rows)) if arch_rows else np.zeros(0, dtype=int)
    weight_rows = np.setdiff1d(np.arange(len(Xt)), arch_rows)
    X = torch.as_tensor(Xt)
    return PreparedData(
        task=evaluator.task, classes=classes, n_outputs=n_outputs, prep=prep, Xt=Xt, y_train=y_train,
        Xv=Xv, y_valid=y_valid, X_train=X.to(device),
        weights=(X[weight_rows].to(device), target[weight_rows].to(device)),
        arch=(X[arch_rows].to(device), target[arch_rows].to(device)),
        label_smoothing=float(training.get("label_smoothing", 0.0)) if evaluator.task == "classification" else 0.0,
    )


def epoch_batches(n, batch_size, generator):
    """Index tensors of one shuffled epoch; a trailing batch of one row is dropped (batch norm)."""
    order = torch.randperm(n, generator=generator)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches.pop()
    return batches


def weight_optimizer(space, genotype, parameters):
    """The base genotype's optimizer (class, learning rate, weight decay) over ``parameters``."""
    from ...evaluation.trainer import OPTIMIZER_CLASSES

    training = space.training_genotype(genotype) if hasattr(space, "training_genotype") else genotype
    cls, kwargs = OPTIMIZER_CLASSES[training.get("optimizer", "adamw")]
    return cls(parameters, lr=float(training.get("lr", 1e-3)), weight_decay=float(training.get("weight_decay", 0.0)),
               **kwargs)


def check_loss(loss, who, epoch):
    """Raise when ``loss`` (of ``who``, e.g. ``"the supernet"``) is not finite at ``epoch`` (0-based)."""
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"{who}'s training loss became {float(loss)} at epoch {epoch + 1}")


def weight_update(weights, optimizer, scheduler, deadline):
    """One step of the shared weights on their accumulated gradients (norm clipped to 5), then the schedule.

    Returns whether ``deadline`` (a ``time.time()`` value, or None) has passed.
    """
    torch.nn.utils.clip_grad_norm_(weights, 5.0)
    optimizer.step()
    scheduler.step()
    return deadline is not None and time.time() > deadline


def weight_step(loss, weights, optimizer, scheduler, deadline, epoch, who="the supernet"):
    """The weight step of one batch: check ``loss``, backpropagate it, :func:`weight_update`.

    The caller zeroes the gradients before computing ``loss``. Returns
    whether the deadline has passed (the epoch then stops).
    """
    check_loss(loss, who, epoch)
    loss.backward()
    return weight_update(weights, optimizer, scheduler, deadline)


class DataSearcher(Searcher):
    """Base of the searchers that train networks themselves on the runner's data (``needs_data = True``).

    What :class:`OneShotSearcher` and :class:`~sknas.search.morphism.MorphismSearch`
    share: the data hook (:meth:`set_data` keeps the data, which is never
    pickled), the architecture part of a (joint) space, and the state set
    up by :meth:`_start_search`: the base genotype ``base_`` (the first
    entry with hidden blocks of the space's hand-picked portfolio,
    ``hand_portfolio`` where the space has one, as a linear model has no
    network to share or morph and the shipped learned portfolio's entries
    are small networks that leave a supernet no depth to search; else a
    random genotype), the rows recorded
    for :meth:`~sknas.search.base.Searcher.pop_records` and the genotypes
    already proposed.
    """

    needs_data = True

    def _start_search(self):
        """Reset the state every such search starts from (call it from ``_setup``, after validation)."""
        portfolio = getattr(self.space_, "hand_portfolio", self.space_.portfolio)()
        arch = self._arch_space()
        if hasattr(arch, "n_blocks"):  # the mlp space's portfolio leads with its linear model (n_blocks=0)
            portfolio = [g for g in portfolio if arch.n_blocks(self._arch_part(g)) > 0] or portfolio
        self.base_ = portfolio[0] if portfolio else self.space_.sample(self.rng_)
        self._proposed = set()
        self._records = []
        self._data = self._evaluator = self._deadline = None

    def _arch_space(self):
        return getattr(self.space_, "arch", self.space_)

    def _arch_part(self, genotype):
        if hasattr(self.space_, "arch_genotype"):
            return self.space_.arch_genotype(genotype)
        return genotype

    def set_data(self, data, evaluator, deadline=None):
        self._data = list(data) if isinstance(data, (list, tuple)) else [data]
        self._evaluator = evaluator
        self._deadline = deadline

    def __getstate__(self):
        state = dict(super().__getstate__())
        for key in ("_data", "_evaluator"):  # never pickle the data (checkpoints, fitted estimators)
            state[key] = None
        return state


class OneShotSearcher(DataSearcher):
    """Base of the weight-sharing searchers (see the module docstring for the protocol).

    Subclasses implement ``_train(supernet, data, epochs, deadline) ->
    dict`` with keys ``genotype`` (the derived architecture genotype),
    ``n_epochs``, ``learning_curve`` and ``stop_reason``, and may override
    ``_sample_architecture()`` (a genotype of the architecture space drawn
    from what was learned).

    Common parameters (each subclass lists them in its ``__init__``):
    ``epochs`` (None: ``min(max_epochs, 50)`` of the evaluator),
    ``time_share`` (share of the remaining search time for the supernet),
    ``arch_fraction``, ``batch_size``, ``one_stage`` and
    ``supernet_options`` (a dict of keyword arguments for
    ``space.supernet``, e.g. ``{"width_factors": (1.0,)}`` for the mlp space).
    """

    DEFAULT_EPOCHS = 50

    #: The common parameters; each subclass adds its own (``{**OneShotSearcher._parameter_constraints, ...}``).
    _parameter_constraints: dict = {
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "time_share": [Interval(Real, 0, 1, closed="right")],
        "arch_fraction": [Interval(Real, 0, 1, closed="neither")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "one_stage": ["boolean"],
        "supernet_options": [dict, None],
    }

    def _set_common_params(self, epochs, time_share, arch_fraction, batch_size, one_stage, supernet_options):
        """Store the common parameters (for the subclasses' ``__init__``, which list them)."""
        self.epochs = epochs
        self.time_share = time_share
        self.arch_fraction = arch_fraction
        self.batch_size = batch_size
        self.one_stage = one_stage
        self.supernet_options = supernet_options

    # -- setup and validation ------------------------------------------------------------
    def _setup(self):
        name = type(self).__name__
        self._check_params()
        arch = self._arch_space()
        if not hasattr(arch, "supernet") or not hasattr(arch, "derive"):
            raise ValueError(
                f"{name} needs a space with a supernet (space='mlp' or 'cell', or a SearchSpace with "
                f"supernet() and derive()). Got {type(arch).__name__}, which has none."
            )
        self._start_search()
        self.derived_ = None
        self.alphas_ = None
        self._searched = False

    def _check_params(self):
        """What ``_parameter_constraints`` cannot say: a parameter against another, or against the space."""

    def _joint(self, arch_genotype):
        """The full genotype: ``arch_genotype`` plus the base genotype's other decisions."""
        names = {p.name for p in self._arch_space().params}
        merged = {k: v for k, v in self.base_.items() if k not in names}
        merged.update(arch_genotype)
        return self.space_.validate(Genotype(merged))

    # -- ask / tell ----------------------------------------------------------------------
    def _ask(self, n):
        out = []
        if not self._searched:
            if getattr(self, "_data", None) is None:
                raise RuntimeError(
                    f"{type(self).__name__} is a one-shot searcher (needs_data=True): it trains a supernet on "
                    "the data the runner hands it through set_data(data, evaluator, deadline) before the first "
                    "ask. It cannot run on a table of results or without data."
                )
            out += self._search_once()
            self._searched = True
        while len(out) < n:
            out.append(Candidate(self._propose()))
        for c in out:
            self._proposed.add(c.genotype)
        return out

    def _propose(self):
        seen = self._proposed | self.seen_
        if self.derived_ is not None:
            for _ in range(20):
                try:
                    arch = self._sample_architecture()
                except Exception:  # nothing learned to sample from
                    break
                g = self._joint(arch)
                if g not in seen:
                    return g
        start = self.derived_ if self.derived_ is not None else self.base_
        g = start
        for _ in range(20):
            g = self.space_.mutate(g, self.rng_)
            if g not in seen:
                return g
        return g

    def _sample_architecture(self):
        """An architecture genotype drawn from the learned logits (Gumbel-perturbed derivation)."""
        from ...nn.supernet import gumbel_perturbed

        return self._derive(gumbel_perturbed(self.alphas_, self.rng_))

    def _derive(self, alphas):
        return self._arch_space().derive(alphas, base=self._arch_part(self.base_))

    # -- the search ------------------------------------------------------------------------
    def _weight_training(self, weights, data, epochs):
        """The shared weights' optimizer (the base genotype's) and its cosine schedule over ``epochs`` epochs.

        An epoch is one pass over the weights share in batches of
        ``batch_size`` (drawing one epoch's batches from ``self._generator``).
        """
        optimizer = weight_optimizer(self.space_, self.base_, weights)
        steps_per_epoch = max(1, len(epoch_batches(len(data.weights[0]), self.batch_size, self._generator)))
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)

    def _search_once(self):
        """Train the supernet, record its row, return the derived candidate(s)."""
        from ...evaluation.trainer import torch_threads
        from ...nn.supernet import recalibrate_batchnorm

        evaluator, fold = self._evaluator, self._data[0]
        start = time.time()
        deadline = self._deadline
        supernet_deadline = None if deadline is None else start + self.time_share * max(0.0, deadline - start)
        epochs = self.epochs if self.epochs is not None else max(1, min(int(evaluator.max_epochs), self.DEFAULT_EPOCHS))
        seed = int(self.rng_.integers(2**31 - 1))
        arch_space = self._arch_space()
        supernet_candidate = Candidate(self.base_, epochs=epochs, data_fraction=1.0 - self.arch_fraction)
        out, failure = [], None
        try:
            with torch_threads(evaluator.n_threads), torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                data = prepare_data(evaluator, self.space_, self.base_, fold, self.arch_fraction, seed)
                supernet = arch_space.supernet(data.n_features, data.n_outputs, base=self._arch_part(self.base_),
                                               **(self.supernet_options or {}))
                supernet = supernet.to(evaluator.device)
                self._generator = torch.Generator().manual_seed(seed)
                trained = self._train(supernet, data, epochs, supernet_deadline)
                derived = self._joint(trained["genotype"])
                supernet.eval()
                child = supernet.extract(self._arch_part(derived)).to(evaluator.device)
                recalibrate_batchnorm(child, data.X_train)
                scored = evaluator.evaluate_inherited(derived, data, child, epochs=0)
                if scored.status == "failed":
                    failure = scored
                else:
                    n_epochs = max(1, int(trained["n_epochs"]))
                    supernet_candidate = Candidate(derived, epochs=n_epochs, data_fraction=1.0 - self.arch_fraction)
                    curve = [float(v) for v in trained["learning_curve"]]
                    scored.fit_time = time.time() - start
                    scored.n_params = int(sum(p.numel() for p in supernet.weight_parameters()))
                    scored.n_epochs = int(trained["n_epochs"])
                    scored.best_epoch = int(np.nanargmin(curve)) + 1 if curve else None
                    scored.learning_curve = curve
                    scored.stop_reason = trained["stop_reason"]
                    self._records.append((supernet_candidate, scored, "supernet"))
                    self.derived_ = derived
                    self.alphas_ = trained.get("alphas")
                    out = [Candidate(derived)]
                    if self.one_stage:
                        tuned = evaluator.evaluate_inherited(derived, data, child, epochs=int(evaluator.max_epochs),
                                                             deadline=deadline)
                        self._records.append((Candidate(derived), tuned, "one_stage"))
                        self._proposed.add(derived)
                        out = []
        except Exception as exc:  # a failing search is a failed row, never a crashed fit
            failure = failed_result(exc)
        finally:
            self._data = self._evaluator = None  # the search owns no data any more
            self._generator = None
        if failure is not None:  # recorded as a failing trial is (sknas.evaluation.trainer.failed_result)
            failure.fit_time = time.time() - start
            self._records.append((supernet_candidate, failure, "supernet"))
        return out
