"""Train the k fold models of a cross-validated trial together, as one batched module.

A trial that is scored by k-fold cross-validation trains k networks of the
same genotype on k different training sets. Trained one after the other,
each pays the whole per-step cost of Python, dispatch and the optimizer on
small tensors. :func:`fit_members` trains them in one loop instead: at each
step the k members' parameters are stacked along a new leading dimension
and one forward and backward pass runs over all of them with
``torch.func.vmap`` over ``torch.func.functional_call`` (the "packed" way
TabM's and pytabkit's vectorized training fit many models at once), each
member fed its own fold's mini-batch.

Everything else stays per member and unchanged: every member is a complete
skorch net (from :func:`sknas.evaluation.trainer.make_net`), with its own
optimizer, learning-rate schedule, criterion (the searched loss, class
weights, label smoothing, TabM's per-copy loss), augmentation, callbacks and
history. The
loop drives those nets through the same callback events, in the same order,
as skorch's own ``fit`` does, so early stopping with best-epoch restore,
snapshot collection, learning-curve pruning, the non-finite loss guard and
the deadline act per member exactly as in a sequential fit:

- a member whose early stopping fires stops alone (its best epoch is
  restored at the end); the others go on, and the stack shrinks;
- the deadline is shared: when it passes, every member stops;
- a ``KeyboardInterrupt`` from outside the callbacks (Ctrl-C) stops every
  member, as skorch's ``partial_fit`` does for one net.

Members whose batches differ in shape at a step (the folds' training sets
differ by a row, so their last batches may too) or whose networks differ in
shape (a fold whose preprocessing produced another number of columns) are
stepped in separate groups, so the result never depends on padding.

Given the same initial weights and batch order (each member's training
iterator draws its permutations from its own ``torch.Generator``), a member
follows the same trajectory as the sequential fit of its fold up to
floating-point rounding, for every network without dropout or other
training-time randomness; with dropout the masks come from another stream,
so the trajectories agree in distribution only.
"""

from __future__ import annotations

import torch
from skorch.utils import TeeGenerator

__all__ = ["BatchedFitError", "fit_members"]


class BatchedFitError(RuntimeError):
    """The members' networks cannot run under ``torch.func.vmap`` (raised before any optimizer step)."""


class _Member:
    """One fold's net and the state of its training inside :func:`fit_members`."""

    def __init__(self, net, X, y):
        self.net = net
        self.X, self.y = X, y
        self.stopped = False
        dataset_train, dataset_valid = net.get_split_datasets(X, y)
        self.epoch_kwargs = {"dataset_train": dataset_train, "dataset_valid": dataset_valid}
        self.iterator_train = net.get_iterator(dataset_train, training=True)
        self.iterator_valid = (None if dataset_valid is None
                               else net.get_iterator(dataset_valid, training=False))
        module = net.module_
        self.params = dict(module.named_parameters())
        self.buffers = dict(module.named_buffers())
        self.signature = tuple((name, tuple(p.shape)) for name, p in self.params.items())


def _stacked_forward(template, members, X):
    """The outputs of ``members``' networks, each on its own slice of ``X`` (shape ``(k, ...)``)."""
    params = {name: torch.stack([m.params[name] for m in members]) for name in members[0].params}
    buffers = {name: torch.stack([m.buffers[name] for m in members]) for name in members[0].buffers}

    def one(p, b, x):
        return torch.func.functional_call(template, (p, b), (x,))

    out = torch.func.vmap(one, randomness="different")(params, buffers, X)
    # running statistics (batch normalization) were updated in the stacked copies: hand them back
    for name, stacked in buffers.items():
        for member, value in zip(members, stacked.unbind(0)):
            member.buffers[name].copy_(value)
    return out


def _train_group(members, batches):
    """One optimizer step of ``members`` (same network shapes, same batch shapes) on their ``batches``."""
    for member in members:
        member.net._zero_grad_optimizer()
    Xs = [member.net._X_tensor(X).to(member.net.device) for X, _ in batches]
    if len(members) == 1:
        outputs = [members[0].net.infer(Xs[0])]
    else:
        outputs = _stacked_forward(members[0].net.module_, members, torch.stack(Xs)).unbind(0)
    losses = [member.net.get_loss(out, y, X=X, training=True)
              for member, out, X, (_, y) in zip(members, outputs, Xs, batches)]
    torch.stack(losses).sum().backward()
    for member, batch in zip(members, batches):
        net = member.net
        net.notify("on_grad_computed", named_parameters=TeeGenerator(net.get_all_learnable_params()),
                   batch=batch, training=True)
        net.optimizer_.step()
    return losses, outputs


def _train_epoch(members):
    """One epoch of training batches for the ``members`` still training."""
    for member in members:  # training mode for the whole epoch (validation comes after it)
        member.net._set_training(True)
    iterators = [iter(member.iterator_train) for member in members]
    counts = [0] * len(members)
    running = list(range(len(members)))
    while running:
        batches = {}
        for i in list(running):
            batch = next(iterators[i], None)
            if batch is None:
                running.remove(i)
            else:
                batches[i] = batch
        if not batches:
            break
        steps = {}
        for i, batch in batches.items():
            members[i].net.notify("on_batch_begin", batch=batch, training=True)
        # members step together when their networks and batches have the same shapes
        groups = {}
        for i, (X, y) in batches.items():
            key = (members[i].signature, tuple(X.shape), tuple(y.shape), y.dtype)
            groups.setdefault(key, []).append(i)
        for indices in groups.values():
            group = [members[i] for i in indices]
            losses, outputs = _train_group(group, [batches[i] for i in indices])
            for i, loss, out in zip(indices, losses, outputs):
                net, batch = members[i].net, batches[i]
                net.history.record_batch("train_loss", loss.item())
                net.history.record_batch("train_batch_size", len(batch[0]))
                steps[i] = {"loss": loss, "y_pred": out}
                counts[i] += 1
        for i, batch in batches.items():
            members[i].net.notify("on_batch_end", batch=batch, training=True, **steps[i])
    for member, count in zip(members, counts):
        member.net.history.record("train_batch_count", count)


def fit_members(nets, data, stop_all=None):
    """Train the initialized skorch ``nets`` together, each on its ``(X, y)`` in ``data``.

    Each net must be initialized (``net.initialize()``) and hold its
    validation data (``valid_data``), as :func:`sknas.evaluation.trainer.make_net`
    builds it, and ``y`` must have gone through the net's ``prepare_target``
    (which sets the classes, or the target's scale for a regressor). Runs
    up to each net's ``max_epochs`` and returns the nets, trained as their own
    ``fit`` would have left them (history, callbacks' state, best epoch
    restored by early stopping, snapshot ensembles built).

    Raises :class:`BatchedFitError` when the networks cannot be stacked
    under ``vmap``; this is detected at the first step, before any weight
    has changed, so that the caller can train the folds one by one instead.
    ``stop_all`` (a callable, checked after every epoch) ends the training
    of every member when it returns True (e.g. the first fold was pruned).
    """
    members = [_Member(net, X, y) for net, (X, y) in zip(nets, data)]
    max_epochs = max(net.max_epochs for net in nets)
    _probe(members)
    for member in members:
        member.net.notify("on_train_begin", X=member.X, y=member.y)
    try:
        for epoch in range(max_epochs):
            active = [m for m in members if not m.stopped and epoch < m.net.max_epochs]
            if not active:
                break
            for member in active:
                member.net.notify("on_epoch_begin", **member.epoch_kwargs)
            _train_epoch(active)  # a KeyboardInterrupt here (the shared deadline, Ctrl-C) stops every member
            for member in active:
                net = member.net
                net.run_single_epoch(member.iterator_valid, training=False, prefix="valid",
                                     step_fn=net.validation_step)
                try:
                    net.notify("on_epoch_end", **member.epoch_kwargs)
                except KeyboardInterrupt:  # this member's early stopping (or pruning)
                    member.stopped = True
            if stop_all is not None and stop_all():
                break
    except KeyboardInterrupt:
        pass
    finally:
        for member in members:
            member.net.notify("on_train_end", X=member.X, y=member.y)
    return nets


def _probe(members):
    """Run one stacked forward and backward pass (weights untouched), so that a network without batching rules fails before training."""
    groups = {}
    for member in members:
        groups.setdefault(member.signature, []).append(member)
    for group in groups.values():
        if len(group) < 2:
            continue
        X = _member_rows(group)
        states = [{k: v.clone() for k, v in m.buffers.items()} for m in group]
        try:
            out = _stacked_forward(group[0].net.module_, group, X)
            out.float().sum().backward()
        except Exception as exc:  # an op without a batching rule, forward or backward
            raise BatchedFitError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        finally:
            for m, state in zip(group, states):
                for name, value in state.items():
                    m.buffers[name].copy_(value)
                for p in m.params.values():
                    p.grad = None


def _member_rows(group, n=2):
    """The first ``n`` training rows of each member of ``group``, stacked ``(k, n, ...)``."""
    rows = []
    for member in group:
        X = member.epoch_kwargs["dataset_train"].X
        rows.append(member.net._X_tensor(X[:n]).to(member.net.device))
    return torch.stack(rows)
