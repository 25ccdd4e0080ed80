"""sknas.checkpoint: the search state written and read back without pickle, exactly."""

import collections
import json
import os
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_iris

from sknas import AutoNASClassifier
from sknas.checkpoint import HEADER, TENSORS, open_checkpoint, write_checkpoint
from sknas.estimators import _read_checkpoint
from sknas.io import HASHES, UnsafeFileError, write_archive
from sknas.search.bohb import _Observation
from sknas.search.evolution import RegularizedEvolution
from sknas.search.random import RandomSearch
from sknas.space.genotype import Genotype


class _Payload:
    """Unpickling this would call os.mkdir: proof that no code from the file runs."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def _state():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LSTMCell(2, 2))
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    module[0](torch.ones(4, 3)).sum().backward()
    optimizer.step()
    searcher = RegularizedEvolution(population_size=3)
    searcher.myself_ = searcher  # objects may refer to themselves
    g = Genotype({"n_blocks": 2, "act": "relu", "lr": 0.001, "skip": True, "opt": None})
    return {
        "genotypes": [g, g.replace(n_blocks=3)],
        "seen": {g}, "frozen": frozenset({1, 2}), "queue": collections.deque([g], maxlen=5),
        "ordered": collections.OrderedDict(b=1, a=2), "counts": collections.defaultdict(list, {g: [1.5]}),
        "raw": b"\x00\xff", "scalars": (np.float32(1.5), np.int64(-3), np.bool_(True), float("inf"), float("nan")),
        "arrays": [np.arange(6, dtype=np.int16).reshape(2, 3), np.array(["a", None, 1.5], dtype=object),
                   np.array(["x", "yz"])],
        "rng": np.random.default_rng(7), "torch_rng": torch.Generator().manual_seed(3),
        "module": module, "optimizer": optimizer, "observation": _Observation("ok", 0.5),
        "searcher": searcher, "big": 2**100,
    }


def test_state_graph_round_trip(tmp_path):
    path = tmp_path / "state.ckpt"
    state = _state()
    write_checkpoint(path, "fp", state)
    back = open_checkpoint(path).state()
    g = state["genotypes"][0]
    assert back["genotypes"] == state["genotypes"] and hash(back["genotypes"][0]) == hash(g)
    assert back["seen"] == {g} and back["frozen"] == frozenset({1, 2})
    assert back["queue"] == state["queue"] and back["queue"].maxlen == 5
    assert list(back["ordered"]) == ["b", "a"] and type(back["ordered"]) is collections.OrderedDict
    assert back["counts"][g] == [1.5] and back["counts"]["new"] == []
    assert back["raw"] == b"\x00\xff" and back["big"] == 2**100
    assert [type(v) for v in back["scalars"][:3]] == [np.float32, np.int64, np.bool_]
    assert back["scalars"][3] == float("inf") and np.isnan(back["scalars"][4])
    for a, b in zip(back["arrays"], state["arrays"]):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()
    assert back["rng"].random() == state["rng"].random()
    assert torch.equal(torch.rand(3, generator=back["torch_rng"]), torch.rand(3, generator=state["torch_rng"]))
    x = torch.ones(2, 3)
    assert torch.equal(back["module"][0](x), state["module"][0](x))
    # the optimizer still drives the module's own parameters, with its moments
    assert back["optimizer"].param_groups[0]["params"][0] is back["module"][0].weight
    moments = back["optimizer"].state[back["module"][0].weight]["exp_avg"]
    assert torch.equal(moments, state["optimizer"].state[state["module"][0].weight]["exp_avg"])
    assert back["observation"] == _Observation("ok", 0.5) and type(back["observation"]) is _Observation
    assert type(back["searcher"]) is RegularizedEvolution and back["searcher"].population_size == 3
    assert back["searcher"].myself_ is back["searcher"]


def test_foreign_objects_are_not_written(tmp_path):
    with pytest.raises(ValueError, match=r"state\['f'\].*collections.Counter.*cannot store"):
        write_checkpoint(tmp_path / "x.ckpt", "fp", {"f": collections.Counter("ab")})
    with pytest.raises(ValueError, match="defaultdict"):
        write_checkpoint(tmp_path / "x.ckpt", "fp", {"f": collections.defaultdict(os.getcwd)})
    cycle = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="contains itself"):
        write_checkpoint(tmp_path / "x.ckpt", "fp", {"f": cycle})
    assert not list(tmp_path.iterdir())


def _forge(path, dst, header=None, **members):
    """A checkpoint with edited members and hashes.json rewritten to match (a deliberate forger)."""
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist() if name != HASHES}
    if header is not None:
        contents[HEADER] = json.dumps(header).encode()
    contents.update(members)
    return write_archive(dst, contents)


@pytest.mark.parametrize("node", [
    {"t": "object", "id": 0, "class": "os:system"},
    {"t": "object", "id": 0, "class": "subprocess:Popen", "dict": {"args": "touch pwned"}},
    {"t": "object", "id": 0, "class": "sknas.__main__:main"},  # a sknas function, not a class
    {"t": "namedtuple", "class": "os:stat_result", "v": []},
    {"t": "ddict", "factory": "os.system", "items": []},
    {"t": "npgen", "id": 0, "state": {"t": "dict", "items": [["bit_generator", "os.system"]]}},
    {"t": "object", "id": 0, "class": "sknas.search.random:RandomSearch", "dict": {"__class__": "x"}},
])
def test_forged_state_is_refused(tmp_path, node):
    path = write_checkpoint(tmp_path / "ok.ckpt", "fp", {"a": 1})
    header = json.loads(zipfile.ZipFile(path).read(HEADER))
    header["state"] = node
    forged = _forge(path, tmp_path / "forged.ckpt", header)
    with pytest.raises(UnsafeFileError, match="forged.ckpt"):
        open_checkpoint(forged).state()


def test_tensors_that_are_a_pickle_payload_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = write_checkpoint(tmp_path / "ok.ckpt", "fp", {"w": torch.ones(2)})
    buffer = tmp_path / "evil.pt"
    torch.save({"0": _Payload(str(marker))}, buffer)
    forged = _forge(path, tmp_path / "forged.ckpt", **{TENSORS: buffer.read_bytes()})
    with pytest.raises(UnsafeFileError, match="not plain tensors"):
        open_checkpoint(forged).state()
    assert not marker.exists()


def test_fingerprint_is_checked_before_the_state_is_decoded(tmp_path):
    path = write_checkpoint(tmp_path / "ok.ckpt", "fp", {"a": 1})
    header = json.loads(zipfile.ZipFile(path).read(HEADER))
    header["state"] = {"t": "object", "id": 0, "class": "os:system"}
    forged = _forge(path, tmp_path / "forged.ckpt", header)
    with pytest.raises(ValueError, match="other data or other search settings"):
        _read_checkpoint(forged, fingerprint="another fit")


@pytest.mark.parametrize("search", ["tpe", "reinforce"])  # hyperopt's trials; a torch controller and optimizer
def test_resumed_search_equals_an_uninterrupted_one(search, tmp_path):
    X, y = load_iris(return_X_y=True)
    params = dict(search=search, time_budget=None, max_epochs=2, validation_fraction=0.5, random_state=0)
    path = tmp_path / "search.ckpt"
    AutoNASClassifier(max_trials=2, checkpoint=path, **params).fit(X, y)
    resumed = AutoNASClassifier(max_trials=4, checkpoint=path, **params).fit(X, y)
    straight = AutoNASClassifier(max_trials=4, **params).fit(X, y)
    assert resumed.search_results_["genotype"] == straight.search_results_["genotype"]
    assert resumed.search_results_["score"][:2] == straight.search_results_["score"][:2]


class MyRandomSearch(RandomSearch):
    """A user's own searcher (a class outside sknas), with state of its own."""

    def _tell(self, candidate, result):
        super()._tell(candidate, result)
        self.n_told_ = getattr(self, "n_told_", 0) + 1


class CountingSearch(RandomSearch):
    """A searcher holding a Counter: not a class a checkpoint rebuilds."""

    def _setup(self):
        super()._setup()
        self.notes_ = collections.Counter()


class MyScaler(BaseEstimator, TransformerMixin):
    """A user's own preprocessing."""

    def fit(self, X, y=None):
        self.mean_ = np.asarray(X, dtype=float).mean(axis=0)
        return self

    def transform(self, X):
        return (np.asarray(X, dtype=float) - self.mean_).astype(np.float32)


def test_the_users_own_searcher_and_preprocessing_are_kept(tmp_path):
    X, y = load_iris(return_X_y=True)
    params = dict(time_budget=None, max_epochs=2, validation_fraction=0.5, random_state=0)
    path = tmp_path / "search.ckpt"
    AutoNASClassifier(max_trials=2, checkpoint=path, search=MyRandomSearch(), preprocessing=MyScaler(),
                      **params).fit(X, y)
    resumed = AutoNASClassifier(max_trials=3, checkpoint=path, search=MyRandomSearch(), preprocessing=MyScaler(),
                                **params).fit(X, y)
    assert resumed.n_trials_ == 3 and resumed.searcher_.n_told_ == 3
    # the classes are trusted because this fit was given them, not because the file names them
    with pytest.raises(UnsafeFileError, match="not trusted.*MyScaler"):
        _read_checkpoint(path)


def test_a_state_the_checkpoint_cannot_hold_fails_before_any_trial(tmp_path):
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(max_trials=2, checkpoint=tmp_path / "c.ckpt", search=CountingSearch(), time_budget=None,
                            max_epochs=2)
    with pytest.raises(ValueError, match=r"cannot hold this search.*notes_.*collections.Counter"):
        clf.fit(X, y)
    assert not hasattr(clf, "search_results_")
