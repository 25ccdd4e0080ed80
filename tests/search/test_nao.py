"""Neural Architecture Optimization: encoder, predictor, gradient steps, decoder.

The common optimizer suite (tests/search/test_optimizers.py) runs it too;
here, what NAO is for.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer

from sknas import AutoNASClassifier
from sknas.search.base import Candidate, make_searcher
from sknas.search.nao import NAOSearch
from sknas.search.random import RandomSearch
from sknas.space.cell import CellSpace

sys.path.insert(0, str(Path(__file__).parent))
from test_optimizers import ToySpace, run, toy_score


@dataclass
class Result:
    status: str = "ok"
    score: float | None = None


def test_tokens_decode_back_to_the_genotype():
    space = CellSpace(n_nodes=3, n_cells=2, width=32)  # categorical decisions only: an exact round trip
    searcher = NAOSearch().setup(space, 0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        g = space.sample(rng)
        tokens = searcher._tokens(g)
        logits = torch.full((searcher.model_.offsets[-1],), -10.0)
        for t, s in zip(tokens, searcher.model_.slices()):
            logits[s.start + t] = 10.0
        assert searcher._decode(logits) == g
    # numeric decisions map to their nearest level; inactive ones to the extra token
    toy = NAOSearch().setup(ToySpace(), 0)
    g = ToySpace().validate({"op": "conv", "depth": 4, "rate": 0.3, "extra": False, "act": "a"})
    names = [name for name, _ in toy._decisions]
    tokens = dict(zip(names, toy._tokens(g)))
    assert tokens["gain"] == len(dict(toy._decisions)["gain"])  # inactive
    assert dict(toy._decisions)["rate"][tokens["rate"]] == 0.25


def told(searcher, space, n, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        g = space.sample(rng)
        searcher.tell(Candidate(g), Result(score=toy_score(g)))


def test_the_model_learns_to_reconstruct_and_to_predict():
    space = ToySpace()
    searcher = NAOSearch(n_initial=4, train_steps=300).setup(space, 0)
    told(searcher, space, 30)
    searcher._fit()
    model = searcher.model_
    genotypes = searcher._order
    tokens = torch.tensor([searcher._tokens(g) for g in genotypes])
    with torch.no_grad():
        z = model.encode(tokens)
        decoded = [searcher._decode(row) for row in model.decode(z)]
        predicted = model.predict(z).numpy()
    assert np.mean([searcher._tokens(d) == searcher._tokens(g) for d, g in zip(decoded, genotypes)]) > 0.8
    scores = np.array([toy_score(g) for g in genotypes])
    assert np.corrcoef(predicted, scores)[0, 1] > 0.8


def test_proposals_move_toward_a_better_predicted_score():
    space = ToySpace()
    searcher = NAOSearch(n_initial=4, train_steps=200, random_fraction=0.0).setup(space, 1)
    told(searcher, space, 20)
    proposals = searcher.ask(4)
    assert all(c.genotype not in searcher._told for c in proposals)
    assert len({c.genotype for c in proposals}) == 4
    predicted = [dict(c.meta).get("predicted_score") for c in proposals]
    assert all(p is not None for p in predicted)
    mean_told = np.mean(list(searcher._told.values()))
    # moved up from the best genotypes: predicted, and truly, better than the average told one
    assert min(predicted) > mean_told
    assert np.mean([toy_score(c.genotype) for c in proposals]) > mean_told


def test_nao_beats_random_search_on_average():
    nao, random = [], []
    for seed in range(3):
        nao.append(max(run(NAOSearch(n_initial=6, train_steps=30), ToySpace(), toy_score, 30, seed)[1]))
        random.append(max(run(RandomSearch(), ToySpace(), toy_score, 30, seed)[1]))
    assert np.mean(nao) > np.mean(random)


def test_leaves_global_torch_state_alone():
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    run(NAOSearch(n_initial=3, train_steps=5), ToySpace(), toy_score, 8, seed=0)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match=r"'trade_off' parameter of NAOSearch must be a float in the range \(0.0, 1"):
        NAOSearch(trade_off=1.0).setup(ToySpace(), 0)
    with pytest.raises(ValueError, match=r"'n_initial' parameter of NAOSearch must be an int in the range \[2, inf\)"):
        NAOSearch(n_initial=1).setup(ToySpace(), 0)


def test_end_to_end_through_the_estimator():
    assert isinstance(make_searcher("nao"), NAOSearch)
    X, y = load_breast_cancer(return_X_y=True)
    # two folds (validation_fraction=0.5) keep the trials cheap
    clf = AutoNASClassifier(space="cell", search="nao", time_budget=None, max_trials=3, max_epochs=3,
                            validation_fraction=0.5, random_state=0).fit(X[:200], y[:200])
    assert clf.n_trials_ == 3 and "searcher" in clf.search_results_["source"]
    assert clf.predict(X[:4]).shape == (4,)
    # with a model from the second result on (and no random proposals), every searcher trial after the
    # portfolio (5 entries) is a gradient step
    clf = AutoNASClassifier(search=NAOSearch(n_initial=2, train_steps=20, random_fraction=0.0), time_budget=None,
                            max_trials=6,
                            max_epochs=2, preprocessing="none", validation_fraction=0.5,
                            random_state=0).fit(X[:200], y[:200])
    rows = [i for i, source in enumerate(clf.search_results_["source"]) if source == "searcher"]
    assert rows and all(clf.search_results_["predicted_score"][i] is not None for i in rows)
