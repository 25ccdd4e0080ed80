"""Hyperband: successive halving over several brackets of fidelities."""

from __future__ import annotations

import math
from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from .base import Candidate, Searcher, draw_new, result_score

__all__ = ["Hyperband", "hyperband_brackets"]

DEFAULT_MAX_EPOCHS = 100  # the estimators' default ``max_epochs``
_MAX_REDRAWS = 10
_FIDELITIES = ("epochs", "data_fraction")


def hyperband_brackets(min_budget, max_budget, eta=3):
    """The brackets of Hyperband, most exploratory first.

    Bracket ``s`` (from ``s_max = floor(log_eta(max_budget / min_budget))``
    down to 0) starts ``n = ceil((s_max + 1) / (s + 1) * eta**s)``
    configurations at budget ``r = max_budget * eta**-s``; its rung ``i``
    keeps ``floor(n * eta**-i)`` of them at budget ``r * eta**i``
    (Li et al. 2018, Algorithm 1).

    Returns
    -------
    list of list of (int, float)
        For each bracket, its rungs as ``(n_configs, budget)``.
    """
    ratio = max_budget / min_budget
    s_max = 0
    # Integer powers avoid the float error of log(81) / log(3) = 3.9999...
    while eta ** (s_max + 1) <= ratio * (1 + 1e-9):
        s_max += 1
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) * eta**s / (s + 1))
        r = max_budget / eta**s
        brackets.append([(n // eta**i, r * eta**i) for i in range(s + 1)])
    return brackets


class Hyperband(Searcher):
    """Hyperband (Li et al. 2018): random configurations, successive halving, several brackets.

    Each bracket starts many configurations at a low fidelity and, rung
    after rung, keeps the best ``1/eta`` of them at an ``eta`` times larger
    fidelity, up to the maximum; brackets trade off many cheap trials
    against few full ones (see :func:`hyperband_brackets` for the sizes).
    Brackets are played from the most exploratory to the full-fidelity one,
    then again, forever.

    The fidelity is carried by the candidates: ``Candidate.epochs`` (the
    default) or, with ``fidelity="data_fraction"``, ``Candidate.data_fraction``
    (a rung at budget ``r`` trains on the share ``r / max_epochs`` of the
    data, with ``epochs=None``, i.e. the runner's maximum).

    Maximum fidelity: the ``max_epochs`` parameter when given; otherwise the
    value passed by the runner to :meth:`set_budget` (which it calls before
    the first ``ask``); otherwise 100, the estimators' default ``max_epochs``.

    Asynchronous behaviour: a rung is promoted (its best go on to the next
    rung) once every result of the rung is in. ``ask(n)`` always returns
    ``n`` candidates and never waits: it hands out, in this order,
    promotions that are ready (oldest bracket first, highest rung first),
    the remaining new configurations of the newest bracket, and, when there
    is nothing else to do, the configurations of a new bracket. So with
    results still running, several brackets are in flight at once, and the
    runner is never deadlocked.

    Parameters
    ----------
    min_epochs : int, default=1
        Smallest budget of a rung, in epochs.
    max_epochs : int or None, default=None
        Largest budget (the last rung of every bracket). ``None``: from
        :meth:`set_budget`, else 100.
    eta : int, default=3
        Fraction kept at each rung is ``1/eta``; the budget grows ``eta``-fold.
    fidelity : {"epochs", "data_fraction"}, default="epochs"
        What a rung's budget scales.

    Attributes
    ----------
    max_epochs_ : int
        The maximum fidelity in use (resolved at the first ``ask``).
    brackets_ : list of list of (int, float)
        The bracket plan, ``hyperband_brackets(min_epochs, max_epochs_, eta)``.
    n_brackets_started_ : int

    Notes
    -----
    Simplified from the paper: rung budgets are rounded to whole epochs;
    failed trials are never promoted (a rung whose every trial failed ends
    its bracket); configurations are deduplicated against those already
    started or told; candidates told that the searcher did not propose are
    recorded but do not enter a bracket. Promotion waits for the whole rung
    (synchronous successive halving within a bracket; ASHA's promotion of
    early finishers is not done).

    References
    ----------
    Li, Jamieson, DeSalvo, Rostamizadeh, Talwalkar. "Hyperband: A Novel
    Bandit-Based Approach to Hyperparameter Optimization." JMLR 2018.
    Jamieson, Talwalkar. "Non-stochastic Best Arm Identification and
    Hyperparameter Optimization." AISTATS 2016 (successive halving).
    """

    _parameter_constraints: dict = {
        "min_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "eta": [Interval(Integral, 2, None, closed="left")],
        "fidelity": [StrOptions(set(_FIDELITIES))],
    }

    def __init__(self, min_epochs=1, max_epochs=None, eta=3, fidelity="epochs"):
        self.min_epochs = min_epochs
        self.max_epochs = max_epochs
        self.eta = eta
        self.fidelity = fidelity

    def set_budget(self, max_epochs=None, **budget):
        """Hook called by the runner before the first ``ask``.

        Parameters
        ----------
        max_epochs : int or None
            The estimator's ``max_epochs``: the maximum fidelity when the
            searcher's own ``max_epochs`` is None.
        **budget
            Other budget figures of the runner, accepted and not used.
        """
        self._budget_max_epochs = max_epochs
        return self

    # -- setup ---------------------------------------------------------------
    def _setup(self):
        if self.max_epochs is not None:
            self._check_max_epochs(self.max_epochs, f"The 'max_epochs' parameter of {type(self).__name__}")
        # The budget is resolved at the first ask: set_budget may come before or after setup.
        self.__dict__.pop("brackets_", None)
        self._brackets = {}  # id -> _Bracket still running
        self._order = []  # ids of running brackets, oldest first
        self._pending = {}  # Candidate -> list of (bracket id, rung)
        self._started = set()  # genotypes started as new configurations, or told
        self.n_brackets_started_ = 0

    def _check_max_epochs(self, value, what):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < self.min_epochs:
            raise ValueError(f"{what} must be an int >= min_epochs={self.min_epochs}. Got {value!r} instead.")

    def _resolve_budget(self):
        if hasattr(self, "brackets_"):
            return
        if self.max_epochs is not None:
            max_epochs = self.max_epochs
        else:
            max_epochs = getattr(self, "_budget_max_epochs", None)
            if max_epochs is None:
                max_epochs = DEFAULT_MAX_EPOCHS
            self._check_max_epochs(max_epochs, f"{type(self).__name__}: the max_epochs given to set_budget")
        self.max_epochs_ = int(max_epochs)
        self.brackets_ = hyperband_brackets(self.min_epochs, self.max_epochs_, self.eta)

    # -- ask -----------------------------------------------------------------
    def _ask(self, n):
        self._resolve_budget()
        return [self._next_candidate() for _ in range(n)]

    def _next_candidate(self):
        for bid in self._order:
            bracket = self._brackets[bid]
            for rung in range(len(bracket.queues) - 1, 0, -1):
                if bracket.queues[rung]:
                    return self._issue(bracket, rung, bracket.queues[rung].pop(0))
        newest = self._brackets[self._order[-1]] if self._order else None
        if newest is None or newest.n_new >= newest.plan[0][0]:
            newest = self._start_bracket()
        newest.n_new += 1
        genotype = self._new_genotype(newest.plan[0][1])
        self._started.add(genotype)
        return self._issue(newest, 0, genotype)

    def _start_bracket(self):
        plan = self.brackets_[self.n_brackets_started_ % len(self.brackets_)]
        bracket = _Bracket(self.n_brackets_started_, plan)
        self.n_brackets_started_ += 1
        self._brackets[bracket.id] = bracket
        self._order.append(bracket.id)
        return bracket

    def _issue(self, bracket, rung, genotype):
        budget = bracket.plan[rung][1]
        if self.fidelity == "epochs":
            epochs = min(self.max_epochs_, max(1, int(round(budget))))
            candidate = Candidate(genotype, epochs=epochs, meta=(("bracket", bracket.id), ("rung", rung)))
        else:
            fraction = min(1.0, budget / self.max_epochs_)
            candidate = Candidate(genotype, data_fraction=fraction, meta=(("bracket", bracket.id), ("rung", rung)))
        bracket.waiting[rung] += 1
        self._pending.setdefault(candidate, []).append((bracket.id, rung))
        return candidate

    def _new_genotype(self, budget):
        """A configuration for a bracket's first rung (random here; BOHB overrides)."""
        return draw_new(self.space_, self.rng_, self._started, _MAX_REDRAWS)

    # -- tell ----------------------------------------------------------------
    def _tell(self, candidate, result):
        self._started.add(candidate.genotype)
        slots = self._pending.get(candidate)
        if not slots:
            return  # not one of ours (or already told): recorded in history_ only
        # The candidate's meta names its slot; equal candidates in two slots are told in order.
        try:
            meta = dict(candidate.meta)
        except (TypeError, ValueError):
            meta = {}
        mine = (meta.get("bracket"), meta.get("rung"))
        bid, rung = slots.pop(slots.index(mine) if mine in slots else 0)
        if not slots:
            del self._pending[candidate]
        bracket = self._brackets.get(bid)
        if bracket is None:
            return
        bracket.waiting[rung] -= 1
        score = result_score(result)
        if score is not None:
            bracket.results[rung].append((score, bracket.order, candidate.genotype))
            bracket.order += 1
        bracket.advance()
        if bracket.done:
            del self._brackets[bid]
            self._order.remove(bid)


class _Bracket:
    """State of one successive-halving bracket."""

    def __init__(self, bracket_id, plan):
        self.id = bracket_id
        self.plan = plan
        self.n_new = 0  # configurations of rung 0 handed out so far
        self.queues = [[] for _ in plan]  # promoted genotypes waiting to be handed out
        self.waiting = [0] * len(plan)  # handed out, result not yet in
        self.results = [[] for _ in plan]  # (score, arrival, genotype) of successful trials
        self.promoted = [False] * len(plan)
        self.order = 0
        self.done = False

    def _rung_complete(self, rung):
        started = self.n_new >= self.plan[0][0] if rung == 0 else self.promoted[rung - 1]
        return started and not self.queues[rung] and self.waiting[rung] == 0

    def advance(self):
        """Promote every complete rung; mark the bracket done when nothing is left."""
        for rung in range(len(self.plan)):
            if self.promoted[rung] or not self._rung_complete(rung):
                continue
            if rung == len(self.plan) - 1:
                self.done = True
                return
            # Best first; equal scores: the earlier result first.
            ranked = sorted(self.results[rung], key=lambda r: (-r[0], r[1]))
            keep = ranked[: self.plan[rung + 1][0]]
            self.queues[rung + 1] = [genotype for _, _, genotype in keep]
            self.promoted[rung] = True
            if not keep:
                self.done = True
                return
