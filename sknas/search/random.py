"""Random search."""

from __future__ import annotations

from numbers import Integral

from sklearn.utils._param_validation import Interval

from .base import Candidate, Searcher

__all__ = ["RandomSearch"]


class RandomSearch(Searcher):
    """Draw every candidate independently from the space's prior.

    Random search is the baseline every NAS method must beat (Bergstra &
    Bengio 2012; Li & Talwalkar 2019 found it competitive with early NAS
    methods). Genotypes already proposed are redrawn (up to
    ``max_redraws`` times) so that no budget is spent twice on one network.

    Parameters
    ----------
    max_redraws : int, default=20

    References
    ----------
    Bergstra, Bengio. "Random Search for Hyper-Parameter Optimization." JMLR 2012.
    Li, Talwalkar. "Random Search and Reproducibility for Neural Architecture Search." UAI 2019.
    """

    _parameter_constraints: dict = {"max_redraws": [Interval(Integral, 0, None, closed="left")]}

    def __init__(self, max_redraws=20):
        self.max_redraws = max_redraws

    def _setup(self):
        self._proposed = set()

    def _ask(self, n):
        out = []
        for _ in range(n):
            for _ in range(self.max_redraws + 1):
                g = self.space_.sample(self.rng_)
                if g not in self._proposed:
                    break
            self._proposed.add(g)
            out.append(Candidate(g))
        return out

    def _tell(self, candidate, result):
        self._proposed.add(candidate.genotype)
