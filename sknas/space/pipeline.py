"""The searchable preprocessing stage (searched when ``preprocessing="auto"``)."""

from __future__ import annotations

from .base import SearchSpace
from .params import Categorical

__all__ = ["PipelineSpace", "SCALERS"]

SCALERS = ("standard", "quantile", "robust")


class PipelineSpace(SearchSpace):
    """Choices of the preprocessing pipeline made part of the genotype.

    Parameters
    ----------
    scalers : tuple of str, default=("standard", "quantile", "robust")
        Scalers of numeric columns: ``StandardScaler``, ``QuantileTransformer``
        to a normal distribution, ``RobustScaler``.
    """

    def __init__(self, scalers=SCALERS):
        self.scalers = scalers

    def _params(self):
        unknown = [s for s in self.scalers if s not in SCALERS]
        if unknown or not self.scalers:
            raise ValueError(f"PipelineSpace: scalers must be a non-empty tuple of {SCALERS}. Got {self.scalers!r} instead.")
        return [Categorical("scaler", tuple(self.scalers))]

    def build(self, genotype, n_inputs=None, n_outputs=None):
        """The unfitted sklearn transformer a pipeline genotype describes.

        This is the seam between the searched preprocessing and training: the
        evaluator calls it for every trial (``n_inputs``/``n_outputs`` are
        accepted for symmetry with network spaces and unused).
        """
        from ..prep.tabular import TabularPreprocessor

        return TabularPreprocessor(scaler=genotype.get("scaler", "quantile"))

    def portfolio(self):
        return [self.validate({"scaler": "quantile" if "quantile" in self.scalers else self.scalers[0]})]
