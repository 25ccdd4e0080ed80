"""PredictorFilter: any searcher, its proposals ranked by a surrogate."""

import math

import numpy as np
import pytest

from sknas.search.predictor_filter import PredictorFilter
from sknas.search.random import RandomSearch
from sknas.space.base import SearchSpace
from sknas.space.params import Categorical, Float, Int


class Toy(SearchSpace):
    def _params(self):
        return [Categorical("op", ("a", "b", "c", "d")), Int("depth", 1, 9), Float("rate", 0.0, 1.0)]


def score(g):
    return 2.0 * (g["op"] == "d") + (1 - abs(g["depth"] - 7) / 8) + (1 - abs(g["rate"] - 0.75))


class R:
    def __init__(self, s):
        self.status, self.score = "ok", s


def run(searcher, n=25, seed=0):
    searcher.setup(Toy(), seed)
    best = -math.inf
    for _ in range(n):
        c = searcher.ask(1)[0]
        s = score(c.genotype)
        best = max(best, s)
        searcher.tell(c, R(s))
    return best, searcher


# 15 s and 25 s: out of the default run (the CI budget), run with -m slow
@pytest.mark.slow
@pytest.mark.parametrize("semi", [False, True])
def test_filtered_random_search_beats_random_search(semi):
    filtered = [run(PredictorFilter("random", semi_supervised=semi), seed=s)[0] for s in range(10)]
    plain = [run(RandomSearch(), seed=s)[0] for s in range(10)]
    diff = np.array(filtered) - np.array(plain)
    assert diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(diff))


def test_rank_correlation_on_held_out_trials_is_reported_and_positive():
    _, searcher = run(PredictorFilter("random", n_proposals=3), n=40)
    assert searcher.rank_correlation_ is not None and searcher.rank_correlation_ > 0.2
