"""sknas: AutoML with neural architecture search behind scikit-learn estimators."""

from .estimators import AutoNASClassifier, AutoNASRegressor

__version__ = "0.1.0"

__all__ = ["AutoNASClassifier", "AutoNASRegressor", "__version__"]
