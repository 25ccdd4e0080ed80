import math

import numpy as np
import pytest

from sknas.space.params import Categorical, Float, Int


def test_float_validates_bounds():
    with pytest.raises(ValueError, match="`low` must be smaller than `high`"):
        Float("lr", 1.0, 0.5)
    with pytest.raises(ValueError, match="log=True `low` must be > 0"):
        Float("lr", 0.0, 1.0, log=True)
    with pytest.raises(TypeError, match="`high` must be a finite real number"):
        Float("lr", 0.0, math.inf)


def test_int_requires_integers_and_categorical_distinct_choices():
    with pytest.raises(TypeError, match="`low` must be an int"):
        Int("n", 1.5, 4)
    with pytest.raises(ValueError, match="distinct"):
        Categorical("c", ("a", "a"))
    with pytest.raises(ValueError, match="at least one choice"):
        Categorical("c", ())
    with pytest.raises(TypeError, match="JSON"):
        Categorical("c", (object(),))


def test_params_are_immutable_and_hashable():
    p = Int("n", 1, 8)
    with pytest.raises(AttributeError):
        p.low = 3
    assert hash(p) == hash(Int("n", 1, 8))
    c = Categorical("c", (1, True))
    assert c.index(True) == 1 and c.index(1) == 0  # 1 and True are different choices


@pytest.mark.parametrize("param", [
    Int("n", 1, 8), Int("w", 16, 1024, log=True), Float("x", -2.0, 3.0), Float("lr", 1e-4, 1e-1, log=True),
    Categorical("c", ("a", 1, None, True)),
])
def test_sample_mutate_levels_stay_valid(param):
    rng = np.random.default_rng(0)
    values = [param.sample(rng) for _ in range(300)]
    for v in values:
        assert param.validate(v) == v
        m = param.mutate(v, rng)
        assert param.validate(m) == m
    for level in param.levels(4):
        assert param.validate(level) == level
    # every raw hyperopt value maps back to the value it came from
    for v in values[:20]:
        assert param.from_hyperopt(param.to_hyperopt_raw(v)) == v


def test_int_sampling_reaches_both_bounds_and_log_scale_favours_small_values():
    rng = np.random.default_rng(0)
    n = Int("n", 1, 4)
    assert {n.sample(rng) for _ in range(200)} == {1, 2, 3, 4}
    w = Int("w", 16, 1024, log=True)
    draws = np.array([w.sample(rng) for _ in range(2000)])
    # log-uniform: the median is near the geometric mean (128), far below the arithmetic one (520)
    assert 90 < np.median(draws) < 180


def test_condition_activates_only_for_allowed_parent_values():
    p = Float("x", 0.0, 1.0, when={"kind": ("a", "b")})
    assert p.is_active({"kind": "a"})
    assert not p.is_active({"kind": "c"})
    assert not p.is_active({})
    with pytest.raises(TypeError, match="`when` must be a dict"):
        Float("x", 0.0, 1.0, when=["kind"])
