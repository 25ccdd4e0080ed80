"""Grid search over the space's discretized decisions, in a shuffled order."""

from __future__ import annotations

import hashlib
from numbers import Integral

from sklearn.utils._param_validation import Interval

from .base import Candidate, Searcher

__all__ = ["GridSearch"]

_MISSING = ("<inactive>",)


class GridSearch(Searcher):
    """Sweep every point of the discretized space once, in a seeded random order.

    The grid is the product of the levels of ``space.decisions(n_levels)``
    (categorical choices as they are, numbers at ``n_levels`` evenly spaced
    points of their (log-)range), with the space's conditions respected: a
    conditional parameter varies only where it is active, so the grid holds
    no two genotypes that differ only in inactive values.

    The grid is never listed in memory. It is enumerated lazily: the number
    of completions below each partial assignment is counted once (memoized
    on the values the remaining conditions can read), which lets any index
    of the grid be turned into its genotype; and the order of the indices is
    a pseudo-random permutation (a keyed Feistel network with cycle walking)
    whose keys come from the searcher's generator. So the sweep is
    deterministic under ``random_state``, covers the grid exactly once, and
    does not start with a long run of neighbours that differ only in the
    last parameters, as a nested-loop order would.

    Every grid point is equally likely to come early, so the first points
    mostly come from the largest sub-grids (in a space of networks of 1 to
    3 blocks, most grid points have 3 blocks, and so do most early points).

    Genotypes told to the searcher (including ones it did not propose) are
    skipped when the sweep reaches them. When the grid is exhausted, ``ask``
    returns fewer candidates than asked for, and then an empty list.

    Parameters
    ----------
    n_levels : int, default=3
        Levels of each numeric parameter (see ``SearchSpace.decisions``);
        an ``Int`` with a narrow range may give fewer distinct levels.

    Attributes
    ----------
    n_grid_points_ : int
        Size of the grid (set by ``setup``).
    n_remaining_ : int
        Grid points not yet reached by the sweep.

    Notes
    -----
    Grid search is the oldest hyperparameter optimizer and the baseline of
    Bergstra & Bengio (2012), who showed random search beats it when few
    parameters matter. It is kept for small, mostly categorical spaces,
    where an exhaustive sweep is affordable. Simplification: numeric
    parameters are only ever tried at their levels; there is no refinement
    of the grid around the best points.

    References
    ----------
    Bergstra, Bengio. "Random Search for Hyper-Parameter Optimization." JMLR 2012.
    Luby, Rackoff. "How to Construct Pseudorandom Permutations from
    Pseudorandom Functions." SIAM J. Computing 1988 (the shuffled order).
    """

    _parameter_constraints: dict = {"n_levels": [Interval(Integral, 2, None, closed="left")]}

    def __init__(self, n_levels=3):
        self.n_levels = n_levels

    def _setup(self):
        self._grid = _ConditionalGrid(self.space_.params, self.space_.decisions(int(self.n_levels)))
        self.n_grid_points_ = self._grid.size
        self._order = _ShuffledRange(self._grid.size, self.rng_)
        self._position = 0
        self._told = set()

    @property
    def n_remaining_(self):
        return self.n_grid_points_ - self._position

    def _ask(self, n):
        out = []
        while len(out) < n and self._position < self.n_grid_points_:
            values = self._grid.unrank(self._order[self._position])
            self._position += 1
            genotype = self.space_.from_decisions(values)
            if genotype not in self._told:
                out.append(Candidate(genotype))
        return out

    def _tell(self, candidate, result):
        self._told.add(candidate.genotype)


class _ConditionalGrid:
    """Ranks and unranks the points of a grid with conditional parameters."""

    def __init__(self, params, decisions):
        levels = dict(decisions)
        self._params = tuple(params)
        self._levels = [tuple(levels[p.name]) for p in self._params]
        # For position i: the names that conditions of parameters i.. read.
        # A count of completions only depends on those values.
        watched, self._watched = set(), []
        for p in reversed(self._params):
            watched |= set(p.parents)
            self._watched.append(tuple(sorted(watched)))
        self._watched.reverse()
        self._watched.append(())
        self._memo = {}
        self.size = self._count(0, {})

    def _count(self, i, assigned):
        if i == len(self._params):
            return 1
        key = (i,) + tuple(_value_key(assigned.get(name, _MISSING)) for name in self._watched[i])
        if key in self._memo:
            return self._memo[key]
        p = self._params[i]
        if not p.is_active(assigned):
            total = self._count(i + 1, assigned)
        else:
            total = 0
            for value in self._levels[i]:
                assigned[p.name] = value
                total += self._count(i + 1, assigned)
            del assigned[p.name]
        self._memo[key] = total
        return total

    def unrank(self, index):
        """The assignment (active parameters only) at position ``index`` of the grid."""
        assigned = {}
        for i, p in enumerate(self._params):
            if not p.is_active(assigned):
                continue
            for value in self._levels[i]:
                assigned[p.name] = value
                block = self._count(i + 1, assigned)
                if index < block:
                    break
                index -= block
        return assigned


def _value_key(value):
    # True and 1 are different choices; keep the type in the memo key.
    return (type(value).__name__, value)


class _ShuffledRange:
    """A keyed pseudo-random permutation of ``range(size)``, evaluated lazily.

    A balanced four-round Feistel network permutes ``range(4**half_bits)``;
    cycle walking (re-encrypting until the value falls below ``size``)
    restricts it to ``range(size)``. It costs O(1) memory whatever the size.
    """

    def __init__(self, size, rng):
        bits = max(2, (size - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._n_bytes = (self._half + 7) // 8
        self._keys = [bytes(rng.integers(0, 256, size=16, dtype="uint8")) for _ in range(4)]
        self.size = size

    def __getitem__(self, i):
        if not 0 <= i < self.size:
            raise IndexError(i)
        x = i
        while True:
            x = self._encrypt(x)
            if x < self.size:
                return x

    def _encrypt(self, x):
        left, right = x >> self._half, x & self._mask
        for key in self._keys:
            left, right = right, left ^ self._round(right, key)
        return (left << self._half) | right

    def _round(self, value, key):
        data = value.to_bytes(self._n_bytes, "little")
        out, counter = b"", 0
        while len(out) < self._n_bytes:
            out += hashlib.blake2b(data + bytes([counter]), key=key, digest_size=64).digest()
            counter += 1
        return int.from_bytes(out[: self._n_bytes], "little") & self._mask
