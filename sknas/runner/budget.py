"""The budget arithmetic of a fit: its deadline, the reserve kept for what follows the search, and a trial's clock.

One object answers every question about time, so the safety factor and the
shares are written once: :data:`SAFETY` (a refit or retrain is reserved with
1.3x its estimate), the margin left unused at the end of a fit, and a single
trial's share of the budget.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time

#: Time is reserved for a refit or a full-fidelity retrain with this factor over its estimate.
SAFETY = 1.3


@dataclasses.dataclass(frozen=True)
class _TrialClock:
    """A trial's time limits, turned into its deadline when the trial starts, in the process that runs it.

    A deadline fixed at dispatch would charge the trial with the time its
    worker spends before it starts (spawning, importing torch, waiting in a
    Dask queue): the first parallel trials then failed on their deadline.
    """

    search_deadline: float
    share: float  # seconds a single trial may take
    end: float  # the fit's deadline less its margin
    growth: float | None  # refit cost per trial second (room is left for this trial's own refit)

    def deadline(self, now):
        deadline = min(self.search_deadline, now + self.share)
        if self.growth is not None:
            deadline = min(deadline, now + (self.end - now) / (1.0 + self.growth))
        return deadline


@dataclasses.dataclass
class Budget:
    """The clock of one fit.

    Parameters
    ----------
    time_budget : float or None
        Seconds for the whole fit, counted from ``start``; ``None``: no clock.
    start : float
        ``time.time()`` when the fit started.
    trial_share : float
        A single trial may use at most this share of the time budget.
    n_train, n_refit : int or None
        Rows a trial trains on and rows the final refit trains on; with both
        set, the search keeps time for the refit of its best trial.
        ``None``: no refit.
    data_fraction : float
        Share of the training rows every trial uses (low fidelity when < 1);
        the winner is then retrained on all of them.
    ensemble : bool
        Whether a few ensemble members may be refit after the best one.
    """

    time_budget: float | None
    start: float
    trial_share: float = 0.4
    n_train: int | None = None
    n_refit: int | None = None
    data_fraction: float = 1.0
    ensemble: bool = False

    @property
    def deadline(self):
        return None if self.time_budget is None else self.start + self.time_budget

    def remaining(self):
        return math.inf if self.deadline is None else self.deadline - time.time()

    def margin(self):
        """Seconds left unused at the end of the fit (what returning takes)."""
        return min(1.0, 0.03 * self.time_budget) if self.time_budget is not None else 0.0

    def refit_estimate(self, result, *, bagging, safety=SAFETY):
        """Seconds a refit of ``result``'s genotype on all the data is expected to take (0 without a refit).

        The search reserves this estimate with :data:`SAFETY`; the refit
        itself starts when the plain estimate (``safety=1``) fits, its own
        deadline still guarding the budget.
        """
        if result is None or self.n_refit is None or bagging:
            return 0.0
        epochs = max(1, result.best_epoch or result.n_epochs)
        per_epoch = result.fit_time / max(1, result.n_folds) / max(1, result.n_epochs)
        rows_seen = max(1.0, self.n_train * self.data_fraction)
        return per_epoch * epochs * (self.n_refit / rows_seen) * safety + 0.1

    def reserve(self, best, *, bagging):
        """Seconds kept after the search for what follows it (refit, full-fidelity retrain, ensemble refits)."""
        reserve = self.refit_estimate(best, bagging=bagging)
        if self.data_fraction < 1.0 and best is not None:
            reserve = max(reserve, min(0.5 * self.time_budget, SAFETY * best.fit_time / self.data_fraction))
        if self.ensemble and best is not None:
            reserve *= 2  # a few ensemble members are refit after the best one
        return min(reserve, 0.5 * self.time_budget)

    def search_deadline(self, best, *, bagging):
        """When the search must stop: the deadline less the margin and the reserve (``None`` without a clock)."""
        if self.deadline is None:
            return None
        return self.deadline - self.margin() - self.reserve(best, bagging=bagging)

    def trial_clock(self, best, *, bagging, n_folds):
        """A trial's limits; its deadline is fixed when it starts (see :class:`_TrialClock`)."""
        search_deadline = self.search_deadline(best, bagging=bagging)
        if search_deadline is None:
            return None
        growth = None
        if self.n_refit is not None and self.data_fraction >= 1.0 and not bagging:
            # Leave room for this trial's own refit should it become the best: a trial of t seconds
            # (over n_folds folds) costs about SAFETY * growth * t / n_folds to refit on all rows.
            growth = SAFETY * self.n_refit / max(1.0, float(self.n_train)) / n_folds
        return _TrialClock(search_deadline, self.trial_share * self.time_budget, self.deadline - self.margin(), growth)

    def time_for_another_trial(self, best, fit_times, *, bagging):
        """Whether a trial started now has time to finish: more than a quarter of a typical one is left."""
        if self.deadline is None:
            return True
        left = self.search_deadline(best, bagging=bagging) - time.time()
        typical = statistics.median(fit_times) if fit_times else 0.0
        return left > max(0.5, 0.25 * typical)

    def refit_deadline(self):
        """The deadline a refit after the search trains to (a little before the fit's end)."""
        return None if self.deadline is None else self.deadline - min(0.5, 0.02 * self.time_budget)
