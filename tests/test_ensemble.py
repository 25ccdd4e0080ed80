import numpy as np
from sklearn.metrics import get_scorer

from sknas.ensemble import EnsembleClassifier, ensemble_selection


def test_selection_starts_with_the_best_and_never_gets_worse():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=400)
    onehot = np.eye(2)[y]
    # three noisy models with independent errors: averaging helps
    preds = [np.clip(onehot + rng.normal(0, 0.9, size=onehot.shape), 0, None) for _ in range(3)]
    preds = [p / p.sum(axis=1, keepdims=True).clip(1e-9) for p in preds]
    scorer = get_scorer("accuracy")
    singles = [np.mean(np.argmax(p, axis=1) == y) for p in preds]
    members, scores = ensemble_selection(preds, y, scorer, 5, classes=np.array([0, 1]))
    assert members[0] == int(np.argmax(singles))
    assert scores[0] == max(singles)
    assert scores[-1] >= scores[0]
    assert max(scores) > max(singles)  # the ensemble beats the best single model here


def test_ensemble_classifier_averages_probabilities():
    class Fixed:
        classes_ = np.array(["a", "b"])

        def __init__(self, p):
            self.p = np.asarray(p)

        def predict_proba(self, X):
            return np.tile(self.p, (len(X), 1))

    ens = EnsembleClassifier([Fixed([0.9, 0.1]), Fixed([0.2, 0.8])], [1, 3])
    np.testing.assert_allclose(ens.predict_proba(np.zeros((2, 1))), [[0.375, 0.625]] * 2)
    assert list(ens.predict(np.zeros((1, 1)))) == ["b"]
