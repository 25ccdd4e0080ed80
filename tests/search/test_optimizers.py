"""One suite run over every optimizer, then what each one is for.

The objective told back is a cheap function of the genotype (and, for the
multi-fidelity searchers, of the candidate's fidelity). The one-shot
searchers (``needs_data``) join the suite on the joint mlp problem, the one
with a supernet: each gets a small fold and an evaluator through ``set_data``
before its first ask, trains its supernet there for one epoch, and is then
told the same cheap objective as the others.
"""

from __future__ import annotations

import itertools
import math
import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import get_scorer

from sknas.evaluation.trainer import Evaluator
from sknas.evaluation.trial import TrialData

from sknas.search.base import SEARCHERS, Candidate, Searcher, make_searcher
from sknas.search.bohb import BOHB
from sknas.search.evolution import RegularizedEvolution
from sknas.search.grid import GridSearch
from sknas.search.hyperband import Hyperband, hyperband_brackets
from sknas.search.metanas import MetaNASSearch
from sknas.search.nao import NAOSearch
from sknas.search.oneshot.darts import DARTSSearch
from sknas.search.oneshot.enas import ENASSearch
from sknas.search.oneshot.gdas import GDASSearch
from sknas.search.oneshot.ofa import OFASearch
from sknas.search.oneshot.pdarts import PDARTSSearch
from sknas.search.oneshot.proxyless import ProxylessSearch
from sknas.search.pnas import PNASSearch
from sknas.search.ppo import PPOSearch
from sknas.search.qlearning import QLearningSearch
from sknas.search.random import RandomSearch
from sknas.search.reinforce import ReinforceSearch
from sknas.search.smbo import SMBOSearch
from sknas.search.tpe import TPESearch
from sknas.space.base import SearchSpace
from sknas.space.joint import JointSpace
from sknas.space.mlp import MLPSpace
from sknas.space.params import Categorical, Float, Int
from sknas.space.pipeline import PipelineSpace
from sknas.space.training import TrainingSpace


# -- synthetic problems ---------------------------------------------------------
class ToySpace(SearchSpace):
    """Six parameters, one conditional; the optimum scores 5.0."""

    def _params(self):
        return [
            Categorical("op", ("conv", "pool", "skip", "dense")),
            Int("depth", 1, 9),
            Float("rate", 0.0, 1.0),
            Categorical("extra", (False, True)),
            Float("gain", 1e-3, 10.0, log=True, when={"extra": True}),
            Categorical("act", ("a", "b", "c")),
        ]


def toy_score(g):
    score = 2.0 * (g["op"] == "dense") + (1 - abs(g["depth"] - 7) / 8) + (1 - abs(g["rate"] - 0.75))
    score += 0.5 * (g["act"] == "c")
    if g["extra"]:
        score += 0.5 * (1 - abs(math.log10(g["gain"])) / 3)
    return score


TOY_OPTIMUM = 5.0


def joint_space():
    return JointSpace(MLPSpace(max_blocks=3), TrainingSpace(), PipelineSpace())


def joint_score(g):
    n = g["n_blocks"]
    widths = sum(abs(math.log2(g[f"width_{i}"]) - 7) for i in range(n)) / max(n, 1)  # n=0: the linear model
    return (-abs(n - 2) - 0.5 * widths - abs(math.log10(g["lr"]) + 3)
            + (g["optimizer"] == "adamw") + 0.3 * (g["scaler"] == "quantile"))


PROBLEMS = {"toy": (ToySpace, toy_score), "joint": (joint_space, joint_score)}


@dataclass
class Result:
    status: str = "ok"
    score: float | None = None


def objective(score_fn, candidate, max_epochs=9):
    """The score, lower at low fidelity (the ranking of genotypes does not change)."""
    epochs = max_epochs if candidate.epochs is None else candidate.epochs
    return score_fn(candidate.genotype) - 1.0 / (epochs * candidate.data_fraction)


# One factory per registered optimizer, set for tests of a few dozen trials.
FACTORIES = {
    "random": lambda: RandomSearch(),
    "grid": lambda: GridSearch(n_levels=3),
    "tpe": lambda: TPESearch(n_startup_jobs=5),
    "evolution": lambda: RegularizedEvolution(population_size=8, sample_size=3, crossover_rate=0.3),
    "reinforce": lambda: ReinforceSearch(hidden_size=16),
    "ppo": lambda: PPOSearch(hidden_size=16, batch_size=3),
    "qlearning": lambda: QLearningSearch(epsilon_schedule=((1.0, 5), (0.5, 5), (0.1, 5)), replay_size=20),
    "smbo": lambda: SMBOSearch(n_initial=5, n_candidates=60, predictor=RandomForestRegressor(n_estimators=8)),
    "hyperband": lambda: Hyperband(max_epochs=9),
    "bohb": lambda: BOHB(max_epochs=9, min_points_in_model=4),
    "pnas": lambda: PNASSearch(beam_size=4, n_mutations=6),
    "nao": lambda: NAOSearch(n_initial=5, n_seeds=3, hidden_size=16, train_steps=15, n_unlabelled=16),
    "metanas": lambda: MetaNASSearch(n_prior=6),
}
# The one-shot searchers, each training its supernet for one epoch. ProxylessNAS without its latency
# term: latencies measured on the clock could make its seeded runs differ.
ONE_SHOT = {
    "darts": lambda: DARTSSearch(epochs=1),
    "pdarts": lambda: PDARTSSearch(epochs=1, keep=(0.5,)),
    "gdas": lambda: GDASSearch(epochs=1),
    "enas": lambda: ENASSearch(epochs=1, controller_steps=2, n_candidates=3),
    "proxyless": lambda: ProxylessSearch(epochs=1, latency_weight=0.0),
    "ofa": lambda: OFASearch(epochs=1, population=4, n_generations=1, n_children=2),
}
FACTORIES.update(ONE_SHOT)
#: data searchers with suites of their own: network morphism trains every proposal (tests/search/test_oneshot.py)
OWN_SUITE = {"morphism"}
BATCHES = (1, 3, 1, 2)


def fold(n=120, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, random_state=seed)
    k = int(0.75 * n)
    return TrialData(X[:k], y[:k], X[k:], y[k:])


def setup(searcher, space, seed):
    """``searcher.setup``; a searcher that trains networks also gets a fold and an evaluator, as the runner does."""
    searcher.setup(space, seed)
    if searcher.needs_data:
        evaluator = Evaluator(space, "classification", get_scorer("accuracy"), max_epochs=1,
                              classes=np.array([0, 1]), preprocessing="none")
        searcher.set_data([fold()], evaluator)
    return searcher


def run(searcher, space, score_fn, n_trials, seed, fail=lambda k: False, foreign=lambda k: None):
    """Ask/tell loop; returns the candidates asked and their scores. Checks every candidate."""
    setup(searcher, space, seed)
    asked, scores, k = [], [], 0
    for batch in itertools.cycle(BATCHES):
        if len(asked) >= n_trials:
            break
        batch = min(batch, n_trials - len(asked))
        candidates = searcher.ask(batch)
        assert isinstance(candidates, list) and len(candidates) <= batch
        if not candidates:
            break
        for c in candidates:
            assert isinstance(c, Candidate)
            assert space.validate(c.genotype) == c.genotype
            assert c.epochs is None or 1 <= c.epochs <= 9
            other = foreign(k)
            if other is not None:
                searcher.tell(other, Result(score=objective(score_fn, other)))
            if fail(k):
                result, score = Result(status="failed", score=None), None
            else:
                score = objective(score_fn, c)
                result = Result(score=score)
            searcher.tell(c, result)
            asked.append(c)
            scores.append(score)
            k += 1
    return asked, scores


def signature(asked):
    return [(c.genotype, c.epochs, c.data_fraction) for c in asked]


# -- the suite every optimizer passes ---------------------------------------------
names = pytest.mark.parametrize("name", sorted(FACTORIES))


def cases(slow=()):
    """(name, problem) pairs: every optimizer on both problems, the one-shot ones on the one with a supernet.

    ``slow``: one-shot searchers whose run of this check takes more than a few seconds (-m slow).
    """
    return pytest.mark.parametrize("name, problem", [
        pytest.param(name, problem, id=f"{name}-{problem}", marks=[pytest.mark.slow] if name in slow else [])
        for name in sorted(FACTORIES) for problem in sorted(PROBLEMS) if name not in ONE_SHOT or problem == "joint"])


def space_for(name):
    """The space a one-name check runs on: the toy space, or the joint one for the one-shot searchers."""
    return joint_space() if name in ONE_SHOT else ToySpace()


def score_for(name):
    return joint_score if name in ONE_SHOT else toy_score


def test_every_registered_optimizer_is_tested():
    assert set(FACTORIES) | OWN_SUITE == set(SEARCHERS)
    assert {name for name in SEARCHERS if make_searcher(name).needs_data} == set(ONE_SHOT) | OWN_SUITE
    for name in FACTORIES:
        searcher = make_searcher(name)
        assert isinstance(searcher, Searcher)
        assert type(searcher) is type(FACTORIES[name]())


@names
def test_sklearn_style_parameters(name):
    searcher = FACTORIES[name]()
    params = searcher.get_params(deep=False)
    assert all(getattr(searcher, key) is value for key, value in params.items())
    assert clone(searcher).get_params(deep=False).keys() == params.keys()
    default = type(searcher)()
    for value in default.get_params(deep=False).values():
        assert value is None or isinstance(value, (str, int, float, bool, tuple))


@cases()
def test_asks_valid_genotypes(name, problem):
    make_space, score_fn = PROBLEMS[problem]
    asked, _ = run(FACTORIES[name](), make_space(), score_fn, 24, seed=0)
    assert len(asked) == 24


@cases(slow=("enas", "pdarts"))  # three supernets each
def test_reproducible_under_a_seed(name, problem):
    make_space, score_fn = PROBLEMS[problem]
    first, _ = run(FACTORIES[name](), make_space(), score_fn, 18, seed=3)
    again, _ = run(FACTORIES[name](), make_space(), score_fn, 18, seed=3)
    other, _ = run(FACTORIES[name](), make_space(), score_fn, 18, seed=4)
    assert signature(first) == signature(again)
    assert signature(first) != signature(other)


@cases(slow=("enas",))
def test_survives_failed_trials(name, problem):
    make_space, score_fn = PROBLEMS[problem]
    # The first six fail, then one in three: a searcher must keep asking valid candidates.
    asked, _ = run(FACTORIES[name](), make_space(), score_fn, 30, seed=1, fail=lambda k: k < 6 or k % 3 == 0)
    assert len(asked) == 30
    # Every trial failing is survivable too.
    asked, _ = run(FACTORIES[name](), make_space(), score_fn, 12, seed=1, fail=lambda k: True)
    assert len(asked) == 12


@cases()
def test_accepts_foreign_candidates(name, problem):
    make_space, score_fn = PROBLEMS[problem]
    space = make_space()
    rng = np.random.default_rng(123)
    strangers = [Candidate(g) for g in space.portfolio()]
    strangers += [Candidate(space.sample(rng), epochs=int(rng.integers(1, 10))) for _ in range(10)]
    searcher = setup(FACTORIES[name](), space, 2)
    # Told before anything was asked, as the runner does with the portfolio.
    for c in strangers[:3]:
        searcher.tell(c, Result(score=objective(score_fn, c)))
    asked, _ = run(searcher, space, score_fn, 20, seed=2,
                   foreign=lambda k: strangers[3 + k] if 3 + k < len(strangers) else None)
    assert len(asked) == 20


@names
def test_ask_many_without_results_does_not_stall(name):
    space = space_for(name)
    searcher = setup(FACTORIES[name](), space, 0)
    for _ in range(3):
        candidates = searcher.ask(40)
        assert len(candidates) == 40
        for c in candidates:
            space.validate(c.genotype)


@names
def test_pickled_searcher_continues_identically(name, request):
    space, score_fn = space_for(name), score_for(name)
    searcher = FACTORIES[name]()
    run(searcher, space, score_fn, 15, seed=5)
    text = pickle.dumps(searcher)
    twin = pickle.loads(text)
    if searcher.needs_data:  # the data and the evaluator are never pickled (checkpoints, fitted estimators)
        assert twin._data is None and twin._evaluator is None
    outcomes = []
    for s in (searcher, twin):
        asked = []
        for _ in range(10):
            c = s.ask(1)[0]
            s.tell(c, Result(score=objective(score_fn, c)))
            asked.append(c)
        outcomes.append(signature(asked))
    assert outcomes[0] == outcomes[1]


# -- grid search ------------------------------------------------------------------
def brute_force_grid(space, n_levels):
    decisions = space.decisions(n_levels)
    points = set()
    for values in itertools.product(*(d.choices for d in decisions)):
        try:
            points.add(space.from_decisions(dict(zip((d.name for d in decisions), values))))
        except ValueError:
            pass
    return points


def test_grid_sweeps_every_point_once_then_stops():
    space = ToySpace()
    expected = brute_force_grid(space, 2)
    assert len(expected) == 4 * 2 * 2 * (1 + 2) * 3  # "gain" varies only where extra=True
    searcher = GridSearch(n_levels=2).setup(space, 0)
    assert searcher.n_grid_points_ == len(expected)
    asked = []
    while True:
        batch = searcher.ask(25)
        if not batch:
            break
        asked += [c.genotype for c in batch]
    assert len(asked) == len(set(asked)) == len(expected)
    assert set(asked) == expected
    assert searcher.ask(3) == []
    assert searcher.n_remaining_ == 0


def test_grid_order_is_shuffled_by_the_seed_and_skips_told_points():
    space = ToySpace()
    order = {seed: [c.genotype for c in GridSearch(2).setup(space, seed).ask(144)] for seed in (0, 1)}
    assert order[0] != order[1] and set(order[0]) == set(order[1])
    # Not a nested-loop order: the first parameter changes often early on.
    assert len({g["op"] for g in order[0][:12]}) >= 3
    searcher = GridSearch(2).setup(space, 0)
    searcher.tell(Candidate(order[0][5]), Result(score=1.0))
    rest = [c.genotype for c in searcher.ask(200)]
    assert len(rest) == 143 and order[0][5] not in rest


def test_grid_is_lazy_on_a_huge_space():
    searcher = GridSearch(n_levels=3).setup(MLPSpace(max_blocks=8), 0)
    assert searcher.n_grid_points_ > 10**15
    batch = searcher.ask(20)
    assert len({c.genotype for c in batch}) == 20


# -- regularized evolution ----------------------------------------------------------
def best_of(searcher, seed, n_trials, space=None):
    _, scores = run(searcher, space or ToySpace(), toy_score, n_trials, seed)
    return scores


def test_evolution_improves_on_its_initial_population_and_on_random_search():
    evolution, random = [], []
    for seed in range(5):
        scores = best_of(RegularizedEvolution(population_size=20, sample_size=5), seed, 150)
        assert max(scores) > max(scores[:20])
        evolution.append(max(scores))
        random.append(max(best_of(RandomSearch(), seed, 150)))
    assert np.mean(evolution) > np.mean(random)


def test_evolution_treats_failed_trials_as_worst():
    space = ToySpace()
    searcher = RegularizedEvolution(population_size=3, sample_size=3, remove="worst").setup(space, 0)
    genotypes = [c.genotype for c in searcher.ask(4)]
    for g, score in zip(genotypes, (1.0, None, 2.0, 3.0)):
        searcher.tell(Candidate(g), Result(score=score, status="ok" if score else "failed"))
    # The failed member is the one removed, not the oldest...
    assert [s for _, s in searcher.population_] == [1.0, 2.0, 3.0]
    searcher.tell(Candidate(space.sample(1)), Result(status="failed"))
    # ...and a failure arriving when the population is full is dropped at once.
    assert [s for _, s in searcher.population_] == [1.0, 2.0, 3.0]
    # The tournament (the whole population here) picks the best member as parent.
    child = searcher.ask(1)[0].genotype
    assert sum(child[k] != genotypes[3].get(k) for k in child) <= 2


# -- REINFORCE ------------------------------------------------------------------------
def test_reinforce_controller_learns_the_right_choice():
    early, late = [], []
    for seed in range(3):
        asked, _ = run(ReinforceSearch(), ToySpace(), toy_score, 120, seed)
        early.append(np.mean([c.genotype["op"] == "dense" for c in asked[:30]]))
        late.append(np.mean([c.genotype["op"] == "dense" for c in asked[-30:]]))
    # "dense" is worth 2 of the 5 points; at random it is drawn one time in four.
    assert np.mean(early) < 0.45
    assert np.mean(late) > 0.7
    assert all(lt > et for et, lt in zip(early, late))


def test_reinforce_leaves_global_torch_state_alone():
    import torch

    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    run(ReinforceSearch(), ToySpace(), toy_score, 10, seed=0)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


# -- SMBO -------------------------------------------------------------------------------
def test_smbo_beats_random_search_on_average():
    smbo, random = [], []
    for seed in range(3):
        smbo.append(max(best_of(SMBOSearch(n_candidates=150), seed, 40)))
        random.append(max(best_of(RandomSearch(), seed, 40)))
    assert np.mean(smbo) > np.mean(random) + 0.2


# -- Hyperband and BOHB ---------------------------------------------------------------
def paper_brackets(R, eta):
    """Li et al. 2018, Algorithm 1, with R in units of the minimum budget."""
    s_max = int(math.floor(math.log(R) / math.log(eta) + 1e-9))
    B = (s_max + 1) * R
    out = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil(B / R * eta**s / (s + 1)))
        r = R * eta ** (-s)
        out.append([(int(math.floor(n * eta ** (-i))), r * eta**i) for i in range(s + 1)])
    return out


@pytest.mark.parametrize("R, eta", [(27, 3), (81, 3), (100, 3), (16, 2), (10, 4)])
def test_hyperband_brackets_follow_the_paper(R, eta):
    ours = hyperband_brackets(1, R, eta)
    theirs = paper_brackets(R, eta)
    assert [[n for n, _ in b] for b in ours] == [[n for n, _ in b] for b in theirs]
    assert np.allclose([r for b in ours for _, r in b], [r for b in theirs for _, r in b])


def test_hyperband_plays_the_brackets_and_promotes_the_best():
    searcher = Hyperband(max_epochs=27, eta=3).setup(ToySpace(), 0)
    plan = paper_brackets(27, 3)  # [27@1, 9@3, 3@9, 1@27], [12@3, 4@9, 1@27], [6@9, 2@27], [4@27]
    for bracket in plan:
        rung_scores = []
        for n, r in bracket:
            # Asking one at a time and telling at once: the bracket's rungs come out whole.
            asked = [searcher.ask(1)[0] for _ in range(n)]
            assert [c.epochs for c in asked] == [int(round(r))] * n
            if rung_scores:
                best = sorted(rung_scores, key=lambda p: -p[0])[:n]
                assert {c.genotype for c in asked} == {g for _, g in best}
            rung_scores = []
            for c in asked:
                score = objective(toy_score, c, max_epochs=27)
                rung_scores.append((score, c.genotype))
                searcher.tell(c, Result(score=score))
    assert searcher.n_brackets_started_ == len(plan)
    assert searcher.ask(1)[0].epochs == 1  # the cycle starts again


def test_hyperband_is_asynchronous():
    searcher = Hyperband(max_epochs=9).setup(ToySpace(), 0)
    first = searcher.ask(9)  # bracket s=2: 9 new configurations at 1 epoch
    second = searcher.ask(5)  # nothing told: the next bracket starts (5 at 3 epochs)
    assert [c.epochs for c in first] == [1] * 9 and [c.epochs for c in second] == [3] * 5
    for c in reversed(first):
        searcher.tell(c, Result(score=toy_score(c.genotype)))
    promoted = searcher.ask(3)
    best = sorted(first, key=lambda c: -toy_score(c.genotype))[:3]
    assert [c.epochs for c in promoted] == [3, 3, 3]
    assert {c.genotype for c in promoted} == {c.genotype for c in best}


def test_hyperband_takes_its_maximum_fidelity_from_the_runner():
    searcher = Hyperband(eta=3).set_budget(max_epochs=9, time_budget=60).setup(ToySpace(), 0)
    assert [c.epochs for c in searcher.ask(9)] == [1] * 9 and searcher.max_epochs_ == 9
    searcher = Hyperband(eta=3).setup(ToySpace(), 0)
    assert searcher.ask(1)[0].epochs == 1 and searcher.max_epochs_ == 100  # the estimators' default
    searcher = Hyperband(max_epochs=27).setup(ToySpace(), 0).set_budget(max_epochs=9)
    assert searcher.ask(1) and searcher.max_epochs_ == 27  # an explicit max_epochs wins
    searcher = Hyperband(max_epochs=9, fidelity="data_fraction").setup(ToySpace(), 0)
    batch = searcher.ask(9)
    assert all(c.epochs is None and c.data_fraction == pytest.approx(1 / 9) for c in batch)
    with pytest.raises(ValueError, match="The 'max_epochs' parameter of Hyperband must be an int >= min_epochs=10"):
        Hyperband(min_epochs=10, max_epochs=9).setup(ToySpace(), 0)


def test_bohb_model_proposes_better_configurations_than_random():
    gains = []
    for seed in range(3):
        results = {}
        for searcher in (BOHB(max_epochs=9, random_fraction=0.2), Hyperband(max_epochs=9)):
            asked, _ = run(searcher, ToySpace(), toy_score, 120, seed)
            new = [toy_score(c.genotype) for c in asked[40:] if c.meta and dict(c.meta)["rung"] == 0]
            results[type(searcher).__name__] = np.mean(new)
        gains.append(results["BOHB"] - results["Hyperband"])
    assert np.mean(gains) > 0.3 and min(gains) > 0
