"""The surrogate predictor on its own."""

import numpy as np
import pytest

from sknas.evaluation.predictor import SurrogatePredictor


def test_surrogate_learns_a_simple_function():
    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    y = X[:, 0] * 3 + X[:, 1]
    model = SurrogatePredictor().fit(X[:150], y[:150])
    assert np.corrcoef(model.predict(X[150:]), y[150:])[0, 1] > 0.9
    with pytest.raises(ValueError, match="kind must be"):
        SurrogatePredictor(kind="gp").fit(X, y)
