import math

import numpy as np
import pytest

from sknas.evaluation.predictor import PredictorFilter, SurrogatePredictor
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


@pytest.mark.parametrize("semi", [False, True])
def test_filtered_random_search_beats_random_search(semi):
    filtered = [run(PredictorFilter("random", semi_supervised=semi), seed=s)[0] for s in range(10)]
    plain = [run(RandomSearch(), seed=s)[0] for s in range(10)]
    diff = np.array(filtered) - np.array(plain)
    assert diff.mean() > 2 * diff.std(ddof=1) / np.sqrt(len(diff))


def test_rank_correlation_on_held_out_trials_is_reported_and_positive():
    _, searcher = run(PredictorFilter("random", n_proposals=3), n=40)
    assert searcher.rank_correlation_ is not None and searcher.rank_correlation_ > 0.2


def test_surrogate_learns_a_simple_function():
    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    y = X[:, 0] * 3 + X[:, 1]
    model = SurrogatePredictor().fit(X[:150], y[:150])
    assert np.corrcoef(model.predict(X[150:]), y[150:])[0, 1] > 0.9
    with pytest.raises(ValueError, match="kind must be"):
        SurrogatePredictor(kind="gp").fit(X, y)
