"""The search loop: asks the searcher, dispatches trials, records their results, handles Ctrl-C.

The runner asks the searcher for candidates (the space's portfolio first),
has the evaluator train and score them (in parallel through joblib when
``n_jobs`` is set, so that a Dask joblib backend distributes them), tells the
searcher every result, records it, and keeps the best fitted model. The
clock is a :class:`~sknas.runner.budget.Budget`; what follows the search
(full fidelity, refit, ensemble) is :class:`~sknas.runner.post.PostSearch`;
everything a resumed search needs is :meth:`Runner.state`.

Ctrl-C during :meth:`Runner.run` stops the search: the trials in flight stop
at their next batch (in worker processes too, through
:class:`~sknas.evaluation.trial.StopSignal`) and are recorded with
``status="interrupted"``, scored with their best epoch restored when at least
one epoch ended; the best model so far (possibly an interrupted trial's) is
kept, with a warning. Interrupted trials are not told to the searcher, and
:meth:`Runner.state` leaves them out and queues them to run again on resume.
A second Ctrl-C aborts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import shutil
import signal
import tempfile
import threading
import time
import warnings
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed

from ..evaluation.trial import StopSignal
from ..results import SearchResults
from ..search.base import Candidate, result_score
from .budget import Budget
from .trials import TrialJob, _prepare_process, _run_trial, _WorkerWarmup

__all__ = ["LibraryEntry", "Runner", "SearchAborted"]


class LibraryEntry(NamedTuple):
    """A complete trial kept for ensemble selection: its index, score, validation predictions and model."""

    trial: int
    score: float
    predictions: object
    model: object


class SearchAborted(BaseException):
    """A second Ctrl-C: abort the fit (not an ``Exception``, so no trial swallows it)."""


class Runner:
    """Run a search within a time budget and/or a trial cap.

    Parameters
    ----------
    searcher : Searcher
        Already ``setup`` on the space.
    evaluator : Evaluator
    time_budget : float or None
        Seconds for the whole fit, counted from ``start``.
    max_trials : int or None
    n_jobs : int or None
        Trials run concurrently through joblib.
    start : float
        ``time.time()`` when the fit started.
    portfolio : list of Genotype
        Evaluated first, before asking the searcher.
    trial_share : float, default=0.4
        A single trial may use at most this share of the time budget.
    seed : int
    verbose : int
        1: a progress bar (:class:`~sknas.progress.SearchProgress`) while the
        search runs; 2: also one line per trial.
    accept : callable or None
        ``accept(result) -> bool``: whether a successful trial may become the
        best one (hard constraints).
    reward : callable or None
        ``reward(result) -> float``: the score told to the searcher instead
        of the plain score (a scalarized multi-objective reward).
    n_train, n_refit : int or None
        Rows a trial trains on and rows the final refit trains on; with
        both set, the search stops early enough to leave time for the
        refit of the best candidate. ``None`` disables the refit.
    data_fraction : float, default=1.0
        Share of the training rows every trial uses (low fidelity when < 1).
    library_size : int, default=0
        How many of the best trials keep their model and validation
        predictions for ensemble selection.
    on_trial : callable or None
        Called as ``on_trial(runner)`` after every recorded trial (checkpoints).
    """

    def __init__(self, searcher, evaluator, *, time_budget=None, max_trials=None, n_jobs=None,
                 start=None, portfolio=(), trial_share=0.4, seed=0, verbose=0, accept=None, reward=None,
                 n_train=None, n_refit=None, data_fraction=1.0, library_size=0, on_trial=None):
        self.searcher = searcher
        self.evaluator = evaluator
        self.budget = Budget(time_budget, time.time() if start is None else start, trial_share=trial_share,
                             n_train=n_train, n_refit=n_refit, data_fraction=data_fraction,
                             ensemble=bool(library_size))
        self.max_trials = max_trials
        self.n_jobs = n_jobs
        self.portfolio = list(portfolio)
        self.seed = seed
        self.verbose = verbose
        self.accept = accept
        self.reward = reward
        self.library_size = library_size
        self.on_trial = on_trial
        self.results = SearchResults()
        self.best_index = None
        self.best_model = None
        self.best_result = None
        self.library = []  # LibraryEntry records of the best trials
        self.interrupted = False
        self.progress = None  # a SearchProgress while a verbose search runs, its final state after
        self.data = None  # the trials' data, from run() until release_data() (post-search needs it)
        self._interruptible = False
        self._stop = None
        self._trial_dir = None
        self._trial_keys = itertools.count()
        self._rerun = []  # (candidate, source) interrupted in an earlier fit, run first
        self._interrupted = []  # (candidate, source) interrupted in this one
        self._settled = (None, None, None, None)  # best index, result, model, key among complete trials
        self._best_key = None
        self._rng = np.random.default_rng(seed)
        self._n_folds = 1
        self._searching = False  # size limits are checked (on self.data) while run() searches

    # -- the clock (a Budget) ------------------------------------------------------
    @property
    def time_budget(self):
        return self.budget.time_budget

    @property
    def start(self):
        return self.budget.start

    @property
    def data_fraction(self):
        return self.budget.data_fraction

    @property
    def bagging(self):
        """Whether a trial's model is its bag of fold models (cross-validated trials of an evaluator with
        ``bag=True``): such a model is final as it is, with no refit on all the data."""
        return bool(getattr(self.evaluator, "bag", False)) and self._n_folds > 1

    def _search_deadline(self):
        return self.budget.search_deadline(self.best_result, bagging=self.bagging)

    def _trial_clock(self):
        return self.budget.trial_clock(self.best_result, bagging=self.bagging, n_folds=self._n_folds)

    def _trial_deadline(self):
        """The deadline of a trial that would start now."""
        clock = self._trial_clock()
        return None if clock is None else clock.deadline(time.time())

    def _time_for_another_trial(self):
        return self.budget.time_for_another_trial(self.best_result, [row["fit_time"] for row in self.results.rows],
                                                  bagging=self.bagging)

    # -- the loop ------------------------------------------------------------------
    def _n_workers(self):
        from joblib import effective_n_jobs

        return 1 if self.n_jobs in (None, 1) else max(1, effective_n_jobs(self.n_jobs))

    def _next_candidates(self, k):
        out = []
        while self._rerun and len(out) < k:
            out.append(self._rerun.pop(0))
        while self.portfolio and len(out) < k:
            out.append((self._within_limits(Candidate(self.portfolio.pop(0))), "portfolio"))
        if len(out) < k:
            left = None if self.max_trials is None else self.max_trials - len(self.results) - len(out)
            self.searcher.set_budget(max_epochs=self.evaluator.max_epochs, max_trials=left)
            out += [(self._within_limits(c), "searcher") for c in self.searcher.ask(k - len(out))]
            for candidate, result, source in self.searcher.pop_records():
                self._record(candidate, source, result, tell=False)
        return out

    def _within_limits(self, candidate):
        """``candidate``, or its repair to the evaluator's size limits (``params``, ``flops``).

        A network's size is known from its genotype before any training, so a
        proposal over a limit is shrunk (:meth:`Evaluator.fit_limits
        <sknas.evaluation.trainer.Evaluator.fit_limits>`) instead of costing a
        failed trial: the search reaches feasible networks from its first
        trials and spends its budget among them. The repaired candidate
        remembers the proposal (``meta["proposed"]``): the searcher is told
        the result under its own proposal (what it asked for, scored as what
        the limit makes of it), and the results row holds the network that ran
        (``repaired=True``). A proposal the space cannot shrink enough runs as
        it is and fails before training, as without repair.
        """
        if not self._searching or not getattr(self.evaluator, "has_size_limits", False):
            return candidate
        try:
            fitted = self.evaluator.fit_limits(candidate.genotype, self.data)
        except Exception:  # noqa: BLE001 - the trial itself builds this network and reports the error as a failure
            return candidate
        if fitted is None or fitted == candidate.genotype:
            return candidate
        return dataclasses.replace(candidate, genotype=fitted,
                                   meta=tuple(candidate.meta) + (("proposed", candidate.genotype),))

    def _scaled(self, candidate):
        """The candidate at the runner's base data fraction."""
        if self.data_fraction >= 1.0:
            return candidate
        return dataclasses.replace(candidate, data_fraction=candidate.data_fraction * self.data_fraction)

    def _incumbent_loss(self):
        if not getattr(self.evaluator, "prune", False) or self.best_result is None:
            return None
        # the comparable loss (no label smoothing, no class weights) of the best trial's scored model;
        # results from before it was recorded (a restored checkpoint) fall back to their curve's minimum
        loss = getattr(self.best_result, "plain_loss", None)
        if loss is not None:
            return float(loss)
        curve = getattr(self.best_result, "plain_curve", None)
        return float(min(curve)) if curve else None

    def run(self, data):
        """Search until the budget or the trial cap is spent; returns the SearchResults."""
        self.searcher.set_budget(max_epochs=self.evaluator.max_epochs)
        self._n_folds = len(data) if isinstance(data, (list, tuple)) else 1
        self.data, self._searching = data, True
        if getattr(self.searcher, "needs_data", False):
            self.searcher.set_data(data if isinstance(data, (list, tuple)) else [data], self.evaluator,
                                   deadline=self._search_deadline())
        n_workers = self._n_workers()
        if n_workers > 1:
            # the stop file and the trials' start markers, shared with the workers of this machine
            self._trial_dir = tempfile.mkdtemp(prefix="sknas-trials-")
        self._stop = StopSignal(None if self._trial_dir is None else os.path.join(self._trial_dir, "stop"))
        try:
            with self._interrupt_handler(), self._progress_bar():
                if n_workers > 1:
                    if _WorkerWarmup.applies():  # trials run here while a cold pool starts
                        self._run_serial(data, until=_WorkerWarmup(n_workers).ready)
                    if self._can_start():
                        self._run_parallel(data, n_workers)
                else:
                    self._run_serial(data)
        finally:
            self._searching = False
            if self._trial_dir is not None:
                shutil.rmtree(self._trial_dir, ignore_errors=True)
                self._trial_dir = None
        if self.interrupted:
            warnings.warn(
                f"Search interrupted after {len(self.results)} trials; keeping the best model so far.",
                RuntimeWarning, stacklevel=2,
            )
        return self.results

    def release_data(self):
        """Drop the runner's reference to the trials' data (before a refit on all the data)."""
        self.data = None

    def _can_start(self, in_flight=0):
        if self.interrupted:
            return False
        if self.max_trials is not None and len(self.results) + in_flight >= self.max_trials:
            return False
        return self._time_for_another_trial()

    def _job(self, candidate, data, key):
        seed = int(self._rng.integers(2**31 - 1))
        marker = None
        if self._trial_dir is not None:
            marker = os.path.join(self._trial_dir, f"trial-{next(self._trial_keys)}.started")
        return TrialJob(self.evaluator, self._scaled(candidate), data, self._trial_clock(), seed, key,
                        self._incumbent_loss(), self._stop, marker, os.getpid())

    @contextlib.contextmanager
    def _waiting_for_trials(self):
        """While inside (a serial trial runs), a first Ctrl-C also raises ``KeyboardInterrupt``, ending the trial
        at once, even outside its training loop; elsewhere it sets the stop signal, and the loop stops."""
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    def _run_serial(self, data, until=None):
        """Trials one after another in the runner's process (until ``until()`` is true, when given)."""
        while self._can_start() and not (until is not None and until()):
            batch = self._next_candidates(1)
            if not batch:  # the searcher has nothing left to propose
                break
            job = self._job(batch[0][0], data, 0)
            try:
                with self._waiting_for_trials():
                    _, result = _run_trial(job)
            except KeyboardInterrupt:  # raised outside skorch's training loop (preprocessing, scoring...)
                if not self.interrupted:
                    raise
                self._record(*batch[0], result=self._failed("interrupted before the trial finished",
                                                            status="interrupted"))
                return
            self._record(*batch[0], result=result)

    def _run_parallel(self, data, n_workers):
        """Asynchronous trials: a worker that finishes gets the next candidate at once.

        joblib pulls the next job from :meth:`_jobs` whenever a worker is free
        (``pre_dispatch="n_jobs"``, one trial per batch), and every result is
        told to the searcher as it arrives (``return_as="generator_unordered"``),
        so that no worker waits for a slower trial of the same batch. A lost
        worker (a killed process, a Dask ``KilledWorker``) fails the trials in
        flight only; the search goes on with a new pool. A trial that a Dask
        scheduler restarts after its worker died is recorded as lost too (its
        start marker is already there), not run again.

        A first Ctrl-C does not raise here: it sets the stop signal, the
        trials in flight stop at their next batch and come back
        ``"interrupted"`` with what they trained, and no new trial starts.
        """
        lock = threading.RLock()
        while True:
            pending = {}
            self._jobs_error = None
            parallel = Parallel(n_jobs=n_workers, return_as="generator_unordered", pre_dispatch="n_jobs",
                                batch_size=1)
            results = iter(parallel(self._jobs(data, pending, lock)))
            _prepare_process(os.getpid())  # while the workers start: the refit after the search needs it too
            try:
                while True:
                    item = next(results, None)
                    if item is None:
                        break
                    key, result = item
                    with lock:
                        self._record(*pending.pop(key), result=result)
            except KeyboardInterrupt:
                if not self.interrupted:
                    raise
                self._fail_pending(pending, lock, "interrupted before the trial finished", status="interrupted")
                return
            except Exception as exc:  # a lost worker (killed process, dask KilledWorker...)
                if self._jobs_error is not None:
                    raise self._jobs_error
                self._fail_pending(pending, lock, f"worker lost while running the trial: {type(exc).__name__}: {exc}",
                                   status="interrupted" if self.interrupted else "failed")
                with lock:
                    if self._can_start():
                        continue
                return
            if self._jobs_error is not None:  # the searcher itself failed: not a trial's fault
                raise self._jobs_error
            return

    def _jobs(self, data, pending, lock):
        """Trials to run, proposed one at a time as workers free up (called from joblib's dispatch)."""
        keys = itertools.count(1)
        while True:
            with lock:
                try:
                    if not self._can_start(in_flight=len(pending)):
                        return
                    batch = self._next_candidates(1)
                    if not batch:  # the searcher has nothing left to propose
                        return
                    key = next(keys)
                    pending[key] = batch[0]
                    job = self._job(batch[0][0], data, key)
                except Exception as exc:  # re-raised by the consumer, once the trials in flight are told
                    self._jobs_error = exc
                    return
            yield delayed(_run_trial)(job)

    @staticmethod
    def _failed(message, status="failed"):
        from ..evaluation.trial import TrialResult

        return TrialResult(score=None, status=status, error=message)

    def _fail_pending(self, pending, lock, message, status="failed"):
        with lock:
            for key in sorted(pending):
                self._record(*pending[key], result=self._failed(message, status))
            pending.clear()

    @contextlib.contextmanager
    def _interrupt_handler(self):
        """First Ctrl-C: stop the trials in flight (keeping what they trained), then the search. Second: abort."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.interrupted:
                raise SearchAborted("search aborted by a second interrupt")
            self.interrupted = True
            self._stop.set()  # trials in flight (here or in workers) stop at their next batch
            # While a serial trial runs, skorch ends its training on KeyboardInterrupt and the loop
            # then stops. Elsewhere (recording a result, asking the searcher, waiting for parallel
            # trials) the flag alone stops the loop: raising there would leave a half-recorded trial.
            if self._interruptible:
                raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextlib.contextmanager
    def _progress_bar(self):
        """With ``verbose >= 1``, a progress bar fed by :meth:`_record` while the search runs."""
        if not self.verbose:
            yield
            return
        from ..progress import SearchProgress

        self.progress = SearchProgress(self.time_budget, self.max_trials, start=self.start, rows=self.results.rows)
        try:
            yield
        finally:
            self.progress.close()

    def _record(self, candidate, source, result, tell=True):
        model, result.model = result.model, None
        predictions, result.predictions = result.predictions, None
        interrupted = result.status == "interrupted"
        told = result
        if self.reward is not None and result_score(result) is not None:
            told = dataclasses.replace(result, score=float(self.reward(result)))
        if tell and not interrupted:  # a cut-short trial says nothing about its candidate
            self.searcher.tell(_as_proposed(candidate), told)
        trial = self.results.add(self._scaled(candidate), result, source)
        if interrupted:
            self._interrupted.append((candidate, source))
        # an interrupted trial that trained at least one epoch is usable (Ctrl-C keeps the best so far)
        score = result_score(dataclasses.replace(result, status="ok") if interrupted else result)
        # a trial the deadline cut short of its cross-validation folds is scored on fewer rows:
        # a noisier, lower-fidelity estimate (and it has no validation predictions for an ensemble)
        full_fidelity = candidate.data_fraction == 1.0 and (
            candidate.epochs is None or candidate.epochs >= self.evaluator.max_epochs
        ) and result.n_folds >= self._n_folds and not interrupted
        if score is not None and (self.accept is None or self.accept(result)):
            # Full-fidelity trials always rank above low-fidelity (and interrupted) ones; ties keep the earliest.
            key = (full_fidelity, score)
            if self._best_key is None or key > self._best_key:
                self._best_key = key
                self.best_index, self.best_result, self.best_model = trial, result, model
            if not interrupted and (self._settled[3] is None or key > self._settled[3]):
                self._settled = (trial, result, model, key)
            if self.library_size and predictions is not None and full_fidelity:
                self.library.append(LibraryEntry(trial, score, predictions, model))
                self.library.sort(key=lambda entry: (-entry.score, entry.trial))
                del self.library[self.library_size:]
        if self.progress is not None:
            if self.verbose > 1:
                self._print_trial(trial, candidate, result, score)
            self.progress.update(result.status, self._best_key[1] if self._best_key is not None else None)
        if self.on_trial is not None:
            self.on_trial(self)

    def _print_trial(self, trial, candidate, result, score):
        best = self.best_result.score if self.best_result is not None else float("nan")
        text = f"{result.score:.4f}" if score is not None else result.status
        g = str(candidate.genotype)
        g = g if len(g) <= 70 else g[:67] + "..."
        self.progress.write(f"[sknas] trial {trial:>3} {text:>8} (best {best:.4f}) {result.fit_time:6.2f}s "
                            f"{result.n_epochs:>3} ep  {g}")
        if result.status == "failed" and result.error:
            self.progress.write(f"        {result.error.splitlines()[0]}")

    # -- checkpoint and warm start ------------------------------------------------
    _STATE = ("portfolio", "library", "best_index", "best_result", "best_model", "_best_key")

    def state(self):
        """Everything a later fit needs to continue this search, as one plain dict (what a checkpoint holds).

        Keys: ``rows`` (the results of the complete trials), ``searcher``
        (with its own state), ``rng`` (the runner's generator), ``portfolio``
        (entries not yet run), ``library`` (the ensemble library),
        ``best_index``/``best_result``/``best_model``/``_best_key`` (the best
        complete trial), ``rerun`` (candidates to run first) and
        ``reward_targets`` (the reference costs of a scalarized
        multi-objective reward, fixed by the first trials: a resumed search
        keeps the reward it had).

        Interrupted trials are left out, as if they had never started (as
        after ``kill -9``): their candidates are listed in ``"rerun"`` as
        plain ``(genotype, epochs, data_fraction, source)`` tuples, run
        first by the fit that restores this state, and the best trial and the
        ensemble library are those of the complete trials.
        """
        index_of, rows = {}, []
        for i, row in enumerate(self.results.rows):
            if row["status"] != "interrupted":
                index_of[i] = len(rows)
                rows.append(dict(row, trial=len(rows)))
        best_index, best_result, best_model, best_key = self._settled
        return {
            "portfolio": self.portfolio,
            "library": [tuple(entry._replace(trial=index_of[entry.trial])) for entry in self.library],
            "best_index": index_of.get(best_index), "best_result": best_result, "best_model": best_model,
            "_best_key": best_key,
            "rerun": [(c.genotype, c.epochs, c.data_fraction, source) for c, source in self._rerun + self._interrupted],
            "rows": rows, "searcher": self.searcher, "rng": self._rng.bit_generator.state,
            "reward_targets": dict(getattr(self.reward, "targets", None) or {}),
        }

    def restore(self, state):
        """Continue from :meth:`state`: earlier trials count towards ``max_trials``; interrupted ones run again."""
        for name in self._STATE:
            setattr(self, name, state[name])
        self.library = [LibraryEntry(*entry) for entry in self.library]
        self._settled = (self.best_index, self.best_result, self.best_model, self._best_key)
        self._rerun = [(Candidate(genotype, epochs, data_fraction), source)
                       for genotype, epochs, data_fraction, source in state.get("rerun", ())]
        self.results.rows = list(state["rows"])
        self.searcher = state["searcher"]
        self._rng.bit_generator.state = state["rng"]
        if getattr(self.reward, "targets", None) is not None:
            self.reward.targets = dict(state.get("reward_targets") or {})
        return self


def _as_proposed(candidate):
    """The candidate the searcher proposed (before :meth:`Runner._within_limits` repaired it)."""
    meta = dict(candidate.meta)
    if meta.get("proposed") is None:
        return candidate
    return dataclasses.replace(candidate, genotype=meta["proposed"],
                               meta=tuple((k, v) for k, v in candidate.meta if k != "proposed"))
