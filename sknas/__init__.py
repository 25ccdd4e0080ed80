"""sknas: AutoML with neural architecture search behind scikit-learn estimators."""

from .estimators import AutoNASClassifier, AutoNASRegressor
from .io import load
from .report import report

__version__ = "0.1.0"

__all__ = ["AutoNASClassifier", "AutoNASRegressor", "load", "report", "__version__"]
