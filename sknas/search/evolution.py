"""Regularized (aging) evolution."""

from __future__ import annotations

import math
from collections import deque
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from .base import Candidate, Searcher, result_score

__all__ = ["RegularizedEvolution"]

_MAX_REDRAWS = 10


class RegularizedEvolution(Searcher):
    """Aging evolution with tournament selection (Real et al. 2019).

    The first ``population_size`` candidates are drawn at random (genotypes
    told to the searcher that it did not propose, e.g. the runner's
    portfolio, take the place of random ones). Every later candidate is a
    child: ``sample_size`` members of the population are drawn at random
    without replacement, the best of them is the parent, and the child is
    the parent with one decision changed (``space.mutate``). With
    probability ``crossover_rate`` the child is first made by crossing the
    two best of the sample (``space.crossover``), then mutated. Each result
    told joins the population, and the oldest member is removed
    (``remove="oldest"``, the "regularized" evolution of the paper, which
    favours architectures that stay good when retrained) or the worst one
    (``remove="worst"``, classic tournament evolution).

    A failed trial joins the population with the worst possible score, so
    it is never chosen as a parent while a successful member is in the
    sample. The searcher is asynchronous: ``ask`` never waits for results;
    when the initial population is asked for but no result is in yet, it
    keeps drawing at random.

    Parameters
    ----------
    population_size : int, default=20
        Number of members kept (P in the paper).
    sample_size : int, default=5
        Tournament size (S in the paper), at most ``population_size``.
    crossover_rate : float, default=0.0
        Probability that a child is made by crossover before its mutation.
        The paper uses mutation only (0.0).
    remove : {"oldest", "worst"}, default="oldest"
        Which member leaves the population when a result arrives.

    Attributes
    ----------
    population_ : collections.deque of (Genotype, float)
        The current members with their scores, oldest first (failed trials
        have score ``-inf``).

    Notes
    -----
    Simplified from the paper: children are deduplicated (a child already
    proposed or told is mutated again, up to a few times), and scores of
    any fidelity are compared as they are, since the paper's candidates
    are all trained alike.

    References
    ----------
    Real, Aggarwal, Huang, Le. "Regularized Evolution for Image Classifier
    Architecture Search." AAAI 2019.
    Goldberg, Deb. "A Comparative Analysis of Selection Schemes Used in
    Genetic Algorithms." FOGA 1991 (tournament selection).
    """

    _parameter_constraints: dict = {
        "population_size": [Interval(Integral, 1, None, closed="left")],
        "sample_size": [Interval(Integral, 1, None, closed="left")],
        "crossover_rate": [Interval(Real, 0, 1, closed="both")],
        "remove": [StrOptions({"oldest", "worst"})],
    }

    def __init__(self, population_size=20, sample_size=5, crossover_rate=0.0, remove="oldest"):
        self.population_size = population_size
        self.sample_size = sample_size
        self.crossover_rate = crossover_rate
        self.remove = remove

    def _setup(self):
        if self.sample_size > self.population_size:
            raise ValueError(
                f"The 'sample_size' parameter of {type(self).__name__} must be at most "
                f"population_size={self.population_size}. Got {self.sample_size!r} instead."
            )
        self.population_ = deque()
        self._n_initial = 0  # slots of the initial population filled (asked at random, or told)
        self._proposed = set()

    def _ask(self, n):
        out = []
        for _ in range(n):
            if self._n_initial < self.population_size or not self.population_:
                if self._n_initial < self.population_size:
                    self._n_initial += 1
                genotype = self._novel(lambda: self.space_.sample(self.rng_))
            else:
                genotype = self._child()
            self._proposed.add(genotype)
            out.append(Candidate(genotype))
        return out

    def _novel(self, draw):
        for _ in range(_MAX_REDRAWS):
            genotype = draw()
            if genotype not in self._proposed:
                return genotype
        return genotype

    def _child(self):
        members = list(self.population_)
        k = min(self.sample_size, len(members))
        picks = self.rng_.choice(len(members), size=k, replace=False)
        # Stable sort on the sample's random order: ties go to an arbitrary member.
        ranked = sorted((members[int(i)] for i in picks), key=lambda m: m[1], reverse=True)
        parent = ranked[0][0]
        if k >= 2 and self.crossover_rate > 0 and self.rng_.random() < self.crossover_rate:
            other = ranked[1][0]
            return self._novel(
                lambda: self.space_.mutate(self.space_.crossover(parent, other, self.rng_), self.rng_)
            )
        return self._novel(lambda: self.space_.mutate(parent, self.rng_))

    def _tell(self, candidate, result):
        genotype = candidate.genotype
        if genotype not in self._proposed:
            self._proposed.add(genotype)
            if self._n_initial < self.population_size:
                self._n_initial += 1
        score = result_score(result)
        self.population_.append((genotype, -math.inf if score is None else score))
        if len(self.population_) > self.population_size:
            if self.remove == "oldest":
                self.population_.popleft()
            else:
                # min returns the first (oldest) of equally bad members.
                worst = min(range(len(self.population_)), key=lambda i: self.population_[i][1])
                del self.population_[worst]
