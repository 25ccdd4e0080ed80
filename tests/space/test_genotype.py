import pickle

import pytest

from sknas.space.genotype import Genotype


def test_genotype_is_an_immutable_hashable_mapping():
    g = Genotype({"n_blocks": 2, "act_0": "relu", "lr": 0.001, "flag": True, "skip_1": None})
    assert g["n_blocks"] == 2 and len(g) == 5
    with pytest.raises(TypeError):
        g["n_blocks"] = 3
    with pytest.raises(AttributeError):
        g.x = 1
    assert {g: 1}[Genotype(dict(g))] == 1
    assert pickle.loads(pickle.dumps(g)) == g


def test_json_round_trip_and_one_line_str():
    g = Genotype({"n_blocks": 2, "act_0": "relu", "lr": 0.001, "flag": True, "skip_1": None})
    assert Genotype.from_json(g.to_json()) == g
    text = str(g)
    assert "\n" not in text and text.startswith("n_blocks=2 act_0=relu")


def test_types_are_part_of_identity():
    assert Genotype({"a": 1}) != Genotype({"a": True})
    assert Genotype({"a": 1}) != Genotype({"a": 1.0})
    assert Genotype({"a": 1, "b": 2}) == Genotype({"b": 2, "a": 1})


def test_invalid_values_are_rejected():
    with pytest.raises(TypeError, match="JSON scalar"):
        Genotype({"a": [1, 2]})
    with pytest.raises(ValueError, match="finite"):
        Genotype({"a": float("nan")})
    with pytest.raises(TypeError, match="keys must be str"):
        Genotype({1: 2})
    with pytest.raises(ValueError, match="object"):
        Genotype.from_json("[1, 2]")
