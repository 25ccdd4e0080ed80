"""The old name of :mod:`sknas.nn.tabm` (TabM's BatchEnsemble layers), kept so that imports and pickles naming it
still work; ``sknas.ensemble`` and ``sknas.evaluation.ensembles`` are the ensembles of fitted models."""

from .tabm import *  # noqa: F401,F403
from .tabm import __all__  # noqa: F401
