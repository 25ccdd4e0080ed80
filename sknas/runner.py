"""The search loop: owns the clock and the budget, runs trials, records results.

The runner asks the searcher for candidates (the space's portfolio first),
has the evaluator train and score them (in parallel through joblib when
``n_jobs`` is set, so that a Dask joblib backend distributes them), tells the
searcher every result, records it, and keeps the best fitted model. After the
search it refits the best genotype on all the data when the remaining budget
allows it (see :meth:`Runner.refit_best`).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import warnings

import numpy as np
from joblib import Parallel, delayed

from .results import SearchResults
from .search.base import Candidate, result_score

__all__ = ["Runner"]


def _run_trial(evaluator, candidate, data, deadline, seed, index):
    return index, evaluator.evaluate(candidate, data, deadline=deadline, seed=seed)


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
    accept : callable or None
        ``accept(result) -> bool``: whether a successful trial may become the
        best one (used for hard constraints).
    n_train, n_refit : int or None
        Rows a trial trains on and rows the final refit trains on; with
        both set, the search stops early enough to leave time for the
        refit of the best candidate. ``None`` disables the refit.
    """

    def __init__(self, searcher, evaluator, *, time_budget=None, max_trials=None, n_jobs=None,
                 start=None, portfolio=(), trial_share=0.4, seed=0, verbose=0, accept=None,
                 n_train=None, n_refit=None):
        self.searcher = searcher
        self.evaluator = evaluator
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.n_jobs = n_jobs
        self.start = time.time() if start is None else start
        self.portfolio = list(portfolio)
        self.trial_share = trial_share
        self.seed = seed
        self.verbose = verbose
        self.accept = accept
        self.n_train = n_train
        self.n_refit = n_refit
        self.results = SearchResults()
        self.best_index = None
        self.best_model = None
        self.best_result = None

    # -- the clock -----------------------------------------------------------------
    @property
    def deadline(self):
        return None if self.time_budget is None else self.start + self.time_budget

    def remaining(self):
        return math.inf if self.deadline is None else self.deadline - time.time()

    def _margin(self):
        return min(1.0, 0.03 * self.time_budget) if self.time_budget is not None else 0.0

    def _search_deadline(self):
        # Keep a reserve for refitting the best so far and for the bookkeeping after the search.
        if self.deadline is None:
            return None
        return self.deadline - self._margin() - self._refit_estimate()

    def _refit_estimate(self, safety=1.3):
        """Seconds a refit of the current best on all the data is expected to take.

        The search reserves this estimate with a safety factor; the refit
        itself starts when the plain estimate fits (its own deadline still
        guards the budget).
        """
        result = self.best_result
        if result is None or self.n_refit is None:
            return 0.0
        epochs = max(1, result.best_epoch or result.n_epochs)
        per_epoch = result.fit_time / max(1, result.n_folds) / max(1, result.n_epochs)
        return per_epoch * epochs * (self.n_refit / max(1, self.n_train)) * safety + 0.1

    def _trial_deadline(self):
        search_deadline = self._search_deadline()
        if search_deadline is None:
            return None
        return min(search_deadline, time.time() + self.trial_share * self.time_budget)

    def _time_for_another_trial(self):
        if self.deadline is None:
            return True
        left = self._search_deadline() - time.time()
        times = [row["fit_time"] for row in self.results.rows]
        typical = statistics.median(times) if times else 0.0
        return left > max(0.5, 0.25 * typical)

    # -- the loop ------------------------------------------------------------------
    def _n_workers(self):
        from joblib import effective_n_jobs

        return 1 if self.n_jobs in (None, 1) else max(1, effective_n_jobs(self.n_jobs))

    def _next_candidates(self, k):
        out = []
        while self.portfolio and len(out) < k:
            out.append((Candidate(self.portfolio.pop(0)), "portfolio"))
        if len(out) < k:
            out += [(c, "searcher") for c in self.searcher.ask(k - len(out))]
        return out

    def run(self, data):
        rng = np.random.default_rng(self.seed)
        self.searcher.set_budget(max_epochs=self.evaluator.max_epochs)
        n_workers = self._n_workers()
        parallel = Parallel(n_jobs=n_workers, return_as="generator_unordered") if n_workers > 1 else None
        while True:
            if self.max_trials is not None and len(self.results) >= self.max_trials:
                break
            if not self._time_for_another_trial():
                break
            k = n_workers
            if self.max_trials is not None:
                k = min(k, self.max_trials - len(self.results))
            batch = self._next_candidates(k)
            if not batch:  # the searcher has nothing left to propose
                break
            seeds = [int(s) for s in rng.integers(2**31 - 1, size=len(batch))]
            deadline = self._trial_deadline()
            if parallel is None:
                outcomes = (
                    _run_trial(self.evaluator, c, data, deadline, s, i)
                    for i, ((c, _), s) in enumerate(zip(batch, seeds))
                )
            else:
                outcomes = parallel(
                    delayed(_run_trial)(self.evaluator, c, data, deadline, s, i)
                    for i, ((c, _), s) in enumerate(zip(batch, seeds))
                )
            for index, result in outcomes:
                candidate, source = batch[index]
                self._record(candidate, result, source)
        return self.results

    def _record(self, candidate, result, source):
        model, result.model = result.model, None
        self.searcher.tell(candidate, result)
        trial = self.results.add(candidate, result, source)
        score = result_score(result)
        full_fidelity = candidate.data_fraction == 1.0 and (
            candidate.epochs is None or candidate.epochs >= self.evaluator.max_epochs
        )
        if score is not None and (self.accept is None or self.accept(result)):
            # Full-fidelity trials always rank above low-fidelity ones; ties keep the earliest.
            key = (full_fidelity, score)
            if self._best_key is None or key > self._best_key:
                self._best_key = key
                self.best_index, self.best_result, self.best_model = trial, result, model
        if self.verbose:
            best = self.best_result.score if self.best_result is not None else float("nan")
            text = f"{result.score:.4f}" if score is not None else result.status
            g = str(candidate.genotype)
            g = g if len(g) <= 70 else g[:67] + "..."
            print(
                f"[sknas] trial {trial:>3} {text:>8} (best {best:.4f}) {result.fit_time:6.2f}s "
                f"{result.n_epochs:>3} ep  {g}",
                file=sys.stdout, flush=True,
            )
            if result.status != "ok" and self.verbose > 1 and result.error:
                print(f"        {result.error.splitlines()[0]}", flush=True)

    _best_key = None

    # -- after the search ----------------------------------------------------------
    def refit_best(self, X, y):
        """Refit the best genotype on all of ``X, y`` if the remaining budget allows it.

        The refit trains for the number of epochs early stopping chose (the
        best epoch of the trial), with the trial's learning-rate horizon. Its
        cost is estimated from the trial's own time, scaled by the data
        growth (the search keeps that much time in reserve); the refit runs
        only if it fits in the remaining budget, and it is kept only if it
        completed before the deadline. Otherwise the
        trial's model (trained on the training part, early-stopped on the
        validation part) is kept. Returns ``(model, refitted)``.
        """
        if self.best_result is None:
            raise RuntimeError("no successful trial to refit")
        if self.n_refit is None:
            return self.best_model, False
        epochs = max(1, self.best_result.best_epoch or self.best_result.n_epochs)
        if self._refit_estimate(safety=1.0) > self.remaining() - self._margin():
            return self.best_model, False
        genotype = self.results.rows[self.best_index]["genotype"]
        candidate_epochs = self.results.rows[self.best_index]["epochs"]
        horizon = min(candidate_epochs or self.evaluator.max_epochs, self.evaluator.max_epochs)
        deadline = None if self.deadline is None else self.deadline - min(0.5, 0.02 * self.time_budget)
        try:
            model, completed = self.evaluator.refit(
                genotype, X, y, epochs=epochs, schedule_epochs=horizon, deadline=deadline, seed=self.seed,
            )
        except Exception as exc:  # the trial's model is a sound fallback
            warnings.warn(
                f"Refitting the best genotype on all the data failed ({type(exc).__name__}: {exc}); "
                "keeping the model of its trial.", RuntimeWarning, stacklevel=3,
            )
            return self.best_model, False
        if not completed:
            return self.best_model, False
        return model, True
