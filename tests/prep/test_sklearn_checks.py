"""Every prep transformer passes scikit-learn's estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknas.prep.cleaning import TableCleaner
from sknas.prep.clipping import Clipper
from sknas.prep.construction import FeatureConstructor
from sknas.prep.extraction import FeatureExtractor
from sknas.prep.selection import FeatureSelector
from sknas.prep.tabular import AsFloat32, TabularPreprocessor


@parametrize_with_checks([
    TableCleaner(), TabularPreprocessor(encoder="target", clip="smooth", scaler="power"), Clipper(),
    FeatureSelector(method="mutual_info", k=2), FeatureSelector(method="l1"), FeatureConstructor(method="spline", n_top=2),
    FeatureExtractor(method="nystroem", n_components=3), AsFloat32(),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
