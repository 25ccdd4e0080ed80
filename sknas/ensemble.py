"""Ensembles of fitted models: the old import path of :mod:`sknas.evaluation.ensembles`.

The classes live in the evaluation layer (a cross-validated trial's bag is
built there); model files written before the move name this module, and
they still load.
"""

from .evaluation.ensembles import EnsembleClassifier, EnsembleRegressor, ensemble_selection, score_predictions

__all__ = ["EnsembleClassifier", "EnsembleRegressor", "ensemble_selection", "score_predictions"]
