"""After the search: a low-fidelity winner retrained at full fidelity, the refit on all the data, the ensemble.

:class:`PostSearch` runs the three phases in that order, each within what
is left of the fit's :class:`~sknas.runner.budget.Budget`, and returns a
:class:`FinalModel`. Ctrl-C in a phase keeps what the search found: the
trial's own model when a refit is interrupted, the best model without an
ensemble when the ensemble selection is.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from ..evaluation.ensembles import EnsembleClassifier, EnsembleRegressor, best_prefix, ensemble_selection
from ..search.base import Candidate

__all__ = ["FinalModel", "PostSearch"]


@dataclasses.dataclass
class FinalModel:
    """What a fit ends with.

    ``best`` is the best trial's final model (refit on all the data when
    ``refitted``, else its trial model or bag), ``model`` is what predicts
    (``best`` or an ensemble), ``members`` and ``weights`` the ensemble's
    trials and integer weights (``[best trial], [1]`` without one), and
    ``times`` the seconds each phase took, ``started`` the ``time.time()``
    when the first phase began.
    """

    best: object
    refitted: bool
    model: object
    members: list
    weights: list
    times: dict
    started: float


class PostSearch:
    """The phases after :meth:`Runner.run <sknas.runner.Runner.run>`, on the runner's results and budget."""

    def __init__(self, runner):
        self.runner = runner
        self._refit_interrupted = False

    @property
    def budget(self):
        return self.runner.budget

    @property
    def evaluator(self):
        return self.runner.evaluator

    def run(self, X, y, *, ensemble_steps=0, scorer=None, classes=None):
        """Full fidelity, then (the split released) refit and ensemble; returns a :class:`FinalModel`.

        ``ensemble_steps`` greedy steps of ensemble selection (0: none) over
        the runner's library, scored with ``scorer`` on the validation
        rows of the runner's split; ``classes`` for a classifier.
        """
        runner = self.runner
        start = time.time()
        data = runner.data
        self.full_fidelity_best(data)
        t_full = time.time()
        y_valid = np.concatenate([d.y_valid for d in data]) if ensemble_steps else None
        # The refit preprocesses all of X: free the split and the trials' preprocessed data first
        # (one-shot searchers keep their own reference to the split).
        del data
        runner.release_data()
        self.evaluator.clear_cache()
        best, refitted = self.refit_best(X, y)
        t_refit = time.time()
        model, members, weights = best, [runner.best_index], [1]
        if ensemble_steps:
            try:
                built = self.build_ensemble(ensemble_steps, y_valid, scorer, classes, X, y, best_model=best)
            except KeyboardInterrupt:  # the search is done and its best model is final: keep it
                warnings.warn("Ctrl-C during the ensemble selection; keeping the best trial's model, without an "
                              "ensemble.", RuntimeWarning, stacklevel=3)
                built = None
            if built is not None:
                model, members, weights = built
        times = {"full_fidelity": t_full - start, "refit": t_refit - t_full, "ensemble": time.time() - t_refit}
        return FinalModel(best, refitted, model, members, weights, times, start)

    def _refit(self, trial, result, model, X, y):
        """Refit one trial's genotype on all of ``X, y``; returns ``(model, refitted)``.

        A bag (the fold models of a cross-validated trial) is kept as it is.
        """
        runner, budget = self.runner, self.budget
        if isinstance(model, (EnsembleClassifier, EnsembleRegressor)) or self._refit_interrupted:
            return model, False  # a bag is final; after a Ctrl-C in a refit, no other member is refit
        estimate = budget.refit_estimate(result, bagging=runner.bagging, safety=1.0)
        if budget.n_refit is None or estimate > budget.remaining() - budget.margin():
            return model, False
        row = runner.results.rows[trial]
        epochs = max(1, result.best_epoch or result.n_epochs)
        horizon = min(row["epochs"] or self.evaluator.max_epochs, self.evaluator.max_epochs)
        try:
            refit, completed = self.evaluator.refit(
                row["genotype"], X, y, epochs=epochs, schedule_epochs=horizon, deadline=budget.refit_deadline(),
                seed=runner.seed,
            )
        except KeyboardInterrupt:  # Ctrl-C outside skorch's loop (which ends training itself): keep what we have
            runner.interrupted = self._refit_interrupted = True
            warnings.warn(f"Ctrl-C during the refit of trial {trial} on all the data; keeping the model of its "
                          "trial.", RuntimeWarning, stacklevel=3)
            return model, False
        except Exception as exc:  # the trial's model is a sound fallback
            warnings.warn(
                f"Refitting trial {trial} on all the data failed ({type(exc).__name__}: {exc}); "
                "keeping the model of its trial.", RuntimeWarning, stacklevel=3,
            )
            return model, False
        return (refit, True) if completed else (model, False)

    def refit_best(self, X, y):
        """Refit the best genotype on all of ``X, y`` if the remaining budget allows it.

        The refit trains for the number of epochs early stopping chose (the
        best epoch of the trial), with the trial's learning-rate horizon. Its
        cost is estimated from the trial's own time, scaled by the data
        growth (the search keeps that much time in reserve); the refit runs
        only if it fits in the remaining budget, and it is kept only if it
        completed before the deadline. Otherwise the trial's model (trained
        on the training part, early-stopped on the validation part) is kept.
        Returns ``(model, refitted)``.
        """
        runner = self.runner
        if runner.best_result is None:
            raise RuntimeError("no successful trial to refit")
        return self._refit(runner.best_index, runner.best_result, runner.best_model, X, y)

    def full_fidelity_best(self, data):
        """Retrain a low-fidelity winner on all its training rows, as far as the budget allows.

        The retrained model replaces the low-fidelity one when its
        validation score is at least as good. Returns True when it did.
        """
        runner, budget = self.runner, self.budget
        if budget.data_fraction >= 1.0 or runner.best_result is None:
            return False
        if budget.remaining() - budget.margin() < 1.0:
            return False
        genotype = runner.results.rows[runner.best_index]["genotype"]
        deadline = None if budget.deadline is None else budget.deadline - budget.margin()
        result = self.evaluator.evaluate(Candidate(genotype), data, deadline=deadline, seed=runner.seed)
        if result.status == "ok" and result.score >= runner.best_result.score:
            trial = runner.results.add(Candidate(genotype), result, "full_fidelity")
            runner.best_index, runner.best_result, runner.best_model = trial, result, result.model
            result.model = None
            return True
        return False

    def build_ensemble(self, size, y_valid, scorer, classes, X, y, best_model=None):
        """Greedy ensemble selection (Caruana et al. 2004) over the library's validation predictions.

        ``size`` greedy steps with replacement are taken and the prefix
        with the best validation score is kept (the smallest on a tie), so
        the ensemble is as large as helps on validation and never scores
        below its first pick, the single best model. With cross-validation
        the predictions are out-of-fold and the members are bags (no
        refit); holdout members are refit on all the data when the budget
        allows. ``best_model`` (the final model of the best trial, possibly
        already refit) is reused for that member. Returns ``(model,
        trials, weights)``, ``model`` being a single member's own model
        when one member is chosen, or ``None`` when fewer than two trials
        are in the library or the best trial is not among them.
        """
        runner = self.runner
        library = runner.library
        if len(library) < 2:
            return None
        if all(entry.trial != runner.best_index for entry in library):
            # the best trial has no validation predictions to weigh (a full-fidelity retrain
            # replaced it): an ensemble without it could only be worse than it on validation
            return None
        picks, scores = ensemble_selection([entry.predictions for entry in library], y_valid, scorer, size, classes)
        counts, _ = best_prefix(picks, scores)
        estimators, weights, trials = [], [], []
        for i, count in counts.items():
            trial, model = library[i].trial, library[i].model
            if trial == runner.best_index and best_model is not None:
                model = best_model
            else:
                model, _ = self._refit(trial, _result_of(runner.results.rows[trial]), model, X, y)
            estimators.append(model)
            weights.append(count)
            trials.append(trial)
        if len(estimators) == 1:
            return estimators[0], trials, weights
        cls = EnsembleClassifier if classes is not None else EnsembleRegressor
        return cls(estimators, weights), trials, weights


def _result_of(row):
    """A minimal result carrying what a refit estimate needs, from a results row."""
    from ..evaluation.trial import TrialResult

    return TrialResult(score=row["score"], fit_time=row["fit_time"], n_epochs=row["n_epochs"],
                       best_epoch=row["best_epoch"], n_folds=row.get("n_folds", 1))
