"""Tree-structured Parzen Estimator through hyperopt."""

from __future__ import annotations

import logging
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval

from .base import Candidate, Searcher, result_score

__all__ = ["TPESearch"]

_MAX_REDRAWS = 10


def _unused_objective(point):
    # hyperopt's Domain wants an objective; ask/tell never calls it. A module
    # level function (not a lambda) keeps the searcher picklable.
    return 0.0


class TPESearch(Searcher):
    """TPE (Bergstra et al. 2011) as implemented by hyperopt, behind ask/tell.

    TPE splits the observed trials at the ``gamma`` quantile of the loss into
    a good and a bad group, fits a Parzen density to each parameter in each
    group, and proposes, among ``n_ei_candidates`` draws from the good
    density, the one maximizing the ratio good/bad (equivalent to expected
    improvement). Before ``n_startup_jobs`` results it samples at random.

    The space's conditions are kept the TPE way: a parameter that was
    inactive in a trial is recorded as unobserved in that trial, so each
    parameter's densities are fit only on the trials where it mattered.
    hyperopt always receives an explicit seed drawn from the searcher's
    generator. Failed trials are recorded with infinite loss (the bad group).

    A proposal that was already told (or proposed earlier in the same
    ``ask``) is replaced by a neighbour (``space.mutate``), or failing that a
    draw from the prior: in a discrete space TPE's best draw is often a
    configuration already evaluated, and hyperopt would spend the budget
    on it again. Candidates asked and not yet told are not excluded, so
    that the proposals depend only on the results told.

    Parameters
    ----------
    n_startup_jobs : int, default=8
        Random trials before TPE takes over (hyperopt's default is 20, too
        many for the budgets sknas targets).
    n_ei_candidates : int, default=24
    gamma : float, default=0.25

    References
    ----------
    Bergstra, Bardenet, Bengio, Kégl. "Algorithms for Hyper-Parameter
    Optimization." NeurIPS 2011.
    Bergstra, Yamins, Cox. "Making a Science of Model Search: Hyperparameter
    Optimization in Hundreds of Dimensions for Vision Architectures." ICML 2013.
    """

    _parameter_constraints: dict = {
        "n_startup_jobs": [Interval(Integral, 0, None, closed="left")],
        "n_ei_candidates": [Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, n_startup_jobs=8, n_ei_candidates=24, gamma=0.25):
        self.n_startup_jobs = n_startup_jobs
        self.n_ei_candidates = n_ei_candidates
        self.gamma = gamma

    def _setup(self):
        from hyperopt import Trials
        from hyperopt.base import Domain

        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        self._trials = Trials()
        self._domain = Domain(_unused_objective, self.space_.to_hyperopt())
        self._labels = list(self._domain.params)
        self._next_tid = 0
        self._told = set()

    def _ask(self, n):
        from hyperopt import tpe

        out, batch = [], set()
        for _ in range(n):
            docs = tpe.suggest(
                [self._next_tid], self._domain, self._trials,
                seed=int(self.rng_.integers(2**31 - 1)),
                n_startup_jobs=self.n_startup_jobs, n_EI_candidates=self.n_ei_candidates,
                gamma=self.gamma, verbose=False,
            )
            self._next_tid += 1
            vals = docs[0]["misc"]["vals"]
            point = {label: v[0] for label, v in vals.items() if v}
            genotype = self._novel(self.space_.from_hyperopt(point), batch)
            batch.add(genotype)
            out.append(Candidate(genotype))
        return out

    def _novel(self, genotype, batch):
        """``genotype``, or a neighbour of it when it was already told or is in this batch.

        In a discrete space the good density peaks on the good results, and
        its best draw is often a configuration already evaluated (about half
        of the proposals on the 1,374 networks of the tabulated benchmark):
        hyperopt would spend that budget again for the same answer. A
        neighbour (one decision changed) stays where the model points.
        """
        def taken(g):
            return g in self._told or g in batch

        if not taken(genotype):
            return genotype
        for draw in (lambda: self.space_.mutate(genotype, self.rng_), lambda: self.space_.sample(self.rng_)):
            for _ in range(_MAX_REDRAWS):
                other = draw()
                if not taken(other):
                    return other
        return genotype

    def _tell(self, candidate, result):
        from hyperopt import STATUS_FAIL, STATUS_OK

        self._told.add(candidate.genotype)
        tid = self._next_tid
        self._next_tid += 1
        raw = self.space_.to_hyperopt_raw(candidate.genotype)
        score = result_score(result)
        hp_result = {"status": STATUS_FAIL} if score is None else {"status": STATUS_OK, "loss": -score}
        self._insert(tid, raw, hp_result)
        self._trials.refresh()

    def _insert(self, tid, raw, hp_result):
        from hyperopt import JOB_STATE_DONE

        misc = {
            "tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"), "workdir": None,
            "idxs": {label: ([tid] if label in raw else []) for label in self._labels},
            "vals": {label: ([raw[label]] if label in raw else []) for label in self._labels},
        }
        docs = self._trials.new_trial_docs([tid], [None], [hp_result], [misc])
        for doc in docs:
            doc["state"] = JOB_STATE_DONE
        self._trials.insert_trial_docs(docs)

    def _checkpoint_state(self):
        """The state as plain data for a checkpoint (:mod:`sknas.checkpoint`).

        hyperopt's ``Trials`` and ``Domain`` become the list of told trials
        (tid, raw values, result): :meth:`_restore_checkpoint_state` rebuilds
        them exactly, and a checkpoint never holds hyperopt's expression
        graph, which hyperopt would evaluate.
        """
        state = self.__getstate__().copy()
        state.pop("_domain", None)
        trials = state.pop("_trials", None)
        if trials is not None:
            state["_told_trials"] = [
                (doc["tid"], {label: v[0] for label, v in doc["misc"]["vals"].items() if v},
                 {k: v for k, v in doc["result"].items() if k in ("status", "loss")})
                for doc in trials.trials
            ]
        return state

    def _restore_checkpoint_state(self, state):
        from hyperopt import STATUS_FAIL, STATUS_OK, Trials
        from hyperopt.base import Domain

        state = dict(state)
        told = state.pop("_told_trials", None)
        self.__dict__.update(state)
        if told is None or not hasattr(self, "space_"):
            return
        self._trials = Trials()
        self._domain = Domain(_unused_objective, self.space_.to_hyperopt())
        for tid, raw, hp_result in told:
            if hp_result.get("status") not in (STATUS_OK, STATUS_FAIL) or not isinstance(raw, dict):
                raise ValueError(f"invalid TPE trial {tid!r} in the checkpoint.")
            self._insert(int(tid), raw, {"status": hp_result["status"], **(
                {"loss": float(hp_result["loss"])} if hp_result["status"] == STATUS_OK else {})})
        self._trials.refresh()
